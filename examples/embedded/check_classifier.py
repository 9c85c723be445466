#!/usr/bin/env python3
"""Runs the classifier image under QEMU and classifier_host on the host; the device must agree.

    check_classifier.py --qemu qemu-system-arm --host classifier_host --checkpoint C.safetensors image.elf

Checks: every prediction is the host's and every logit within 1e-4 of it; the checkpoint's accuracy
on the whole test set (host) is at least 0.88; the fine-tuning's losses are the host's within 1e-5
and fall (the second pass over the images ends lower than the first); the head's weights after it
are the host's within 1e-5. Prints the largest differences and the device's memory lines.
"""
import argparse
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_qemu  # noqa: E402


def f32(bits):
    return struct.unpack("<f", struct.pack("<I", int(bits, 16)))[0]


def parse(lines):
    out = {"predict": {}, "loss": {}, "head": {}, "other": []}
    for text in lines:
        p = text.split()
        if not p:
            continue
        if p[0] == "predict":
            out["predict"][int(p[1])] = (int(p[2]), int(p[3]), [f32(b) for b in p[4:]])
        elif p[0] in ("loss", "head"):
            out[p[0]][int(p[1])] = f32(p[2])
        else:
            out["other"].append(text)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--qemu", default="qemu-system-arm")
    parser.add_argument("--host", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    status, lines = run_qemu.run(args.qemu, args.image, args.timeout)
    host_run = subprocess.run([args.host, args.checkpoint], capture_output=True, text=True, timeout=600)
    if host_run.returncode != 0:
        sys.exit(f"FAIL: {args.host} exited with {host_run.returncode}: {host_run.stderr}")
    device, host = parse(lines), parse(host_run.stdout.splitlines())
    bad = []
    if status != 0:
        bad.append(f"QEMU exited with status {status}")
    bad += [t for t in lines if t.startswith("FAIL")]

    if not device["predict"] or device["predict"].keys() != host["predict"].keys():
        bad.append(f"the device predicted {len(device['predict'])} images, the host {len(host['predict'])}")
    worst_logit = 0.0
    for i, (pred, label, logits) in sorted(device["predict"].items()):
        if i not in host["predict"]:
            continue
        h_pred, h_label, h_logits = host["predict"][i]
        if (pred, label) != (h_pred, h_label):
            bad.append(f"image {i}: the device predicts {pred}, the host {h_pred} (label {label} / {h_label})")
        for a, b in zip(logits, h_logits):
            worst_logit = max(worst_logit, abs(a - b))
    if worst_logit > 1e-4:
        bad.append(f"a logit differs by {worst_logit:.3g} > 1e-4")

    accuracy = [t for t in host["other"] if t.startswith("accuracy")]
    if not accuracy or float(accuracy[0].split()[1]) < 0.88:
        bad.append(f"the checkpoint's test accuracy is below 0.88: {accuracy}")

    worst_loss = max((abs(device["loss"][s] - host["loss"].get(s, float("inf"))) for s in device["loss"]),
                     default=float("inf"))
    if len(device["loss"]) != len(host["loss"]) or worst_loss > 1e-5:
        bad.append(f"the fine-tuning losses differ from the host's (largest difference {worst_loss:.3g})")
    losses = [device["loss"][s] for s in sorted(device["loss"])]
    half = len(losses) // 2
    if half == 0 or sum(losses[half:]) >= sum(losses[:half]):
        bad.append(f"the fine-tuning loss does not fall: {losses}")

    worst_weight = max((abs(device["head"][k] - host["head"].get(k, float("inf"))) for k in device["head"]),
                       default=float("inf"))
    if len(device["head"]) != len(host["head"]) or worst_weight > 1e-5:
        bad.append(f"the head's weights differ from the host's (largest difference {worst_weight:.3g})")

    for t in device["other"]:
        print(f"device: {t}")
    print(f"{accuracy[0] if accuracy else 'no accuracy line'} (host)")
    print(f"predictions: {len(device['predict'])} images, all the host's; largest logit difference {worst_logit:.3g}")
    if losses:
        print(f"fine-tuning: loss {losses[0]:.5f} -> {losses[-1]:.5f} over {len(losses)} steps "
              f"(first half mean {sum(losses[:half]) / max(half, 1):.5f}, second {sum(losses[half:]) / max(len(losses) - half, 1):.5f}); "
              f"largest loss difference {worst_loss:.3g}, weight difference {worst_weight:.3g}")
    for b in bad:
        print(f"FAIL: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
