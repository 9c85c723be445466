#!/bin/sh
# Measures katachi's compile times and writes docs/compile_times.md from the output (never by hand):
# with the flags a user would use (g++ -std=c++20 -O2, katachi's include dir and OpenBLAS's, one
# job) it compiles (a) a file that only includes <katachi/graph.hpp>, (b) examples/lenet_graph.cpp,
# a graph-face LeNet training program, header-only and again with KATACHI_EXTERN_KERNELS (the
# kernels' instances from libkatachi, or from a file of the program's own that includes
# <katachi/instantiate.hpp>, also measured: compiled once, not at each change), and with --tests (c) each test file of test/graph and
# test/eager as build-ct compiles it (its compile_commands.json). Each is compiled RUNS times
# (default 3) under /usr/bin/time; the page gives the median user+system CPU seconds and peak RSS.
#
#   sh tools/compile_times.sh [--tests] [RUNS]
#
# Needs GNU time (/usr/bin/time, Debian's package `time`). Compile only, no link. Run it on a quiet
# machine: CPU seconds vary less with load than wall time, but a busy machine still slows them.
set -eu
cd "$(dirname "$0")/.."
tests=0
if [ "${1:-}" = --tests ]; then
    tests=1
    shift
fi
runs=${1:-3}
if [ ! -x /usr/bin/time ]; then
    echo "compile_times.sh: needs GNU time in /usr/bin/time: sudo apt-get install time" >&2
    exit 1
fi
cxx=${CXX:-g++}
blas_inc=$(pkg-config --cflags-only-I openblas 2>/dev/null || true)
blas_inc=$(echo $blas_inc)  # without pkg-config's trailing space
flags="-std=c++20 -O2 -Iinclude $blas_inc"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '#include <katachi/graph.hpp>\nint main() {}\n' > "$out/graph_only.cpp"
printf '#include <katachi/instantiate.hpp>\n' > "$out/instantiate.cpp"

# measure LABEL DIR COMMAND: runs COMMAND in DIR RUNS times and appends "LABEL<tab>user sys KB".
measure() {
    i=1
    while [ "$i" -le "$runs" ]; do
        if ! (cd "$2" && /usr/bin/time -f '%U %S %M' -o "$out/time" sh -c "$3" > "$out/log" 2>&1); then
            cat "$out/log" >&2
            echo "compile_times.sh: $1 did not compile" >&2
            exit 1
        fi
        printf '%s\t%s\n' "$1" "$(tail -n 1 "$out/time")" >> "$out/results"
        i=$((i + 1))
    done
}

: > "$out/results"
measure graph_only "$PWD" "$cxx $flags -c $out/graph_only.cpp -o $out/a.o"
measure lenet_graph "$PWD" "$cxx $flags -c examples/lenet_graph.cpp -o $out/b.o"
measure lenet_graph_extern "$PWD" "$cxx $flags -DKATACHI_EXTERN_KERNELS -c examples/lenet_graph.cpp -o $out/b.o"
measure instantiate "$PWD" "$cxx $flags -c $out/instantiate.cpp -o $out/i.o"
if [ "$tests" = 1 ]; then
    [ -d build-ct ] || meson setup build-ct
    # Generated headers (the flash model's weights) first, so that every test file compiles.
    generated=$(ninja -C build-ct -t targets all | sed -n 's/^\([^:]*\.hpp\): .*/\1/p')
    [ -z "$generated" ] || ninja -C build-ct $generated
    python3 tools/compile_times_md.py --list build-ct/compile_commands.json test/graph test/eager \
        --object "$out/c.o" > "$out/tests"
    while IFS="$(printf '\t')" read -r label dir command; do
        measure "$label" "$dir" "$command"
    done < "$out/tests"
fi
python3 tools/compile_times_md.py --results "$out/results" --runs "$runs" --compiler "$($cxx --version | head -n 1)" \
    --flags "$cxx $flags"
