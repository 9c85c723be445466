#!/usr/bin/env python3
"""Runs the failures program built with and without exceptions; both must report every failure,
in the same sentences, line for line.

usage: compare.py <with exceptions> <without exceptions>
"""
import subprocess
import sys


def run(exe):
    done = subprocess.run([exe], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        sys.exit(f"{exe} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout.splitlines()


def main():
    with_exceptions, without = run(sys.argv[1]), run(sys.argv[2])
    print("\n".join(without))
    if not with_exceptions or len(with_exceptions) != len(without):
        sys.exit(f"the builds report {len(with_exceptions)} and {len(without)} failures")
    for a, b in zip(with_exceptions, without):
        if "no failure" in a or "no failure" in b:
            sys.exit(f"a failure was not reported: '{a}' / '{b}'")
        if a != b:
            sys.exit(f"the sentences differ:\n  with exceptions:    {a}\n  without exceptions: {b}")
    print(f"{len(without)} failures, the same sentences with and without exceptions")


main()
