#!/usr/bin/python3
"""Moves PyTorch state dicts to and from safetensors files, which katachi reads and writes.

  /usr/bin/python3 tools/torch_safetensors.py export MODEL.pt OUT.safetensors
  /usr/bin/python3 tools/torch_safetensors.py import IN.safetensors OUT.pt

Plain Python 3 and torch (Debian's python3-torch, PyTorch 1.13), nothing else. `export` reads what
torch.save wrote: a state dict, a whole module (its state_dict() is taken; a torch.jit.save'd
TorchScript module too) or a checkpoint dict holding one of those under a key such as
"state_dict" or "model" (it says which key it took). It writes every tensor under PyTorch's key,
in the state dict's order, with its dtype as stored (batch norm's num_batches_tracked stays an
I64 of shape [], as katachi keeps it). `import` checks the whole file before it reads a tensor and
torch.saves an OrderedDict that model.load_state_dict(torch.load(OUT.pt)) accepts. Both write a temporary file in the target's
folder and rename it over the target, so a failure never leaves a partial file.

The functions write_safetensors and read_safetensors are used by test/data/make_fixtures.py and
the tests; nothing runs on import.
"""
import argparse
import collections
import ctypes
import json
import os
import struct
import sys
import tempfile
import warnings

import torch

# safetensors dtype names <-> torch dtypes (the types torch 1.13 has).
DTYPES = {
    "BOOL": torch.bool,
    "U8": torch.uint8,
    "I8": torch.int8,
    "I16": torch.int16,
    "I32": torch.int32,
    "I64": torch.int64,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F32": torch.float32,
    "F64": torch.float64,
}
NAMES = {v: k for k, v in DTYPES.items()}
SIZES = {name: torch.empty((), dtype=t).element_size() for name, t in DTYPES.items()}
# The dtypes katachi's reader takes (include/katachi/io/safetensors/tensor.hpp).
KATACHI_DTYPES = ("F16", "BF16", "F32", "F64", "I64")
# Like katachi and the reference implementation, headers above 100 MB are refused.
MAX_HEADER = 100_000_000
# Where a checkpoint dict most often keeps the model's state, in the order they are tried.
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "network", "module", "model_state")

if sys.byteorder != "little":
    raise ImportError("torch_safetensors.py copies little-endian bytes as they are: port it to this host")


class Error(Exception):
    """A failure the command line reports in one line: '<file>: tensor "<key>": <what>'."""

    def __init__(self, path, what, key=None):
        where = f"{path}: " if path else ""
        if key is not None:
            where += f'tensor "{key}": '
        super().__init__(where + what)


def _raw_bytes(t):
    """The tensor's elements as little-endian bytes, row-major."""
    flat = t.reshape(-1)
    if flat.numel() == 0:
        return b""
    u8 = flat.view(torch.uint8)
    return ctypes.string_at(u8.data_ptr(), u8.numel())


def _atomic_write(path, write):
    """Calls write(file) on a temporary file beside `path`, then renames it over `path`.

    On any failure (an exception, Ctrl-C included) the temporary file is removed and `path` is
    left as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".tmp-")
    except OSError as e:
        raise Error(path, f"cannot create a temporary file in {folder}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved file gets the usual mode
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise Error(path, f"writing failed: {e.strerror}") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def write_safetensors(path, tensors, metadata=None):
    """Writes `tensors` (key -> torch.Tensor, written in the mapping's order) as a safetensors file.

    The layout: the header's length as a little-endian u64, the JSON header (optional
    "__metadata__" of string to string first, then per key its dtype, shape and data_offsets),
    padded with spaces to a multiple of 8 so the data starts 8-byte aligned, then the packed data.
    Non-contiguous tensors are written contiguous; the file is written atomically.
    """
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise Error(path, f"__metadata__ maps strings to strings, got {k!r}: {v!r}")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise Error(path, f"the key {key!r} is a {type(key).__name__}, not a string")
        if key == "__metadata__":
            raise Error(path, "the name __metadata__ is reserved for the metadata object", key)
        if not isinstance(value, torch.Tensor):
            raise Error(path, f"the value is a {type(value).__name__}, not a tensor", key)
        if value.layout != torch.strided:
            raise Error(path, f"a {value.layout} tensor cannot be written; convert it with .to_dense()", key)
        if value.is_quantized or value.dtype not in NAMES:
            raise Error(path, f"dtype {value.dtype} has no safetensors name this tool writes "
                              f"({', '.join(DTYPES)})", key)
        data = _raw_bytes(value.detach().cpu().contiguous())
        header[key] = {"dtype": NAMES[value.dtype], "shape": list(value.shape),
                       "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data starts 8-byte aligned

    def write(f):
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)

    _atomic_write(path, write)


def _entry(path, key, value):
    """Checks one header entry; returns (dtype name, shape, begin, end)."""
    if not isinstance(value, dict):
        raise Error(path, f"the entry is {_kind(value)}, not an object with dtype, shape and data_offsets", key)
    fields = set(value)
    if fields != {"dtype", "shape", "data_offsets"}:
        extra, missing = sorted(fields - {"dtype", "shape", "data_offsets"}), sorted(
            {"dtype", "shape", "data_offsets"} - fields)
        what = "; ".join([f'unexpected field "{f}"' for f in extra] + [f'the field "{f}" is missing' for f in missing])
        raise Error(path, what + "; an entry has exactly dtype, shape and data_offsets", key)
    dtype = value["dtype"]
    if not isinstance(dtype, str):
        raise Error(path, f"dtype is {_kind(dtype)}, not a string", key)
    if dtype not in DTYPES:
        raise Error(path, f'unknown dtype "{dtype}": this tool reads {", ".join(DTYPES)}', key)
    shape, offsets = value["shape"], value["data_offsets"]
    if not isinstance(shape, list) or not all(_count(d) for d in shape):
        raise Error(path, f"shape {_show(shape)} is not an array of non-negative integers", key)
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_count(d) for d in offsets):
        raise Error(path, f"data_offsets {_show(offsets)} is not an array of two non-negative integers", key)
    begin, end = offsets
    if end < begin:
        raise Error(path, f"data_offsets [{begin}, {end}] end before they begin", key)
    need = SIZES[dtype]
    for d in shape:
        need *= d
    if need != end - begin:
        raise Error(path, f"shape {shape} of {dtype} needs {need} bytes but data_offsets "
                          f"[{begin}, {end}] hold {end - begin}", key)
    return dtype, shape, begin, end


def _show(x):
    return json.dumps(x, default=lambda o: "{...}")


def _count(x):
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _kind(x):
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(x), "a number")


class _DuplicateKey(ValueError):
    def __init__(self, key, field=None):
        super().__init__(key)
        self.key, self.field = key, field


class _Duplicated:
    """Stands for an object that named `field` twice, until its parent's key is known."""

    def __init__(self, field):
        self.field = field


def _unique_keys(pairs):
    seen = {}
    for k, v in pairs:
        if isinstance(v, _Duplicated):
            raise _DuplicateKey(k, v.field)
        if k in seen:
            return _Duplicated(k)
        seen[k] = v
    return seen


def read_header(path, f, size):
    """Reads and checks the header of an open safetensors file of `size` bytes.

    Returns (metadata, entries) with entries [(key, dtype name, shape, begin, end)] sorted by
    offset, after checking that the offsets start at 0, follow one another without hole or
    overlap and end exactly at the end of the file.
    """
    if size < 8:
        raise Error(path, f"the file has {size} bytes, too few for the 8-byte header length (truncated?)")
    (n,) = struct.unpack("<Q", f.read(8))
    if n < 2:
        raise Error(path, f"the header length is {n}, below 2, the size of the smallest header {{}}")
    if n > MAX_HEADER:
        raise Error(path, f"the header length {n} exceeds the limit of {MAX_HEADER} bytes (not a safetensors file?)")
    if n > size - 8:
        raise Error(path, f"the header length {n} runs past the end of the file, which has {size - 8} "
                          "bytes after the length (truncated?)")
    text = f.read(n)
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as e:
        raise Error(path, f"the header is not UTF-8: {e}") from None
    except _DuplicateKey as e:  # a field named twice in one entry
        raise Error(path, f'the field "{e.field}" appears more than once', e.key) from None
    except ValueError as e:
        raise Error(path, f"the header is not well-formed JSON: {e}") from None
    if isinstance(header, _Duplicated):  # a tensor named twice
        raise Error(path, "the header names this tensor more than once", header.field)
    if not isinstance(header, dict):
        raise Error(path, f"the header is {_kind(header)}, not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and (not isinstance(metadata, dict) or
                                 not all(isinstance(v, str) for v in metadata.values())):
        raise Error(path, "__metadata__ must be an object of string to string", "__metadata__")
    entries = sorted(((key,) + _entry(path, key, value) for key, value in header.items()),
                     key=lambda e: (e[3], e[4]))
    data_length = size - 8 - n
    expected, previous = 0, None
    for key, _, _, begin, end in entries:
        if begin != expected:
            where = f"data_offsets [{begin}, {end}]"
            if previous is None:
                raise Error(path, f"{where} do not start at 0; the first tensor's data begins the data section", key)
            if begin > expected:
                raise Error(path, f'{where} leave a hole of {begin - expected} bytes after tensor "{previous}"', key)
            raise Error(path, f'{where} overlap tensor "{previous}", which ends at {expected}', key)
        if end > data_length:
            raise Error(path, f"data_offsets [{begin}, {end}] run past the end of the data section, which "
                              f"has {data_length} bytes (truncated?)", key)
        expected, previous = end, key
    if expected != data_length:
        raise Error(path, f"{data_length - expected} bytes follow the last tensor, which ends at data byte "
                          f"{expected} of {data_length}", previous)
    return metadata or {}, entries


def read_safetensors(path):
    """Reads a safetensors file, checked whole first: returns (OrderedDict key -> tensor, metadata).

    Tensors come in the order of their data in the file (the order write_safetensors wrote them).
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            metadata, entries = read_header(path, f, size)
            tensors = collections.OrderedDict()
            for key, dtype, shape, begin, end in entries:  # contiguous and in order: read straight on
                data = bytearray(f.read(end - begin))
                if len(data) != end - begin:
                    raise Error(path, "the file ended while reading (was it changed while being read?)", key)
                if data:
                    t = torch.frombuffer(data, dtype=DTYPES[dtype]).reshape(shape)
                else:
                    t = torch.empty(shape, dtype=DTYPES[dtype])
                tensors[key] = t
    except OSError as e:
        raise Error(path, f"cannot read the file: {e.strerror}") from None
    return tensors, metadata


def _is_state_dict(obj):
    return isinstance(obj, dict) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def state_dict_of(obj, path, key=None):
    """The state dict in what torch.load returned, and a note on where it was found."""
    if isinstance(obj, torch.jit.ScriptModule):
        return obj.state_dict(), "the state_dict() of a TorchScript module"
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), f"the state_dict() of a pickled {type(obj).__name__}"
    if not isinstance(obj, dict):
        raise Error(path, f"holds a {type(obj).__name__}, not a state dict, a module or a checkpoint dict")
    if key is None and (_is_state_dict(obj) or len(obj) == 0):
        if len(obj) == 0:
            raise Error(path, "holds an empty dict: there is nothing to export")
        return obj, "a state dict"
    candidates = [key] if key is not None else [k for k in CHECKPOINT_KEYS if k in obj]
    for k in candidates:
        if k not in obj:
            raise Error(path, f'has no key "{k}"; its keys are {", ".join(map(repr, obj))}')
        inner = obj[k]
        if isinstance(inner, torch.nn.Module):
            return inner.state_dict(), f'the state_dict() of the {type(inner).__name__} under key "{k}"'
        if _is_state_dict(inner):
            return inner, f'the state dict under key "{k}"'
        if key is not None:
            raise Error(path, f'the value under key "{k}" is a {type(inner).__name__}, not a state dict or module')
    bad = next(k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor))
    why = (f"the key {bad!r} is not a string" if not isinstance(bad, str)
           else f"the value of {bad!r} is a {type(obj[bad]).__name__}")
    raise Error(path, f"is a dict but not a state dict ({why}) and holds none under "
                      f'{", ".join(map(repr, CHECKPOINT_KEYS))}; name the key with --key')


def export(model_path, out_path, key=None):
    try:
        with warnings.catch_warnings():  # torch.load hands a TorchScript archive to torch.jit.load, and says so
            warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
            obj = torch.load(model_path, map_location="cpu")
    except FileNotFoundError:
        raise Error(model_path, "no such file") from None
    except AttributeError as e:
        raise Error(model_path, f"torch.load cannot rebuild a pickled object ({e}): the module's class must be "
                                "importable; save model.state_dict() instead of the model") from None
    except Exception as e:  # torch.load reports bad files in many exception types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise Error(model_path, f"torch.load failed: {first}") from None
    state, where = state_dict_of(obj, model_path, key)
    write_safetensors(out_path, state, {"format": "pt"})
    unread = sorted({NAMES.get(t.dtype, str(t.dtype)) for t in state.values()} - set(KATACHI_DTYPES))
    note = f"; katachi does not read {', '.join(unread)}" if unread else ""
    print(f"{out_path}: {len(state)} tensors from {where} in {model_path}{note}")


def import_(in_path, out_path):
    tensors, _ = read_safetensors(in_path)
    _atomic_write(out_path, lambda f: torch.save(tensors, f))
    print(f"{out_path}: {len(tensors)} tensors from {in_path}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="torch_safetensors.py",
        description="Convert PyTorch checkpoints to and from safetensors files (the format katachi reads "
                    "and writes), keeping PyTorch's key names.",
        epilog="Example: torch.save(model.state_dict(), 'model.pt'), then "
               "'export model.pt model.safetensors' for katachi; 'import model.safetensors model.pt' and "
               "model.load_state_dict(torch.load('model.pt')) back in PyTorch. torch.load runs the "
               "pickle it reads: export only files you trust.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{export,import}")
    ex = sub.add_parser("export", help="a torch.save'd state dict, module or checkpoint -> safetensors",
                        description="Write the state dict in MODEL.pt (a state dict, a whole module, or a "
                                    "checkpoint dict holding either under a key such as "
                                    + ", ".join(CHECKPOINT_KEYS) + ") as safetensors.")
    ex.add_argument("model", metavar="MODEL.pt")
    ex.add_argument("out", metavar="OUT.safetensors")
    ex.add_argument("--key", help="take the state dict under this key of a checkpoint dict")
    im = sub.add_parser("import", help="safetensors -> a torch.save'd OrderedDict state dict",
                        description="Check IN.safetensors and torch.save its tensors as an OrderedDict "
                                    "that model.load_state_dict(torch.load(OUT.pt)) accepts.")
    im.add_argument("input", metavar="IN.safetensors")
    im.add_argument("out", metavar="OUT.pt")
    args = parser.parse_args(argv)
    try:
        if args.command == "export":
            export(args.model, args.out, args.key)
        else:
            import_(args.input, args.out)
    except Error as e:
        print(f"torch_safetensors.py: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("torch_safetensors.py: interrupted; no output written", file=sys.stderr)
        return 130
    except Exception as e:  # a case the checks above did not foresee: still one line, still no output
        inputs = args.model if args.command == "export" else args.input
        print(f"torch_safetensors.py: error: {inputs}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
