#!/usr/bin/env bash
# Issue 16's start-up comparison: a tool called once per crash (a WER hook, a CI step) pays
# its start-up every time. Per file, dumpsig and its peer are timed in alternating rounds
# (bench/alternate.py: ROUNDS rounds of RUNS hyperfine runs each, order reversed every other
# round), so the machine's load changes hit both alike:
#   - `dumpsig analyze --signature-only` against `minidump-stackwalk` on one small minidump,
#   - against `kdmp-peer` (bench/peers/kdmp-peer: a small program over the kdmp-parser crate
#     that parses the header and the module list) on one small kernel dump,
#   - against `cabextract -p` on one small report CAB,
#   - `dumpsig --version` alone.
# dumpsig is the shipped build (scripts/build-release.sh: static, not position-independent);
# the ordinary `cargo build --release` binary is timed beside it for reference.
# Peers are installed by bench/install-peers.sh (minidump-stackwalk, hyperfine), apt
# (cabextract) and cargo (kdmp-peer, into target/peer-tools).
#   bash bench/one-file.sh            # ROUNDS=8 RUNS=60
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
rounds="${ROUNDS:-8}"
runs="${RUNS:-60}"
bash bench/install-peers.sh >/dev/null
command -v cabextract >/dev/null || { apt-get install -y -qq cabextract >/dev/null 2>&1 || sudo apt-get install -y -qq cabextract >/dev/null; }
(cd bench/peers/kdmp-peer && cargo build --release -q -j 2 --target-dir "$root/target/peer-tools/kdmp-peer")
cargo build --release -q -j 2 -p dumpsig-cli -p dumpsig-sample-dumps
shipped="$(bash scripts/build-release.sh)"
dynamic="$root/target/release/dumpsig"
stackwalk="$root/target/peer-tools/bin/minidump-stackwalk"
kdmp="$root/target/peer-tools/kdmp-peer/release/kdmp-peer"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
minidump="sample-dumps/minidump/x86-dll-crash.dmp"
kernel="sample-dumps/kernel/x64-bitmap.dmp"
# A small report CAB as WER writes one: the minidump above, compressed, with its metadata.
"$root/target/release/gen-samples" --cab "$work/small.cab" mszip --holding "$minidump" >/dev/null
cab="$work/small.cab"
for f in "$minidump" "$kernel" "$cab"; do
  echo "- $(basename "$f"): $(stat -c %s "$f") bytes"
done
echo
compare() { # file, peer label, peer command
  local file="$1" label="$2" peer="$3"
  echo "#### $(basename "$file")"
  echo
  python3 bench/alternate.py "$rounds" "$runs" \
    "dumpsig (shipped build)=$shipped analyze --signature-only $file" \
    "$label=$peer" \
    "dumpsig (cargo build --release)=$dynamic analyze --signature-only $file"
  echo
}
compare "$minidump" "minidump-stackwalk" "$stackwalk $minidump"
compare "$kernel" "kdmp-peer" "$kdmp $kernel"
compare "$cab" "cabextract -p" "cabextract -p $cab"
echo "#### --version"
echo
python3 bench/alternate.py "$rounds" "$runs" "dumpsig --version (shipped build)=$shipped --version" \
  "dumpsig --version (cargo build --release)=$dynamic --version"
