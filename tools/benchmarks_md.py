#!/usr/bin/env python3
"""Writes docs/benchmarks.md from benchmark output, so that the published figures are never typed.

    python3 tools/benchmarks_md.py --compare RUN.json [RUN.json ...] [--demo graph=LOG eager=LOG]
                                   [--out docs/benchmarks.md]

RUN.json: the JSON lines of `bench_compare --json FILE` (one file per run; several runs are reported
side by side and as the median of their ratios). LOG: the output of `fashion_mnist --epochs N`
for that face. The machine (CPU, cores, memory, system, compiler, load) is read where the script
runs, which tools/benchmarks.sh makes the machine that just ran the benchmark.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_first(path, prefix):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def command_line(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=False).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "?"


def machine():
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    memory_kb = read_first("/proc/meminfo", "MemTotal").split()[0]
    debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
    return [
        ("CPU", read_first("/proc/cpuinfo", "model name")),
        ("cores", str(os.cpu_count())),
        ("memory", f"{int(memory_kb) / 1024 / 1024:.1f} GiB" if memory_kb.isdigit() else "?"),
        ("system", f"Debian {debian}, Linux {platform.release()}"),
        ("compiler", command_line(["c++", "--version"])),
        ("load average when written", load),
    ]


def read_run(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    if not rows:
        raise SystemExit(f"benchmarks_md.py: {path} holds no benchmark lines")
    return rows


def by_case(rows):
    cases = {}
    for r in rows:
        cases.setdefault(r["case"], {})[r["impl"]] = r
    return cases


def best_torch(impls):
    torch = [r for name, r in impls.items() if name.startswith("libtorch")]
    return min(torch, key=lambda r: r["median_us"]) if torch else None


def fmt_us(r):
    def n(v):
        return f"{v:.3g}" if v < 10 else f"{v:.0f}"
    return f"{n(r['median_us'])} ({n(r['min_us'])}–{n(r['max_us'])})"


def goal_text(r):
    if "goal" not in r:
        return ""
    return f" (goal ≤ {r['goal']:.3g}: {'met' if r['met'] else 'missed'})"


def median_text(ratio, goal):
    if goal is None:
        return f"{ratio:.3f}"
    return f"{ratio:.3f} (≤ {goal:.3g}: {'met' if ratio <= goal else 'missed'})"


# The demo's goals (issue 16): seconds per epoch per face, and the accuracy after 3 epochs.
demo_epoch_goal = {"graph": 6.0, "eager": 7.0}
demo_accuracy_goal = 0.91


def demo_table(logs):
    lines = []
    pattern = re.compile(r"epoch (\d+)/(\d+): test accuracy ([0-9.]+), test loss ([0-9.]+), training loss ([0-9.]+), "
                         r"training accuracy ([0-9.]+), ([0-9.]+) s \((\d+) images/s\)")
    for face, path in logs:
        with open(path) as f:
            epochs = pattern.findall(f.read())
        if not epochs:
            raise SystemExit(f"benchmarks_md.py: {path} holds no epoch lines of the demo")
        accuracy = ", ".join(e[2] for e in epochs)
        seconds = ", ".join(e[6] for e in epochs)
        rate = ", ".join(f"{int(e[7]):,}" for e in epochs)
        goal = demo_epoch_goal.get(face)
        verdict = ""
        if goal is not None:
            median_epoch = statistics.median(float(e[6]) for e in epochs)
            met = median_epoch <= goal and (len(epochs) < 3 or float(epochs[2][2]) >= demo_accuracy_goal)
            verdict = (f"median epoch {median_epoch:.1f} s; goal ≤ {goal:g} s per epoch and ≥ "
                       f"{demo_accuracy_goal} after 3 epochs: {'met' if met else 'missed'}")
        lines.append(f"| {face} | {accuracy} | {seconds} | {rate} | {verdict} |")
    return ("| face | test accuracy after each epoch | seconds per epoch | images per second | goal |\n"
            "|---|---|---|---|---|\n" + "\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description="Writes docs/benchmarks.md from benchmark output.")
    parser.add_argument("--compare", nargs="+", required=True, help="bench_compare --json files, one per run")
    parser.add_argument("--demo", nargs="*", default=[], help="FACE=LOG: the demo's output for a face")
    parser.add_argument("--out", default=os.path.join(root, "docs", "benchmarks.md"))
    args = parser.parse_args()

    runs = [by_case(read_run(p)) for p in args.compare]
    cases = list(runs[0].keys())
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = ["# katachi beside libtorch, measured", "",
           f"Written by `tools/benchmarks_md.py` on {now} from {len(runs)} run(s) of `bench_compare` "
           "(`sh tools/benchmarks.sh`); do not edit by hand. Each run measures katachi's graph face, its "
           "eager face and libtorch 1.13's C++ frontend (Debian's `libtorch-dev`, OpenBLAS on 1 and on 2 "
           "threads, the better one per case) in one process, float32, interleaved in 3 rounds of 7 "
           "samples after warm-up, with denormal floats flushed to zero in both (katachi::set_flush_denormal "
           "and torch's set_flush_denormal). Times are microseconds, median (min–max); ratios are katachi / "
           "libtorch, lower is faster.", "", "## The machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in machine()]
    out += ["", "## The first run", "",
            "| case | graph face | eager face | libtorch (best) | graph / libtorch | eager / libtorch |",
            "|---|---|---|---|---|---|"]
    first = runs[0]
    for c in cases:
        g, e, t = first[c].get("katachi graph"), first[c].get("katachi eager"), best_torch(first[c])
        if not (g and e and t):
            continue
        out.append(f"| {c} | {fmt_us(g)} | {fmt_us(e)} | {fmt_us(t)} ({t['impl'].replace('libtorch, ', '')}) | "
                   f"{g['ratio_to_libtorch']:.3f}{goal_text(g)} | {e['ratio_to_libtorch']:.3f}{goal_text(e)} |")
    if len(runs) > 1:
        out += ["", "## Every run's ratios (graph; eager) and their median", "",
                "| case | " + " | ".join(f"run {i + 1}" for i in range(len(runs))) + " | median |",
                "|---|" + "---|" * (len(runs) + 1)]
        for c in cases:
            cells, gs, es, goals = [], [], [], {}
            for r in runs:
                impls = r.get(c, {})
                g, e = impls.get("katachi graph"), impls.get("katachi eager")
                if g and e:
                    goals = {"graph": g.get("goal"), "eager": e.get("goal")}
                    gs.append(g["ratio_to_libtorch"])
                    es.append(e["ratio_to_libtorch"])
                    cells.append(f"{g['ratio_to_libtorch']:.3f}; {e['ratio_to_libtorch']:.3f}")
                else:
                    cells.append("–")
            median = "–"
            if gs:
                median = "; ".join(median_text(statistics.median(v), goals.get(face))
                                   for face, v in (("graph", gs), ("eager", es)))
            out.append(f"| {c} | " + " | ".join(cells) + f" | {median} |")
    if args.demo:
        logs = []
        for item in args.demo:
            face, _, path = item.partition("=")
            logs.append((face, path))
        out += ["", "## The Fashion-MNIST demo", "",
                "`fashion_mnist` (the LeNet, Adam 0.002 with a cosine schedule, batch 64, seed 0, 2 threads) on "
                "the 60,000 training and 10,000 test images, run right after the comparison:", "",
                demo_table(logs).rstrip()]
    text = "\n".join(out) + "\n"
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, args.out)
    print(text)


if __name__ == "__main__":
    main()
