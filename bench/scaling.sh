#!/usr/bin/env bash
# Issue 16's 1 -> 2 job figures: paired runs, alternating. Each round runs the -j 1 and the -j 2
# command of a pair back to back (which goes first alternates from round to round), each from
# an empty share for `bucket`; the ratio of the pair's times is taken per round, and the
# medians and spreads (min-max) of the times and of the ratios are printed, so a noisy round
# shows instead of moving a mean.
#   bash bench/scaling.sh              # N=10000 minidumps, ROUNDS=15, PER_ROUND=3
#   N=2000 ROUNDS=5 bash bench/scaling.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
n="${N:-10000}"
rounds="${ROUNDS:-15}"
per_round="${PER_ROUND:-3}"
cargo build --release -q -j 2 -p dumpsig-cli -p dumpsig-sample-dumps
dumpsig="$root/target/release/dumpsig"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$root/target/release/gen-samples" --batch "$work/batch" "$n" >/dev/null

# seconds COMMAND...: wall seconds of one run (output discarded).
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || true
  end=$(date +%s.%N)
  echo "$end - $start" | awk '{ split($0, a, " - "); printf "%.4f", a[1] - a[2] }'
}

run_pair() { # name, then the command without -j (the share, if any, is $work/share)
  local name="$1"
  shift
  for round in $(seq 1 "$rounds"); do
    local order=(1 2)
    [ $((round % 2)) -eq 0 ] && order=(2 1)
    # Each side of a round is the median of PER_ROUND runs, interleaved (1 2 1 2 ...), so one
    # slow run does not decide a round.
    for _ in $(seq 1 "$per_round"); do
      for j in "${order[@]}"; do
        rm -rf "$work/share"
        t=$(seconds "$@" -j "$j")
        echo "$name $round $j $t" >>"$work/times.txt"
      done
    done
  done
}

run_pair "bucket (durable)" "$dumpsig" bucket --no-progress --share "$work/share" "$work/batch"
run_pair "bucket --no-sync" "$dumpsig" bucket --no-progress --no-sync --share "$work/share" "$work/batch"
run_pair "analyze --json --signature-only" "$dumpsig" analyze --no-progress --json --signature-only "$work/batch"
run_pair "analyze --json (full)" "$dumpsig" analyze --no-progress --json "$work/batch"

echo "Batch: $n generated minidumps; $rounds rounds per pair, each side the median of $per_round interleaved runs, alternating which runs first."
echo
echo "| command | -j 1 (s), median [min-max] | -j 2 (s), median [min-max] | speed-up, median of the rounds' ratios [min-max] |"
echo "|---|---:|---:|---:|"
python3 - "$work/times.txt" <<'PY'
import statistics, sys
samples = {}
for line in open(sys.argv[1]):
    *name, rnd, j, t = line.split()
    samples.setdefault(" ".join(name), {}).setdefault(int(rnd), {}).setdefault(int(j), []).append(float(t))
runs = {name: {rnd: {j: statistics.median(ts) for j, ts in by_j.items()} for rnd, by_j in rounds.items()}
        for name, rounds in samples.items()}
for name, rounds in runs.items():
    j1 = [r[1] for r in rounds.values()]
    j2 = [r[2] for r in rounds.values()]
    ratios = [r[1] / r[2] for r in rounds.values()]
    f = lambda xs: f"{statistics.median(xs):.3f} [{min(xs):.3f}-{max(xs):.3f}]"
    print(f"| dumpsig {name} | {f(j1)} | {f(j2)} | {statistics.median(ratios):.2f}x "
          f"[{min(ratios):.2f}-{max(ratios):.2f}] |")
PY
