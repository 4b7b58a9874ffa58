//! Partial results: generated minidumps damaged in one stream the keys do not need give the
//! keys of the undamaged dump and a warning naming the stream, on both paths and in `bucket`;
//! damage to both essentials (module list and exception stream) is a clear error.

use sample_dumps::minidump::damage::{damaged, Damage};
use sample_dumps::minidump::samples::specs;
use serde_json::Value;

use crate::support::{run, scratch_dir, BIN};

const KEYS: [&str; 3] = ["cer_subpath", "failure_bucket", "failure_id_hash"];

fn analyze(path: &std::path::Path, extra: &[&str]) -> Value {
    crate::support::analyze_json(BIN, extra, path)
}

#[test]
fn damaged_streams_keep_the_keys_and_are_named() {
    let dir = scratch_dir("damaged");
    // The crashing x86 and x64 samples: exception, modules, threads, stacks.
    for sample in specs()
        .into_iter()
        .filter(|s| s.file_name.ends_with("dll-crash.dmp"))
    {
        let clean_path = dir.join(sample.file_name);
        std::fs::write(&clean_path, sample_dumps::minidump::build(&sample.spec)).unwrap();
        for damage in Damage::ALL {
            let path = dir.join(format!("{}-{}.dmp", damage.name(), sample.file_name));
            std::fs::write(&path, damaged(&sample.spec, damage)).unwrap();
            for mode in [&[][..], &["--signature-only"][..]] {
                let clean = analyze(&clean_path, mode);
                let hurt = analyze(&path, mode);
                let shown = format!("{} {mode:?}", path.display());
                if damage == Damage::Essentials {
                    let error = hurt["error"].as_str().unwrap_or_default();
                    assert!(error.contains("exception stream"), "{shown}: {error}");
                    continue;
                }
                assert_eq!(hurt["error"], Value::Null, "{shown}");
                for key in KEYS {
                    assert_eq!(hurt[key], clean[key], "{shown}: {key}");
                }
                let warnings = hurt["warnings"].as_array().cloned().unwrap_or_default();
                assert!(
                    warnings.iter().any(|w| w["kind"] == "damaged_stream"
                        && w["stream_type"] == damage.stream_type()
                        && w["offset"].is_string()
                        && w["message"].is_string()),
                    "{shown}: {warnings:?}"
                );
                assert_eq!(clean["warnings"], serde_json::json!([]), "{shown}");
            }
        }
    }
    // `bucket` files every damaged dump but the one without essentials, and counts them.
    let share = dir.join("share");
    let r = run(
        BIN,
        &[
            "bucket",
            "--share",
            share.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(
        r.code(),
        1,
        "the two essentials-damaged dumps fail: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("2 failed"),
        "only the essentials-damaged dumps fail: {}",
        r.stderr
    );
    // 2 clean + 14 damaged dumps filed in two buckets of 8 (5 report files kept each).
    assert!(
        r.stderr
            .contains("10 filed, 6 counted only, 0 already filed, 0 discarded, 2 failed"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The whole batch over hostile inputs runs under an address-space limit (as containers set
/// one): no count from a file reserves memory before it is checked, so nothing aborts.
#[cfg(unix)]
#[test]
fn hostile_batch_runs_under_an_address_space_limit() {
    let dir = scratch_dir("ulimit");
    for sample in specs()
        .into_iter()
        .filter(|s| s.file_name.ends_with("dll-crash.dmp"))
    {
        for damage in Damage::ALL {
            let path = dir.join(format!("{}-{}", damage.name(), sample.file_name));
            std::fs::write(path, damaged(&sample.spec, damage)).unwrap();
        }
    }
    for dump in std::fs::read_dir(crate::support::real_dump("minidump")).unwrap() {
        let dump = dump.unwrap().path();
        let bytes = std::fs::read(&dump).unwrap();
        let name = dump.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::write(dir.join(format!("half-{name}")), &bytes[..bytes.len() / 2]).unwrap();
    }
    let share = dir.join("share");
    for command in [
        format!("analyze --json --jobs 2 {}", dir.display()),
        format!(
            "bucket --jobs 2 --share {} {}",
            share.display(),
            dir.display()
        ),
    ] {
        // 2 GiB of address space: a reader trusting a count of billions would abort.
        let script = format!("ulimit -v 2097152 && exec {BIN} {command}");
        let r = run("sh", &["-c", &script]);
        assert!(
            matches!(r.code(), 0 | 1),
            "{command}: exit {:?}\n{}",
            r.status,
            r.stderr
        );
        assert!(!r.stderr.contains("memory allocation"), "{}", r.stderr);
        assert!(
            r.stderr.contains(" analyzed") || r.stderr.contains(" filed"),
            "{}",
            r.stderr
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
