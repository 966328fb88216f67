#!/bin/sh
# CLI cases for `skindelta batch`. Sourced from tests/cli/run.sh (shares its
# counters ok/bad, $SD, $JQ, $T), or run alone: sh tests/cli/batch.sh.
if [ -z "${SD:-}" ]; then
    set -u
    BUILD=${BUILD:-build}; SD=$BUILD/skindelta; JQ=$BUILD/tests/jsonq
    pass=0; fail=0; skip=0; T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
    ok()  { pass=$((pass + 1)); echo "ok   $1"; }
    bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }
    standalone=1
fi
SY=${BUILD:-build}/skindelta-synth
B="$T/batch"; mkdir -p "$B"
P="$B/patient-0042"
# a known progression: pores and redness fall session by session
shot() { # session pores-fewer redness shift
    mkdir -p "$P/$1"
    $SY --seed 11 --size 360x270 --shift "$4" --pores-fewer "$2" --redness "$3" --out-after "$P/$1/cheek-left.jpg" >/dev/null
}
mkdir -p "$P/2026-01-10"; $SY --seed 11 --size 360x270 --out-before "$P/2026-01-10/cheek-left.jpg" >/dev/null
shot 2026-02-09 0.25 0.75 3,2
shot 2026-03-11 0.5 0.5 -4,1
echo "notes" >"$P/2026-01-10/readme.txt"           # stray file
mkdir -p "$P/photos-misc"; cp "$P/2026-01-10/cheek-left.jpg" "$P/photos-misc/"   # no date
ln -s .. "$P/2026-05-05-loop"                      # symlink loop / leaves the folder

"$SD" batch -q --progress=jsonl -j2 "$P" 2>"$T/bj1"; rc=$?
[ "$rc" -eq 0 ] && ok "batch: generated patient exits 0" || bad "batch: generated patient exits 0" "exit $rc: $(head -c 300 "$T/bj1")"
R="$P/skindelta-progress.json"
[ "$($JQ "$R" schema)" = "skindelta/progress/1" ] && ok "batch: schema" || bad "batch: schema" "$($JQ "$R" schema)"
[ "$($JQ "$R" views.0.baseline)" = "2026-01-10" ] && ok "batch: baseline is the earliest session" || bad "batch: baseline" "$($JQ "$R" views.0.baseline)"
[ "$($JQ "$R" views.0.sessions.2.session)" = "2026-03-11" ] && ok "batch: sessions in date order" || bad "batch: order" "$($JQ "$R" views.0.sessions.2.session)"
[ "$($JQ "$R" summary.sessions)" = "3" ] && ok "batch: stray, undated and looping entries ignored" || bad "batch: ignored entries" "sessions $($JQ "$R" summary.sessions)"
c1=$($JQ "$R" views.0.sessions.0.metrics.pores.count); c2=$($JQ "$R" views.0.sessions.1.metrics.pores.count); c3=$($JQ "$R" views.0.sessions.2.metrics.pores.count)
awk "BEGIN{exit !($c1 > $c2 && $c2 > $c3)}" && ok "batch: pore count falls session by session ($c1 $c2 $c3)" || bad "batch: pore count falls" "$c1 $c2 $c3"
s=$($JQ "$R" views.0.trend.pores.count.slope_per_30d); r=$($JQ "$R" views.0.trend.redness.mean_a.slope_per_30d)
awk "BEGIN{exit !($s < 0 && $r < 0)}" && ok "batch: pore and redness trends negative ($s, $r)" || bad "batch: trends" "$s $r"
[ "$($JQ "$R" views.0.sessions.0.vs_baseline)" = "null" ] && $JQ "$R" views.0.sessions.2.vs_previous.pores.count.change_pct >/dev/null && ok "batch: vs_baseline / vs_previous" || bad "batch: vs fields" "missing"
[ "$($JQ "$R" views.0.sessions.2.summary.pores)" = improved ] && [ "$($JQ "$R" views.0.sessions.2.vs_baseline.pores.count.verdict)" = improved ] && $JQ "$R" views.0.sessions.2.vs_baseline.pores.count.noise_floor_pct >/dev/null && [ "$($JQ "$R" views.0.sessions.0.summary)" = null ] && ok "batch: per-session verdicts against the noise floors" || bad "batch: verdicts" "$($JQ "$R" views.0.sessions.2.summary)"
n=0; okl=1; while IFS= read -r line; do n=$((n + 1)); printf '%s' "$line" >"$T/line.json"; $JQ "$T/line.json" >/dev/null || okl=0; done <"$T/bj1"
[ "$okl" -eq 1 ] && [ "$n" -ge 9 ] && ok "batch: --progress=jsonl lines parse ($n)" || bad "batch: jsonl" "$n lines, parse $okl"
grep -q '"pairs_aligned":2,' "$T/bj1" && ok "batch: first run aligns 2 pairs" || bad "batch: first run aligns 2 pairs" "$(tail -1 "$T/bj1")"

# cache: a rerun is identical and computes nothing
cp "$R" "$T/r1.json"
"$SD" batch -q --progress=jsonl "$P" 2>"$T/bj2"
cmp -s "$R" "$T/r1.json" && ok "batch: cached rerun byte-identical" || bad "batch: cached rerun byte-identical" "differs"
grep -q '"pairs_aligned":0,.*"measured":0,' "$T/bj2" && ok "batch: cached rerun computes nothing" || bad "batch: cached rerun computes nothing" "$(tail -1 "$T/bj2")"
"$SD" batch -q --no-cache --progress=none -o "$T/r0.json" "$P"
cmp -s "$T/r0.json" "$T/r1.json" && ok "batch: from scratch == cached, -j2 == -j1" || bad "batch: from scratch == cached" "differs"
# one new session: one pair per view aligned
shot 2026-04-10 0.7 0.3 2,-2
"$SD" batch -q --progress=jsonl "$P" 2>"$T/bj3"
grep -q '"pairs_aligned":1,' "$T/bj3" && ok "batch: a new session aligns one pair" || bad "batch: a new session aligns one pair" "$(tail -1 "$T/bj3")"
# a modified photo is recomputed
$SY --seed 11 --size 360x270 --shift 1,1 --pores-fewer 0.5 --redness 0.5 --out-after "$P/2026-03-11/cheek-left.jpg" >/dev/null
"$SD" batch -q --progress=jsonl "$P" 2>"$T/bj4"
grep -q '"pairs_aligned":1,' "$T/bj4" && ok "batch: a modified photo is realigned" || bad "batch: a modified photo is realigned" "$(tail -1 "$T/bj4")"
# a damaged cache entry is ignored and recomputed
for f in "$P"/.skindelta-cache/align-*; do printf 'garbage' >"$f"; break; done
"$SD" batch -q --progress=jsonl "$P" 2>"$T/bj5"; cp "$R" "$T/r5.json"
grep -q '"pairs_aligned":1,.*"cache_rejected":1,' "$T/bj5" && ok "batch: damaged cache entry recomputed" || bad "batch: damaged cache entry" "$(tail -1 "$T/bj5")"
"$SD" batch -q --no-cache -o "$T/r6.json" "$P"
cmp -s "$T/r5.json" "$T/r6.json" && ok "batch: report after cache repair == from scratch" || bad "batch: after repair" "differs"

# a damaged photo and a missing view: exit 5, stderr names the file
mkdir -p "$P/2026-05-20"; head -c 4000 "$P/2026-02-09/cheek-left.jpg" >"$P/2026-05-20/cheek-left.jpg"
cp "$P/2026-01-10/cheek-left.jpg" "$P/2026-01-10/forehead.jpg"; cp "$P/2026-02-09/cheek-left.jpg" "$P/2026-02-09/forehead.jpg"
"$SD" batch -q --progress=none "$P" 2>"$T/err5"; rc=$?
[ "$rc" -eq 5 ] && ok "batch: damaged photo exits 5" || bad "batch: damaged photo exits 5" "exit $rc"
grep -Eq "^skindelta: $P/2026-05-20/cheek-left\.jpg: " "$T/err5" && [ "$(wc -l <"$T/err5")" -eq 1 ] && ok "batch: stderr names the damaged file" || bad "batch: stderr names the file" "$(cat "$T/err5")"
[ "$($JQ "$R" views.0.sessions.4.status)" = "error" ] && $JQ "$R" views.0.sessions.4.error | grep -q '^2026-05-20/cheek-left.jpg: ' && ok "batch: damaged session is status error" || bad "batch: error entry" "$($JQ "$R" views.0.sessions.4.status)"
[ "$($JQ "$R" views.1.name)" = "forehead" ] && [ "$($JQ "$R" views.1.sessions.1.status)" = "ok" ] && ok "batch: a view missing from some sessions" || bad "batch: partial view" "$($JQ "$R" views.1.name)"
rm -f "$P/2026-05-20/cheek-left.jpg" "$P/2026-01-10/forehead.jpg" "$P/2026-02-09/forehead.jpg"

# manifest validation names the key
printf '{"views": {"cheek-left": {"roi": [1, 2, 3]}}}' >"$P/patient.json"
"$SD" batch -q "$P" 2>"$T/errm"; rc=$?
[ "$rc" -eq 2 ] && grep -q 'patient.json: views.cheek-left.roi: expected \[x, y, w, h\]' "$T/errm" && ok "batch: manifest error names the key" || bad "batch: manifest error" "exit $rc: $(cat "$T/errm")"
rm -f "$P/patient.json"

# a reference patch (--ref / manifest "ref"). Skin of one chromaticity (no
# blotches, no red patches, base tone a* = 13) photographed at known
# exposures: the patch's mean becomes neutral grey, so a* = 0 everywhere
# (CIELAB of a neutral colour), and each session's exposure_ev is the
# generator's EV; gains/before_gains = 2^-EV in every channel.
PR="$B/patient-ref"; PRR="$PR/skindelta-progress.json"
mkdir -p "$PR/2026-01-10"; $SY --seed 21 --size 360x270 --no-redness --no-blotch --out-before "$PR/2026-01-10/cheek-left.jpg" >/dev/null
refshot() { # session ev shift pores-fewer
    mkdir -p "$PR/$1"
    $SY --seed 21 --size 360x270 --no-redness --no-blotch --ev "$2" --shift "$3" --pores-fewer "$4" --out-after "$PR/$1/cheek-left.jpg" >/dev/null
}
refshot 2026-02-09 0.4 3,2 0.3
refshot 2026-03-11 -0.5 -4,1 0.6
"$SD" batch -q --progress=none --ref 100,80,60,50 "$PR" 2>"$T/errr"; rc=$?
[ "$rc" -eq 0 ] && ok "batch --ref: exits 0" || bad "batch --ref: exits 0" "exit $rc: $(cat "$T/errr")"
cp "$PRR" "$T/ref-cli.json"
[ "$($JQ "$PRR" params.normalize)" = reference ] && [ "$($JQ "$PRR" views.0.sessions.1.normalization.method)" = reference ] && [ "$($JQ "$PRR" views.0.sessions.2.normalization.calibrated)" = true ] && ok "batch --ref: sessions are calibrated on the patch" || bad "batch --ref: calibrated" "$($JQ "$PRR" views.0.sessions.1.normalization)"
refev() { # session-index ev
    e=$($JQ "$PRR" views.0.sessions.$1.normalization.exposure_ev)
    g=""; for c in 0 1 2; do g="$g $($JQ "$PRR" views.0.sessions.$1.normalization.gains.$c) $($JQ "$PRR" views.0.sessions.$1.normalization.before_gains.$c)"; done
    awk -v e="$e" -v ev="$2" -v g="$g" 'BEGIN{split(g, a, " "); want = 2 ^ -ev; bad = !(e - ev < 0.05 && ev - e < 0.05)
        for (c = 0; c < 3; c++) { r = a[2 * c + 1] / a[2 * c + 2] / want; if (r < 0.98 || r > 1.02) bad = 1 }; exit bad}' \
        && ok "batch --ref: session $1 exposure_ev $e ~ $2, gains/before_gains = 2^-EV" || bad "batch --ref: session $1 gains" "ev $e, gains/before $g"
}
refev 1 0.4
refev 2 -0.5
a0=$($JQ "$PRR" views.0.sessions.0.metrics.redness.mean_a); a1=$($JQ "$PRR" views.0.sessions.1.metrics.redness.mean_a); a2=$($JQ "$PRR" views.0.sessions.2.metrics.redness.mean_a)
awk "BEGIN{exit !($a0 < 0.5 && $a0 > -0.5 && $a1 < 0.5 && $a1 > -0.5 && $a2 < 0.5 && $a2 > -0.5)}" && ok "batch --ref: baseline and sessions neutral on the patch (a* $a0 $a1 $a2)" || bad "batch --ref: neutral" "a* $a0 $a1 $a2"
"$SD" batch -q --no-cache --progress=none -o "$T/ref-exp.json" "$PR"
e0=$($JQ "$T/ref-exp.json" views.0.sessions.0.metrics.redness.mean_a)
awk "BEGIN{exit !($e0 > 12 && $e0 < 14)}" && ok "batch: without --ref the base tone's a* = 13 stays ($e0)" || bad "batch: exposure a*" "$e0"
# the same patch from the manifest: the same numbers, the view's params say so
printf '{"views": {"cheek-left": {"ref": [100, 80, 60, 50]}}}' >"$PR/patient.json"
"$SD" batch -q --progress=none "$PR"; rc=$?
same=1; for k in 0 1 2; do [ "$($JQ "$PRR" views.0.sessions.$k)" = "$($JQ "$T/ref-cli.json" views.0.sessions.$k)" ] || same=0; done
[ "$rc" -eq 0 ] && [ "$same" -eq 1 ] && [ "$($JQ "$PRR" views.0.params.normalize)" = reference ] && [ "$($JQ "$PRR" views.0.params.ref.2)" = 60 ] && ok "batch: manifest ref == --ref" || bad "batch: manifest ref" "exit $rc, same $same"
# a patch that leaves one session's frame fails that session only, naming it
printf '{"views": {"cheek-left": {"ref": [0, 0, 40, 40]}}}' >"$PR/patient.json"
"$SD" batch -q --progress=none "$PR" 2>"$T/errr"; rc=$?
[ "$rc" -eq 5 ] && [ "$($JQ "$PRR" views.0.sessions.1.status)" = ok ] && [ "$($JQ "$PRR" views.0.sessions.2.status)" = error ] && ok "batch: a patch outside one session fails that session only" || bad "batch: patch outside" "exit $rc $($JQ "$PRR" views.0.sessions.2.error)"
$JQ "$PRR" views.0.sessions.2.error | grep -q '^2026-03-11/cheek-left.jpg: normalize: reference patch 0,0,40,40 falls outside AFTER' && grep -Eq "^skindelta: $PR/2026-03-11/cheek-left\.jpg: normalize: " "$T/errr" && [ "$(wc -l <"$T/errr")" -eq 1 ] && ok "batch: a normalization error names the image" || bad "batch: normalization error names the image" "$(cat "$T/errr")"
rm -f "$PR/patient.json"
"$SD" batch -q --progress=none --ref 100,80,60,50 "$PR"

# several patient folders in one command: each its own report (the same
# bytes as alone), one "done" line each in order, exit 5 when any failed
Q="$B/patient-q"; rm -rf "$Q"; mkdir -p "$Q"; cp -R "$PR/2026-01-10" "$PR/2026-02-09" "$PR/2026-03-11" "$Q/"
head -c 3000 "$PR/2026-02-09/cheek-left.jpg" >"$Q/2026-02-09/cheek-left.jpg"
rm -f "$PRR" "$Q/skindelta-progress.json"
"$SD" batch -q --progress=jsonl --ref 100,80,60,50 "$PR" "$Q" 2>"$T/bm"; rc=$?
[ "$rc" -eq 5 ] && ok "batch: two patients, one with a damaged photo: exit 5" || bad "batch: two patients exit 5" "exit $rc"
cmp -s "$PRR" "$T/ref-cli.json" && ok "batch: the healthy patient's report == its report alone" || bad "batch: healthy patient" "differs"
[ "$($JQ "$Q/skindelta-progress.json" patient)" = patient-q ] && [ "$($JQ "$Q/skindelta-progress.json" views.0.sessions.1.status)" = error ] && [ "$($JQ "$Q/skindelta-progress.json" views.0.sessions.2.status)" = ok ] && ok "batch: the damaged patient gets its own report" || bad "batch: damaged patient report" "$($JQ "$Q/skindelta-progress.json" patient)"
grep '"event"' "$T/bm" | sed 's/.*"folder":"\([^"]*\)","event":"\([a-z]*\)".*"pairs_failed":\([0-9]*\).*/\1 \2 \3/' >"$T/bm.done"
printf '%s done 0\n%s done 1\n' "$PR" "$Q" | cmp -s - "$T/bm.done" && ok "batch: one done line per patient, in order" || bad "batch: done lines" "$(cat "$T/bm.done")"
[ "$(grep -c "^skindelta: " "$T/bm")" -eq 1 ] && grep -q "^skindelta: $Q/2026-02-09/cheek-left\.jpg: " "$T/bm" && ok "batch: stderr names the failed file of the right patient" || bad "batch: stderr with two patients" "$(grep '^skindelta' "$T/bm")"
# a folder that cannot be read: exit 2 (outranks 5), the others still run
rm -f "$PRR" "$Q/skindelta-progress.json"
"$SD" batch -q --progress=none --ref 100,80,60,50 "$PR" "$B/no-such-patient" "$Q" 2>"$T/bm2"; rc=$?
[ "$rc" -eq 2 ] && grep -q "^skindelta: $B/no-such-patient: " "$T/bm2" && [ -f "$PRR" ] && [ -f "$Q/skindelta-progress.json" ] && ok "batch: an unreadable patient folder exits 2, the others get their reports" || bad "batch: unreadable folder among several" "exit $rc: $(cat "$T/bm2")"
# -o is refused with several folders (each gets its own report): nothing runs
rm -f "$PRR"
"$SD" batch -q -o "$T/x.json" "$PR" "$Q" 2>"$T/erro"; rc=$?
[ "$rc" -eq 1 ] && grep -q "^skindelta: -o is for a single patient folder" "$T/erro" && [ ! -e "$T/x.json" ] && [ ! -e "$PRR" ] && ok "batch: -o with two patients is a usage error, nothing written" || bad "batch: -o with two patients" "exit $rc: $(cat "$T/erro")"

# interrupted: SIGINT mid-run keeps the previous report, leaves no temp files, resumes to the same report.
# A patient large enough that the run is still busy long after its first
# alignment (6 sessions at 800x600), whatever the machine's speed.
PI="$B/patient-int"; RI="$PI/skindelta-progress.json"
mkdir -p "$PI/2026-01-10"; $SY --seed 12 --size 800x600 --out-before "$PI/2026-01-10/cheek-left.jpg" >/dev/null
for k in 1 2 3 4 5; do
    mkdir -p "$PI/2026-0$((k + 1))-10"
    $SY --seed 12 --size 800x600 --shift "$k,-$k" --rotate "$k" --pores-fewer "0.$k" --out-after "$PI/2026-0$((k + 1))-10/cheek-left.jpg" >/dev/null
done
"$SD" batch -q --progress=none "$PI" 2>/dev/null
rm -rf "$PI/.skindelta-cache"; cp "$RI" "$T/before-int.json"
"$SD" batch -q -j1 --progress=jsonl "$PI" 2>"$T/bji" & pid=$!
i=0; while [ $i -lt 100 ] && ! grep -q '"phase":"align"' "$T/bji" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid; wait $pid; rc=$?
[ "$rc" -eq 130 ] && ok "batch: SIGINT exits 130" || bad "batch: SIGINT exits 130" "exit $rc"
cmp -s "$RI" "$T/before-int.json" && ok "batch: previous report kept whole" || bad "batch: previous report kept" "changed"
[ -z "$(find "$PI" -name '.*.??????' -type f)" ] && ok "batch: no temporary files after SIGINT" || bad "batch: temp files" "$(find "$PI" -name '.*.??????')"
"$SD" batch -q --progress=jsonl "$PI" 2>"$T/bjr"; "$SD" batch -q --no-cache -o "$T/rs.json" "$PI"
cmp -s "$RI" "$T/rs.json" && ok "batch: resumed run == uninterrupted run" || bad "batch: resumed run" "differs"
grep -q '"pairs_cached":[1-9]' "$T/bjr" && ok "batch: resume reuses work done before the signal" || bad "batch: resume reuses work" "$(tail -1 "$T/bjr")"
# the interrupted line is honest: its work counters are the per-item lines
# printed before it, and there is no summary (no report was built)
last=$(grep '"event"' "$T/bji" | tail -1); printf '%s' "$last" >"$T/last.json"
cnt() { grep -c "\"phase\":\"$1\",\"status\":\"$2\"" "$T/bji"; }
if [ "$($JQ "$T/last.json" event)" = interrupted ] && [ "$($JQ "$T/last.json" pairs_ok)" = null ] && [ "$($JQ "$T/last.json" pairs_failed)" = null ] &&
   [ "$($JQ "$T/last.json" pairs_aligned)" -eq "$(cnt align ok)" ] && [ "$($JQ "$T/last.json" pairs_cached)" -eq "$(cnt align cached)" ] &&
   [ "$($JQ "$T/last.json" measured)" -eq "$(cnt measure ok)" ] && [ "$($JQ "$T/last.json" images_decoded)" -eq "$(cnt probe ok)" ]; then
    ok "batch: the interrupted jsonl line counts exactly the items done ($(cnt align ok) aligned)"
else
    bad "batch: interrupted line" "$last; align ok $(cnt align ok), measure ok $(cnt measure ok), probe ok $(cnt probe ok)"
fi
# SIGTERM during the first of two patients: the second does not start
rm -rf "$PI/.skindelta-cache"; rm -f "$PRR"
"$SD" batch -q -j1 --progress=jsonl "$PI" "$PR" 2>"$T/bjt" & pid=$!
i=0; while [ $i -lt 100 ] && ! grep -q '"phase":"align"' "$T/bjt" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
kill -TERM $pid; wait $pid; rc=$?
[ "$rc" -eq 143 ] && [ ! -e "$PRR" ] && [ "$(grep -c '"event"' "$T/bjt")" -eq 1 ] && ! grep -q patient-ref "$T/bjt" && ok "batch: SIGTERM exits 143, later patients not started" || bad "batch: SIGTERM with two patients" "exit $rc: $(tail -2 "$T/bjt")"

# a folder name holding a terminal escape: stderr stays one line of plain text
NAME="$T/$(printf 'no\033[31mpatient')"
"$SD" batch -q "$NAME" 2>"$T/besc"; rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$T/besc")" -eq 1 ] && grep -q 'no?\[31mpatient' "$T/besc" && ! LC_ALL=C grep -q "$(printf '\033')" "$T/besc"; then
    ok "batch: a folder name's control characters are not echoed"
else
    bad "batch: control characters in a folder name" "exit $rc: $(od -c "$T/besc" | head -3)"
fi

if [ -n "${standalone:-}" ]; then
    echo "cli: $pass passed, $fail failed, $skip skipped"
    [ "$fail" -eq 0 ]
fi
