#!/usr/bin/env python3
"""Writes docs/compile_times.md from tools/compile_times.sh's measurements, never by hand.

    python3 tools/compile_times_md.py --results FILE --runs N --compiler TEXT --flags TEXT [--out PATH]
    python3 tools/compile_times_md.py --list compile_commands.json DIR [DIR ...] --object PATH

--results: lines "LABEL<tab>USER SYSTEM MAXRSS_KB", one per compile (GNU time's %U %S %M).
--list: prints "LABEL<tab>DIRECTORY<tab>COMMAND" for each file under the DIRs (relative to the
source root) as the build compiles it, its object written to PATH and no dependency file.
"""
import argparse
import json
import os
import shlex
import statistics
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks_md import machine  # noqa: E402

# The goals of issue 16 (g++ 12, -O2, one job): CPU seconds and peak MiB; None where there is none.
goals = {
    "graph_only": (1.5, None),
    "lenet_graph": (5.0, 400),
    "lenet_graph_extern": (5.0, 400),
    "instantiate": (None, None),
}
names = {
    "graph_only": "(a) `#include <katachi/graph.hpp>` and an empty `main`",
    "lenet_graph": "(b) `examples/lenet_graph.cpp`, a graph-face LeNet training program",
    "lenet_graph_extern": "(b) with `-DKATACHI_EXTERN_KERNELS`, its kernels from `libkatachi` or a file of its own",
    "instantiate": "that file (once, not at each change): `#include <katachi/instantiate.hpp>`, "
                   "as `libkatachi`'s `src/instances.cpp`",
}


def list_commands(database, dirs, obj):
    with open(database) as f:
        entries = json.load(f)
    chosen = []
    for e in entries:
        source = os.path.normpath(os.path.join(e["directory"], e["file"]))
        rel = os.path.relpath(source, root)
        if any(rel.startswith(d.rstrip("/") + "/") for d in dirs):
            chosen.append((rel, e))
    counts = {}
    for rel, _ in chosen:
        counts[rel] = counts.get(rel, 0) + 1
    for rel, e in chosen:
        args = shlex.split(e["command"]) if "command" in e else e["arguments"]
        label = rel
        if counts[rel] > 1 and "-o" in args:
            # A file built into several programs: named with its program (Meson's <target>.p folder).
            program = os.path.basename(os.path.dirname(args[args.index("-o") + 1]))
            label = f"{rel} ({program.removesuffix('.p')})"
        kept, skip = [], False
        for a in args:
            if skip:
                skip = False
                continue
            if a in ("-MQ", "-MF", "-MT", "-o"):
                skip = True
                continue
            if a in ("-MD", "-MMD") or a.startswith("-fdiagnostics-color"):
                continue
            kept.append(a)
        kept += ["-o", obj]
        print(f"{label}\t{e['directory']}\t{shlex.join(kept)}")


def read_results(path):
    runs = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            label, figures = line.rstrip("\n").split("\t")
            user, system, kb = figures.split()
            runs.setdefault(label, []).append((float(user) + float(system), int(kb) / 1024))
    return runs


def write(args):
    runs = read_results(args.results)
    out = ["# Compile times, measured", "",
           "Written by `sh tools/compile_times.sh` (`tools/compile_times_md.py`), never by hand. Each",
           f"file is compiled {args.runs} times, alone (one job), object only (no link); the figures are the",
           "medians of the user+system CPU seconds and of the peak resident memory (GNU time's %U+%S and %M).",
           "", "## The machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in machine()]
    out += ["", "## A user's program", "",
            f"Compiled with `{args.flags} -c` ({args.compiler}).", "",
            "| file | CPU s | peak MiB | goal | met |", "|---|---:|---:|---|---|"]
    for label in names:
        if label not in runs:
            continue
        cpu = statistics.median(r[0] for r in runs[label])
        mib = statistics.median(r[1] for r in runs[label])
        goal_cpu, goal_mib = goals[label]
        if goal_cpu is None:
            out.append(f"| {names[label]} | {cpu:.2f} | {mib:.0f} | | |")
            continue
        goal = f"≤ {goal_cpu} s" + (f", ≤ {goal_mib} MiB" if goal_mib else "")
        met = cpu <= goal_cpu and (goal_mib is None or mib <= goal_mib)
        out.append(f"| {names[label]} | {cpu:.2f} | {mib:.0f} | {goal} | {'yes' if met else 'no'} |")
    tests = [label for label in runs if label not in goals]
    if tests:
        out += ["", "## The test files", "",
                "Each as the build in `build-ct` compiles it (its `compile_commands.json`: release, -O3).", "",
                "| file | CPU s | peak MiB |", "|---|---:|---:|"]
        total = 0.0
        for label in tests:
            cpu = statistics.median(r[0] for r in runs[label])
            total += cpu
            out.append(f"| `{label}` | {cpu:.2f} | {statistics.median(r[1] for r in runs[label]):.0f} |")
        out.append(f"| all {len(tests)} | {total:.1f} | |")
    text = "\n".join(out) + "\n"
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.out)
    sys.stdout.write(text)


def main():
    parser = argparse.ArgumentParser(description="Writes docs/compile_times.md from compile_times.sh's output.")
    parser.add_argument("--list", nargs="+", metavar="ARG", help="compile_commands.json, then source dirs")
    parser.add_argument("--object", help="with --list: where each compile writes its object")
    parser.add_argument("--results", help="the measurements, one compile per line")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compiler", default="?")
    parser.add_argument("--flags", default="?")
    parser.add_argument("--out", default=os.path.join(root, "docs", "compile_times.md"))
    args = parser.parse_args()
    if args.list:
        if len(args.list) < 2 or not args.object:
            parser.error("--list needs compile_commands.json, at least one directory and --object")
        list_commands(args.list[0], args.list[1:], args.object)
    elif args.results:
        write(args)
    else:
        parser.error("give --results or --list")


if __name__ == "__main__":
    main()
