#!/bin/sh
# Installs what is missing, builds katachi in release mode, and runs the main demo.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_BUILD:-"$root/build"}
export KATACHI_BUILD="$build"
sh "$root/tools/setup.sh"
# The main demo: one epoch of the LeNet in the graph face; more with --epochs 3, --face eager, --help.
"$build/examples/fashion_mnist" --epochs 1 "$@"
