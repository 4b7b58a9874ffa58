//! Bad input of every kind: a clear one-line error naming the file, a non-zero exit status,
//! the other inputs still analyzed, no panic, no hang.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{real_dump, run_with_limit};
use serde_json::Value;

use crate::support::BIN;

fn scratch(name: &str) -> PathBuf {
    crate::support::scratch_dir(name)
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// Ten cut points spread over the file, from inside the header to one byte short.
fn cut_points(len: usize) -> [usize; 10] {
    [
        4,
        31,
        len / 10,
        len / 5,
        len / 3,
        len / 2,
        len * 2 / 3,
        len * 3 / 4,
        len * 9 / 10,
        len - 1,
    ]
}

fn real_minidumps() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(real_dump("minidump"))
        .expect("minidump dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name != "invalid-range.dmp" && name != "invalid-record-count.dmp"
        })
        .collect();
    v.sort();
    v
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write input");
    p
}

/// The error of the record whose path ends with `name` (empty when none).
fn error_of(records: &[Value], name: &str) -> String {
    records
        .iter()
        .find(|r| r["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .and_then(|r| r["error"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// Runs `analyze --json --jobs 2` over `good` and `inputs`; one record per input, in order.
fn analyze_all(good: &Path, inputs: &[PathBuf]) -> (crate::support::Run, Vec<Value>) {
    let mut args: Vec<String> = vec![
        "analyze".into(),
        "--json".into(),
        "--jobs".into(),
        "2".into(),
    ];
    args.push(good.display().to_string());
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    // Generous for a debug build on a loaded CI machine; a hang runs into it.
    let r = run_with_limit(BIN, &args, Duration::from_secs(300));
    assert!(!r.stderr.contains("panicked"), "no panic:\n{}", r.stderr);
    let records = r.json_lines();
    assert_eq!(
        records.len(),
        inputs.len() + 1,
        "one record per input, in order"
    );
    assert_eq!(records[0]["path"], good.display().to_string());
    assert_eq!(
        records[0]["cer_subpath"], "test_app.exe\\0.0.0.0\\test_app.exe\\0.0.0.0\\0000429e",
        "the good input is still analyzed"
    );
    (r, records)
}

#[test]
fn every_bad_input_fails_alone_and_clearly() {
    let dir = scratch("bad");
    let bad = vec![
        real_dump("minidump/invalid-range.dmp"),
        real_dump("minidump/invalid-record-count.dmp"),
        write(&dir, "empty.dmp", &[]),
        write(&dir, "random.dmp", &noise(4096, 0x9E37_79B9_7F4A_7C15)),
        write(
            &dir,
            "mdmp-then-noise.dmp",
            &[b"MDMP".as_slice(), &noise(512, 7)].concat(),
        ),
        dir.join("does-not-exist.dmp"),
    ];
    let (r, records) = analyze_all(&real_dump("minidump/test.dmp"), &bad);
    assert_eq!(
        r.code(),
        1,
        "exit status 1 when any input failed; stderr:\n{}",
        r.stderr
    );
    let error_lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("dumpsig: error: "))
        .collect();
    assert_eq!(
        error_lines.len(),
        bad.len(),
        "one stderr line per bad input:\n{}",
        r.stderr
    );
    for (record, path) in records[1..].iter().zip(&bad) {
        let shown = path.display().to_string();
        assert_eq!(record["path"], shown.as_str());
        let error = record["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{shown} must fail: {record}"));
        assert!(!error.contains('\n'), "one line: {error}");
        assert!(!error.contains("internal error"), "{shown}: {error}");
        assert!(
            error_lines
                .iter()
                .any(|l| l.contains(&shown) && l.contains(error)),
            "stderr names {shown} with its problem"
        );
        assert_eq!(record["cer_subpath"], Value::Null);
    }
    // The problems are told in words.
    let error_of = |name: &str| error_of(&records, name);
    assert!(error_of("empty.dmp").contains("empty"));
    assert!(error_of("random.dmp").contains("not a crash dump"));
    assert!(error_of("does-not-exist.dmp").contains("cannot read"));
    // Both real damaged dumps point their stream directory into the 32-byte header
    // (invalid-range.dmp at 0x2, invalid-record-count.dmp at 0x1e): nothing in them can be
    // trusted, and the error says where.
    for (name, dir) in [
        ("invalid-range.dmp", "0x2"),
        ("invalid-record-count.dmp", "0x1e"),
    ] {
        let error = error_of(name);
        assert!(
            error.contains(&format!(
                "malformed minidump header at offset 0xc: the stream directory at {dir} overlaps the 32-byte header"
            )),
            "{name}: {error}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every real minidump cut at ten points: either a clear one-line error (the header,
/// the directory or the exception stream is gone, or nothing identifies the crash), or a
/// partial report whose warnings name each damaged stream. Never a panic, never silence.
#[test]
fn cut_dumps_fail_clearly_or_report_what_is_damaged() {
    let dir = scratch("cuts");
    let mut cuts = Vec::new();
    for dump in real_minidumps() {
        let bytes = std::fs::read(&dump).expect("read real dump");
        let stem = dump
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("dump")
            .to_owned();
        for cut in cut_points(bytes.len()) {
            cuts.push(write(&dir, &format!("{stem}-cut{cut}.dmp"), &bytes[..cut]));
        }
    }
    assert_eq!(cuts.len(), 18 * 10, "18 real minidumps, 10 cuts each");
    let (r, records) = analyze_all(&real_dump("minidump/test.dmp"), &cuts);
    let (mut failed, mut partial) = (0, 0);
    for (record, path) in records[1..].iter().zip(&cuts) {
        let shown = path.display().to_string();
        match record["error"].as_str() {
            Some(error) => {
                failed += 1;
                assert!(!error.contains('\n'), "one line: {error}");
                assert!(!error.contains("internal error"), "{shown}: {error}");
                assert!(
                    r.stderr
                        .contains(&format!("dumpsig: error: {shown}: {error}")),
                    "stderr names {shown} with its problem"
                );
            }
            None => {
                partial += 1;
                let warnings = record["warnings"].as_array().cloned().unwrap_or_default();
                assert!(
                    warnings.iter().any(|w| w["kind"] == "damaged_stream"
                        && w["stream"].is_string()
                        && w["offset"].is_string()),
                    "{shown}: a cut dump that is analyzed names what is damaged: {record}"
                );
                assert!(record["cer_subpath"].is_string(), "{shown}");
            }
        }
    }
    assert!(
        failed > 0 && partial > 0,
        "{failed} failed, {partial} partial"
    );
    // A cut inside the header is an error that says so.
    let error_of = |name: &str| error_of(&records, name);
    assert!(
        error_of("test-cut4.dmp").contains("minidump header"),
        "{}",
        error_of("test-cut4.dmp")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn text_mode_reports_errors_on_stderr_and_exit_status() {
    let dir = scratch("text");
    let empty = write(&dir, "empty.dmp", &[]);
    let good = real_dump("minidump/null_read_av.dmp");
    let r = run_with_limit(
        BIN,
        &[
            "analyze".to_owned(),
            empty.display().to_string(),
            good.display().to_string(),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.code(), 1);
    assert!(
        r.stderr.contains(&format!(
            "dumpsig: error: {}: the file is empty",
            empty.display()
        )),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout
            .contains("CER subpath      crashme.exe\\0.0.0.0\\crashme.exe\\0.0.0.0\\0000a6cd"),
        "{}",
        r.stdout
    );
    assert!(r.stderr.contains("1 analyzed, 1 failed"));
    let ok = run_with_limit(
        BIN,
        &["analyze".to_owned(), good.display().to_string()],
        Duration::from_secs(60),
    );
    assert_eq!(ok.code(), 0);
    let usage = run_with_limit(BIN, &["analyze"], Duration::from_secs(60));
    assert_eq!(usage.code(), 2, "usage errors exit 2");
    let _ = std::fs::remove_dir_all(&dir);
}
