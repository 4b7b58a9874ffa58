//! The binary's allocator (analyzer/cli/src/allocator.rs): a one-file `analyze` never sets up
//! mimalloc (its start-up is the cost it avoids), a batch does, and the reports are the same
//! bytes either way. mimalloc says when it reserves memory if MIMALLOC_VERBOSE is set.

use std::path::Path;
use std::process::Command;

use crate::support::{workspace_root, BIN};

/// Runs `dumpsig analyze --json` with mimalloc's verbose output on: (stdout, stderr).
fn analyze_verbose(args: &[&Path], extra: &[&str]) -> (String, String) {
    let out = Command::new(BIN)
        .arg("analyze")
        .arg("--json")
        .args(extra)
        .args(args)
        .env("MIMALLOC_VERBOSE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn one_file_runs_on_the_system_allocator_a_batch_on_mimalloc() {
    let root = workspace_root().join("sample-dumps");
    let files = [
        root.join("minidump/x64-dll-crash.dmp"),
        root.join("kernel/x64-bitmap.dmp"),
    ];
    let mut one_by_one = String::new();
    for file in &files {
        let (stdout, stderr) = analyze_verbose(&[file], &[]);
        assert!(
            !stderr.contains("mimalloc: reserved"),
            "{}: mimalloc was set up for one file:\n{stderr}",
            file.display()
        );
        one_by_one.push_str(&stdout);
    }
    let both: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    for jobs in ["1", "2"] {
        let (stdout, stderr) = analyze_verbose(&both, &["--jobs", jobs]);
        assert!(
            stderr.contains("mimalloc: reserved"),
            "-j {jobs}: the batch did not use mimalloc:\n{stderr}"
        );
        assert_eq!(stdout, one_by_one, "-j {jobs}");
    }
    // A directory is a batch too, whatever it holds.
    let (_, stderr) = analyze_verbose(&[&root.join("kernel")], &[]);
    assert!(stderr.contains("mimalloc: reserved"), "{stderr}");
}
