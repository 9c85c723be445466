#!/usr/bin/env python3
"""Checks a katachi Cortex-M7 image without running it, or reports its size.

    check_image.py symbols --nm arm-none-eabi-nm [--no-string] image.elf
    check_image.py size --size arm-none-eabi-size --qemu qemu-system-arm image.elf
    check_image.py --skip "why"     # exit status 77: Meson's test skipped

symbols fails when the image defines or needs the heap (malloc, free, calloc, realloc and their
newlib _r forms, operator new and delete) or exceptions (__cxa_allocate_exception, __cxa_throw),
or thread-local storage (__aeabi_read_tp, __emutls), or libgcc's software floating point for an
arithmetic operation the FPv5-D16 does in hardware (float and double add, subtract, multiply,
divide, compare); with --no-string, also std::basic_string and the iostreams.

size prints flash (everything loaded into code memory: vectors, code, read-only data, .data's
initial values) and RAM (stack, .data, .bss) from `size -A`, and the stack's high-water mark that
the image prints when run.
"""
import argparse
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_qemu  # noqa: E402

SKIP = 77
HEAP = {"malloc", "free", "calloc", "realloc", "_malloc_r", "_free_r", "_calloc_r", "_realloc_r",
        "memalign", "_memalign_r", "_sbrk", "_sbrk_r"}
EXCEPTIONS = {"__cxa_allocate_exception", "__cxa_throw", "__cxa_rethrow", "__cxa_begin_catch"}
THREADS = {"__aeabi_read_tp"}
# The run-time ABI's software float and double arithmetic (and libgcc's names for it).
SOFT_FLOAT = {f"__aeabi_{t}{op}" for t in "fd" for op in ("add", "sub", "rsub", "mul", "div", "cmpeq", "cmplt",
                                                       "cmple", "cmpge", "cmpgt", "cmpun")}
SOFT_FLOAT |= {f"__{op}{t}f3" for t in "sd" for op in ("add", "sub", "mul", "div")}
# operator new, new[], delete, delete[] in every overload (the Itanium C++ ABI's mangled names).
OPERATOR_PREFIXES = ("_Znw", "_Zna", "_Zdl", "_Zda")

FLASH = {".vectors", ".text", ".rodata", ".ARM.extab", ".ARM.exidx", ".init_array"}
RAM = {".stack", ".data", ".bss"}


def archive_reasons(image):
    """From the link map beside the image (image.map): each archive member the linker took, and the
    symbol it took it for ("Archive member included to satisfy reference by file (symbol)")."""
    path = os.path.splitext(image)[0] + ".map"
    reasons = {}
    if not os.path.exists(path):
        return reasons
    member = None
    for text in open(path, encoding="utf-8", errors="replace"):
        if text.startswith(("Discarded input sections", "Memory Configuration")):
            break
        m = re.match(r"^(\S+\.a\([^)]*\))\s*$", text)
        if m:
            member = m.group(1)
            continue
        m = re.match(r"^\s+\S+ \((\S+)\)\s*$", text)
        if m and member:
            reasons[member] = m.group(1)
            member = None
    return reasons


def soft_float_needed_for_arithmetic(image):
    """Whether a software floating-point routine was linked because the code calls one. libgcc keeps
    double add and subtract in the object that also converts 64-bit integers to double (which no
    Cortex-M FPU does), so their symbols are present, unused, whenever the code converts one."""
    reasons = archive_reasons(image)
    if not reasons:
        return None  # no map: judge by the symbols alone
    return sorted(reason for reason in reasons.values() if reason in SOFT_FLOAT)


def symbols(nm, image, no_string):
    out = subprocess.run([nm, image], check=True, stdout=subprocess.PIPE, text=True).stdout
    called = soft_float_needed_for_arithmetic(image)
    bad = []
    for text in out.splitlines():
        parts = text.split()
        name = parts[-1]
        why = None
        if name in HEAP or name.startswith(OPERATOR_PREFIXES):
            why = "heap"
        elif name in EXCEPTIONS:
            why = "exceptions"
        elif name in THREADS or name.startswith("__emutls"):
            why = "thread-local storage"
        elif name in SOFT_FLOAT and (called is None or called):
            why = "software floating point" + (f" (linked for {', '.join(called)})" if called else "")
        elif no_string and "basic_string" in name:
            why = "std::string"
        elif no_string and ("ios_base" in name or "basic_ostream" in name or "basic_istream" in name):
            why = "iostream"
        if why:
            bad.append((why, text.strip()))
    for why, text in bad:
        print(f"FAIL: {why}: {text}")
    if not bad:
        print(f"ok: {os.path.basename(image)} has no heap, exception, thread-local or software float symbol"
              + (" and no std::string or iostream" if no_string else ""))
    return 1 if bad else 0


def sections(size, image):
    out = subprocess.run([size, "-A", image], check=True, stdout=subprocess.PIPE, text=True).stdout
    found = {}
    for text in out.splitlines():
        parts = text.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            found[parts[0]] = int(parts[1])
    return found


def size_report(size, qemu, image, timeout):
    s = sections(size, image)
    flash = sum(s.get(n, 0) for n in FLASH) + s.get(".data", 0)
    ram = sum(s.get(n, 0) for n in RAM)
    unknown = sorted(n for n in s if n not in FLASH | RAM and not n.startswith((".debug", ".comment", ".ARM.attributes")))
    status, lines = run_qemu.run(qemu, image, timeout)
    used = None
    for text in lines:
        m = re.match(r"stack used: (\d+) of (\d+) bytes", text)
        if m:
            used, stack = int(m[1]), int(m[2])
    name = os.path.basename(image)
    print(f"{name}: sections " + ", ".join(f"{n} {s[n]}" for n in s if n in FLASH | RAM))
    print(f"{name}: flash {flash} bytes (code {s.get('.text', 0)}, read-only data {s.get('.rodata', 0)}, "
          f".data load {s.get('.data', 0)}, vectors and tables {flash - s.get('.text', 0) - s.get('.rodata', 0) - s.get('.data', 0)})")
    print(f"{name}: RAM {ram} bytes (.data {s.get('.data', 0)}, .bss {s.get('.bss', 0)}, "
          f"stack reserved {s.get('.stack', 0)}); static RAM without the stack {ram - s.get('.stack', 0)}")
    bad = 0
    if unknown:
        print(f"FAIL: sections the report does not count: {', '.join(unknown)}")
        bad += 1
    if status != 0 or used is None:
        print("\n".join(lines))
        print(f"FAIL: the image did not run to its end (QEMU status {status})")
        bad += 1
    else:
        print(f"{name}: stack high-water mark {used} of {stack} bytes")
    return 1 if bad else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["symbols", "size"])
    parser.add_argument("image", nargs="?")
    parser.add_argument("--nm", default="arm-none-eabi-nm")
    parser.add_argument("--size", default="arm-none-eabi-size")
    parser.add_argument("--qemu", default="qemu-system-arm")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--no-string", action="store_true")
    parser.add_argument("--skip")
    args = parser.parse_intermixed_args()
    if args.skip:
        print(f"SKIP: {args.skip}")
        return SKIP
    if args.mode == "symbols":
        return symbols(args.nm, args.image, args.no_string)
    return size_report(args.size, args.qemu, args.image, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
