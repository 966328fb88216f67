#!/bin/sh
# Output faults of the CLI: a full disk, an unwritable folder, and SIGINT /
# SIGTERM at any moment of a run. The contract (DESIGN.md, issue 5): exit
# 4 for an output that cannot be written, no partial file, the old report
# intact, and never a temporary file left behind.
#
# Sourced by tests/cli/run.sh before its summary (sharing $SD, $T, $JQ,
# case_, ok, bad and the counters); also runs alone: sh tests/cli/faults.sh
set -u
if ! command -v case_ >/dev/null 2>&1; then
    BUILD=${BUILD:-build}; SD=$BUILD/skindelta; JQ=$BUILD/tests/jsonq
    pass=0; fail=0; skip=0
    T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
    ok()  { pass=$((pass + 1)); echo "ok   $1"; }
    bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
    case_() {
        name=$1 want=$2 pat=$3; shift 4
        "$@" >"$T/out" 2>"$T/err"; rc=$?
        if [ "$rc" -ne "$want" ]; then bad "$name" "exit $rc, expected $want; stderr: $(head -c 300 "$T/err")"; return; fi
        lines=$(wc -l <"$T/err")
        [ "$lines" -eq 1 ] || { bad "$name" "stderr has $lines lines, expected 1: $(head -c 300 "$T/err")"; return; }
        grep -Eq -- "$pat" "$T/err" || { bad "$name" "stderr '$(cat "$T/err")' does not match '$pat'"; return; }
        ok "$name"
    }
    faults_alone=1
fi
# own names: the scripts sourced before may have reused B, A or F
FB=samples/before.jpg; FA=samples/after.jpg
F=$T/faults; mkdir -p "$F"
# The signals at a delay need a run that is still going: the sample pair is
# compared in ~30 ms, before the first delay ends, so they run on a 12 MP
# pair (~0.24 s at -j 2 here, longer under the sanitizers).
LB=$F/large-before.jpg; LA=$F/large-after.jpg
${BUILD:-build}/skindelta-synth --seed 5 --size 4000x3000 --supersample 1 --rotate 2 \
    --out-before "$LB" --out-after "$LA" >/dev/null 2>&1 || bad "faults: render the 12 MP pair" "skindelta-synth failed"

# no_temp NAME DIR: nothing but the expected files in DIR (the writer's
# temporary files are .NAME.XXXXXX)
no_temp() {
    left=$(ls -A "$2" | grep '^\.' || true)
    [ -z "$left" ] && ok "$1: no temporary file" || bad "$1: no temporary file" "left: $left"
}
old_intact() {
    [ "$(cat "$2")" = "OLD REPORT" ] && ok "$1: old report intact" || bad "$1: old report intact" "now: $(head -c 80 "$2")"
}
# After a signal: the old report, or (when the signal landed while the report
# was being written, and took effect once it was complete) the whole new
# one; never anything in between.
old_or_whole() {
    if [ "$(cat "$2")" = "OLD REPORT" ]; then ok "$1: old report intact"
    elif $JQ "$2" schema >/dev/null 2>&1; then ok "$1: the signal landed during the write: the new report is whole"
    else bad "$1: old report intact or new report whole" "now: $(head -c 80 "$2")"; fi
}

# ---- full disk, simulated: the file-size limit (SIGXFSZ, then EFBIG) ----
mkdir "$F/fsize"; printf 'OLD REPORT\n' >"$F/fsize/r.json"
case_ "ulimit -f: exit 4" 4 "^skindelta: $F/fsize/r\.json: cannot write: File too large" -- \
    sh -c 'ulimit -f 2; exec "$@"' sh $SD compare -q -o "$F/fsize/r.json" $FB $FA
old_intact "ulimit -f" "$F/fsize/r.json"
no_temp "ulimit -f" "$F/fsize"

# ---- full disk, real: a full 8 KiB tmpfs (root only) ----
mkdir "$F/tmpfs"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=8k sd-faults "$F/tmpfs" 2>/dev/null; then
    printf 'OLD REPORT\n' >"$F/tmpfs/r.json"
    head -c 4096 /dev/zero >"$F/tmpfs/filler" 2>/dev/null # the last free page
    case_ "full tmpfs: exit 4" 4 "^skindelta: $F/tmpfs/r\.json: cannot write: No space left" -- \
        $SD compare -q -o "$F/tmpfs/r.json" $FB $FA
    old_intact "full tmpfs" "$F/tmpfs/r.json"
    rm -f "$F/tmpfs/filler"
    no_temp "full tmpfs" "$F/tmpfs"
    umount "$F/tmpfs"
else
    skip=$((skip + 3)); echo "skip full tmpfs: mounting a tmpfs needs root"
fi

# ---- a folder where no file can be created ----
if [ "$(id -u)" = 0 ]; then
    # root writes through permissions: /proc takes no new files
    case_ "unwritable folder: exit 4" 4 '^skindelta: /proc/sd-report\.json: cannot create a temporary file in /proc' -- \
        $SD compare -q -o /proc/sd-report.json $FB $FA
else
    mkdir "$F/ro"; printf 'OLD REPORT\n' >"$F/ro/r.json"; chmod 0555 "$F/ro"
    case_ "unwritable folder: exit 4" 4 "^skindelta: $F/ro/r\.json: cannot create a temporary file in $F/ro: Permission denied" -- \
        $SD compare -q -o "$F/ro/r.json" $FB $FA
    chmod 0755 "$F/ro"
    old_intact "unwritable folder" "$F/ro/r.json"
fi

# ---- signals ----
# An asynchronous command of a non-interactive shell ignores SIGINT, so the
# program runs in the foreground (it writes its pid first) and a background
# watcher sends the signal: after DELAY seconds, or, with DELAY "fsync",
# while the writer's fsync is held 2 s by tests/cli/slow_fsync.c (the
# temporary file exists then). Sets $rc.
shim=""
if ${CC:-cc} -shared -fPIC -o "$F/slow_fsync.so" tests/cli/slow_fsync.c -ldl 2>/dev/null; then
    shim=$F/slow_fsync.so
fi
interrupt() { # SIGNAL DELAY DIR
    rm -f "$F/pid" "$F/mark"
    (
        # polled finely: the delay counts from the start of the run
        i=0; while [ ! -s "$F/pid" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i + 1)); done
        if [ "$2" = fsync ]; then
            i=0; while [ ! -e "$F/mark" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
            sleep 0.5 # well inside the 2 s fsync
        else
            sleep "$2"
        fi
        kill -s "$1" "$(cat "$F/pid")" 2>/dev/null
    ) &
    watcher=$!
    if [ "$2" = fsync ]; then
        SD_SLOW_FSYNC_MARK=$F/mark LD_PRELOAD=$shim \
            ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
            sh -c 'echo $$ >"$0"; exec "$@"' "$F/pid" $SD compare -q -o "$3/r.json" $FB $FA 2>/dev/null
    else
        sh -c 'echo $$ >"$0"; exec "$@"' "$F/pid" $SD compare -q -o "$3/r.json" "$LB" "$LA" 2>/dev/null
    fi
    rc=$?
    wait $watcher
}
for sig in INT TERM; do
    if [ "$sig" = INT ]; then want=130; else want=143; fi
    # during decoding and measuring: killed, nothing written
    killed=0
    for d in 0.05 0.15; do
        D=$F/sig-$sig-$d; mkdir "$D"; printf 'OLD REPORT\n' >"$D/r.json"
        interrupt "$sig" "$d" "$D"
        if [ "$rc" -eq "$want" ]; then
            killed=$((killed + 1))
            ok "SIG$sig after ${d}s: killed (exit $rc)"
            old_or_whole "SIG$sig after ${d}s" "$D/r.json"
        elif [ "$rc" -eq 0 ]; then
            ok "SIG$sig after ${d}s: the run had already finished"
        else
            bad "SIG$sig after ${d}s" "exit $rc, expected $want"
        fi
        no_temp "SIG$sig after ${d}s" "$D"
    done
    # the cases above are only worth something if a run was interrupted
    [ "$killed" -ge 1 ] && ok "SIG$sig: $killed of 2 delays landed during a run" ||
        bad "SIG$sig: no delay landed during a run" "every run had finished: the input is too small for this machine"

    # while the temporary file exists: held until the report is complete
    if [ -n "$shim" ]; then
        D=$F/sig-$sig-fsync; mkdir "$D"; printf 'OLD REPORT\n' >"$D/r.json"
        interrupt "$sig" fsync "$D"
        if [ ! -e "$F/mark" ]; then
            skip=$((skip + 1)); echo "skip SIG$sig during the write: the fsync shim did not take (LD_PRELOAD)"
        else
            [ "$rc" -eq "$want" ] && ok "SIG$sig during the write: takes effect after it (exit $rc)" ||
                bad "SIG$sig during the write" "exit $rc, expected $want"
            $JQ "$D/r.json" 2>/dev/null && ok "SIG$sig during the write: the report is complete" ||
                bad "SIG$sig during the write: the report is complete" "$(head -c 80 "$D/r.json")"
            no_temp "SIG$sig during the write" "$D"
        fi
    else
        skip=$((skip + 1)); echo "skip SIG$sig during the write: cannot build tests/cli/slow_fsync.c"
    fi
done

if [ -n "${faults_alone:-}" ]; then
    echo "cli: $pass passed, $fail failed, $skip skipped"
    [ "$fail" -eq 0 ]
fi
