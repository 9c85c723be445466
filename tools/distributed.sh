#!/bin/sh
# Measures data-parallel training and writes docs/distributed_scaling.md from the output (never by
# hand): bench_ddp at 1 rank x 2 threads and 2 ranks x 1 thread, alternately, RUNS times each
# (default 3), then the demo for 3 epochs as one process and as two ranks.
#
#   sh tools/distributed.sh [RUNS]
#
# Needs Open MPI (Debian's libopenmpi-dev and openmpi-bin) and the Fashion-MNIST data set; builds in
# build-bench (release). Run it on a quiet machine. --bind-to none: mpirun binds each rank to one
# core by default, which would leave one rank's two threads on a single core.
set -eu
cd "$(dirname "$0")/.."
runs=${1:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
[ -d build-bench ] || meson setup build-bench --buildtype=release
ninja -C build-bench bench/distributed/bench_ddp examples/fashion_mnist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
one="" two=""
i=1
while [ "$i" -le "$runs" ]; do
    mpirun --oversubscribe --bind-to none -np 1 build-bench/bench/distributed/bench_ddp --threads 2 --json "$out/one$i.json"
    mpirun --oversubscribe --bind-to none -np 2 build-bench/bench/distributed/bench_ddp --threads 1 --json "$out/two$i.json"
    one="$one $out/one$i.json"
    two="$two $out/two$i.json"
    i=$((i + 1))
done
build-bench/examples/fashion_mnist --epochs 3 --out "$out/demo_one" > "$out/demo_one.log"
mpirun --oversubscribe --bind-to none -np 2 build-bench/examples/fashion_mnist --distributed --epochs 3 --out "$out/demo_two" \
    > "$out/demo_two.log"
python3 tools/distributed_md.py --runs $one --ranks $two \
    --demo "one process, 2 threads=$out/demo_one.log" "2 ranks, 1 thread each=$out/demo_two.log"
