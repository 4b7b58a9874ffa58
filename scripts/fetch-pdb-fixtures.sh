#!/usr/bin/env bash
# Fetches real MSVC PDBs for the PDB-to-Breakpad converter's tests, and their references made
# by dump_syms, into target/pdb-fixtures/ (never committed):
#   - the PDBs: PyPI `debugpy` 1.8.22, wheel debugpy-1.8.22-cp312-cp312-win32.whl (MIT), path
#     debugpy/_vendored/pydevd/pydevd_attach_to_process/<name>.pdb;
#   - the references: dump_syms 2.3.9 (crates.io) run on each PDB alone.
# Idempotent: does nothing when the fixtures are there.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/target/pdb-fixtures"
names=(attach_x86 attach_amd64 inject_dll_x86)
have=1
for n in "${names[@]}"; do
  [ -s "$out/$n.pdb" ] && [ -s "$out/$n.sym" ] || have=0
done
[ "$have" = 1 ] && { echo "pdb fixtures: already in $out"; exit 0; }
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: --platform win32 \
  --python-version 3.12 --dest "$work" debugpy==1.8.22
python3 - "$work" "$out" "${names[@]}" <<'PY'
import glob, sys, zipfile
work, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
wheel = glob.glob(f"{work}/debugpy-1.8.22-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    for n in names:
        data = z.read(f"debugpy/_vendored/pydevd/pydevd_attach_to_process/{n}.pdb")
        open(f"{out}/{n}.pdb", "wb").write(data)
PY
tools="$root/target/peer-tools"
if [ ! -x "$tools/bin/dump_syms" ]; then
  cargo install --quiet -j 2 --locked --root "$tools" dump_syms --version 2.3.9 \
    --no-default-features --features cli
fi
for n in "${names[@]}"; do
  "$tools/bin/dump_syms" "$out/$n.pdb" >"$out/$n.sym"
done
echo "pdb fixtures: written to $out"
