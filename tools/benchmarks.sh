#!/bin/sh
# Measures katachi beside libtorch and writes docs/benchmarks.md from the output (never by hand).
#
#   sh tools/benchmarks.sh [RUNS]     (default 3 runs of bench_compare, then the demo in both faces)
#
# Needs Debian's libtorch-dev (installed here when missing and run as root) and the Fashion-MNIST
# data set; builds in build-bench (release). Run it on a quiet machine: the figures are as good as
# the machine is quiet, and the page records the load average.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
if ! dpkg -s libtorch-dev >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y libtorch-dev
    else
        echo "benchmarks.sh: needs libtorch-dev: sudo apt-get install libtorch-dev" >&2
        exit 1
    fi
fi
if [ ! -d build-bench ]; then
    meson setup build-bench --buildtype=release -Dlibtorch_bench=true
else
    meson configure build-bench -Dlibtorch_bench=true
fi
ninja -C build-bench bench/compare/bench_compare examples/fashion_mnist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
files=""
i=1
while [ "$i" -le "$runs" ]; do
    build-bench/bench/compare/bench_compare --json "$out/run$i.json" > "$out/run$i.txt"
    files="$files $out/run$i.json"
    i=$((i + 1))
done
for face in graph eager; do
    build-bench/examples/fashion_mnist --face "$face" --epochs 3 --out "$out/demo_$face" > "$out/demo_$face.log"
done
python3 tools/benchmarks_md.py --compare $files --demo "graph=$out/demo_graph.log" "eager=$out/demo_eager.log"
