#!/usr/bin/env python3
"""Writes the fuzz harnesses' seed corpora (test/fuzz/corpus/<harness>/), plain Python 3.

Each seed is a small valid input, or one a step away from valid, so the fuzzer starts from the
formats' structure instead of finding it byte by byte. Run from anywhere:
    /usr/bin/python3 test/fuzz/make_seeds.py
"""
import gzip
import json
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8}


def safetensors(tensors, metadata=None):
    """tensors: list of (key, dtype, shape, raw bytes)."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for key, dtype, shape, raw in tensors:
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def values(dtype, count, rng):
    if dtype == "F32":
        return struct.pack("<%df" % count, *[rng.uniform(-1, 1) for _ in range(count)])
    if dtype == "F64":
        return struct.pack("<%dd" % count, *[rng.uniform(-1, 1) for _ in range(count)])
    if dtype == "F16":
        return struct.pack("<%de" % count, *[rng.uniform(-1, 1) for _ in range(count)])
    if dtype == "BF16":
        return b"".join(struct.pack("<f", rng.uniform(-1, 1))[2:] for _ in range(count))
    return struct.pack("<%dq" % count, *[rng.randint(0, 9) for _ in range(count)])


def count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


# The fuzz network's state dict (fuzz_state_dict.cpp): conv2d 1->2 3x3, batch norm, linear 32->3.
NET = [("0.weight", [2, 1, 3, 3]), ("0.bias", [2]), ("1.weight", [2]), ("1.bias", [2]),
       ("1.running_mean", [2]), ("1.running_var", [2]), ("1.num_batches_tracked", []),
       ("4.weight", [3, 32]), ("4.bias", [3])]


def net_dict(rng, dtype="F32", drop=None, extra=None):
    tensors = []
    for key, shape in NET:
        if key == drop:
            continue
        t = "I64" if key.endswith("num_batches_tracked") else dtype
        tensors.append((key, t, shape, values(t, count(shape), rng)))
    if extra:
        tensors.append((extra, "F32", [2], values("F32", 2, rng)))
    return safetensors(tensors, {"format": "pt"})


def idx(type_code, shape, rng):
    fmt = {0x08: "B", 0x09: "b", 0x0B: ">h", 0x0C: ">i", 0x0D: ">f", 0x0E: ">d"}[type_code]
    n = count(shape)
    head = bytes([0, 0, type_code, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape)
    if fmt in ("B", "b"):
        body = bytes(rng.randrange(256) for _ in range(n))
    elif fmt in (">h", ">i"):
        body = b"".join(struct.pack(fmt, rng.randint(-100, 100)) for _ in range(n))
    else:
        body = b"".join(struct.pack(fmt, rng.uniform(-1, 1)) for _ in range(n))
    return head + body


def write(harness, name, data):
    folder = os.path.join(HERE, "corpus", harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def main():
    rng = random.Random(0)
    write("fuzz_safetensors", "net_f32", net_dict(rng))
    write("fuzz_safetensors", "mixed_dtypes", safetensors(
        [("a", "F16", [2, 2], values("F16", 4, rng)), ("b", "BF16", [3], values("BF16", 3, rng)),
         ("c", "F64", [1], values("F64", 1, rng)), ("d", "I64", [], values("I64", 1, rng)),
         ("e", "F32", [0, 4], b"")], {"note": "seed"}))
    write("fuzz_safetensors", "empty_header", safetensors([]))
    write("fuzz_safetensors", "nested_metadata", safetensors([("x", "F32", [2], values("F32", 2, rng))],
                                                             {"a": "1", "b": "2"}))

    write("fuzz_idx", "images_plain", b"\x00" + idx(0x08, [2, 3, 3], rng))
    write("fuzz_idx", "images_gzipped_by_harness", b"\x01" + idx(0x08, [2, 3, 3], rng))
    write("fuzz_idx", "labels_gzip_stream", b"\x00" + gzip.compress(idx(0x08, [5], rng), mtime=0))
    write("fuzz_idx", "int16", b"\x00" + idx(0x0B, [2, 2], rng))
    write("fuzz_idx", "int32", b"\x01" + idx(0x0C, [3], rng))
    write("fuzz_idx", "float32", b"\x00" + idx(0x0D, [1, 2, 1, 2], rng))
    write("fuzz_idx", "float64", b"\x01" + idx(0x0E, [2], rng))
    write("fuzz_idx", "signed_bytes", b"\x00" + idx(0x09, [4], rng))

    write("fuzz_state_dict", "strict_f32", b"\x00" + net_dict(rng))
    write("fuzz_state_dict", "strict_f16", b"\x00" + net_dict(rng, "F16"))
    write("fuzz_state_dict", "lenient_missing", b"\x01" + net_dict(rng, drop="4.bias"))
    write("fuzz_state_dict", "strict_extra", b"\x00" + net_dict(rng, extra="5.weight"))
    write("fuzz_state_dict", "strict_f64", b"\x00" + net_dict(rng, "F64"))


if __name__ == "__main__":
    main()
