#!/usr/bin/python3
"""Writes katachi's PyTorch reference fixtures as safetensors files beside this script.

Run with Debian's interpreter and python3-torch (PyTorch 1.13):  /usr/bin/python3 test/data/make_fixtures.py
Each module fixtures_<group>.py here defines FILE (the output name) and make(torch), which returns a
dict from key to tensor. The files are committed; the tests compare katachi against them.
"""
import glob
import importlib.util
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata):
    """The safetensors layout: u64 little-endian header size, JSON header, packed data."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for key in sorted(tensors):
        t = tensors[key].detach().contiguous().cpu()
        if t.dtype not in DTYPES:
            raise TypeError(f"{key}: dtype {t.dtype} is not used by katachi's fixtures")
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[key] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                       "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data starts 8-byte aligned
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    torch.use_deterministic_algorithms(True)
    modules = sorted(glob.glob(os.path.join(HERE, "fixtures_*.py")))
    if not modules:
        sys.exit("no fixtures_*.py modules found beside make_fixtures.py")
    for path in modules:
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        torch.manual_seed(0)
        tensors = module.make(torch)
        out = os.path.join(HERE, module.FILE)
        write_safetensors(out, tensors, {"generator": "test/data/make_fixtures.py",
                                         "module": name, "torch": torch.__version__})
        print(f"{out}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
