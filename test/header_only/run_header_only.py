#!/usr/bin/env python3
"""Runs the header-only graph program in its two builds and compares their failures.

    run_header_only.py WITH_EXCEPTIONS WITHOUT_EXCEPTIONS

Both builds must pass every check of `run`. Then broken checkpoints and IDX files (made here from
the good ones) go to both: the build with exceptions reports the caught exception's what(), the
build with -fno-exceptions -fno-rtti the sentence katachi's error handler received, and the two
must be the same sentence, word for word.
"""
import gzip
import subprocess
import sys
import tempfile
from pathlib import Path


def run(exe, *args):
    done = subprocess.run([exe, *map(str, args)], capture_output=True, timeout=120)
    # A sentence may quote the file's bytes as they are (a malformed header's): keep them visible.
    return done.returncode, done.stdout.decode(errors="backslashreplace"), done.stderr.decode(errors="backslashreplace")


def failure_of(exe, mode, path):
    code, out, err = run(exe, mode, path)
    lines = [line[len("failure: "):] for line in out.splitlines() if line.startswith("failure: ")]
    if code != 2 or len(lines) != 1:
        sys.exit(f"{exe} {mode} {path}: expected one failure and exit code 2, got {code}\n{out}{err}")
    return lines[0]


def main():
    with_exceptions, without_exceptions = sys.argv[1:3]
    problems = []
    with tempfile.TemporaryDirectory(prefix="katachi_header_only_") as tmp:
        tmp = Path(tmp)
        for exe, build in ((with_exceptions, "exceptions"), (without_exceptions, "no exceptions")):
            folder = tmp / build.replace(" ", "_")
            folder.mkdir()
            code, out, err = run(exe, "run", folder)
            print(out, end="")
            if code != 0 or f"build: {build}" not in out:
                problems.append(f"{exe} run: exit code {code}\n{err}")

        good = tmp / "exceptions"
        checkpoint = (good / "model.safetensors").read_bytes()
        header_end = 8 + int.from_bytes(checkpoint[:8], "little")
        broken = tmp / "broken"
        broken.mkdir()
        cases = {}  # file -> (mode, words its sentence must hold, whether it names the file)

        def case(name, data, mode, *words):
            (broken / name).write_bytes(data)
            cases[name] = (mode, words, True)

        case("truncated.safetensors", checkpoint[:-4], "load", "(truncated)", "trailing_data")
        case("not_json.safetensors", checkpoint[:9] + b"!" + checkpoint[10:], "load",
             "not well-formed JSON", "expected a key", "header_json")
        at = checkpoint.index(b"0.weight", 0, header_end)
        case("bad_utf8.safetensors", checkpoint[:at + 1] + b"\xff" + checkpoint[at + 2:], "load",
             "invalid UTF-8", "header_json")
        case("overflow.safetensors", checkpoint.replace(b'"shape":[8,6]', b'"shape":1e999', 1), "load",
             "number overflow", "header_json")
        cases["../missing.safetensors"] = ("load", ("no such file", "[safetensors rule: io]"), True)
        code, out, err = run(with_exceptions, "other", broken / "other_width.safetensors")
        if code != 0:
            problems.append(f"saving another model's checkpoint failed: {out}{err}")
        cases["other_width.safetensors"] = ("load", ('"0.weight" has shape [5, 6]', "expects [8, 6]"), False)

        images = (good / "images-idx3-ubyte").read_bytes()
        case("images_short", images[:-1], "idx", "truncated data")
        case("images_bad_magic", b"\x01" + images[1:], "idx", "bad magic")
        case("images_cut.gz", gzip.compress(images)[:-12], "idx", "gzip stream is truncated")

        for name, (mode, words, names_file) in cases.items():
            path = broken / name
            said = failure_of(with_exceptions, mode, path)
            handled = failure_of(without_exceptions, mode, path)
            print(f"{name}: {said}")
            if handled != said:
                problems.append(f"{name}: the error handler got\n  {handled}\nbut the exception says\n  {said}")
            for word in words:
                if word not in said:
                    problems.append(f"{name}: {word!r} is not in {said!r}")
            if names_file and str(path) not in said:
                problems.append(f"{name}: the sentence does not name the file: {said!r}")
    if problems:
        sys.exit("\n".join(problems))


if __name__ == "__main__":
    main()
