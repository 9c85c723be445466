#!/bin/sh
# Builds the kernels, io, data, graph and eager test suites with AddressSanitizer and
# UndefinedBehaviorSanitizer (g++, in a build folder of their own) and runs them: any sanitizer
# report fails its test. No suppressions. .ci/run calls it after the README's test command.
# The suite extern_kernels (the same tests again with the kernels' instances from libkatachi, the
# same code) is left out: it checks the linking, which the other builds do, and its three programs
# took 6% of this run's build (about a minute on two cores).
#   sh tools/sanitize.sh [SUITE...]          (default: kernels io data graph eager)
#   KATACHI_SANITIZE_BUILD  build folder (default: build-sanitize)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_SANITIZE_BUILD:-"$root/build-sanitize"}
suites=${*:-"kernels io data graph eager"}
. "$root/tools/packages.sh"
require_packages $katachi_build_packages

if [ ! -f "$build/build.ninja" ]; then
    # -O1 keeps the build and the instrumented runs quick; -g1 gives the reports line numbers.
    # Warnings are the other builds' business: with the sanitizers g++ 12 warns falsely
    # (maybe-uninitialized inside libstdc++'s <regex>), so they do not stop this one.
    meson setup "$build" "$root" --buildtype=plain -Doptimization=1 -Dcpp_args=-g1 -Dbenchmarks=false \
        -Db_sanitize=address,undefined -Db_ndebug=false -Dwerror=false
fi

# Only the suites' test programs: the examples and compile-fail tests are not built here.
targets=$(meson introspect "$build" --tests |
    python3 "$root/tools/suite_targets.py" "$build" --skip-suite extern_kernels $suites)
ninja -C "$build" $targets

suite_args=""
for s in $suites; do suite_args="$suite_args --suite $s"; done
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes 2 --timeout-multiplier 4 $suite_args \
    --no-suite extern_kernels
