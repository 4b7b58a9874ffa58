//! What CI runs of the fuzzing: every committed regression input of every target
//! (`fuzz/regressions/<target>/`), and every seed, through the target's body. A panic fails.

use std::path::Path;

use dumpsig_fuzz_targets::{replay, seeds, TARGETS};

#[test]
fn committed_regression_inputs_replay_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for target in TARGETS {
        let dir = root.join(target.name);
        let mut inputs: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (every target has a folder)", dir.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
            .collect();
        inputs.sort();
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            replayed += 1;
            if let Err(e) = replay(target, &input.display().to_string(), &data) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(replayed > 0, "no regression input at all");
}

#[test]
fn every_target_has_seeds_and_survives_them() {
    for target in TARGETS {
        let seeds = seeds(target.name);
        assert!(!seeds.is_empty(), "{}: no seed", target.name);
        for (name, data) in seeds {
            replay(target, &name, &data).unwrap();
        }
    }
}

#[test]
fn every_target_has_a_cargo_fuzz_binary() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/Cargo.toml"),
    )
    .unwrap();
    for target in TARGETS {
        let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/fuzz_targets")
            .join(format!("{}.rs", target.name));
        let body =
            std::fs::read_to_string(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        assert!(
            body.contains(&format!("target(\"{}\")", target.name)),
            "{} runs another target",
            bin.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{}\"", target.name)),
            "fuzz/Cargo.toml has no [[bin]] {}",
            target.name
        );
    }
}
