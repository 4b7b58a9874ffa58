//! Writes the seed corpus of every fuzz target (or of those named) to `<out>/<target>/`, one
//! file per seed, named by content, for `scripts/fuzz.sh`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: fuzz-seeds OUT [TARGET...]");
        return ExitCode::from(2);
    };
    let names: Vec<String> = args.collect();
    for target in dumpsig_fuzz_targets::TARGETS {
        if !names.is_empty() && !names.iter().any(|n| n == target.name) {
            continue;
        }
        let dir = out.join(target.name);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            eprintln!("fuzz-seeds: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        let seeds = dumpsig_fuzz_targets::seeds(target.name);
        for (_, bytes) in &seeds {
            let mut hasher = DefaultHasher::new();
            bytes.hash(&mut hasher);
            let file = dir.join(format!("seed-{:016x}", hasher.finish()));
            if let Err(e) = std::fs::write(&file, bytes) {
                eprintln!("fuzz-seeds: {}: {e}", file.display());
                return ExitCode::FAILURE;
            }
        }
        println!("{}: {} seeds", target.name, seeds.len());
    }
    ExitCode::SUCCESS
}
