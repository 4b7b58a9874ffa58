#!/usr/bin/env bash
# Times `dumpsig analyze --json` (full report), `dumpsig analyze --json --signature-only` and
# `minidump-stackwalk --json` on each real Windows minidump, in one run, with hyperfine.
# Prints a markdown table (mean wall time per process, milliseconds) for BENCHMARKS.md.
#
#   bash bench/compare-peer.sh            # all real minidumps
#   RUNS=50 bash bench/compare-peer.sh    # more runs per command
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash bench/install-peers.sh >/dev/null
cargo build --release -q -j 2 -p dumpsig-cli
dumpsig="$root/target/release/dumpsig"
peer="$root/target/peer-tools/bin/minidump-stackwalk"
runs="${RUNS:-30}"
out="$(mktemp -d)"
dumps=(test.dmp minidump_32bit_crash_addr.dmp ascii_read_av.dmp ascii_write_av.dmp null_read_av.dmp
       read_av_conditional.dmp stack_exhaustion.dmp exec_av_on_stack.dmp thread_name_list.dmp
       sentry-windows.dmp invalid-parameter.dmp tiny-exe-fastfail.dmp write_av_non_canonical.dmp
       tiny-exe-with-cet-xsave.dmp Cucku.exe.mdmp)
echo "| dump | dumpsig full (ms) | dumpsig signature (ms) | minidump-stackwalk --json (ms) | full / peer |"
echo "|---|---:|---:|---:|---:|"
for d in "${dumps[@]}"; do
  f="$root/../shared/real-dumps/minidump/$d"
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/$d.json" \
    "$dumpsig analyze --json $f" "$dumpsig analyze --json --signature-only $f" "$peer --json $f" \
    >/dev/null 2>&1
  python3 - "$out/$d.json" "$d" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
full, sig, peer = (x["mean"] * 1000 for x in r)
print(f"| {sys.argv[2]} | {full:.2f} | {sig:.2f} | {peer:.2f} | {full / peer:.2f} |")
PY
done
rm -rf "$out"
