#!/usr/bin/env bash
# Installs the peer tools the benchmarks compare against, into target/peer-tools (not
# committed, reused between runs):
#   - minidump-stackwalk 0.27.0 (rust-minidump's CLI), built from crates.io
#   - hyperfine, from Debian's packages, to time whole commands
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="$root/target/peer-tools"
mkdir -p "$tools"
if [ ! -x "$tools/bin/minidump-stackwalk" ]; then
  cargo install --locked --quiet -j "${JOBS:-2}" --root "$tools" minidump-stackwalk --version 0.27.0
fi
if ! command -v hyperfine >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq hyperfine >/dev/null
  fi
fi
echo "minidump-stackwalk: $("$tools/bin/minidump-stackwalk" --version)"
echo "hyperfine: $(hyperfine --version)"
