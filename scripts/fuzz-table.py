#!/usr/bin/env python3
"""Prints the table rows of docs/fuzzing.md's last long run from fuzz/runs.tsv: for each target,
its latest run of at least the given seconds."""
import sys

seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 420
latest = {}
for line in open("fuzz/runs.tsv"):
    date, target, secs, execs, corpus, crashes = line.rstrip("\n").split("\t")
    if int(secs) >= seconds:
        latest[target] = (date, int(secs), execs, corpus, crashes)
for target in sorted(latest):
    date, secs, execs, corpus, crashes = latest[target]
    execs = f"{int(execs):,}" if execs.isdigit() else execs
    print(f"| `{target}` | {secs // 60} min | {execs} | {corpus} | {crashes} |")
