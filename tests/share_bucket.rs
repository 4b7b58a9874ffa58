//! `dumpsig bucket` and `dumpsig scan` on CER shares: the real dumps and CABs, re-runs, the
//! per-bucket limit with tracking, hostile and over-long paths, several processes at once, and
//! writers killed mid-run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{expected_subpaths, real_dump, run, run_with_limit, workspace_root};

use crate::support::BIN;

fn scratch(name: &str) -> PathBuf {
    crate::support::scratch_dir(name)
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Every file under `root` with its bytes (the lock file excluded: it is empty and only locked).
fn snapshot(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "dumpsig.lock") {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// The subpaths with a count.txt, Windows form.
fn count_subpaths(root: &Path) -> BTreeSet<String> {
    snapshot(&root.join("counts"))
        .into_iter()
        .map(|(p, _)| {
            let rel = p
                .parent()
                .unwrap()
                .strip_prefix(root.join("counts"))
                .unwrap();
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("\\")
        })
        .collect()
}

fn count_txt(root: &Path, subpath: &str) -> String {
    let mut p = root.join("counts");
    for part in subpath.split('\\') {
        p.push(part);
    }
    std::fs::read_to_string(p.join("count.txt")).unwrap()
}

#[test]
fn real_dumps_and_cabs_fill_exactly_the_expected_subpaths() {
    let share = scratch("real");
    let args = [
        "bucket",
        "--share",
        &s(&share),
        &s(&real_dump("minidump")),
        &s(&real_dump("cab")),
    ];
    let first = run(BIN, &args);
    assert_eq!(
        first.code(),
        1,
        "the two invalid dumps fail: {}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .contains("22 filed, 0 counted only, 0 already filed, 0 discarded, 2 failed"),
        "{}",
        first.stderr
    );

    let mut expected: BTreeSet<String> = expected_subpaths()
        .into_iter()
        .map(|(_, sub)| sub)
        .collect();
    // The non-Windows minidumps are bucketed the same way, with the executable's name, and
    // their offsets from the crashing thread's context (docs/minidump-platforms.md):
    // linux-mini.dmp's ExceptionAddress 0x45 is the data address, its instruction 0x401d72.
    expected.insert(r"crash\0.0.0.0\crash\0.0.0.0\0000000000001d72".into());
    expected.insert(r"driver\0.0.0.0\driver\0.0.0.0\0000000000001f26".into());
    expected.insert(r"crashy\0.0.0.0\libsystem_kernel.dylib\6153.141.10.0\000000000000733a".into());
    assert_eq!(count_subpaths(&share), expected);
    assert_eq!(
        count_txt(&share, r"crashme.exe\0.0.0.0\crashme.exe\0.0.0.0\0000a6cd"),
        "Cabs Gathered=3\r\nTotal Hits=3\r\n"
    );
    assert_eq!(
        count_txt(
            &share,
            r"test_app.exe\0.0.0.0\test_app.exe\0.0.0.0\0000429e"
        ),
        "Cabs Gathered=2\r\nTotal Hits=2\r\n"
    );
    assert_eq!(
        count_txt(&share, r"NativeCrashy.exe\1.2.3.4\unknown\0.0.0.0\002a4800"),
        "Cabs Gathered=1\r\nTotal Hits=1\r\n"
    );
    // A CAB input is copied as it is, under its content hash.
    let cab_dir = share.join("cabs/NativeCrashy.exe/1.2.3.4/unknown/0.0.0.0/002a4800");
    let copied = std::fs::read(
        cab_dir.join("7e970a79e9f952bbfd63fcc338d1994389c120beb3e1f861b7b88e6e19f944a5.cab"),
    )
    .unwrap();
    assert_eq!(
        copied,
        std::fs::read(real_dump("cab/1535419857-SpecialException-1116452068.cab")).unwrap()
    );

    // A second run over the same inputs changes no byte.
    let before = snapshot(&share);
    let second = run(BIN, &args);
    assert!(
        second
            .stderr
            .contains("0 filed, 0 counted only, 22 already filed"),
        "{}",
        second.stderr
    );
    assert!(
        before == snapshot(&share),
        "the second run changed the share"
    );

    // scan re-analyzes every report (the packed dumps too) and finds each where it belongs.
    let scan = run(BIN, &["scan", &s(&share)]);
    assert_eq!(scan.code(), 0, "{}", scan.stdout);
    assert!(
        scan.stdout
            .contains("22 report file(s) analyzed, 0 problem(s)"),
        "{}",
        scan.stdout
    );
    let _ = std::fs::remove_dir_all(&share);
}

#[test]
fn crashes_per_bucket_and_tracking_follow_the_spec_to_the_byte() {
    let share = scratch("policy");
    std::fs::write(
        share.join("policy.txt"),
        "Crashes per bucket=1\r\nTracking=YES\r\n",
    )
    .unwrap();
    let dumps = [
        "minidump/ascii_read_av.dmp",
        "minidump/ascii_write_av.dmp",
        "minidump/null_read_av.dmp",
    ];
    let mut args = vec!["bucket".to_owned(), "--share".to_owned(), s(&share)];
    args.extend(dumps.iter().map(|d| s(&real_dump(d))));
    let r = run(BIN, &args);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let sub = r"crashme.exe\0.0.0.0\crashme.exe\0.0.0.0\0000a6cd";
    assert_eq!(
        count_txt(&share, sub),
        "Cabs Gathered=1\r\nTotal Hits=3\r\n"
    );
    let dir = share.join("cabs/crashme.exe/0.0.0.0/crashme.exe/0.0.0.0/0000a6cd");
    let first_cab = "5556aaa5f39b5c6d352ed67329482617d595a4ee199745909090f9641ca14656.cab";
    let cabs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cab"))
        .collect();
    assert_eq!(
        cabs,
        vec![first_cab.to_owned()],
        "only the first report is copied"
    );
    // Times are the dumps' own crash times (UTC); machine and user are unknown here.
    let hits = std::fs::read(dir.join("hits.log")).unwrap();
    let expected_hits = format!(
        "21:53:53  09-29-2010\tUNKNOWN\tunknown user\t{first_cab}\r\n\
         21:53:07  09-29-2010\tUNKNOWN\tunknown user\tNo CAB\r\n\
         21:54:22  09-29-2010\tUNKNOWN\tunknown user\tNo CAB\r\n"
    );
    assert_eq!(String::from_utf8(hits).unwrap(), expected_hits);
    let crash = std::fs::read(share.join("crash.log")).unwrap();
    let expected_crash = format!(
        "21:53:53  09-29-2010\tUNKNOWN\tunknown user\t{sub}\r\n\
         21:53:07  09-29-2010\tUNKNOWN\tunknown user\t{sub}\r\n\
         21:54:22  09-29-2010\tUNKNOWN\tunknown user\t{sub}\r\n"
    );
    assert_eq!(String::from_utf8(crash).unwrap(), expected_crash);
    let _ = std::fs::remove_dir_all(&share);
}

#[test]
fn hostile_names_stay_inside_and_long_paths_are_discarded() {
    let parent = scratch("hostile");
    let share = parent.join("share");
    let samples = workspace_root().join("sample-dumps/minidump");
    let r = run(BIN, &["bucket", "--share", &s(&share), &s(&samples)]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    // Nothing was created beside the share.
    let beside: Vec<_> = std::fs::read_dir(&parent)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("share")]);
    for (path, _) in snapshot(&share) {
        assert!(path.starts_with(&share));
        for c in path.strip_prefix(&share).unwrap().components() {
            let c = c.as_os_str().to_string_lossy();
            assert!(c != "." && c != ".." && c.is_ascii(), "{}", path.display());
        }
    }
    assert!(count_subpaths(&share).contains(r"CON_\1.2.3.4\nul_.dll\1.2.3.4\00000042"));

    // Under a deep root, the long-name sample's paths pass 260 characters: discarded, reported,
    // nothing written for it.
    let deep = parent.join("d".repeat(150));
    let long = samples.join("x86-hostile-long-name.dmp");
    let r = run(BIN, &["bucket", "--share", &s(&deep), &s(&long)]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("discarded"), "{}", r.stdout);
    assert!(r.stderr.contains("1 discarded"), "{}", r.stderr);
    assert!(!deep.join("cabs").exists() && !deep.join("counts").exists());
    let _ = std::fs::remove_dir_all(&parent);
}

/// `count` distinct dumps per sample: the sample with its header timestamp changed, so each
/// has its own content hash but the same signature.
fn variants(dir: &Path, count: u32) -> Vec<PathBuf> {
    let samples = workspace_root().join("sample-dumps/minidump");
    let mut out = Vec::new();
    for base in [
        "x86-dll-crash.dmp",
        "x64-dll-crash.dmp",
        "x64-outside-modules.dmp",
        "x86-no-exception.dmp",
    ] {
        let bytes = std::fs::read(samples.join(base)).unwrap();
        for i in 0..count {
            let mut v = bytes.clone();
            v[20..24].copy_from_slice(&(0x5F00_0000 + i).to_le_bytes());
            let p = dir.join(format!("{i:03}-{base}"));
            std::fs::write(&p, v).unwrap();
            out.push(p);
        }
    }
    out
}

#[test]
fn four_processes_on_one_share_lose_no_hit() {
    let dir = scratch("concurrent");
    let inputs = variants(&dir.join("in").tap_create(), 50);
    let share = dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    // Four writers over the same 200 dumps in different orders: every hit counted once.
    let children: Vec<_> = (0..4)
        .map(|k| {
            let mut order = inputs.clone();
            order.rotate_left(k * 50);
            if k % 2 == 1 {
                order.reverse();
            }
            Command::new(BIN)
                .args(["bucket", "--jobs", "1", "--share", &s(&share)])
                .args(&order)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let subs = count_subpaths(&share);
    assert_eq!(subs.len(), 4);
    for sub in &subs {
        assert_eq!(
            count_txt(&share, sub),
            "Cabs Gathered=5\r\nTotal Hits=50\r\n",
            "{sub}"
        );
    }
    let crash_log = std::fs::read_to_string(share.join("crash.log")).unwrap();
    assert_eq!(crash_log.lines().count(), 200);
    assert!(
        crash_log
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .all(|l| l.split('\t').count() == 4),
        "torn lines"
    );
    let scan = run(BIN, &["scan", &s(&share)]);
    assert_eq!(scan.code(), 0, "{}", scan.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn writers_killed_at_random_moments_leave_a_consistent_share() {
    let dir = scratch("kill");
    let inputs = variants(&dir.join("in").tap_create(), 30);
    let share = dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..8 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = Command::new(BIN)
            .args(["bucket", "--jobs", "1", "--share", &s(&share)])
            .args(&inputs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + seed % 60));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever instant it died at, every file parses and the counts match the reports.
        let scan = run_with_limit(
            BIN,
            &["scan", "--json", &s(&share)],
            Duration::from_secs(120),
        );
        let result: serde_json::Value =
            serde_json::from_str(scan.stdout.trim()).expect("scan JSON");
        let problems: Vec<&str> = result["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .collect();
        let only_pending = problems
            .iter()
            .all(|p| p.contains("interrupted filing is pending"));
        assert!(only_pending, "{problems:?}");
    }
    // A final writer completes any interrupted filing; then the share is complete and exact.
    let r = run(BIN, &["bucket", "--share", &s(&share), &s(&dir.join("in"))]);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    for sub in count_subpaths(&share) {
        assert_eq!(
            count_txt(&share, &sub),
            "Cabs Gathered=5\r\nTotal Hits=30\r\n",
            "{sub}"
        );
    }
    let scan = run(BIN, &["scan", &s(&share)]);
    assert_eq!(scan.code(), 0, "{}", scan.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `path.tap_create()`: creates the directory and returns it.
trait TapCreate {
    fn tap_create(&self) -> PathBuf;
}
impl TapCreate for PathBuf {
    fn tap_create(&self) -> PathBuf {
        std::fs::create_dir_all(self).unwrap();
        self.clone()
    }
}

/// Malformed CABs each give a clear error for that file, and the batch goes on to file the rest.
#[test]
fn malformed_cabs_fail_alone_and_the_batch_completes() {
    let dir = scratch("badcabs");
    let mut args = vec![
        "bucket".to_owned(),
        "--json".to_owned(),
        "--share".to_owned(),
        s(&dir.join("share")),
    ];
    let mut malformed = Vec::new();
    for sample in sample_dumps::cab::cab_samples()
        .into_iter()
        .filter(|c| c.malformed)
    {
        let path = dir.join(&sample.file_name);
        std::fs::write(&path, &sample.bytes).unwrap();
        malformed.push(s(&path));
        args.push(s(&path));
    }
    assert!(malformed.len() >= 10);
    let good = real_dump("cab/1641909485-Crash32bit-0773522646.cab");
    args.push(s(&good));
    let r = run_with_limit(BIN, &args, Duration::from_secs(120));
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let records = r.json_lines();
    assert_eq!(records.len(), malformed.len() + 1);
    for (record, path) in records.iter().zip(&malformed) {
        assert_eq!(record["path"], path.as_str());
        let error = record["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path} must fail: {record}"));
        assert!(
            !error.contains("internal error") && !error.contains('\n'),
            "{path}: {error}"
        );
        assert!(
            r.stderr.contains(&format!("dumpsig: error: {path}: ")),
            "{path} named on stderr"
        );
    }
    let last = records.last().unwrap();
    assert_eq!(last["error"], serde_json::Value::Null);
    assert_eq!(last["outcome"]["outcome"], "filed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `regress` over a share counts hits, as count.txt does, not the report files the share kept:
/// seven distinct crashes of one bucket keep five files and count seven hits.
#[test]
fn regress_over_a_share_counts_hits_not_report_files() {
    let dir = scratch("regress-hits");
    let dumps = dir.join("dumps");
    std::fs::create_dir_all(&dumps).unwrap();
    let original = std::fs::read(real_dump("minidump/test.dmp")).unwrap();
    for i in 0..7u32 {
        // Another TimeDateStamp (header offset 20): another crash, the same bucket.
        let mut copy = original.clone();
        copy[20..24].copy_from_slice(&(0x5000_0000 + i).to_le_bytes());
        std::fs::write(dumps.join(format!("crash{i}.dmp")), copy).unwrap();
    }
    let share = dir.join("share");
    let filed = run(BIN, &["bucket", "--share", &s(&share), &s(&dumps)]);
    assert_eq!(filed.code(), 0, "{}", filed.stderr);
    let analyzed = run(BIN, &["analyze", "--json", &s(&dumps)]);
    let current = dir.join("current.jsonl");
    std::fs::write(&current, &analyzed.stdout).unwrap();
    let r = run(
        BIN,
        &[
            "regress",
            "--json",
            "--baseline",
            &s(&share),
            "--current",
            &s(&current),
        ],
    );
    assert_eq!(r.code(), 0, "{}\n{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["baseline"]["reports"], 7, "{}", r.stdout);
    assert_eq!(v["current"]["reports"], 7, "{}", r.stdout);
    assert_eq!(v["grown_buckets"], serde_json::json!([]), "{}", r.stdout);
    assert_eq!(v["new_buckets"], serde_json::json!([]), "{}", r.stdout);
}
