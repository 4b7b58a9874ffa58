#!/usr/bin/env bash
# Builds the `dumpsig` binary as it is shipped, into target/dist/dumpsig: statically linked
# (glibc included) and not position-independent.
#
# Why: a tool called once per crash (a WER hook, a CI step) pays its start-up every time, and
# on Linux most of a one-file run's start-up is the dynamic loader's: mapping libc, libm and
# libgcc_s, resolving their symbols and applying ~9,000 relocations to a position-independent
# executable, which writes to (and faults in) every page of its relocated data. Measured in
# BENCHMARKS.md ("One file per process"): about 0.7 ms of a 1.9 ms run on a small kernel dump.
# The trade-off: the executable itself loads at a fixed address (its libraries are part of it,
# so there is nothing else to randomize); heap, stack and mappings are still randomized.
# `cargo build --release` still builds the ordinary dynamic binary (target/release/dumpsig),
# which the tests run.
#   bash scripts/build-release.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
triple="$(rustc -vV | sed -n 's/^host: //p')"
# With an explicit --target, RUSTFLAGS reach only the target's crates, not build scripts and
# proc macros (which must stay dynamic).
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release -q -j "${JOBS:-2}" -p dumpsig-cli --target "$triple"
mkdir -p target/dist
cp "target/$triple/release/dumpsig" target/dist/dumpsig
echo "$root/target/dist/dumpsig"
