#!/usr/bin/env python3
"""Runs the split header-only LeNet program and checks that it trains.

    run_split_program.py EXE

EXE is examples/lenet_graph.cpp compiled with KATACHI_EXTERN_KERNELS and linked with a file that
includes <katachi/instantiate.hpp>, without libkatachi: that it links at all shows the header
compiles every instance the macro declares extern for this program. One epoch on the first 2,000
Fashion-MNIST images must reach 60% test accuracy, as the example itself must (suite examples).
"""
import re
import subprocess
import sys


def main():
    done = subprocess.run([sys.argv[1], "2000"], capture_output=True, text=True, timeout=300)
    print(done.stdout, end="")
    if done.returncode != 0:
        sys.exit(f"exit code {done.returncode}\n{done.stderr}")
    m = re.fullmatch(r"test accuracy (0\.[0-9]{4})\n", done.stdout)
    if not m:
        sys.exit(f"unexpected output: {done.stdout!r}")
    if float(m.group(1)) < 0.6:
        sys.exit(f"test accuracy {m.group(1)} is below 0.6 after one epoch of 2,000 images")


if __name__ == "__main__":
    main()
