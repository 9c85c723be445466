#!/bin/sh
# Installs the Debian packages katachi's build needs (only those missing), then configures and
# builds katachi in release mode. Used by examples/quickstart.sh and test/run.sh.
#   --tests        also the packages only the tests need (the cross compiler and QEMU)
#   KATACHI_BUILD  build folder (default: build)
#   CXX            compiler (default: the system's c++; clang++-14 works too)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_BUILD:-"$root/build"}
. "$root/tools/packages.sh"
packages=$katachi_build_packages
if [ "${1:-}" = "--tests" ]; then
    packages="$packages $katachi_test_packages"
fi
require_packages $packages

if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" --buildtype=release -Dbenchmarks=false
fi
meson compile -C "$build"
