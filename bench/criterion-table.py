#!/usr/bin/env python3
"""Markdown table of the `signature` criterion bench (target/criterion/per-dump): mean time per
dump of the signature-only path and the full report path, and their ratio."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def mean_us(group, fn, name):
    path = root / group / fn / name / "new" / "estimates.json"
    return json.loads(path.read_text())["mean"]["point_estimate"] / 1000.0


names = sorted(p.name for p in (root / "per-dump" / "signature").iterdir() if p.is_dir() and p.name != "report")
print("| dump | signature (µs) | full report (µs) | full / signature |")
print("|---|---:|---:|---:|")
ratios = []
for name in names:
    sig, full = mean_us("per-dump", "signature", name), mean_us("per-dump", "full", name)
    ratios.append(full / sig)
    print(f"| {name} | {sig:.2f} | {full:.2f} | {full / sig:.1f}x |")
sig = json.loads((root / "all-real-minidumps" / "signature" / "new" / "estimates.json").read_text())["mean"]["point_estimate"] / 1000.0
full = json.loads((root / "all-real-minidumps" / "full" / "new" / "estimates.json").read_text())["mean"]["point_estimate"] / 1000.0
print(f"| **all {len(names)} together** | {sig:.1f} | {full:.1f} | {full / sig:.1f}x |")
print(f"\nSmallest per-dump ratio: {min(ratios):.1f}x")
