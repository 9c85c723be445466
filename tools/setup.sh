#!/bin/sh
# Installs the Debian packages katachi's build needs (only those missing), then configures and
# builds katachi in release mode. Used by examples/quickstart.sh and test/run.sh.
#   KATACHI_BUILD  build folder (default: build)
#   CXX            compiler (default: the system's c++; clang++-14 works too)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_BUILD:-"$root/build"}

packages="g++ clang-14 pkg-config python3 meson ninja-build libboost-dev libxtensor-dev libxtensor-blas-dev libopenblas-dev catch2 nlohmann-json3-dev zlib1g-dev dataset-fashion-mnist"
missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "katachi: installing$missing"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    else
        echo "katachi needs these Debian packages; install them, then run this again:"
        echo "  sudo apt-get install -y$missing"
        exit 1
    fi
fi

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dbenchmarks=false
fi
meson compile -C "$build"
