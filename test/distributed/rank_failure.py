#!/usr/bin/env python3
"""Suite `distributed`: a rank that fails stops the whole job, promptly, naming the rank; and the
training resumes from the last checkpoint to the same parameters as a run never stopped.

    rank_failure.py MPIRUN TEST_RANK_FAILURE

For each way of failing (rank 1 throws; rank 1 is killed by SIGKILL) it runs the two-rank job with
rank 1 failing at step 7, and checks that mpirun returns non-zero within 20 seconds (a hang is a
failure: the timeout kills it) and that its output names rank 1. Then it resumes from the last
checkpoint rank 0 wrote (after step 6, or 5 if the stop came while it wrote 6) and compares the final parameters, byte for byte, with those
of an uninterrupted run."""
import os
import re
import subprocess
import sys
import tempfile
import time

mpirun, program = sys.argv[1], sys.argv[2]
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_btl_vader_single_copy_mechanism="none")
failures = 0


def run(*args, limit=60):
    start = time.monotonic()
    try:
        p = subprocess.run([mpirun, "--oversubscribe", "-np", "2", program, *args], env=env,
                           capture_output=True, text=True, timeout=limit)
        return p.returncode, p.stdout + p.stderr, time.monotonic() - start
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() + (e.stderr or b"").decode() if isinstance(e.stdout, bytes) else str(e.stdout) + str(e.stderr)
        return None, out, time.monotonic() - start


def check(ok, what, output=""):
    global failures
    print(("ok:     " if ok else "FAILED: ") + what)
    if not ok:
        failures += 1
        print("  output:\n    " + "\n    ".join(output.splitlines()[-25:]))


with tempfile.TemporaryDirectory() as tmp:
    reference = os.path.join(tmp, "reference.safetensors")
    code, out, _ = run("--checkpoint", os.path.join(tmp, "reference_state.safetensors"), "--final", reference)
    check(code == 0, "an uninterrupted two-rank run finishes", out)

    for how in ("throw", "kill"):
        state = os.path.join(tmp, how + "_state.safetensors")
        final = os.path.join(tmp, how + "_final.safetensors")
        code, out, seconds = run("--checkpoint", state, "--final", final, "--fail-at", "7", "--fail-how", how,
                                 limit=20)
        check(code is not None, f"rank 1 {how}s at step 7: the job stops ({seconds:.1f} s), no hang", out)
        check(code not in (None, 0), f"rank 1 {how}s: mpirun returns non-zero ({code})", out)
        # katachi's own line names the rank (mpirun's notice of the abort is not always printed:
        # Open MPI may fail to format it while it tears the job down).
        names = ("rank 1 of 2: error: rank 1 failed on purpose at step 7" in out if how == "throw"
                 else "process rank 1" in out)
        check(names, f"rank 1 {how}s: the output names rank 1", out)
        check(not os.path.exists(final), f"rank 1 {how}s: no final parameters were written", out)
        print(f"  stopped after {seconds:.2f} s")

        # Rank 0 checkpoints after each step; if the job is stopped while it writes the one of step 6,
        # that file is never half-written and the one of step 5 is the last.
        code, out, _ = run("--checkpoint", state, "--final", final, "--resume")
        resumed = re.search(r"resuming after step (\d+)", out)
        check(code == 0 and resumed and int(resumed.group(1)) in (5, 6),
              f"after rank 1 {how}s: the run resumes from the last checkpoint written (after step "
              f"{resumed.group(1) if resumed else '?'})", out)
        same = code == 0 and open(final, "rb").read() == open(reference, "rb").read()
        check(same, f"after rank 1 {how}s: the resumed run ends with the uninterrupted run's parameters, byte for byte", out)

print(f"rank_failure: {failures} failed")
sys.exit(1 if failures else 0)
