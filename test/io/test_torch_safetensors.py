#!/usr/bin/env python3
"""Suite `io`: tools/torch_safetensors.py against Debian's PyTorch 1.13, and katachi between them.

  python3 test/io/test_torch_safetensors.py BUILD/test/io/torch_interop

Runs under /usr/bin/python3 (it re-executes itself there); exits 77, meson's skip, with the reason
printed where /usr/bin/python3 cannot import torch. The cases:
  - a state dict of every dtype the tool writes, 0-d, empty and non-contiguous tensors: export and
    import give the same keys, order, dtypes, shapes and bytes;
  - export takes a whole module and the state dict inside a checkpoint dict, and says which;
  - katachi reads what the tool exports and the tool reads what katachi writes (torch_interop copy);
  - a LeNet and an MLP with batch norm trained a few SGD steps in PyTorch, exported: katachi's graph
    model and eager module give PyTorch's logits within 1e-5; models trained in katachi, saved by
    each face and imported: PyTorch gives katachi's logits within 1e-5 (torch_interop models);
  - bad input (truncated, offsets out of range, overlapping, unknown dtype, ...): a one-line error
    naming the file and the key, exit status 1, no output file and no temporary left behind.
Most cases call the tool's main() in this process (importing torch once); a few run it as a user
does, to check the exit status and stderr of the real command.
"""
import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

TORCH_PYTHON = "/usr/bin/python3"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(ROOT, "tools", "torch_safetensors.py")
SKIP = 77


def _torch_or_skip():
    """Imports torch under /usr/bin/python3, re-executing there first; exits 77 where it cannot."""
    if not os.path.exists(TORCH_PYTHON):
        print(f"SKIP: {TORCH_PYTHON} does not exist (install Debian's python3-torch)")
        sys.exit(SKIP)
    if os.path.realpath(sys.executable) != os.path.realpath(TORCH_PYTHON):
        os.execv(TORCH_PYTHON, [TORCH_PYTHON] + sys.argv)
    try:
        import torch  # noqa: F401
    except ImportError as e:
        print(f"SKIP: {TORCH_PYTHON} cannot import torch ({e}); install Debian's python3-torch")
        sys.exit(SKIP)


_torch_or_skip()
import collections  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(TOOL))
import torch_safetensors as tool  # noqa: E402

INTEROP = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)
        print(f"  FAILED: {what}")


def run_main(*argv):
    """The tool's main() in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = tool.main(list(argv))
        except SystemExit as e:
            status = e.code
    return status, out.getvalue(), err.getvalue()


def run_cli(*argv):
    """The tool as a user runs it."""
    r = subprocess.run([TORCH_PYTHON, TOOL] + list(argv), capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def raw(t):
    return tool._raw_bytes(t.detach().contiguous())


def same_tensor(a, b):
    """Same dtype, shape and bytes (so NaNs and signed zeros count too)."""
    return a.dtype == b.dtype and a.shape == b.shape and raw(a) == raw(b)


def sample_state():
    torch.manual_seed(1)
    full = torch.randn(4, 5)
    state = collections.OrderedDict()
    state["layer.weight"] = torch.randn(3, 4)                      # F32
    state["layer.bias"] = torch.randn(3, dtype=torch.float64)      # F64
    state["steps"] = torch.tensor([1, -2, 3 << 40])                # I64
    state["bn.num_batches_tracked"] = torch.tensor(7)              # I64, 0-d, as PyTorch keeps it
    state["scale"] = torch.tensor(2.5)                             # F32, 0-d
    state["transposed"] = full.t()                                 # non-contiguous
    state["every_third"] = torch.arange(20, dtype=torch.float64)[::3]  # non-contiguous
    state["empty"] = torch.empty(0, 3)                              # no bytes
    state["empty_i64"] = torch.empty(0, dtype=torch.int64)
    state["special"] = torch.tensor([float("nan"), float("inf"), -0.0, 1e-40])
    state["half"] = torch.randn(2, 3).half()
    state["bhalf"] = torch.randn(3).bfloat16()
    return state


# The types beyond katachi's that the tool also carries (katachi refuses them on read).
def other_dtypes():
    return collections.OrderedDict(
        mask=torch.tensor([True, False, True]), bytes=torch.tensor([0, 255], dtype=torch.uint8),
        i8=torch.tensor([-128, 127], dtype=torch.int8), i16=torch.tensor([-3, 4], dtype=torch.int16),
        i32=torch.tensor([[1, -1]], dtype=torch.int32))


def header_of(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        text = f.read(n)
    return n, text, json.loads(text, object_pairs_hook=collections.OrderedDict)


def test_round_trip(tmp):
    state = sample_state()
    state.update(other_dtypes())
    pt, st, back = (os.path.join(tmp, n) for n in ("state.pt", "state.safetensors", "back.pt"))
    torch.save(state, pt)
    status, out, err = run_main("export", pt, st)
    check(status == 0 and err == "", f"export exits 0 silently on stderr (got {status}: {err!r})")
    check(f"{len(state)} tensors from a state dict" in out, f"export says what it took: {out!r}")
    check("katachi does not read BOOL, I16, I32, I8, U8" in out, f"export names the dtypes katachi does not read: {out!r}")

    n, text, header = header_of(st)
    check(n % 8 == 0 and text.rstrip(b" ").endswith(b"}") and len(text) - len(text.rstrip(b" ")) < 8,
          f"the header is padded with fewer than 8 spaces to a multiple of 8 (length {n})")
    check(list(header) == ["__metadata__"] + list(state), "the header lists the tensors in the state dict's order")
    check(header["bn.num_batches_tracked"] == {"dtype": "I64", "shape": [], "data_offsets":
                                               header["bn.num_batches_tracked"]["data_offsets"]},
          "num_batches_tracked is an I64 of shape []")
    names = {"layer.weight": "F32", "layer.bias": "F64", "steps": "I64", "half": "F16", "bhalf": "BF16",
             "mask": "BOOL", "bytes": "U8", "i8": "I8", "i16": "I16", "i32": "I32"}
    for key, name in names.items():
        check(header[key]["dtype"] == name, f"{key} is written as {name}, got {header[key]['dtype']}")
    check(header["transposed"]["shape"] == [5, 4], "a transposed tensor keeps its shape")

    status, out, err = run_main("import", st, back)
    check(status == 0, f"import exits 0 (got {status}: {err!r})")
    loaded = torch.load(back)
    check(type(loaded) is collections.OrderedDict, f"import saves an OrderedDict, got {type(loaded).__name__}")
    check(list(loaded) == list(state), "import keeps the keys and their order")
    for key, t in state.items():
        check(key in loaded and same_tensor(loaded[key], t), f"{key} survives export and import")
        check(key not in loaded or loaded[key].is_contiguous(), f"{key} comes back contiguous")

    # The reader in this process agrees, and the metadata says the format.
    tensors, metadata = tool.read_safetensors(st)
    check(metadata == {"format": "pt"}, f"export writes __metadata__ {{'format': 'pt'}}, got {metadata}")
    check(all(same_tensor(tensors[k], t) for k, t in state.items()), "read_safetensors gives the same tensors")


def test_export_sources(tmp):
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    model.train()
    model(torch.randn(5, 3))  # running statistics and num_batches_tracked move
    expected = model.state_dict()
    cases = [
        ("module.pt", model, [], "the state_dict() of a pickled Sequential"),
        ("script.pt", torch.jit.script(model), [], "the state_dict() of a TorchScript module"),
        ("ckpt.pt", {"epoch": 3, "state_dict": expected, "optimizer": {"lr": 0.1}}, [],
         'the state dict under key "state_dict"'),
        ("ckpt_model.pt", {"model": expected, "epoch": 1}, [], 'the state dict under key "model"'),
        ("ckpt_module.pt", {"model": model, "best": 0.9}, [], 'the state_dict() of the Sequential under key "model"'),
        ("ckpt_key.pt", {"ema": expected, "epoch": 1}, ["--key", "ema"], 'the state dict under key "ema"'),
    ]
    for name, obj, extra, said in cases:
        pt, st = os.path.join(tmp, name), os.path.join(tmp, name + ".safetensors")
        if isinstance(obj, torch.jit.ScriptModule):
            torch.jit.save(obj, pt)
        else:
            torch.save(obj, pt)
        status, out, err = run_main("export", pt, st, *extra)
        check(status == 0 and err == "", f"{name}: export succeeds, silent on stderr (got {status}: {err!r})")
        check(said in out, f"{name}: export says it took {said!r}: {out!r}")
        if status == 0:
            tensors, _ = tool.read_safetensors(st)
            check(list(tensors) == list(expected) and all(same_tensor(tensors[k], v) for k, v in expected.items()),
                  f"{name}: the file holds the model's state dict")
            check(tensors["1.num_batches_tracked"].dtype == torch.int64 and
                  tensors["1.num_batches_tracked"].shape == () and int(tensors["1.num_batches_tracked"]) == 1,
                  f"{name}: num_batches_tracked is the 0-d int64 1")

    # What is not a state dict is named in the error.
    bad = [("list.pt", [1, 2], [], "holds a list, not a state dict"),
           ("nokey.pt", {"epoch": 3, "lr": torch.tensor(0.1)}, [], "name the key with --key"),
           ("wrongkey.pt", {"model": expected}, ["--key", "ema"], 'has no key "ema"'),
           ("empty.pt", {}, [], "nothing to export")]
    for name, obj, extra, said in bad:
        pt, st = os.path.join(tmp, name), os.path.join(tmp, name + ".safetensors")
        torch.save(obj, pt)
        status, out, err = run_main("export", pt, st, *extra)
        check(status == 1 and said in err and pt in err, f"{name}: export fails naming the file and {said!r}: {err!r}")
        check(not os.path.exists(st), f"{name}: no output file after a failed export")


def test_katachi_reads_and_writes(tmp):
    if INTEROP is None:
        check(False, "the path of torch_interop is given as the first argument")
        return
    state = sample_state()
    pt, st, copy, back = (os.path.join(tmp, n) for n in ("k.pt", "k.safetensors", "k_copy.safetensors", "k_back.pt"))
    torch.save(state, pt)
    check(run_main("export", pt, st)[0] == 0, "export for katachi succeeds")
    r = subprocess.run([INTEROP, "copy", st, copy], capture_output=True, text=True)
    check(r.returncode == 0, f"katachi reads the exported file and writes it back (got {r.returncode}: {r.stderr})")
    status, _, err = run_main("import", copy, back)
    check(status == 0, f"the tool imports what katachi wrote (got {status}: {err!r})")
    if status == 0:
        loaded = torch.load(back)
        check(sorted(loaded) == sorted(state), "katachi's copy has the same keys")
        for key, t in state.items():
            check(key in loaded and same_tensor(loaded[key], t), f"{key} survives katachi's reader and writer")
    # katachi refuses the dtypes it does not read, naming the tensor.
    for key, t in other_dtypes().items():
        odd = os.path.join(tmp, key + ".safetensors")
        tool.write_safetensors(odd, {key: t})
        r = subprocess.run([INTEROP, "copy", odd, odd + ".copy"], capture_output=True, text=True)
        name = tool.NAMES[t.dtype]
        check(r.returncode == 1 and f'tensor "{key}": dtype "{name}" is not one katachi reads' in r.stderr,
              f"katachi names the {name} tensor it does not read: {r.stderr!r}")
        check(not os.path.exists(odd + ".copy"), f"katachi writes nothing for a file with {name}")


def lenet():
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


def mlp():
    nn = torch.nn
    return nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 5))


def trained(model, x, y, steps=5):
    """A few SGD steps in training mode (batch norm's running statistics and count move)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval()


def max_diff(a, b):
    return float((a.double() - b.double()).abs().max())


def doc_commands():
    """The export and import command lines of docs/pytorch.md's sh blocks, run here as written."""
    with open(os.path.join(ROOT, "docs", "pytorch.md")) as f:
        blocks = f.read().split("```")
    lines = [line for block in blocks[1::2] if block.startswith("sh\n") for line in block.splitlines()[1:]
             if line.startswith("/usr/bin/python3 tools/torch_safetensors.py ")]
    found = {line.split()[2]: line for line in lines}
    check(sorted(found) == ["export", "import"] and len(lines) == 2,
          f"docs/pytorch.md shows one export and one import command: {lines}")
    return found


def run_doc_command(line, cwd):
    argv = line.split()
    assert argv[:2] == ["/usr/bin/python3", "tools/torch_safetensors.py"]
    r = subprocess.run([TORCH_PYTHON, TOOL] + argv[2:], capture_output=True, text=True, cwd=cwd)
    check(r.returncode == 0 and r.stderr == "", f"the doc's command runs: {line}: {r.returncode}, {r.stderr!r}")


def test_models_both_ways(tmp):
    if INTEROP is None:
        return
    commands = doc_commands()
    torch.manual_seed(0)
    models = {"lenet": (lenet(), torch.rand(16, 1, 28, 28), torch.rand(6, 1, 28, 28), 10),
              "mlp": (mlp(), torch.randn(16, 20), torch.randn(7, 20), 5)}
    inputs, reference = collections.OrderedDict(), {}
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        for name, (model, train_x, x, classes) in models.items():
            trained(model, train_x, torch.randint(0, classes, (16,)))
            with torch.no_grad():
                reference[name] = model(x)
            inputs[f"{name}.input"] = x
            inputs[f"{name}.target"] = torch.randint(0, classes, (x.shape[0],))  # for katachi's own steps
        model = models["lenet"][0]
        # doc:python-save
        torch.save(model.state_dict(), "lenet.pt")
        # doc:end
        run_doc_command(commands.get("export", ""), tmp)  # lenet.pt -> lenet.safetensors
        torch.save(models["mlp"][0].state_dict(), "mlp.pt")
        status, _, err = run_main("export", "mlp.pt", "mlp.safetensors")
        check(status == 0, f"mlp: export succeeds ({err!r})")
        check(int(models["mlp"][0].state_dict()["1.num_batches_tracked"]) == 5, "PyTorch counted five batches")
        tool.write_safetensors("inputs.safetensors", inputs)

        r = subprocess.run([INTEROP, "models", tmp], capture_output=True, text=True)
        check(r.returncode == 0, f"torch_interop models succeeds (got {r.returncode}: {r.stderr})")
        if r.returncode != 0:
            return
        logits, _ = tool.read_safetensors("katachi_logits.safetensors")

        # From PyTorch: both faces reproduce PyTorch's logits.
        for name in models:
            for face in ("graph", "eager"):
                got = logits[f"pytorch_{name}.{face}"]
                check(got.shape == reference[name].shape, f"{name}, {face} face: logits of shape {list(got.shape)}")
                d = max_diff(got, reference[name])
                print(f"  PyTorch-trained {name} in katachi's {face} face: max |logit difference| {d:.2e}")
                check(d <= 1e-5, f"{name}, {face} face: katachi's logits within 1e-5 of PyTorch's (got {d:.2e})")

        # To PyTorch: each face's checkpoint, imported, gives katachi's logits in PyTorch.
        counts = {"graph": 2, "eager": 3}  # training forwards: two steps, and the eager face's materialising call
        for name, (_, _, x, _) in models.items():
            for face in ("graph", "eager"):
                torch.manual_seed(99)
                model = lenet() if name == "lenet" else mlp()  # a fresh PyTorch initialisation
                if (name, face) == ("lenet", "graph"):
                    run_doc_command(commands.get("import", ""), tmp)  # katachi_lenet_graph.safetensors -> lenet.pt
                    # doc:python-load
                    result = model.load_state_dict(torch.load("lenet.pt"))  # strict, as by default
                    # doc:end
                else:
                    pt = f"katachi_{name}_{face}.pt"
                    status, _, err = run_main("import", f"katachi_{name}_{face}.safetensors", pt)
                    check(status == 0, f"katachi's {name} from the {face} face imports ({err!r})")
                    if status != 0:
                        continue
                    result = model.load_state_dict(torch.load(pt))  # strict
                check(not result.missing_keys and not result.unexpected_keys, f"{name}, {face}: strict load")
                if name == "mlp":
                    n = int(model.state_dict()["1.num_batches_tracked"])
                    check(n == counts[face], f"mlp, {face}: num_batches_tracked {n}, katachi counted {counts[face]}")
                with torch.no_grad():
                    got = model.eval()(x)
                want = logits[f"katachi_{name}.{face}"]
                d = max_diff(got, want)
                print(f"  katachi-trained {name} from the {face} face in PyTorch: max |logit difference| {d:.2e}")
                check(d <= 1e-5, f"{name}, {face} face: PyTorch's logits within 1e-5 of katachi's (got {d:.2e})")
                check(max_diff(want, reference[name]) > 1e-3, f"{name}, {face}: katachi trained its own weights")
    finally:
        os.chdir(cwd)


def craft(path, header, data=b"", length=None, pad=True):
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text) if length is None else length) + text + data)


def test_bad_input(tmp):
    good = os.path.join(tmp, "good.safetensors")
    tool.write_safetensors(good, collections.OrderedDict(a=torch.ones(2), b=torch.zeros(2, 2)))
    with open(good, "rb") as f:
        blob = f.read()
    entry = lambda dtype, shape, begin, end: {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
    cases = {
        "truncated_data": (lambda p: open(p, "wb").write(blob[:-4]), '"b"', "truncated"),
        "truncated_header": (lambda p: open(p, "wb").write(blob[:20]), None, "runs past the end of the file"),
        "truncated_length": (lambda p: open(p, "wb").write(blob[:5]), None, "too few for the 8-byte header length"),
        "offsets_out_of_range": (lambda p: craft(p, {"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 8, 16)},
                                                 bytes(8)), '"b"', "run past the end of the data section"),
        "offsets_not_shape": (lambda p: craft(p, {"a": entry("F32", [3], 0, 8)}, bytes(8)), '"a"', "needs 12 bytes"),
        "overlap": (lambda p: craft(p, {"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}, bytes(12)),
                    '"b"', 'overlap tensor "a"'),
        "hole": (lambda p: craft(p, {"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, bytes(12)),
                 '"b"', "leave a hole of 4 bytes"),
        "trailing": (lambda p: craft(p, {"a": entry("F32", [1], 0, 4)}, bytes(8)), '"a"', "4 bytes follow the last"),
        "unknown_dtype": (lambda p: craft(p, {"a": entry("Q4", [2], 0, 2)}, bytes(2)), '"a"', 'unknown dtype "Q4"'),
        "bad_json": (lambda p: open(p, "wb").write(struct.pack("<Q", 8) + b'{"a": [ '), None, "not well-formed JSON"),
        "duplicate_key": (lambda p: open(p, "wb").write(
            struct.pack("<Q", 8 * 14) + (b'{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},'
                                         b'"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}').ljust(8 * 14)
            + bytes(4)), '"a"', "names this tensor more than once"),
        "duplicate_field": (lambda p: open(p, "wb").write(
            struct.pack("<Q", 72) + b'{"a":{"dtype":"F32","dtype":"F64","shape":[],"data_offsets":[0,4]}}'.ljust(72)
            + bytes(4)), '"a"', 'the field "dtype" appears more than once'),
        "missing_field": (lambda p: craft(p, {"a": {"dtype": "F32", "shape": [1]}}, bytes(4)), '"a"',
                          '"data_offsets" is missing'),
        "huge_header": (lambda p: craft(p, {}, length=1 << 40), None, "exceeds the limit"),
    }
    for name, (make, key, said) in cases.items():
        path, out = os.path.join(tmp, name + ".safetensors"), os.path.join(tmp, name + ".pt")
        make(path)
        with open(out, "wb") as f:
            f.write(b"an older file")
        before = sorted(os.listdir(tmp))
        status, stdout, err = run_main("import", path, out)
        check(status == 1, f"{name}: import exits 1 (got {status})")
        check(err.count("\n") == 1 and err.startswith("torch_safetensors.py: error: " + path + ": "),
              f"{name}: one line naming the file: {err!r}")
        check(key is None or f"tensor {key}" in err, f"{name}: the error names tensor {key}: {err!r}")
        check(said in err, f"{name}: the error says {said!r}: {err!r}")
        check(open(out, "rb").read() == b"an older file", f"{name}: the existing output is left as it was")
        check(sorted(os.listdir(tmp)) == before, f"{name}: no file is left behind")
        os.unlink(out)
        status, _, _ = run_main("import", path, out)
        check(status == 1 and not os.path.exists(out), f"{name}: no output file when there was none")

    # The same as a user meets it: exit status and one line on stderr.
    path, out = os.path.join(tmp, "unknown_dtype.safetensors"), os.path.join(tmp, "cli.pt")
    status, stdout, err = run_cli("import", path, out)
    check(status == 1 and stdout == "" and err.count("\n") == 1 and 'tensor "a"' in err,
          f"the command exits 1 with one line on stderr: {status}, {err!r}")
    check(not os.path.exists(out), "the command leaves no output file")
    garbage = os.path.join(tmp, "garbage.pt")
    with open(garbage, "wb") as f:
        f.write(b"not a pickle at all")
    status, stdout, err = run_cli("export", garbage, out)
    check(status == 1 and err.count("\n") == 1 and garbage + ": torch.load failed" in err,
          f"export of a file torch.load cannot read exits 1 naming it: {status}, {err!r}")
    check(not os.path.exists(out), "a failed export leaves no output file")
    status, _, err = run_main("export", os.path.join(tmp, "absent.pt"), out)
    check(status == 1 and "absent.pt: no such file" in err, f"a missing input is named: {err!r}")


def test_atomic_write(tmp):
    target = os.path.join(tmp, "atomic.safetensors")
    with open(target, "wb") as f:
        f.write(b"old")
    before = sorted(os.listdir(tmp))

    def half_then_fail(f):
        f.write(b"partial")
        raise KeyboardInterrupt

    try:
        tool._atomic_write(target, half_then_fail)
        check(False, "an interrupted write raises")
    except KeyboardInterrupt:
        pass
    check(open(target, "rb").read() == b"old", "an interrupted write leaves the target as it was")
    check(sorted(os.listdir(tmp)) == before, "an interrupted write leaves no temporary file")
    try:
        tool.write_safetensors(target, {"ok": torch.ones(1), "bad": [1, 2]})
        check(False, "a value that is not a tensor is refused")
    except tool.Error as e:
        check('tensor "bad"' in str(e) and target in str(e), f"the refusal names the file and the key: {e}")
    check(open(target, "rb").read() == b"old", "a refused write leaves the target as it was")
    tool.write_safetensors(target, {"ok": torch.ones(1)})
    check(oct(os.stat(target).st_mode & 0o777) == oct(0o666 & ~_umask()), "a written file has the usual mode")


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_help():
    status, out, err = run_cli("--help")
    check(status == 0 and "export" in out and "import" in out, f"--help exits 0 and names both commands: {out!r}")
    for command, said in (("export", "MODEL.pt"), ("import", "IN.safetensors")):
        status, out, _ = run_main(command, "--help")
        check(status == 0 and said in out, f"{command} --help describes its arguments")
    status, _, err = run_main("convert", "a", "b")
    check(status == 2 and "invalid choice" in err, "an unknown command is refused with status 2")


def main():
    torch.set_num_threads(1)
    tests = [test_round_trip, test_export_sources, test_katachi_reads_and_writes, test_models_both_ways,
             test_bad_input, test_atomic_write]
    for t in tests:
        start = time.time()
        with tempfile.TemporaryDirectory(prefix="katachi-torch-") as tmp:
            print(f"{t.__name__}:")
            t(tmp)
        print(f"  ({time.time() - start:.1f} s)")
    print("test_help:")
    test_help()
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
