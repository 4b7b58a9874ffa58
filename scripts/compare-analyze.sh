#!/usr/bin/env bash
# Compares what two dumpsig binaries print for every bundled sample and every real dump:
# `analyze` as JSON, text and CSV, with and without symbols and the image store, and the
# signature path. Used to show that a refactoring changed no byte of output.
#
#   scripts/compare-analyze.sh OLD_BIN NEW_BIN
#
# Exit 0 when every output is byte-identical; 1 with the diff otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: compare-analyze.sh OLD_BIN NEW_BIN}
new=${2:?usage: compare-analyze.sh OLD_BIN NEW_BIN}
inputs=(sample-dumps ../shared/real-dumps)
syms=(--symbols ../shared/real-dumps/symbols/breakpad --symbols sample-dumps/symbols
      --image-store sample-dumps/image-store)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

snapshot() {
  local bin=$1 dir=$2
  mkdir -p "$dir"
  # Exit statuses are part of the output: a changed status is a changed behaviour.
  { "$bin" analyze --json --jobs 1 --no-progress "${inputs[@]}"; echo "exit $?"; } >"$dir/json" 2>"$dir/json.err" || true
  { "$bin" analyze --json --jobs 1 --no-progress "${syms[@]}" "${inputs[@]}"; echo "exit $?"; } >"$dir/json-symbols" 2>"$dir/json-symbols.err" || true
  { "$bin" analyze --json --signature-only --jobs 1 --no-progress "${inputs[@]}"; echo "exit $?"; } >"$dir/json-signature" 2>"$dir/json-signature.err" || true
  { "$bin" analyze --jobs 1 --no-progress "${syms[@]}" "${inputs[@]}"; echo "exit $?"; } >"$dir/text" 2>"$dir/text.err" || true
  { "$bin" analyze --csv --jobs 1 --no-progress "${syms[@]}" "${inputs[@]}"; echo "exit $?"; } >"$dir/csv" 2>"$dir/csv.err" || true
}

snapshot "$old" "$out/old"
snapshot "$new" "$out/new"
# The summary line on stderr carries the elapsed time; everything else must match.
sed -i -E 's/ in [0-9.]+m?s$/ in <time>/' "$out"/old/*.err "$out"/new/*.err
if diff -r "$out/old" "$out/new"; then
  echo "compare-analyze: identical ($(cat "$out"/new/json | wc -l) JSON lines, $(du -sb "$out/new" | cut -f1) bytes of output)"
else
  echo "compare-analyze: outputs differ" >&2
  exit 1
fi
