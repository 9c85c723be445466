#!/usr/bin/env python3
"""Runs a katachi Cortex-M7 image under QEMU's mps2-an500 and checks what it printed.

    run_qemu.py --qemu qemu-system-arm [--check fpu|katachi] image.elf
    run_qemu.py --expect-status 2 --expect-line "FAIL: HardFault" image.elf   # a failure expected
    run_qemu.py --skip "why"        # exit status 77: Meson's test skipped

The image writes through semihosting and ends QEMU with SYS_EXIT (status 0) or SYS_EXIT_EXTENDED
(its own status); a run longer than --timeout seconds is killed. The run fails when QEMU's status
is not 0, when a line starts with FAIL, or when a --check finds a value other than the host's.
Floats are read from their exact bit pattern, "[0x...]" after each value.
"""
import argparse
import re
import struct
import subprocess
import sys

SKIP = 77
VALUE = re.compile(r"^(?P<name>[\w\[\]]+) = \S+ \[0x(?P<bits>[0-9a-f]+)\]$")


def run(qemu, image, timeout):
    """Runs the image; returns (QEMU's exit status or None after a timeout, the output's lines)."""
    command = [qemu, "-M", "mps2-an500", "-cpu", "cortex-m7", "-nographic", "-monitor", "none",
               "-serial", "null", "-semihosting-config", "enable=on,target=native", "-kernel", image]
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        return None, out.splitlines()
    return done.returncode, done.stdout.decode(errors="replace").splitlines()


def values(lines):
    """The `name = decimal [0xbits]` lines as floats (8 hex digits) or doubles (16)."""
    found = {}
    for text in lines:
        m = VALUE.match(text.strip())
        if not m:
            continue
        bits = int(m["bits"], 16)
        if len(m["bits"]) == 8:
            found[m["name"]] = struct.unpack("<f", struct.pack("<I", bits))[0]
        else:
            found[m["name"]] = struct.unpack("<d", struct.pack("<Q", bits))[0]
    return found


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def expected_fpu():
    """fpu_demo.cpp's values, computed here (in double; the check allows 1e-4)."""
    s = 0.5
    x = [s * (i + 1) for i in range(16)]
    w = [1.0 / (i + 2) for i in range(16)]
    want = {"dot": sum(a * b for a, b in zip(x, w))}
    a = [[s * (i - k) + (k * k + i) / 10.0 for k in range(4)] for i in range(3)]
    b = [[(k + 1) * (j + 1) / 8.0 for j in range(2)] for k in range(4)]
    for i in range(3):
        for j in range(2):
            want[f"c[{i}][{j}]"] = sum(a[i][k] * b[k][j] for k in range(4))
    want["basel"] = sum(2 * s / (k * k) for k in range(1, 1001))
    return want


def expected_katachi():
    """katachi_demo.cpp's tiny MLP (4 -> 16 -> relu -> 3) with the same weights, on the host."""
    # Parameter i is ((37 i mod 23) - 11) / 16, in katachi's order: weight [16, 4], bias [16],
    # weight [3, 16], bias [3].
    p = [((i * 37) % 23 - 11) / 16.0 for i in range(16 * 4 + 16 + 3 * 16 + 3)]
    w1 = [p[o * 4:(o + 1) * 4] for o in range(16)]
    b1 = p[64:80]
    w2 = [p[80 + o * 16:80 + (o + 1) * 16] for o in range(3)]
    b2 = p[128:131]
    want = {}
    for n, x in enumerate([[1.0, -0.5, 0.25, 2.0], [-1.0, 0.75, 1.5, -0.25]]):
        h = [max(0.0, sum(w1[o][i] * x[i] for i in range(4)) + b1[o]) for o in range(16)]
        for o in range(3):
            want[f"y[{n}][{o}]"] = sum(w2[o][i] * h[i] for i in range(16)) + b2[o]
    return want


def check(found, want):
    bad = 0
    for name, value in want.items():
        got = found.get(name)
        if got is None:
            print(f"FAIL: the image printed no value for {name} (expected {value:.9g})")
            bad += 1
        elif not abs(got - value) <= 1e-4 * max(1.0, abs(value)):
            print(f"FAIL: {name} = {got:.9g} on the device, {value:.9g} on the host")
            bad += 1
        else:
            print(f"ok: {name} = {got:.9g} (host {value:.9g})")
    return bad


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?")
    parser.add_argument("--qemu", default="qemu-system-arm")
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--check", choices=["fpu", "katachi"])
    parser.add_argument("--expect-status", type=int, help="pass only if QEMU exits with this status")
    parser.add_argument("--expect-line", help="and a line of the output matches this regular expression")
    parser.add_argument("--skip", help="print this and exit with 77 (the tools are missing)")
    args = parser.parse_args()
    if args.skip:
        print(f"SKIP: {args.skip}")
        return SKIP

    status, lines = run(args.qemu, args.image, args.timeout)
    print("\n".join(lines))
    if args.expect_status is not None:
        matched = args.expect_line is None or any(re.search(args.expect_line, text) for text in lines)
        if status == args.expect_status and matched:
            print(f"ok: the failure expected (status {status})")
            return 0
        print(f"FAIL: expected status {args.expect_status} and a line matching {args.expect_line!r}; "
              f"QEMU's status {status}")
        return 1
    bad = 0
    if status is None:
        print(f"FAIL: QEMU still running after {args.timeout:g} s, killed")
        bad += 1
    elif status != 0:
        print(f"FAIL: QEMU exited with status {status}")
        bad += 1
    if any(text.startswith("FAIL") for text in lines):
        bad += 1
    if args.check == "fpu":
        bad += check(values(lines), expected_fpu())
    elif args.check == "katachi":
        bad += check(values(lines), expected_katachi())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
