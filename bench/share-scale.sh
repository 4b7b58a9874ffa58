#!/usr/bin/env bash
# Issue 16's share-scale figures in one run (wall time and peak RSS from GNU time):
#   1. a generated share corpus of BUCKETS buckets and HITS hits (default 20,000 and
#      1,000,000: count.txt files, hits.log and crash.log lines, the seen index, dumpsig's
#      registry and kernel index, damaged entries), then `scan --json`, `report --share` and
#      `regress` (the share against itself) over it;
#   2. `bucket -j 2` of a new batch of BATCH minidumps (default 10,000) into shares that
#      already hold 0, 10k, 100k and 1M reports (seen-index lines): peak RSS and the cost per
#      report, RUNS rounds (default 3) that visit the shares in turn, each round with a batch
#      of its own (a share files a batch it holds already as "already filed"); one warm-up
#      round first (the first filing into a corpus builds its seen tables).
# Prints markdown tables for BENCHMARKS.md. Needs about 4 GB of free disk for the corpora.
#   bash bench/share-scale.sh
#   BUCKETS=2000 HITS=100000 BATCH=2000 RUNS=2 bash bench/share-scale.sh   # a quick look
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
buckets="${BUCKETS:-20000}"
hits="${HITS:-1000000}"
batch="${BATCH:-10000}"
runs="${RUNS:-3}"
command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null 2>&1 || sudo apt-get install -y -qq time >/dev/null; }
cargo build --release -q -j 2 -p dumpsig-cli -p dumpsig-sample-dumps
dumpsig="$root/target/release/dumpsig"
gen="$root/target/release/gen-samples"
work="${WORK:-$(mktemp -d)}"
trap 'rm -rf "$work"' EXIT

# measure OUT_VAR_PREFIX command...: sets <prefix>_s (wall seconds) and <prefix>_mib (peak RSS)
measure() {
  local prefix="$1"
  shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || true
  # The last line: GNU time writes "Command exited with non-zero status N" first when the
  # command fails (scan exits 1 when it finds damage, as this corpus has).
  read -r secs kib < <(tail -n 1 "$work/time.txt")
  printf -v "${prefix}_s" '%s' "$secs"
  printf -v "${prefix}_mib" '%s' "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')"
}

"$gen" --share-corpus "$work/corpus" "$buckets" "$hits" >"$work/corpus.txt"
corpus_size=$(du -sh "$work/corpus" | cut -f1)
measure scan "$dumpsig" scan --json "$work/corpus"
measure report "$dumpsig" report --no-progress --html "$work/page.html" --share "$work/corpus"
page_size=$(du -h "$work/page.html" | cut -f1)
measure regress "$dumpsig" regress --no-progress --baseline "$work/corpus" --current "$work/corpus"

echo "## Share corpus: $(cat "$work/corpus.txt" | sed "s|$work/||") ($corpus_size on disk)"
echo
echo "| command | wall (s) | peak RSS (MiB) |"
echo "|---|---:|---:|"
echo "| dumpsig scan --json | $scan_s | $scan_mib |"
echo "| dumpsig report --share (page $page_size, CSV of every bucket beside it) | $report_s | $report_mib |"
echo "| dumpsig regress --baseline share --current share | $regress_s | $regress_mib |"
echo

# Shares holding 0, 10k, 100k and 1M reports.
declare -A prior=([empty]=0 [10k]=10000 [100k]=100000 [1M]=1000000)
order=(empty 10k 100k 1M)
for s in "${order[@]}"; do
  if [ "${prior[$s]}" -gt 0 ]; then
    "$gen" --share-corpus "$work/share-$s" "$(( buckets < prior[$s] / 10 ? buckets : prior[$s] / 10 ))" "${prior[$s]}" >/dev/null
  else
    mkdir -p "$work/share-$s"
  fi
done
for round in $(seq 0 "$runs"); do
  "$gen" --batch "$work/batch-$round" "$batch" $(( 1800000000 + round * 1000000 )) >/dev/null
done
# Warm-up round 0 (builds the seen tables); then rounds 1..RUNS, the shares in turn.
for round in $(seq 0 "$runs"); do
  for s in "${order[@]}"; do
    measure one "$dumpsig" bucket --no-progress -j 2 --share "$work/share-$s" "$work/batch-$round"
    [ "$round" -eq 0 ] && continue
    echo "$s $one_s $one_mib" >>"$work/bucket.txt"
  done
done
echo "## bucket -j 2 of a new batch of $batch minidumps (durable), $runs rounds"
echo
echo "| share holds | wall (s), median [min-max] | per report (ms), median | peak RSS (MiB), max | vs empty |"
echo "|---|---:|---:|---:|---:|"
python3 - "$work/bucket.txt" "$batch" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    s, secs, mib = line.split()
    rows.setdefault(s, []).append((float(secs), float(mib)))
batch = int(sys.argv[2])
base = statistics.median(t for t, _ in rows["empty"])
for s in ["empty", "10k", "100k", "1M"]:
    times = [t for t, _ in rows[s]]
    med = statistics.median(times)
    print(f"| {s} reports | {med:.2f} [{min(times):.2f}-{max(times):.2f}] | {med / batch * 1000:.3f} | "
          f"{max(m for _, m in rows[s]):.1f} | {med / base:.2f}x |")
PY
