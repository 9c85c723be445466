#!/usr/bin/env python3
"""Suite `graph`: katachi-embed's command line. A good checkpoint gives a header; bad arguments and bad
files give a sentence and a non-zero status, and never a half-written or clobbered header.

usage: test_katachi_embed.py <katachi-embed> <a good checkpoint>
"""
import json
import os
import struct
import subprocess
import sys
import tempfile


def safetensors(path, tensors):
    """Writes {name: (dtype, shape, bytes)} in the safetensors format."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def main():
    tool, good = sys.argv[1], sys.argv[2]
    failures = []

    def run(*args):
        return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)

    def expect(what, done, status, words):
        if done.returncode != status or words not in done.stderr:
            failures.append(f"{what}: status {done.returncode}, stderr {done.stderr!r}; "
                            f"expected {status} and {words!r}")

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "weights.hpp")
        expect("no arguments", run(), 2, "usage: katachi-embed")
        expect("a name that is no identifier", run(good, out, "9lives"), 2, "NAME must be a C++ identifier")
        with open(out, "w") as f:
            f.write("// the header of yesterday\n")
        missing = os.path.join(tmp, "missing.safetensors")
        expect("a missing checkpoint", run(missing, out, "weights"), 1, "missing.safetensors")
        only_counters = os.path.join(tmp, "counters.safetensors")
        safetensors(only_counters, {"bn.num_batches_tracked": ("I64", [], struct.pack("<q", 3))})
        expect("a checkpoint without float tensors", run(only_counters, out, "weights"), 1, "holds no float tensor")
        broken = os.path.join(tmp, "broken.safetensors")
        with open(broken, "wb") as f:
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
        expect("a broken checkpoint", run(broken, out, "weights"), 1, "broken.safetensors")
        with open(out) as f:
            if f.read() != "// the header of yesterday\n":
                failures.append("a failed run changed the existing header")
        if [n for n in os.listdir(tmp) if ".tmp" in n]:
            failures.append(f"a failed run left a temporary file: {os.listdir(tmp)}")

        done = run(good, out, "weights")
        text = open(out).read()
        if done.returncode != 0 or "inline constexpr katachi::graph::embedded_checkpoint<float> checkpoint" not in text \
                or "namespace weights {" not in text or "alignas(64) inline constexpr float values[" not in text:
            failures.append(f"a good checkpoint: status {done.returncode}, {done.stderr!r}, header {text[:300]!r}")

    for f in failures:
        print(f"FAIL: {f}")
    if not failures:
        print("katachi-embed: 6 refusals with their sentences, nothing clobbered; a good checkpoint embedded")
    return 1 if failures else 0


sys.exit(main())
