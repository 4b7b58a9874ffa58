#!/usr/bin/env bash
# CAB extraction throughput against cabextract, in one run (hyperfine), for the real report CABs
# (three LZX, one MSZIP) and two generated 64 MiB report CABs (MSZIP, LZX with a 2 MiB window)
# large enough that decoding, not process start, is measured. dumpsig's side is `analyze --signature-only` of the CAB: extraction of
# every member plus the (sub-millisecond) signature analysis of the dump inside; cabextract's is
# `cabextract -q -p` (every member to stdout, here /dev/null) and `cabextract -q -d DIR` (every
# member written as a file, the extraction a person runs). Prints a markdown table for BENCHMARKS.md.
#   bash bench/cab-extract.sh            RUNS=50 bash bench/cab-extract.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
command -v cabextract >/dev/null || { apt-get install -y -qq cabextract >/dev/null 2>&1 || sudo apt-get install -y -qq cabextract >/dev/null; }
cargo build --release -q -j 2 -p dumpsig-cli -p dumpsig-sample-dumps
dumpsig="$root/target/release/dumpsig"
runs="${RUNS:-30}"
# The compression method of a CAB's first folder, from its CFFOLDER entry.
method_of() {
  python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
folder = 36 + (4 if struct.unpack_from("<H", b, 30)[0] & 4 else 0)
t = struct.unpack_from("<H", b, folder + 6)[0] & 0xF
print({0: "stored", 1: "MSZIP", 2: "Quantum", 3: "LZX"}.get(t, "?"))
PY
}
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "| CAB | method | size | dumpsig (ms) | cabextract -p (ms) | dumpsig / cabextract -p | cabextract -d (ms) | dumpsig / cabextract -d |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
gen="$(mktemp -d)"
trap 'rm -rf "$out" "$gen"' EXIT
mib="${GENERATED_MIB:-64}"
"$root/target/release/gen-samples" --cab "$gen/generated-mszip-${mib}MiB.cab" mszip "$mib" >/dev/null
"$root/target/release/gen-samples" --cab "$gen/generated-lzx21-${mib}MiB.cab" lzx21 "$mib" >/dev/null
for cab in "$root"/../shared/real-dumps/cab/*.cab "$gen"/*.cab; do
  name=$(basename "$cab")
  # -i: the generated CABs hold a minidump-like file that is not a parseable minidump, so
  # dumpsig reports an analysis error (exit 1) after extracting every member.
  hyperfine -N -i --warmup 3 --runs "$runs" --export-json "$out/r.json" \
    "$dumpsig analyze --no-progress --json --signature-only $cab" \
    "cabextract -q -p $cab" \
    --prepare "rm -rf $out/x" "cabextract -q -d $out/x $cab" >/dev/null 2>&1
  method=$(method_of "$cab")
  python3 - "$out/r.json" "$name" "$method" "$(stat -c %s "$cab")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
ours, theirs, files = r[0]["mean"] * 1000, r[1]["mean"] * 1000, r[2]["mean"] * 1000
size = int(sys.argv[4])
shown = f"{size/1048576:.1f} MiB" if size >= 1048576 else f"{size//1024} KiB"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {shown} | {ours:.2f} | {theirs:.2f} | {ours/theirs:.2f}x | {files:.2f} | {ours/files:.2f}x |")
PY
done

# The real report CABs are small, so one process per CAB mostly measures process start (about
# 2 ms for dumpsig, 1 ms for cabextract). Throughput without it: COPIES copies of each real CAB
# handled by one process of each tool (dumpsig analyze -j 1 over the folder; cabextract given
# every file), in ms per CAB.
copies="${COPIES:-200}"
echo
echo "Each real CAB x $copies in one process (ms per CAB):"
echo
echo "| CAB | method | dumpsig -j 1 | cabextract -p | dumpsig / cabextract -p | cabextract -d | dumpsig / cabextract -d |"
echo "|---|---|---:|---:|---:|---:|---:|"
for cab in "$root"/../shared/real-dumps/cab/*.cab; do
  name=$(basename "$cab")
  rm -rf "$gen/copies" && mkdir -p "$gen/copies"
  for i in $(seq -w 1 "$copies"); do cp "$cab" "$gen/copies/$i-$name"; done
  files=$(printf '%s ' "$gen"/copies/*.cab)
  hyperfine -N -i --warmup 2 --runs "$runs" --export-json "$out/r.json" \
    "$dumpsig analyze --no-progress --json --signature-only -j 1 $gen/copies" \
    "cabextract -q -p $files" \
    --prepare "rm -rf $out/x" "cabextract -q -d $out/x $files" >/dev/null 2>&1
  method=$(method_of "$cab")
  python3 - "$out/r.json" "$name" "$method" "$copies" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
n = int(sys.argv[4])
ours, theirs, files = (x["mean"] * 1000 / n for x in r[:3])
print(f"| {sys.argv[2]} | {sys.argv[3]} | {ours:.3f} | {theirs:.3f} | {ours/theirs:.2f}x | {files:.3f} | {ours/files:.2f}x |")
PY
done
