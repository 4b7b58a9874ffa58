#!/usr/bin/env bash
# Fuzzing dumpsig with cargo-fuzz (libFuzzer, AddressSanitizer) on the nightly toolchain.
#
#   scripts/fuzz.sh run SECONDS [TARGET...]   fuzz each target (all by default) for SECONDS
#   scripts/fuzz.sh keep [N]                  copy N (default 8) corpus inputs of each target,
#                                             spread over its sizes, into fuzz/regressions/
#   scripts/fuzz.sh replay                    what CI does: every committed regression input
#                                             and seed through every target, on stable
#   scripts/fuzz.sh list                      the targets
#
# Seeds are made at run time by the generator and read from ../shared/real-dumps (never copied
# into the project): fuzz/seeds/<target>/. The growing corpus is fuzz/corpus/<target>/ and
# crashes land in fuzz/artifacts/<target>/; a crash is also copied to fuzz/regressions/<target>/
# so that the replay keeps it fixed. Each run appends one line per target to
# fuzz/runs.tsv (date, target, seconds, executions, corpus size, crashes), the figures
# docs/fuzzing.md quotes. cargo-fuzz is installed when missing.
set -euo pipefail
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

all_targets() {
  for f in fuzz/fuzz_targets/*.rs; do basename "$f" .rs; done
}

# Inputs no larger than this: a dump's headers and first structures, where the parsing is.
max_len() {
  case "$1" in
    share_text|known_issue_rules|symbol_path|wer_metadata|cper) echo 65536 ;;
    *) echo 1048576 ;;
  esac
}

ensure_cargo_fuzz() {
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
  fi
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
}

cmd="${1:-}"
shift || true
case "$cmd" in
  list)
    all_targets
    ;;
  replay)
    cargo test -j 2 -p dumpsig-fuzz-targets
    ;;
  keep)
    n="${1:-8}"
    # N inputs per target spread over its corpus sorted by size, at most 256 KiB each: what
    # the replay keeps exercising. The real dumps in ../shared are read, never copied into the
    # project: an input sharing any 48 bytes (filler aside) with one of them
    # is not kept.
    python3 - "$n" ../shared/real-dumps fuzz/corpus fuzz/regressions $(all_targets) <<'PY'
import os, shutil, sys
n, real_dir, corpus_dir, kept_dir, targets = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
windows = set()
# The PDB fixtures (fetched from PyPI, never committed) count as outside files too.
for root, _, files in [w for d in (real_dir, "target/pdb-fixtures") for w in os.walk(d)]:
    for name in files:
        data = open(os.path.join(root, name), "rb").read()
        for i in range(0, len(data) - 32 + 1, 16):
            chunk = data[i:i + 32]
            # Filler every dump has (zeros, `PAGE` repeated) is not a copy of anything.
            if len(set(chunk)) > 4:
                windows.add(hash(chunk))
# What the project's own generator writes (sample-dumps/) is the project's, whatever a real
# dump also holds (a build string, a structure layout).
generated = b"".join(
    open(os.path.join(root, f), "rb").read()
    for root, _, files in os.walk("sample-dumps")
    for f in files
    if not f.endswith((".rs", ".md", ".toml"))
)
def shares(data):
    # A common run of 48 bytes holds a 32-byte window at a 16-aligned offset of the real file.
    for i in range(0, max(0, len(data) - 31)):
        chunk = data[i:i + 32]
        if hash(chunk) in windows and chunk not in generated:
            return True
    return False
for t in targets:
    src = os.path.join(corpus_dir, t)
    if not os.path.isdir(src):
        continue
    sized = sorted((os.path.getsize(os.path.join(src, f)), f) for f in os.listdir(src))
    own = [(size, f) for size, f in sized
           if size <= 256 * 1024 and not shares(open(os.path.join(src, f), "rb").read())]
    picked = sorted({own[k * len(own) // n][1] for k in range(n)}) if own else []
    os.makedirs(os.path.join(kept_dir, t), exist_ok=True)
    for f in picked:
        shutil.copy(os.path.join(src, f), os.path.join(kept_dir, t, "corpus-" + f))
    print(f"{t}: kept {len(picked)} of {len(sized)} (not derived from real dumps: {len(own)})")
PY
    ;;
  run)
    seconds="${1:?usage: scripts/fuzz.sh run SECONDS [TARGET...]}"
    shift
    targets=("$@")
    [ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
    ensure_cargo_fuzz
    # The PDB targets need real PDBs to start from: without them a run only ever sees the
    # container's magic check fail (a 30-minute run once stayed at 77 edges that way).
    case " ${targets[*]} " in
      *" pdb_to_breakpad "*|*" store_response "*) bash scripts/fetch-pdb-fixtures.sh ;;
    esac
    cargo run -q -j 2 -p dumpsig-fuzz-targets --bin fuzz-seeds -- fuzz/seeds "${targets[@]}"
    (cd fuzz && cargo +nightly fuzz build -O)
    mkdir -p fuzz/logs
    for t in "${targets[@]}"; do
      mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" "fuzz/regressions/$t"
      log="fuzz/logs/$t.log"
      set +e
      (cd fuzz && cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/") >"$log" 2>&1
      status=$?
      set -e
      execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
      corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
      crashes=0
      for a in fuzz/artifacts/"$t"/*; do
        [ -f "$a" ] || continue
        case "$(basename "$a")" in
          # libFuzzer also writes inputs that merely ran long (-report_slow_units, 10 s): under
          # AddressSanitizer on a loaded machine that is not a finding by itself. They stay in
          # artifacts/ to be timed in a release build, and are neither counted nor kept.
          slow-unit-*)
            echo "fuzz: $t: slow unit $a (not a crash; time it with a release build)" >&2
            continue
            ;;
        esac
        crashes=$((crashes + 1))
        cp "$a" "fuzz/regressions/$t/$(basename "$a")"
      done
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$t" "$seconds" "${execs:-?}" \
        "$corpus" "$crashes" | tee -a fuzz/runs.tsv
      if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        echo "fuzz: $t stopped with status $status without an artifact; see $log" >&2
      fi
    done
    ;;
  *)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
