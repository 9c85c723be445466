#!/usr/bin/python3
"""Writes katachi's PyTorch reference fixtures as safetensors files beside this script.

Run with Debian's interpreter and python3-torch (PyTorch 1.13):  /usr/bin/python3 test/data/make_fixtures.py
Each module fixtures_<group>.py here defines FILE (the output name) and make(torch), which returns a
dict from key to tensor. The files are committed; the tests compare katachi against them.
"""
import glob
import importlib.util
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
from torch_safetensors import write_safetensors  # noqa: E402  (tools/torch_safetensors.py)

DTYPES = (torch.float32, torch.float64, torch.int64)  # what the fixtures hold


def write_fixture(path, tensors, metadata):
    """Writes the fixture's tensors sorted by key, the order the committed files have."""
    for key, t in tensors.items():
        if t.dtype not in DTYPES:
            raise TypeError(f"{key}: dtype {t.dtype} is not used by katachi's fixtures")
    write_safetensors(path, {key: tensors[key] for key in sorted(tensors)}, metadata)


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
        write_fixture(out, tensors, {"generator": "test/data/make_fixtures.py",
                                     "module": name, "torch": torch.__version__})
        print(f"{out}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
