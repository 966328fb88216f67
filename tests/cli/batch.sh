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
"$SD" batch -q -o x.json "$P" "$P" 2>"$T/erro"; rc=$?
[ "$rc" -eq 1 ] && ok "batch: -o with two patients is a usage error" || bad "batch: -o with two patients" "exit $rc"

# interrupted: SIGINT mid-run keeps the previous report, leaves no temp files, resumes to the same report
rm -rf "$P/.skindelta-cache"; cp "$R" "$T/before-int.json"
"$SD" batch -q -j1 --progress=jsonl "$P" 2>"$T/bji" & pid=$!
i=0; while [ $i -lt 100 ] && ! grep -q '"phase":"align"' "$T/bji" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid; wait $pid; rc=$?
[ "$rc" -eq 130 ] && ok "batch: SIGINT exits 130" || bad "batch: SIGINT exits 130" "exit $rc"
cmp -s "$R" "$T/before-int.json" && ok "batch: previous report kept whole" || bad "batch: previous report kept" "changed"
[ -z "$(find "$P" -name '.*.??????' -type f)" ] && ok "batch: no temporary files after SIGINT" || bad "batch: temp files" "$(find "$P" -name '.*.??????')"
"$SD" batch -q --progress=jsonl "$P" 2>"$T/bjr"; "$SD" batch -q --no-cache -o "$T/rs.json" "$P"
cmp -s "$R" "$T/rs.json" && ok "batch: resumed run == uninterrupted run" || bad "batch: resumed run" "differs"
grep -q '"pairs_cached":[1-9]' "$T/bjr" && ok "batch: resume reuses work done before the signal" || bad "batch: resume reuses work" "$(tail -1 "$T/bjr")"

if [ -n "${standalone:-}" ]; then
    echo "cli: $pass passed, $fail failed, $skip skipped"
    [ "$fail" -eq 0 ]
fi
