#!/usr/bin/env python3
"""Compile-fail pair runner: the allowed twin of a source must compile, the forbidden twin must fail
with every expected word in the diagnostic.

usage: run.py <source> <max g++ lines or 0> <compiler> [flags...]

The source defines KATACHI_FORBIDDEN's effect itself and lists what its diagnostic must say:
  // expect: <words>        for every compiler
  // expect-gcc: <words>    for g++ only (clang 14 prints fixed strings as character codes)
  // expect-first-error: <words>   for g++ only: the first line that says "error:" holds them
"""
import subprocess
import sys


def main():
    source, max_lines, compiler = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    is_clang = "clang" in " ".join(compiler[:1])
    expected = []
    first_error = []
    for line in open(source, encoding="utf-8"):
        line = line.strip()
        if line.startswith("// expect:"):
            expected.append(line[len("// expect:"):].strip())
        elif line.startswith("// expect-gcc:") and not is_clang:
            expected.append(line[len("// expect-gcc:"):].strip())
        elif line.startswith("// expect-first-error:") and not is_clang:
            first_error.append(line[len("// expect-first-error:"):].strip())
    if not expected and not first_error:
        sys.exit(f"{source}: no '// expect:' line")
    base = compiler + ["-fsyntax-only", "-fdiagnostics-color=never", source]

    allowed = subprocess.run(base, capture_output=True, text=True)
    if allowed.returncode != 0:
        print(allowed.stderr)
        sys.exit(f"{source}: the allowed twin does not compile")

    forbidden = subprocess.run(base + ["-DKATACHI_FORBIDDEN"], capture_output=True, text=True)
    text = forbidden.stderr
    if forbidden.returncode == 0:
        sys.exit(f"{source}: the forbidden twin compiles")
    missing = [w for w in expected if w not in text]
    lines = text.count("\n")
    print(text)
    print(f"{source}: {'clang' if is_clang else 'g++'} diagnostic of {lines} lines")
    if missing:
        sys.exit(f"{source}: the diagnostic lacks {missing}")
    error_lines = [line for line in text.splitlines() if "error:" in line]
    if first_error and (not error_lines or any(w not in error_lines[0] for w in first_error)):
        sys.exit(f"{source}: the first error line lacks {first_error}: {error_lines[:1]}")
    if max_lines and not is_clang and lines > max_lines:
        sys.exit(f"{source}: the diagnostic has {lines} lines, more than {max_lines}")


if __name__ == "__main__":
    main()
