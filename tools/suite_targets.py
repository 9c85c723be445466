#!/usr/bin/env python3
"""Prints the ninja targets that the tests of some Meson suites run: each test's program and every
argument that is a file the build makes (katachi-embed, a generated checkpoint), so a build folder
can make only what those suites need.

    ninja -C BUILD $(meson introspect BUILD --tests | python3 tools/suite_targets.py BUILD \
        [--skip-suite SUITE]... SUITE...)

A test in one of the --skip-suite suites is left out even when it is in one of the others.
"""
import json
import os
import sys


def main():
    build, args = os.path.realpath(sys.argv[1]), sys.argv[2:]
    suites, skipped = [], []
    while args:
        if args[0] == "--skip-suite":
            if len(args) < 2:
                sys.exit("suite_targets.py: --skip-suite needs a suite's name")
            skipped.append(args[1])
            args = args[2:]
        else:
            suites.append(args[0])
            args = args[1:]
    seen = []
    for test in json.load(sys.stdin):
        names = [s.split(":")[-1] for s in test["suite"]]
        if not any(n in suites for n in names) or any(n in skipped for n in names):
            continue
        for item in test["cmd"]:
            # Meson names programs and built files by absolute paths; the rest is options. A build
            # folder given by a relative path gives relative paths: take them from it.
            path = os.path.realpath(item) if os.path.isabs(item) else os.path.realpath(os.path.join(build, item))
            if path.startswith(build + os.sep) and (os.path.isabs(item) or os.sep in item):
                target = os.path.relpath(path, build)
                if target not in seen:
                    seen.append(target)
    print(" ".join(seen))


main()
