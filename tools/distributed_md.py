#!/usr/bin/env python3
"""Writes docs/distributed_scaling.md from bench_ddp's output, so its figures are never typed.

    python3 tools/distributed_md.py --runs ONE.json [ONE.json ...] --ranks TWO.json [TWO.json ...]
                                    [--demo one=LOG two=LOG] [--out docs/distributed_scaling.md]

ONE.json: `mpirun -np 1 bench_ddp --threads 2 --json FILE` (one rank of two threads); TWO.json:
`mpirun -np 2 bench_ddp --threads 1 --json FILE` (two ranks of one thread). Several files of each
are runs taken alternately; the page reports their medians. LOG: the demo's output, one process
and two ranks. tools/distributed.sh runs all of it.
"""
import argparse
import datetime
import json
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchmarks_md import machine  # noqa: E402

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The networks of the model, as stated assumptions: a ring all-reduce's per-message latency and
# the link's bandwidth. 10 Gb/s: TCP over Ethernet; 100 Gb/s: RDMA (InfiniBand or RoCE).
networks = [("10 Gb/s Ethernet (TCP)", 30e-6, 10e9 / 8), ("100 Gb/s RDMA", 3e-6, 100e9 / 8)]
rank_counts = [8, 64]
# The demo's bucket plan (1 MiB caps) for each model: the gradients of each bucket, in the order the
# backward starts them. LeNet: fc2, fc1, the convolutions; ten times wider: fc2, fc1, conv2, conv1.
buckets = {
    "lenet": [1290, 401536, 18816],
    "wide_lenet": [12810, 40142080, 1843840, 3200],
}


def read(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    if not rows:
        raise SystemExit("distributed_md.py: no benchmark lines in " + ", ".join(paths))
    return rows


def med(rows, key, **match):
    values = [r[key] for r in rows if all(r.get(k) == v for k, v in match.items())]
    if not values:
        raise SystemExit(f"distributed_md.py: no line with {match}")
    return statistics.median(values)


def ring(size_bytes, ranks, alpha, beta):
    """A ring all-reduce of size_bytes over `ranks`: 2(P-1) steps, each of one message of S/P bytes."""
    return 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * size_bytes / beta


def demo_epochs(path):
    pattern = re.compile(r"epoch (\d+)/(\d+): test accuracy ([0-9.]+), .*?, ([0-9.]+) s \((\d+) images/s\)")
    with open(path) as f:
        return pattern.findall(f.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="bench_ddp JSON, 1 rank x 2 threads")
    parser.add_argument("--ranks", nargs="+", required=True, help="bench_ddp JSON, 2 ranks x 1 thread")
    parser.add_argument("--demo", nargs="*", default=[], help="one=LOG two=LOG")
    parser.add_argument("--out", default=os.path.join(root, "docs", "distributed_scaling.md"))
    args = parser.parse_args()
    one, two = read(args.runs), read(args.ranks)

    out = ["# Data-parallel training: measured here, modelled past this machine", "",
           "Written by `sh tools/distributed.sh` from `bench_ddp`'s output "
           f"({datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}); do not edit by hand. "
           f"Medians of {len(args.runs)} run(s) of each configuration, taken alternately.", "",
           "| machine | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in machine()]
    out += ["", "## Measured on this machine", "",
            "A training step of the graph face (forward, loss, backward with `distributed::data_parallel`, "
            "SGD step), float32, a global batch of 64: one rank of two threads against two ranks of one "
            "thread each (32 images per rank, as the demo splits a step). The time is the slowest rank's "
            "median step; *waiting* is the share of the step a rank spent blocked in `MPI_Waitall` "
            "(`communication_stats::wait_seconds`), the largest over the ranks. *overlap*: each bucket's all-reduce "
            "starts when the backward has written its last gradient; *after*: all of them after the backward. "
            "The ranks run unbound (`mpirun --bind-to none`: by default mpirun binds a rank to one core, "
            "which would put one rank's two threads on one core).",
            "", "| model | parameters | ranks x threads | all-reduce | step (ms) | images/s | waiting |",
            "|---|---|---|---|---|---|---|"]
    for model in ("lenet", "wide_lenet"):
        params = int(med(one, "parameters", kind="step", model=model))
        for label, rows, ranks, threads in (("1 x 2", one, 1, 2), ("2 x 1", two, 2, 1)):
            for overlap in (True, False):
                step = med(rows, "step_seconds", kind="step", model=model, overlap=overlap)
                wait = med(rows, "wait_share", kind="step", model=model, overlap=overlap)
                out.append(f"| {model} | {params:,} | {label} | {'overlap' if overlap else 'after'} | "
                           f"{step * 1e3:.2f} | {64 / step:,.0f} | {wait * 100:.1f}% |")
    lenet_one = med(one, "step_seconds", kind="step", model="lenet", overlap=True)
    lenet_two = med(two, "step_seconds", kind="step", model="lenet", overlap=True)
    lenet_wait = {o: med(two, "wait_share", kind="step", model="lenet", overlap=o) for o in (True, False)}
    out += ["", f"LeNet: two ranks of one thread give {lenet_one / lenet_two:.2f}x the images per second of one "
            f"rank of two threads; the ranks wait {lenet_wait[True] * 100:.1f}% of the step with the overlap and "
            f"{lenet_wait[False] * 100:.1f}% without it. The all-reduce itself (the LeNet's 1.7 MB: the 421,642-float "
            "row below) is a small part of that wait; the rest is one rank reaching the all-reduce before the other "
            "(their steps differ by that much). Over shared memory MPI moves a non-blocking all-reduce on only "
            "inside MPI calls, which `data_parallel` makes between nodes but not during one node's backward, so "
            "the overlap hides little here; a network whose adapter moves the data itself (RDMA) hides it.", ""]

    sizes = sorted({r["floats"] for r in two if r["kind"] == "allreduce"})
    out += ["`MPI_Allreduce` (sum, in place) between the two ranks over Open MPI's shared-memory transport, "
            "median time; bandwidth is the data's bytes over the time (for two ranks a ring moves each byte "
            "once each way):", "", "| floats | bytes | time (µs) | GB/s |", "|---|---|---|---|"]
    times = {}
    for n in sizes:
        t = med(two, "seconds", kind="allreduce", floats=n)
        times[n] = t
        out.append(f"| {n:,} | {n * 4:,} | {t * 1e6:.2f} | {n * 4 / t / 1e9:.2f} |")
    local_alpha = times[sizes[0]] / 2  # 2(P-1) = 2 messages for P = 2
    local_beta = sizes[-1] * 4 / times[sizes[-1]]
    out += ["", f"From these: latency α = {local_alpha * 1e6:.2f} µs per message (half the 1-float all-reduce) "
            f"and bandwidth β = {local_beta / 1e9:.2f} GB/s (the largest all-reduce).", ""]

    if args.demo:
        out += ["The demo, `fashion_mnist` for 3 epochs (graph face):", "",
                "| run | test accuracy after each epoch | seconds per epoch | images/s |", "|---|---|---|---|"]
        for item in args.demo:
            name, path = item.split("=", 1)
            e = demo_epochs(path)
            out.append(f"| {name} | {', '.join(x[2] for x in e)} | {', '.join(x[3] for x in e)} | "
                       f"{', '.join(f'{int(x[4]):,}' for x in e)} |")
        out.append("")

    out += ["## Past this machine, on paper", "",
            "Each rank a machine like this one (two cores, two threads), keeping a batch of 64 per rank as "
            "ranks are added (the global batch grows with them), the gradients all-reduced by a ring in the "
            "demo's buckets (caps of 1 MiB). For a bucket of S bytes over P ranks, with latency α per message "
            "and bandwidth β:", "",
            "    T_allreduce(S, P) = 2(P-1)·α + 2(P-1)/P · S/β", "",
            "summed over the buckets. T_1 is one rank's measured step at batch 64 (two threads), B its "
            "backward; the step at P ranks is", "",
            "    without overlap:       T_P = T_1 + Σ T_allreduce(S_k, P)",
            "    with perfect overlap:  T_P = T_1 + max(T_allreduce(S_last, P), Σ T_allreduce(S_k, P) - B)", "",
            "(the last bucket starts when the backward ends, so it is never hidden). Images per second are "
            "64·P / T_P, efficiency T_1 / T_P. The networks are stated, not measured: " +
            "; ".join(f"{n}: α = {a * 1e6:.0f} µs, β = {b / 1e9:.2f} GB/s" for n, a, b in networks) + ".", "",
            "Inputs measured here (one rank, two threads, batch 64):", "",
            "| model | parameters | gradient bytes | buckets (gradients) | T_1 (ms) | forward (ms) | backward B (ms) |",
            "|---|---|---|---|---|---|---|"]
    inputs = {}
    for model in ("lenet", "wide_lenet"):
        params = int(med(one, "parameters", kind="phases", model=model))
        t1 = med(one, "step_seconds", kind="step", model=model, overlap=True)
        fwd = med(one, "forward_seconds", kind="phases", model=model)
        bwd = med(one, "backward_seconds", kind="phases", model=model)
        if sum(buckets[model]) != params:
            raise SystemExit(f"distributed_md.py: the bucket sizes of {model} do not add up to {params}")
        inputs[model] = (t1, bwd)
        out.append(f"| {model} | {params:,} | {params * 4:,} | {', '.join(f'{b:,}' for b in buckets[model])} | "
                   f"{t1 * 1e3:.2f} | {fwd * 1e3:.2f} | {bwd * 1e3:.2f} |")
    out += ["", "| model | network | ranks | all-reduce (ms) | step, no overlap (ms) | step, overlap (ms) | "
            "images/s, overlap | efficiency, overlap |", "|---|---|---|---|---|---|---|---|"]
    for model in ("lenet", "wide_lenet"):
        t1, bwd = inputs[model]
        for name, alpha, beta in networks:
            for p in rank_counts:
                each = [ring(n * 4, p, alpha, beta) for n in buckets[model]]
                total = sum(each)
                plain = t1 + total
                hidden = t1 + max(each[-1], total - bwd)
                out.append(f"| {model} | {name} | {p} | {total * 1e3:.2f} | {plain * 1e3:.1f} | {hidden * 1e3:.1f} | "
                           f"{64 * p / hidden:,.0f} | {t1 / hidden * 100:.0f}% |")
    out += ["", "What the model leaves out: the optimiser step and the data loading are inside T_1 and do not "
            "grow with P; a real ring's steps overlap imperfectly and switches add latency; and the overlap on "
            "this machine is not perfect: MPI moves a non-blocking all-reduce on only inside MPI calls, which "
            "`data_parallel` makes between nodes, not during one node's backward (see the waiting share "
            "measured above).", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(out))
    print(f"distributed_md.py: wrote {args.out}")


if __name__ == "__main__":
    main()
