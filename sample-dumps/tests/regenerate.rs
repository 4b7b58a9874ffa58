//! The committed sample dumps in `sample-dumps/minidump/` and `sample-dumps/kernel/` must be
//! exactly what the generator produces today: same set of files, byte-identical contents.

use std::collections::BTreeSet;
use std::path::PathBuf;

const HOW_TO_FIX: &str =
    "run `cargo run -p dumpsig-sample-dumps --bin gen-samples` and commit the result";

fn committed_dir(kind: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(kind)
}

/// (file name, bytes) of what the generator makes today.
struct Generated {
    file_name: String,
    bytes: Vec<u8>,
}

#[test]
fn committed_minidumps_match_the_generator() -> Result<(), String> {
    let samples = sample_dumps::minidump_samples()
        .into_iter()
        .map(|s| Generated {
            file_name: s.file_name,
            bytes: s.bytes,
        })
        .collect();
    check(&committed_dir("minidump"), samples)
}

#[test]
fn committed_kernel_dumps_match_the_generator() -> Result<(), String> {
    let samples: Vec<Generated> = sample_dumps::kernel::kernel_samples()
        .into_iter()
        .map(|s| Generated {
            file_name: s.file_name,
            bytes: s.bytes,
        })
        .collect();
    if samples.len() < 9 {
        return Err(format!(
            "the kernel generator made only {} samples",
            samples.len()
        ));
    }
    check(&committed_dir("kernel"), samples)
}

fn check(dir: &std::path::Path, samples: Vec<Generated>) -> Result<(), String> {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}; {HOW_TO_FIX}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let generated: BTreeSet<String> = samples.iter().map(|s| s.file_name.clone()).collect();

    let missing: Vec<&String> = generated.difference(&on_disk).collect();
    let extra: Vec<&String> = on_disk.difference(&generated).collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(format!(
            "sample set differs in {}: missing {missing:?}, unexpected {extra:?}; {HOW_TO_FIX} \
             (and delete files the generator no longer makes)",
            dir.display()
        ));
    }

    let mut stale = Vec::new();
    for sample in &samples {
        let path = dir.join(&sample.file_name);
        let committed = std::fs::read(&path)
            .map_err(|e| format!("cannot read {}: {e}; {HOW_TO_FIX}", path.display()))?;
        if committed != sample.bytes {
            stale.push(format!(
                "{} ({} bytes committed, {} generated)",
                path.display(),
                committed.len(),
                sample.bytes.len()
            ));
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "committed samples differ from the generator output: {}; {HOW_TO_FIX}",
            stale.join(", ")
        ))
    }
}

#[test]
fn every_sample_has_an_expected_subpath() {
    for sample in sample_dumps::minidump_samples() {
        assert_eq!(
            sample.expected_cer_subpath.split('\\').count(),
            5,
            "{}: {}",
            sample.file_name,
            sample.expected_cer_subpath
        );
        assert!(!sample.description.is_empty(), "{}", sample.file_name);
    }
}

/// Every file under `dir`, as `/`-separated paths relative to it.
fn files_under(dir: &std::path::Path, prefix: &str, out: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if e.path().is_dir() {
            files_under(&e.path(), &rel, out);
        } else {
            out.insert(rel);
        }
    }
}

/// The committed tree `dir` holds exactly the generated files, byte for byte.
fn matches_generator(dir: &str, generated: Vec<(String, Vec<u8>)>) -> Result<(), String> {
    let dir = committed_dir(dir);
    let mut on_disk = BTreeSet::new();
    files_under(&dir, "", &mut on_disk);
    let wanted: BTreeSet<String> = generated.iter().map(|(p, _)| p.clone()).collect();
    if on_disk != wanted {
        return Err(format!(
            "{} differs: committed {on_disk:?}, generated {wanted:?}; {HOW_TO_FIX}",
            dir.display()
        ));
    }
    for (relative, bytes) in generated {
        let committed = std::fs::read(dir.join(&relative)).map_err(|e| e.to_string())?;
        if committed != bytes {
            return Err(format!(
                "{relative} differs from the generator; {HOW_TO_FIX}"
            ));
        }
    }
    Ok(())
}

#[test]
fn committed_image_store_matches_the_generator() -> Result<(), String> {
    let generated = sample_dumps::kernel::image_store_files().map_err(|e| e.to_string())?;
    matches_generator("image-store", generated)
}

#[test]
fn committed_symbol_store_matches_the_generator() -> Result<(), String> {
    let generated = sample_dumps::kernel::symbol_store_files().map_err(|e| e.to_string())?;
    matches_generator("symbols", generated)
}
