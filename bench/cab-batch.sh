#!/usr/bin/env bash
# Issue 6: "a batch of CABs is bounded by decompression speed". A batch of report CABs (COPIES
# copies of each real report CAB, default 50, so 200 CABs and 200 x 2 MB of LZX/MSZIP) analyzed
# by `dumpsig analyze --signature-only` with 1 and 2 jobs, against cabextract decompressing the
# same files one process each (`cabextract -q -p`, output to /dev/null) in one shell loop.
# Prints a markdown table for BENCHMARKS.md.
#   bash bench/cab-batch.sh            COPIES=100 RUNS=5 bash bench/cab-batch.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v cabextract >/dev/null || { apt-get install -y -qq cabextract >/dev/null 2>&1 || sudo apt-get install -y -qq cabextract >/dev/null; }
cargo build --release -q -j 2 -p dumpsig-cli
dumpsig="$root/target/release/dumpsig"
copies="${COPIES:-50}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/batch"
for cab in "$root"/../shared/real-dumps/cab/*.cab; do
  for i in $(seq -w 1 "$copies"); do cp "$cab" "$work/batch/$i-$(basename "$cab")"; done
done
n=$(find "$work/batch" -type f | wc -l)
hyperfine -N --warmup 1 --runs "${RUNS:-5}" --export-json "$work/r.json" \
  "$dumpsig analyze --no-progress --json --signature-only -j 1 $work/batch" \
  "$dumpsig analyze --no-progress --json --signature-only -j 2 $work/batch" \
  "bash -c 'for f in $work/batch/*.cab; do cabextract -q -p \"\$f\" >/dev/null; done'" >/dev/null 2>&1
python3 - "$work/r.json" "$n" "$(du -sh "$work/batch" | cut -f1)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
n = int(sys.argv[2])
names = ["dumpsig analyze --signature-only -j 1", "dumpsig analyze --signature-only -j 2",
         "cabextract -q -p, one process per CAB"]
print(f"Batch: {n} report CABs ({sys.argv[3]}), copies of the four real ones.\n")
print("| command | wall time (s) | per CAB (ms) | vs cabextract |")
print("|---|---:|---:|---:|")
peer = r[2]["mean"]
for name, res in zip(names, r):
    print(f"| {name} | {res['mean']:.3f} ± {res['stddev']:.3f} | {1000*res['mean']/n:.2f} | {res['mean']/peer:.2f}x |")
print(f"\n- scaling 1 -> 2 jobs: {r[0]['mean']/r[1]['mean']:.2f}x")
PY
