#!/usr/bin/env bash
# Issue 16's start-up comparison, one run: a tool called once per crash (a WER hook, a CI step)
# pays its start-up every time. Each pair is timed by hyperfine in one invocation (warm-up,
# then RUNS runs each; hyperfine alternates nothing, so the pairs are run twice in opposite
# order and both results are printed):
#   - `dumpsig analyze --signature-only` against `minidump-stackwalk` on one small minidump,
#   - against `kdmp-peer` (bench/peers/kdmp-peer: a small program over the kdmp-parser crate
#     that parses the header and the module list) on one small kernel dump,
#   - against `cabextract -p` on one small report CAB,
#   - `dumpsig --version` alone.
# Peers are installed by bench/install-peers.sh (minidump-stackwalk, hyperfine), apt
# (cabextract) and cargo (kdmp-peer, into target/peer-tools).
#   bash bench/one-file.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${RUNS:-200}"
bash bench/install-peers.sh >/dev/null
command -v cabextract >/dev/null || { apt-get install -y -qq cabextract >/dev/null 2>&1 || sudo apt-get install -y -qq cabextract >/dev/null; }
(cd bench/peers/kdmp-peer && cargo build --release -q -j 2 --target-dir "$root/target/peer-tools/kdmp-peer")
cargo build --release -q -j 2 -p dumpsig-cli -p dumpsig-sample-dumps
dumpsig="$root/target/release/dumpsig"
stackwalk="$root/target/peer-tools/bin/minidump-stackwalk"
kdmp="$root/target/peer-tools/kdmp-peer/release/kdmp-peer"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
minidump="sample-dumps/minidump/x86-dll-crash.dmp"
kernel="sample-dumps/kernel/x64-bitmap.dmp"
# A small report CAB as WER writes one: the minidump above, compressed, with its metadata.
"$root/target/release/gen-samples" --cab "$work/small.cab" mszip --holding "$minidump" >/dev/null
cab="$work/small.cab"
echo "| file | size |"
echo "|---|---:|"
for f in "$minidump" "$kernel" "$cab"; do
  echo "| $(basename "$f") | $(stat -c %s "$f") bytes |"
done
echo
pair() {
  hyperfine -N --warmup 20 --runs "$runs" --export-markdown "$work/t.md" "$@" >/dev/null 2>&1
  tail -n +3 "$work/t.md"
}
echo "| command | mean [ms] | min [ms] | max [ms] | relative |"
echo "|:---|---:|---:|---:|---:|"
pair "$dumpsig analyze --signature-only $minidump" "$stackwalk $minidump"
pair "$stackwalk $minidump" "$dumpsig analyze --signature-only $minidump"
pair "$dumpsig analyze --signature-only $kernel" "$kdmp $kernel"
pair "$kdmp $kernel" "$dumpsig analyze --signature-only $kernel"
pair "$dumpsig analyze --signature-only $cab" "cabextract -p $cab"
pair "cabextract -p $cab" "$dumpsig analyze --signature-only $cab"
pair "$dumpsig --version"
