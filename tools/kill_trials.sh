#!/bin/sh
# Kills saving processes at random moments, many times: test_safetensors' kill test with more
# trials than the 50 per mode it runs in CI. Each trial forks a child that saves 8 MB versions of
# a model in a loop, SIGKILLs it after 0-30 ms, and requires the target to be a complete version
# and the folder to hold no temporary file after the next save. Both modes run: unnamed (O_TMPFILE)
# temporaries and the named fallback. Prints one summary line per mode.
#   usage: tools/kill_trials.sh [trials per mode, default 1000]
#   KATACHI_BUILD  build folder holding test/io/test_safetensors (default: build)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KATACHI_BUILD:-"$root/build"}
trials=${1:-1000}
exe="$build/test/io/test_safetensors"
if [ ! -x "$exe" ]; then
    echo "kill_trials: $exe is missing; build it with: meson compile -C $build test_safetensors" >&2
    exit 1
fi
KATACHI_KILL_TRIALS=$trials "$exe" "[kill]"
