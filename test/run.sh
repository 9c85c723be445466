#!/bin/sh
# Installs what is missing, builds, and runs every katachi test. The last line is
# "N passed, N failed"; the exit status is non-zero when any test failed.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_BUILD:-"$root/build"}
export KATACHI_BUILD="$build"
sh "$root/tools/setup.sh" --tests

log="$build/meson-logs/run-summary.txt"
status=0
meson test -C "$build" --print-errorlogs --num-processes 2 > "$log" 2>&1 || status=$?
cat "$log"

count() { sed -n "s/^$1: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1; }
ok=$(count "Ok"); xfail=$(count "Expected Fail"); fail=$(count "Fail")
xpass=$(count "Unexpected Pass"); timeout=$(count "Timeout"); skipped=$(count "Skipped")
passed=$(( ${ok:-0} + ${xfail:-0} ))
failed=$(( ${fail:-0} + ${xpass:-0} + ${timeout:-0} ))
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed, ${skipped:-0} skipped"
[ "$failed" -eq 0 ]
