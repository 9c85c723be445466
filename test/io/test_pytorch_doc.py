#!/usr/bin/env python3
"""Suite `io`: docs/pytorch.md shows only code that a test runs.

The C++ blocks of the doc are made of the regions of test/io/torch_interop.cpp between
"// doc:<name>" and "// doc:end", and the Python blocks of the regions of
test/io/test_torch_safetensors.py between "# doc:<name>" and "# doc:end", word for word (dedented);
every region is shown. The sh blocks hold one export and one import command, which
test_torch_safetensors.py reads from the doc and runs as written. Needs no torch.
"""
import os
import re
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "pytorch.md")
SOURCES = {"cpp": (os.path.join(ROOT, "test", "io", "torch_interop.cpp"), "//"),
           "python": (os.path.join(ROOT, "test", "io", "test_torch_safetensors.py"), "#")}


def regions(path, comment):
    """{name: dedented text} of the source's doc regions."""
    with open(path) as f:
        text = f.read()
    marker = re.escape(comment) + r" doc:"
    pattern = re.compile(r"^[ \t]*" + marker + r"([\w-]+)\n(.*?)^[ \t]*" + marker + r"end\n", re.M | re.S)
    found = {}
    for m in pattern.finditer(text):
        if m.group(1) in found:
            sys.exit(f"{path}: the doc region {m.group(1)} appears twice")
        found[m.group(1)] = textwrap.dedent(m.group(2))
    return found


def main():
    with open(DOC) as f:
        doc = f.read()
    blocks = re.findall(r"^```(\w*)\n(.*?)^```$", doc, re.M | re.S)
    failures = []
    for lang, (path, comment) in SOURCES.items():
        parts = regions(path, comment)
        if not parts:
            failures.append(f"{path}: no doc regions found")
        used = set()
        for i, (block_lang, body) in enumerate(blocks):
            if block_lang != lang:
                continue
            rest = body
            # Longest first, so that no region is taken for a part of another.
            for name, text in sorted(parts.items(), key=lambda kv: -len(kv[1])):
                if text in rest:
                    used.add(name)
                    rest = rest.replace(text, "", 1)
            if rest.strip():
                failures.append(f"docs/pytorch.md: {lang} block {i + 1} holds text no test runs:\n{rest}")
        for name in sorted(set(parts) - used):
            failures.append(f"docs/pytorch.md does not show the region {name} of {os.path.relpath(path, ROOT)}")
    commands = [line for lang, body in blocks if lang == "sh" for line in body.splitlines() if line.strip()]
    kinds = sorted(line.split()[2] if len(line.split()) > 2 else line for line in commands)
    if kinds != ["export", "import"] or not all(
            line.startswith("/usr/bin/python3 tools/torch_safetensors.py ") for line in commands):
        failures.append(f"docs/pytorch.md: the sh blocks must hold one export and one import command, got {commands}")
    if not any(lang in ("cpp", "python") for lang, _ in blocks):
        failures.append("docs/pytorch.md has no code blocks")
    for f in failures:
        print("FAILED:", f)
    if failures:
        return 1
    print(f"docs/pytorch.md: {len(blocks)} code blocks, every one run or compiled by a test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
