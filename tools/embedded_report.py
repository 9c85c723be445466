#!/usr/bin/env python3
"""Writes docs/embedded.md and the figures block of docs/devices.md from the Cortex-M7 classifier image:
its sections (arm-none-eabi-size), what it prints under QEMU (arena, activations, the liveness
bound, RAM parts, the stack's high-water mark) and the comparison with the host.

    python3 tools/embedded_report.py [BUILD]      (default: build; run `meson test -C BUILD --suite embedded` first)
"""
import os
import re
import subprocess
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "examples", "embedded"))
import check_image  # noqa: E402
import run_qemu  # noqa: E402


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build")
    image = os.path.join(build, "examples", "embedded", "classifier_demo.elf")
    host = os.path.join(build, "examples", "embedded", "classifier_host")
    checkpoint = os.path.join(root, "examples", "embedded", "classifier.safetensors")
    s = check_image.sections("arm-none-eabi-size", image)
    status, lines = run_qemu.run("qemu-system-arm", image, 300)
    if status != 0:
        sys.exit(f"the image exited with {status}")
    memory = dict(zip(*[iter(next(t for t in lines if t.startswith("memory ")).split()[1:])] * 2))
    memory = {k: int(v) for k, v in memory.items()}
    stack = int(re.search(r"stack used: (\d+)", "\n".join(lines)).group(1))
    correct = next(t for t in lines if t.startswith("correct"))
    compare = subprocess.run([sys.executable, os.path.join(root, "examples", "embedded", "check_classifier.py"),
                              "--host", host, "--checkpoint", checkpoint, image],
                             capture_output=True, text=True, timeout=900)
    summary = [t for t in compare.stdout.splitlines() if t.startswith(("accuracy", "predictions", "fine-tuning"))]

    code = s.get(".text", 0) + s.get(".vectors", 0) + s.get(".ARM.exidx", 0) + s.get(".init_array", 0)
    rodata, data, bss = s.get(".rodata", 0), s.get(".data", 0), s.get(".bss", 0)
    flash = code + rodata + data
    with open(os.path.join(build, "examples", "embedded", "classifier_weights.hpp")) as f:
        weights = 4 * int(re.search(r"// (\d+) float values", f.read()).group(1))
    figures = [
        f"| flash | {flash:,} bytes: code {code:,}, read-only data {rodata:,} (the weights {weights:,}, "
        f"300 test images 235,200, tables), `.data` initial values {data:,} |",
        f"| RAM | {data + bss + stack:,} bytes: `.data` {data:,} + `.bss` {bss:,} + the stack's high-water mark "
        f"{stack:,} (of 16,384 reserved) |",
        f"| inference arena | {memory['arena']:,} bytes, equal to `flash_model::arena_bytes` (constexpr); of it, "
        f"activations {memory['activations']:,} bytes, the liveness lower bound {memory['liveness_bound']:,}, "
        f"the rest the layers' scratch (im2col) |",
        f"| fine-tuning | the trunk's arena {memory['trunk_arena']:,}, the head's `static_model` {memory['head_training']:,}, "
        f"inputs and features {memory['inputs_and_features']:,} bytes |",
    ]
    table = "| | measured |\n|---|---|\n" + "\n".join(figures)
    doc = ("# The Cortex-M7 classifier, measured\n\n"
           "Written by `tools/embedded_report.py` from `build/examples/embedded/classifier_demo.elf` "
           "(arm-none-eabi-g++ 12, -O2, run in QEMU's mps2-an500). Do not edit by hand.\n\n"
           + table + "\n\n" + f"- {correct} on the device\n" + "".join(f"- {t}\n" for t in summary))
    with open(os.path.join(root, "docs", "embedded.md"), "w") as f:
        f.write(doc)
    readme_path = os.path.join(root, "docs", "devices.md")
    readme = open(readme_path).read()
    begin, end = "<!-- embedded figures: tools/embedded_report.py -->\n", "<!-- end of embedded figures -->\n"
    if begin in readme and end in readme:
        head, rest = readme.split(begin, 1)
        _, tail = rest.split(end, 1)
        with open(readme_path, "w") as f:
            f.write(head + begin + table + "\n" + end + tail)
    print(doc)


main()
