#!/bin/sh
# Builds katachi's libFuzzer harnesses (test/fuzz: safetensors, IDX, state dicts into both faces)
# with clang 14 and -fsanitize=fuzzer,address,undefined, and runs each for SECONDS from its seed
# corpus (test/fuzz/corpus/<harness>; new inputs go to a scratch folder, not into the repository).
# Prints each harness's execution count; exits non-zero on any crash, leak or sanitizer report,
# leaving the input in the build folder's fuzz-artifacts/.
#   sh tools/fuzz.sh [SECONDS [HARNESS...]]     (default: 60 seconds each, all three harnesses)
#   KATACHI_FUZZ_BUILD  build folder (default: build-fuzz)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_FUZZ_BUILD:-"$root/build-fuzz"}
seconds=${1:-60}
[ $# -gt 0 ] && shift
harnesses=${*:-"fuzz_safetensors fuzz_idx fuzz_state_dict"}
. "$root/tools/packages.sh"
require_packages $katachi_build_packages libclang-rt-14-dev

if [ ! -f "$build/build.ninja" ]; then
    CXX=clang++-14 meson setup "$build" "$root" --buildtype=plain -Doptimization=1 -Dcpp_args=-g1 \
        -Dbenchmarks=false -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false -Db_ndebug=false
fi
targets=""
for h in $harnesses; do targets="$targets test/fuzz/$h"; done
ninja -C "$build" $targets

artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
status=0
for h in $harnesses; do
    scratch=$(mktemp -d)
    log="$build/$h.log"
    echo "fuzzing $h for $seconds s"
    if "$build/test/fuzz/$h" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 \
        -artifact_prefix="$artifacts/$h-" "$scratch" "$root/test/fuzz/corpus/$h" > "$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        echo "  $h: ${runs:-?} executions, no finding"
    else
        status=1
        echo "  $h: FINDING (log: $log, inputs: $artifacts)"
        grep -E "ERROR|invariant violated|SUMMARY" "$log" | head -n 20 || true
    fi
    rm -rf "$scratch"
done
exit $status
