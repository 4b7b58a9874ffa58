#!/usr/bin/env bash
# Issue 13's per-dump cost of unwinding: `dumpsig analyze --json` on every committed kernel
# sample, this revision against the last revision before kernel stacks were unwound (they were
# a scan of stack slots then), built here into target/peer-tools/pre-unwind (not committed).
# Each dump is timed by hyperfine in one invocation per order (old first, then new first), so
# a slow stretch of the machine lands on both; the table gives both means and the ratio of
# their sums. Target: at most 2x.
#   bash bench/kernel-unwind.sh            # RUNS=30
#   BASE=<commit> bash bench/kernel-unwind.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${RUNS:-30}"
base="${BASE:-3051969^}"
bash bench/install-peers.sh >/dev/null
old_dir="$root/target/peer-tools/pre-unwind"
if [ ! -x "$old_dir/release/dumpsig" ]; then
  tree="$(mktemp -d)/pre-unwind"
  git worktree add --quiet --detach "$tree" "$base"
  (cd "$tree" && cargo build --release -q -j 2 -p dumpsig-cli --target-dir "$old_dir")
  git worktree remove --force "$tree"
fi
cargo build --release -q -j 2 -p dumpsig-cli -p dumpsig-sample-dumps
old="$old_dir/release/dumpsig"
new="$root/target/release/dumpsig"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "| dump | size | before unwinding (ms) | unwound (ms) | unwound / before |"
echo "|---|---:|---:|---:|---:|"
for f in sample-dumps/kernel/*.dmp; do
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/a.json" \
    "$old analyze --json $f" "$new analyze --json $f" >/dev/null 2>&1
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/b.json" \
    "$new analyze --json $f" "$old analyze --json $f" >/dev/null 2>&1
  python3 - "$f" "$work/a.json" "$work/b.json" "$old" <<'PY'
import json, os, sys
f, a, b, old = sys.argv[1:5]
times = {"old": [], "new": []}
for path in (a, b):
    for r in json.load(open(path))["results"]:
        times["old" if r["command"].startswith(old) else "new"].extend(r["times"])
mean = lambda xs: 1000 * sum(xs) / len(xs)
o, n = mean(times["old"]), mean(times["new"])
size = os.path.getsize(f)
print(f"| {os.path.basename(f)} | {size / 1024:.0f} KiB | {o:.2f} | {n:.2f} | {n / o:.2f}x |")
PY
done
# A dump whose every frame is unwound (ARM64 .pdata, decoys on the stack): the old revision
# could not translate ARM64 memory at all, so only this revision's time is given.
"$root/target/release/gen-samples" --arm64 "$work/arm64-full.dmp" >/dev/null
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/c.json" \
  "$new analyze --json $work/arm64-full.dmp" >/dev/null 2>&1
python3 - "$work/arm64-full.dmp" "$work/c.json" <<'PY'
import json, os, sys
f, c = sys.argv[1:3]
t = json.load(open(c))["results"][0]["times"]
print(f"| {os.path.basename(f)} (generated, every frame from .pdata) | "
      f"{os.path.getsize(f) / 1024:.0f} KiB | - | {1000 * sum(t) / len(t):.2f} | - |")
PY
