#!/bin/sh
# Run every unit-test binary given, then the CLI cases, and close with one
# line "tests: N passed, N failed, N skipped" summed over all of them.
# Exit status: 0 only when nothing failed.
set -u
pass=0; fail=0; skip=0; broken=""
out=$(mktemp); trap 'rm -f "$out"' EXIT
count() { # $1 = tag in cmocka's summary lines
    sed -n "s/^\[  *$1  *\] \([0-9][0-9]*\) test.*/\1/p" "$out" | head -n 1
}
for t in "$@"; do
    "$t" >"$out" 2>&1; rc=$?
    cat "$out"
    p=$(count PASSED); f=$(count FAILED); s=$(count SKIPPED)
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
        # crashed or died before cmocka could count: one failure for the binary
        fail=$((fail + 1)); broken="$broken $t"
    fi
done
if [ -f tests/cli/run.sh ]; then
    sh tests/cli/run.sh >"$out" 2>&1; rc=$?
    cat "$out"
    p=$(sed -n 's/^cli: \([0-9]*\) passed.*/\1/p' "$out"); f=$(sed -n 's/^cli: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$out")
    s=$(sed -n 's/^cli: .* \([0-9]*\) skipped.*/\1/p' "$out")
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then fail=$((fail + 1)); broken="$broken tests/cli/run.sh"; fi
fi
[ -n "$broken" ] && echo "crashed or failed without a count:$broken"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
