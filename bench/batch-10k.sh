#!/usr/bin/env bash
# Issue 6's batch benchmark, side by side in one run:
#   - `dumpsig bucket` of a generated batch of N minidumps (default 10,000) into an empty share,
#     with 1 and with 2 jobs (wall time: hyperfine; peak RSS: /usr/bin/time -v),
#   - `minidump-stackwalk --json` once per file over a sample of the same batch (default 500
#     files, in a shell loop), extrapolated per file to N.
# Prints a markdown table for BENCHMARKS.md.
#   bash bench/batch-10k.sh            # N=10000, PEER_SAMPLE=500
#   N=2000 PEER_SAMPLE=200 bash bench/batch-10k.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
n="${N:-10000}"
peer_sample="${PEER_SAMPLE:-500}"
bash bench/install-peers.sh >/dev/null
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null 2>&1 || sudo apt-get install -y -qq time >/dev/null; }
cargo build --release -q -j 2 -p dumpsig-cli -p dumpsig-sample-dumps
dumpsig="$root/target/release/dumpsig"
peer="$root/target/peer-tools/bin/minidump-stackwalk"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$root/target/release/gen-samples" --batch "$work/batch" "$n" >/dev/null
size=$(du -sh "$work/batch" | cut -f1)

hyperfine -N --warmup 1 --runs "${RUNS:-5}" --export-json "$work/bucket.json" \
  --prepare "rm -rf $work/share" \
  "$dumpsig bucket --no-progress -j 1 --share $work/share $work/batch" \
  "$dumpsig bucket --no-progress -j 2 --share $work/share $work/batch" \
  "$dumpsig bucket --no-progress --no-sync -j 1 --share $work/share $work/batch" \
  "$dumpsig bucket --no-progress --no-sync -j 2 --share $work/share $work/batch" \
  "$dumpsig analyze --no-progress --json --signature-only -j 1 $work/batch" \
  "$dumpsig analyze --no-progress --json --signature-only -j 2 $work/batch" >/dev/null 2>&1

rss() {
  rm -rf "$work/share"
  /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt" || true
  awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$work/time.txt"
}
rss1=$(rss "$dumpsig" bucket --no-progress -j 1 --share "$work/share" "$work/batch")
rss2=$(rss "$dumpsig" bucket --no-progress -j 2 --share "$work/share" "$work/batch")
rss3=$(rss "$dumpsig" analyze --no-progress --json --signature-only -j 2 "$work/batch")

find "$work/batch" -type f | sort >"$work/all-files.txt"
head -n "$peer_sample" "$work/all-files.txt" >"$work/peer-files.txt"
start=$(date +%s.%N)
while read -r f; do "$peer" --json "$f" >/dev/null 2>&1 || true; done <"$work/peer-files.txt"
end=$(date +%s.%N)

python3 - "$work/bucket.json" "$start" "$end" "$peer_sample" "$n" "$rss1" "$rss2" "$size" "$rss3" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
start, end, sample, n = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rss1, rss2, size = sys.argv[6], sys.argv[7], sys.argv[8]
rss3 = sys.argv[9]
peer_per_file = (end - start) / sample
peer_total = peer_per_file * n
names = ["dumpsig bucket -j 1 (durable: syncfs per group)", "dumpsig bucket -j 2 (durable: syncfs per group)",
         "dumpsig bucket --no-sync -j 1", "dumpsig bucket --no-sync -j 2",
         "dumpsig analyze --json --signature-only -j 1", "dumpsig analyze --json --signature-only -j 2"]
rss = [rss1, rss2, rss1, rss2, rss3, rss3]
print(f"Batch: {n} generated minidumps ({size}); bucket runs start from an empty share.\n")
print("| command | wall time (s) | per file (ms) | vs peer per file | peak RSS (MiB) |")
print("|---|---:|---:|---:|---:|")
for name, res, m in zip(names, r, rss):
    print(f"| {name} | {res['mean']:.3f} ± {res['stddev']:.3f} | {1000*res['mean']/n:.3f} | {peer_total/res['mean']:.1f}x | {m if 'analyze' not in name or name.endswith('-j 2') else '-'} |")
print(f"| minidump-stackwalk --json, once per file ({sample} files timed, extrapolated to {n}) | {peer_total:.1f} | {1000*peer_per_file:.2f} | 1x | - |")
print()
print(f"- scaling 1 -> 2 jobs: bucket {r[0]['mean']/r[1]['mean']:.2f}x, bucket --no-sync {r[2]['mean']/r[3]['mean']:.2f}x, analyze --signature-only {r[4]['mean']/r[5]['mean']:.2f}x (target >= 1.6x)")
PY
