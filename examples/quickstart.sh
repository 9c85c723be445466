#!/bin/sh
# Installs what is missing, builds katachi in release mode, and runs the main demo.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_BUILD:-"$root/build"}
export KATACHI_BUILD="$build"
sh "$root/tools/setup.sh"
"$build/examples/fashion_mnist_mlp"
