//! Inputs as users give them: links inside folders, special files, folders without dumps,
//! `--files-from`, archives, a symbol store, `--jobs` limits, and option folders that do not
//! exist; each with its exact message and exit status.

use std::path::Path;
use std::time::Duration;

use crate::support::{real_dump, run, run_with_limit, scratch_dir, workspace_root, BIN};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

fn paths(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["path"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[cfg(unix)]
#[test]
fn links_in_folders_are_followed_once_and_cannot_loop() {
    use std::os::unix::fs::symlink;
    let dir = scratch_dir("links");
    let outside = dir.join("outside");
    let walked = dir.join("walked");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(walked.join("sub")).unwrap();
    std::fs::copy(real_dump("minidump/test.dmp"), outside.join("a.dmp")).unwrap();
    std::fs::copy(
        real_dump("minidump/null_read_av.dmp"),
        walked.join("sub/b.dmp"),
    )
    .unwrap();
    // A link to a file outside, a link to a folder outside, a link to a file inside (reached
    // directly too), and a link to the walked folder itself (a loop).
    symlink(outside.join("a.dmp"), walked.join("link-a.dmp")).unwrap();
    symlink(&outside, walked.join("link-outside")).unwrap();
    symlink(walked.join("sub/b.dmp"), walked.join("link-b.dmp")).unwrap();
    symlink(&walked, walked.join("sub/loop")).unwrap();
    let r = run_with_limit(
        BIN,
        &["analyze", "--json", &s(&walked)],
        Duration::from_secs(60),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let found = paths(&r.stdout);
    let want: Vec<String> = ["link-a.dmp", "link-outside/a.dmp", "sub/b.dmp"]
        .iter()
        .map(|p| s(&walked.join(p)))
        .collect();
    assert_eq!(found, want, "{}", r.stderr);
    assert!(r.stderr.contains("3 analyzed, 0 failed"), "{}", r.stderr);
}

#[cfg(unix)]
#[test]
fn special_files_are_refused_without_blocking() {
    let dir = scratch_dir("fifo");
    let fifo = dir.join("pipe.dmp");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !crate::support::require(
        made.is_ok_and(|s| s.success()),
        "special_files_are_refused_without_blocking",
        "mkfifo failed",
    ) {
        return;
    }
    for args in [vec![s(&fifo)], vec![s(&dir)]] {
        let mut all = vec!["analyze".to_owned()];
        all.extend(args);
        let r = run_with_limit(BIN, &all, Duration::from_secs(30));
        assert_eq!(r.code(), 1, "{}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "dumpsig: error: {}: a FIFO (named pipe), not a crash dump file: not opened",
                fifo.display()
            )),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_folder_without_dumps_says_so_and_fails() {
    let dir = scratch_dir("empty-folder");
    std::fs::write(dir.join("notes.txt"), "not a dump").unwrap();
    let r = run(BIN, &["analyze", &s(&dir)]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "dumpsig: error: {}: no crash dump or report CAB found in this folder",
            dir.display()
        )),
        "{}",
        r.stderr
    );
}

#[test]
fn files_from_reads_paths_one_per_line() {
    let dir = scratch_dir("files-from");
    let list = dir.join("list.txt");
    let a = real_dump("minidump/test.dmp");
    let b = real_dump("minidump/null_read_av.dmp");
    std::fs::write(&list, format!("{}\r\n\n{}\n", a.display(), b.display())).unwrap();
    let r = run(BIN, &["analyze", "--json", "--files-from", &s(&list)]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert_eq!(paths(&r.stdout), vec![s(&a), s(&b)]);
    // `-` as an input is not a file name.
    let r = run(BIN, &["analyze", "-"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr.contains(
            "dumpsig: error: `-` is not a file: to read input paths from standard input, use --files-from -"
        ),
        "{}",
        r.stderr
    );
    // No input at all.
    let r = run(BIN, &["analyze"]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr
            .contains("dumpsig: error: no input: give INPUT paths or --files-from FILE"),
        "{}",
        r.stderr
    );
}

#[test]
fn files_from_standard_input() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let a = real_dump("minidump/test.dmp");
    let mut child = Command::new(BIN)
        .args(["analyze", "--json", "--files-from", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\n", a.display()).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(paths(&String::from_utf8_lossy(&out.stdout)), vec![s(&a)]);
}

#[test]
fn archives_are_named_for_what_they_are() {
    let dir = scratch_dir("archives");
    let zip = dir.join("dumps.zip");
    let gz = dir.join("crash.dmp.gz");
    std::fs::write(&zip, b"PK\x03\x04\x14\x00\x00\x00rest").unwrap();
    std::fs::write(&gz, b"\x1f\x8b\x08\x00rest").unwrap();
    let r = run(BIN, &["analyze", &s(&zip), &s(&gz)]);
    assert_eq!(r.code(), 1);
    for (path, kind) in [(&zip, "a ZIP archive"), (&gz, "a gzip stream")] {
        assert!(
            r.stderr.contains(&format!(
                "dumpsig: error: {}: {kind}, not a crash dump: extract the dump from it first",
                path.display()
            )),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_symbol_store_is_not_taken_for_report_cabs() {
    // shared's store keeps crash.pdb as a CAB: no input, not a malformed report CAB.
    let r = run(BIN, &["analyze", &s(&real_dump("symbols/symstore"))]);
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("invalid CAB"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("no crash dump or report CAB found in this folder"),
        "{}",
        r.stderr
    );
}

#[test]
fn jobs_and_option_folders_are_checked() {
    let dump = s(&real_dump("minidump/test.dmp"));
    let r = run(BIN, &["analyze", "--jobs", "100000", &dump]);
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr.contains("100000 threads is over the limit of 256"),
        "{}",
        r.stderr
    );
    // 0 is the number of CPUs.
    let r = run(BIN, &["analyze", "--jobs", "0", &dump]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let missing = workspace_root().join("no-such-folder");
    for (option, name) in [
        ("--symbols", "--symbols"),
        ("--image-store", "--image-store"),
    ] {
        let r = run(BIN, &["analyze", option, &s(&missing), &dump]);
        assert_eq!(r.code(), 2, "{option}: {}", r.stderr);
        assert!(
            r.stderr.contains(&format!(
                "dumpsig: error: {name} {}: no such folder",
                missing.display()
            )),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn unusable_shares_are_one_error_before_any_analysis() {
    let dir = scratch_dir("share-errors");
    let file = dir.join("share.txt");
    std::fs::write(&file, "a file").unwrap();
    let dumps = s(&real_dump("minidump"));
    let r = run(BIN, &["bucket", "--share", &s(&file), &dumps]);
    assert_eq!(r.code(), 2, "{}", r.stderr);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "dumpsig: error: {}: is a file, not a share folder",
            file.display()
        ),
        "one line, no analysis"
    );
    // `scan` on a folder that is not a CER share, and on one that does not exist.
    let plain = dir.join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let r = run(BIN, &["scan", &s(&plain)]);
    assert_eq!(r.code(), 2);
    assert_eq!(
        r.stderr.trim_end(),
        format!(
            "dumpsig: error: {}: not a CER share (it has no `cabs`, `counts` or `status` folder and no policy.txt)",
            plain.display()
        )
    );
    let r = run(BIN, &["scan", &s(&dir.join("missing"))]);
    assert_eq!(r.code(), 2);
    assert!(r.stderr.contains("no such folder"), "{}", r.stderr);
    // Its help lists only what it takes.
    let help = run(BIN, &["scan", "--help"]);
    assert!(!help.stdout.contains("--shard") && !help.stdout.contains("--files-from"));
    assert!(help.stdout.contains("--jobs"), "{}", help.stdout);
}

#[test]
fn scan_names_the_file_and_line_of_damage() {
    let dir = scratch_dir("scan-words");
    let share = dir.join("share");
    crate::support::file_test_dump(&share);
    let count = share.join("counts/test_app.exe/0.0.0.0/test_app.exe/0.0.0.0/0000429e/count.txt");
    std::fs::write(&count, "garbage\r\n").unwrap();
    let r = run(BIN, &["scan", &s(&share)]);
    assert_eq!(r.code(), 1);
    assert!(
        r.stdout.contains(&format!("{}: line 1: ", count.display())),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("LineIssue"), "{}", r.stdout);
}

/// Runs the binary as an unprivileged user: as root (CI) through `setpriv`, since root writes
/// to read-only folders anyway; otherwise as we are.
fn run_unprivileged(args: &[String]) -> crate::support::Run {
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if uid == "0" {
        let mut all: Vec<String> = [
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            BIN,
        ]
        .map(String::from)
        .to_vec();
        all.extend(args.iter().cloned());
        run("setpriv", &all)
    } else {
        run(BIN, args)
    }
}

#[test]
fn a_read_only_share_is_one_error_before_any_analysis() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("share-read-only");
    let share = dir.join("share");
    let dumps = real_dump("minidump/test.dmp");
    crate::support::file_test_dump(&share);
    // Everyone may read and enter the share and the dumps; no one but root may write.
    for path in [&dir, &share] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let listing = || {
        let out = std::process::Command::new("ls")
            .args(["-laR", "--time-style=full-iso", &s(&share)])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = listing();
    let r = run_unprivileged(&["bucket", "--share", &s(&share), &s(&dumps)].map(String::from));
    let after = listing();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&share, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(r.code(), 2, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.stdout, "", "no analysis was printed");
    let prefix = format!(
        "dumpsig: error: {}: the share is not writable: ",
        share.display()
    );
    assert!(r.stderr.starts_with(&prefix), "{}", r.stderr);
    assert!(r.stderr.contains("Permission denied"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "one error: {}", r.stderr);
    assert_eq!(before, after, "nothing in the share changed");
}
