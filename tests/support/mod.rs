//! Helpers for dumpsig's end-to-end tests: locating `../shared`, running the command line as a
//! process with a time limit, and reading its JSON Lines.

pub mod http;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The `dumpsig` binary under test: the one `cargo build` makes for users.
pub const BIN: &str = env!("CARGO_BIN_EXE_dumpsig");

/// The workspace root (this test is a target of `analyzer/cli`).
pub fn workspace_root() -> PathBuf {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"));
    cli.ancestors().nth(2).unwrap_or(cli).to_path_buf()
}

/// Whether this run is CI's (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Whether a test may go on: `true` when `present`; otherwise, outside CI, prints on stderr
/// that the test `name` is skipped because `what` is missing (and how to get it) and returns
/// `false`; under CI it fails the test.
pub fn require(present: bool, name: &str, what: &str) -> bool {
    if present {
        return true;
    }
    assert!(!in_ci(), "{name}: {what} (CI=true: a test may not skip)");
    eprintln!("skipped {name}: {what}");
    false
}

/// `../shared` beside the workspace (DEVELOPERS.md: CI clones the project with it beside).
pub fn shared_dir() -> PathBuf {
    let dir = workspace_root().join("../shared");
    assert!(
        dir.join("real-dumps").is_dir(),
        "../shared/real-dumps not found beside the workspace at {}",
        dir.display()
    );
    dir
}

/// `../shared/real-dumps/<rel>`.
pub fn real_dump(rel: &str) -> PathBuf {
    shared_dir().join("real-dumps").join(rel)
}

/// What a finished `dumpsig` process left behind.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Exit code (`-1` when killed by a signal).
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Parses stdout as JSON Lines.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// Runs `bin` with `args`, killing it after `limit` (a hang is a test failure, not a stuck CI).
pub fn run_with_limit<S: AsRef<std::ffi::OsStr>>(bin: &str, args: &[S], limit: Duration) -> Run {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("stdout piped");
    let mut err = child.stderr.take().expect("stderr piped");
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait on child") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "dumpsig did not finish within {limit:?}: {:?}",
                args.iter()
                    .map(|a| a.as_ref().to_owned())
                    .collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    }
}

/// Runs `bin` with a generous default limit.
pub fn run<S: AsRef<std::ffi::OsStr>>(bin: &str, args: &[S]) -> Run {
    run_with_limit(bin, args, Duration::from_secs(120))
}

/// The rows of the "Expected CER error subpaths" table in `real-dumps/README.md`:
/// (file relative to real-dumps, expected subpath).
pub fn expected_subpaths() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(shared_dir().join("real-dumps/README.md"))
        .expect("read real-dumps/README.md");
    readme
        .lines()
        .filter(|l| l.starts_with("| minidump/") || l.starts_with("| cab/"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let file = cells.get(1)?.to_string();
            let last = cells.get(4)?;
            // The subpath is the first backquoted span of the last column.
            let subpath = last.split('`').nth(1)?.to_string();
            Some((file, subpath))
        })
        .collect()
}

/// Runs `bin analyze --json [extra...] path` and returns its one JSON record.
pub fn analyze_json(bin: &str, extra: &[&str], path: &Path) -> serde_json::Value {
    let mut args: Vec<&str> = vec!["analyze", "--json"];
    args.extend_from_slice(extra);
    let path_str = path.to_str().expect("utf-8 path");
    args.push(path_str);
    let r = run(bin, &args);
    let mut lines = r.json_lines();
    assert_eq!(
        lines.len(),
        1,
        "one record per input: {}\n{}",
        r.stdout,
        r.stderr
    );
    lines.remove(0)
}

/// A fresh scratch directory unique to this test process and `tag`.
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dumpsig-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Files `minidump/test.dmp` into the share at `share` (made when missing) with the binary,
/// and checks that it worked: the common start of the share tests.
pub fn file_test_dump(share: &Path) {
    let r = run(
        BIN,
        &[
            "bucket".as_ref(),
            "--share".as_ref(),
            share.as_os_str(),
            real_dump("minidump/test.dmp").as_os_str(),
        ],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
}

/// A kernel report's stack as `(module+0x<offset>, trust)` pairs, innermost first.
pub fn kernel_stack(report: &serde_json::Value) -> Vec<(String, String)> {
    report["kernel"]["stack"]
        .as_array()
        .expect("a stack")
        .iter()
        .map(|f| {
            let offset =
                u64::from_str_radix(f["offset"].as_str().unwrap().trim_start_matches("0x"), 16)
                    .unwrap();
            (
                format!("{}+0x{offset:x}", f["module"].as_str().unwrap()),
                f["trust"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
