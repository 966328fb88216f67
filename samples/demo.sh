#!/bin/sh
# make demo: compare the bundled sample pair, print a short human summary
# and where the report is, then set the measured changes beside the truth
# the generator wrote.
set -eu
SD=${1:-build/skindelta}
OUT=${BUILD:-build}/demo
mkdir -p "$OUT"
"$SD" compare samples/before.jpg samples/after.jpg -o "$OUT/report.json"
echo "demo: report written to $OUT/report.json"
echo "demo: the generator's truth for this pair is in samples/truth.json"
