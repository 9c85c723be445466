#!/usr/bin/env python3
"""Suite `distributed`: the demo trains data-parallel (mpirun -np 2 fashion_mnist --distributed).

    demo_distributed.py MPIRUN FASHION_MNIST

On 3,000 training and 1,000 test images, 3 epochs:
- two ranks reach the test accuracy of one process within 0.01, in both faces (each step's images
  are the union of the ranks' batches, so the runs take the same steps up to rounding);
- only rank 0 prints the epoch lines and writes the checkpoint and the training state;
- a rank killed during epoch 2 stops the job, naming the rank, within 20 seconds, and the run
  resumed from the training state ends with the checkpoint of a run never stopped, byte for byte."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

mpirun, demo = sys.argv[1], sys.argv[2]
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_btl_vader_single_copy_mechanism="none")
common = ["--train-subset", "3000", "--test-subset", "1000", "--epochs", "3"]
parallel = [mpirun, "--oversubscribe", "-np", "2", demo, "--distributed"]
failures = 0


def check(ok, what, output=""):
    global failures
    print(("ok:     " if ok else "FAILED: ") + what)
    if not ok:
        failures += 1
        print("  output:\n    " + "\n    ".join(output.replace("\r", "\n").splitlines()[-30:]))


def run(command, limit=300):
    p = subprocess.run(command, env=env, capture_output=True, text=True, timeout=limit)
    return p.returncode, p.stdout + p.stderr


def final_accuracy(output):
    m = re.search(r"^test accuracy ([0-9.]+)", output, re.M)
    return float(m.group(1)) if m else None


with tempfile.TemporaryDirectory() as tmp:
    one, two, stopped = (os.path.join(tmp, d) for d in ("one", "two", "stopped"))
    code, out_one = run([demo, *common, "--out", one])
    check(code == 0, "one process trains", out_one)
    code, out_two = run([*parallel, *common, "--out", two])
    check(code == 0, "two ranks train", out_two)
    a, b = final_accuracy(out_one), final_accuracy(out_two)
    print(f"  test accuracy: one process {a}, two ranks {b}")
    check(a is not None and b is not None and abs(a - b) <= 0.01, "two ranks reach one process's accuracy within 0.01",
          out_two)
    check(len(re.findall(r"^epoch 3/3:", out_two, re.M)) == 1 and "2 ranks of 1 thread" in out_two,
          "only rank 0 prints (one line per epoch), and each rank has one thread", out_two)
    check(os.path.exists(os.path.join(two, "lenet_graph.safetensors"))
          and os.path.exists(os.path.join(two, "lenet_graph_state.safetensors")),
          "rank 0 writes the checkpoint and the training state", out_two)

    # The eager face, whose distributed_data_parallel all-reduces its buckets during the backward.
    code, out_one = run([demo, *common, "--face", "eager", "--out", one + "_eager"])
    check(code == 0, "one process trains the eager face", out_one)
    code, out_two = run([*parallel, *common, "--face", "eager", "--out", two + "_eager"])
    check(code == 0, "two ranks train the eager face", out_two)
    a, b = final_accuracy(out_one), final_accuracy(out_two)
    print(f"  eager face, test accuracy: one process {a}, two ranks {b}")
    check(a is not None and b is not None and abs(a - b) <= 0.01,
          "eager face: two ranks reach one process's accuracy within 0.01", out_two)

    # Kill rank 1 once the state of epoch 1 exists, then resume.
    state = os.path.join(stopped, "lenet_graph_state.safetensors")
    p = subprocess.Popen([*parallel, *common, "--out", stopped], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while not os.path.exists(state) and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    killed_at = time.monotonic()
    ranks = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    if p.poll() is None and len(ranks) == 2:
        os.kill(int(sorted(ranks, key=int)[1]), signal.SIGKILL)
    try:
        out, _ = p.communicate(timeout=20)
        seconds = time.monotonic() - killed_at
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        seconds = None
    check(seconds is not None and p.returncode != 0,
          "a rank killed in epoch 2 stops the job" + (f" ({seconds:.1f} s)" if seconds else ""), out)
    check("exited on signal 9" in out and "process rank" in out, "mpirun names the killed rank", out)
    check(not os.path.exists(os.path.join(stopped, "lenet_graph.safetensors")), "the stopped run wrote no checkpoint",
          out)

    code, out = run([*parallel, "--resume", stopped])
    check(code == 0 and "resuming" in out, "the run resumes from the training state", out)
    same = code == 0 and open(os.path.join(stopped, "lenet_graph.safetensors"), "rb").read() == \
        open(os.path.join(two, "lenet_graph.safetensors"), "rb").read()
    check(same, "the resumed run's checkpoint is that of the run never stopped, byte for byte", out)

print(f"demo_distributed: {failures} failed")
sys.exit(1 if failures else 0)
