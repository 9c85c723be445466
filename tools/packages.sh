# tools/packages.sh: sourced by katachi's set-up scripts (setup.sh, sanitize.sh, fuzz.sh).
# require_packages P... installs the Debian packages named that are not installed yet: as root with
# apt-get, otherwise it prints the exact apt-get line and stops the calling script.
require_packages() {
    missing=""
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "katachi: installing$missing"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    else
        echo "katachi needs these Debian packages; install them, then run this again:"
        echo "  sudo apt-get install -y$missing"
        exit 1
    fi
}

# What every katachi build needs.
katachi_build_packages="g++ clang-14 pkg-config python3 meson ninja-build libboost-dev libxtensor-dev libxtensor-blas-dev libopenblas-dev catch2 zlib1g-dev dataset-fashion-mnist"

# What the tests need besides (tools/setup.sh --tests, from test/run.sh): the Cortex-M7 cross
# compiler, its C++ library and QEMU, for suite `embedded` (examples/embedded), and Open MPI for
# suite `distributed`. Without them those suites are skipped or not built; the quickstart does not
# install them.
katachi_test_packages="gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm libopenmpi-dev openmpi-bin"
