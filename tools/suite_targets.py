#!/usr/bin/env python3
"""Prints the ninja targets that the tests of some Meson suites run: each test's program and every
argument that is a file the build makes (katachi-embed, a generated checkpoint), so a build folder
can make only what those suites need.

    ninja -C BUILD $(meson introspect BUILD --tests | python3 tools/suite_targets.py BUILD SUITE...)
"""
import json
import os
import sys


def main():
    build, suites = os.path.realpath(sys.argv[1]), sys.argv[2:]
    seen = []
    for test in json.load(sys.stdin):
        if not any(s.split(":")[-1] in suites for s in test["suite"]):
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
