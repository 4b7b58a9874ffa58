#!/usr/bin/env bash
# Cost of analyzing a kernel dump must not depend on its size: compares wall time and peak RSS
# of `dumpsig analyze --json` on a sparse 16 GiB full dump and on a 64 MiB full dump of the
# same content (both generated here, never committed). Prints a markdown table.
#
#   bash bench/kernel-size.sh          # RUNS=20 by default
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
runs="${RUNS:-20}"
cargo build --release -q -j 2 -p dumpsig-cli -p dumpsig-sample-dumps
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
./target/release/gen-samples --sparse "$work/big-16GiB.dmp" 16GiB >/dev/null
./target/release/gen-samples --sparse "$work/small-64MiB.dmp" 64MiB >/dev/null
echo "| dump | file size | on disk | mean wall (ms) | max wall (ms) | peak RSS (KiB, max of runs) |"
echo "|---|---:|---:|---:|---:|---:|"
for f in "$work/small-64MiB.dmp" "$work/big-16GiB.dmp"; do
  python3 - "$root/target/release/dumpsig" "$f" "$runs" <<'PY'
import os, resource, subprocess, sys, time
exe, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
walls, rss = [], 0
for _ in range(runs):
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.execv(exe, [exe, "analyze", "--json", path])
    _, status, usage = os.wait4(pid, 0)
    walls.append((time.perf_counter() - t) * 1000)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"dumpsig failed on {path}")
    rss = max(rss, usage.ru_maxrss)
st = os.stat(path)
print(f"| {os.path.basename(path)} | {st.st_size / 2**30:.2f} GiB | {st.st_blocks * 512 // 1024} KiB | "
      f"{sum(walls) / len(walls):.2f} | {max(walls):.2f} | {rss} |")
PY
done
