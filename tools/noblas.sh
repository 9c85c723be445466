#!/bin/sh
# Builds the kernels, optim and graph test suites without any BLAS (-Dblas=none: every matrix
# product on katachi's own GEMM, kernels/own_gemm.hpp; OpenBLAS not linked) in a build folder of
# their own, and runs them, with the PyTorch fixtures and the test that no program names an
# OpenBLAS symbol. .ci/run calls it after the sanitizers.
#   sh tools/noblas.sh [SUITE...]            (default: kernels optim graph)
#   KATACHI_NOBLAS_BUILD  build folder (default: build-noblas)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_NOBLAS_BUILD:-"$root/build-noblas"}
suites=${*:-"kernels optim graph"}
. "$root/tools/packages.sh"
require_packages $katachi_build_packages

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" -Dblas=none -Dbenchmarks=false
fi

# Only the suites' test programs: not the examples, the io and eager suites or the compile-fail
# tests. The test run by python3 (no_blas_symbols) looks into programs of the others.
targets=$(meson introspect "$build" --tests | python3 "$root/tools/suite_targets.py" "$build" $suites)
ninja -C "$build" $targets

suite_args=""
for s in $suites; do suite_args="$suite_args --suite $s"; done
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes 2 $suite_args
