#!/usr/bin/env python3
"""Fails when a program or library of a -Dblas=none build names an OpenBLAS or CBLAS symbol.

    no_blas_symbols.py NM FILE...

Runs NM on each FILE (and NM -D on each program, for its dynamic symbols) and prints every symbol,
defined or not, that matches cblas_, openblas, sgemm_ or dgemm_. Exit status 1 if any does, or if
NM fails on a file.
"""
import re
import subprocess
import sys

pattern = re.compile(r"cblas_|openblas|sgemm_|dgemm_")


def symbols(nm, path, dynamic):
    args = [nm, "-D", path] if dynamic else [nm, path]
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {run.stderr.strip()}")
    return [line.split()[-1] for line in run.stdout.splitlines() if line.strip() and not line.endswith(":")]


def main():
    nm, files = sys.argv[1], sys.argv[2:]
    if not files:
        sys.exit("no files given")
    found = 0
    for path in files:
        names = symbols(nm, path, False)
        if not path.endswith(".a"):
            names += symbols(nm, path, True)
        bad = sorted({n for n in names if pattern.search(n)})
        for n in bad:
            print(f"{path}: {n}")
        found += len(bad)
        print(f"{path}: {len(names)} symbols, {len(bad)} from a BLAS")
    if found:
        sys.exit(f"{found} BLAS symbols in a build without BLAS")


main()
