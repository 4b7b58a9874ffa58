//! The share as a jail: a link planted at any level of a share makes no byte be read or
//! written outside it, is reported, and is left alone; reports of other buckets are filed.
#![cfg(target_os = "linux")]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::tests::{app, id, report, tree, TempDir, APP_DIR};
use super::*;

fn other_app() -> BucketPath {
    BucketPath::App(["OtherApp", "2.0.0.0", "other.dll", "2.0.0.0", "0000abcd"].map(String::from))
}

/// A share with every file a filing makes: tracking on, a status.txt, the registry, the kernel
/// index and the seen index.
fn populated(root: &Path) {
    fs::write(root.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    let share = CerShare::open(root).unwrap();
    let first = id(0x11);
    let mut r = report(app(), &first, b"MSCF-first");
    r.failure_bucket = Some("APP_BUCKET");
    share.file(&r).unwrap();
    let blue = id(0x12);
    let mut b = report(BucketPath::Blue, &blue, b"MSCF-blue");
    b.failure_bucket = Some("0xD1_BLUE");
    share.file(&b).unwrap();
    share
        .create_status(&app(), 1, "https://example.invalid/fix")
        .unwrap();
}

/// Every place a link can stand: folders at each level and every file the share has.
const TARGETS: &[&str] = &[
    "cabs",
    "counts",
    "status",
    "cabs/TestApplication",
    "cabs/TestApplication/1.0.0.0/TestModule",
    "cabs/TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000",
    "counts/TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000",
    "status/TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000",
    "cabs/blue",
    "counts/TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000/count.txt",
    "cabs/TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000/hits.log",
    "status/TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000/status.txt",
    "crash.log",
    "policy.txt",
    "dumpsig.lock",
    "dumpsig-journal.json",
    "dumpsig-buckets.tsv",
    "dumpsig-blue-index.tsv",
    "dumpsig-seen",
    "dumpsig-seen/0.tsv",
];

/// Moves `rel` out of the share into `outside` and leaves a link to it in its place.
fn plant(root: &Path, rel: &str, outside: &Path) -> PathBuf {
    let at = root.join(rel);
    let target = outside.join("moved");
    if at.exists() {
        fs::rename(&at, &target).unwrap();
    } else {
        // The journal exists only while a filing runs: the link points at a journal-shaped
        // file that would write into the share's bucket if it were followed.
        fs::write(
            &target,
            r#"{"version":1,"actions":[{"Write":{"path":["planted.txt"],"data":[88]}}]}"#,
        )
        .unwrap();
    }
    symlink(&target, &at).unwrap();
    at
}

/// Everything the link shows up in: errors of every call, and the scan's strays.
fn exercise(root: &Path, link: &Path) -> (Vec<String>, bool) {
    let mut said = Vec::new();
    let mut other_filed = false;
    let share = match CerShare::open(root) {
        Ok(share) => share,
        Err(e) => return (vec![e.to_string()], false),
    };
    let (a, b, c) = (id(0x21), id(0x22), id(0x23));
    let mut here = report(app(), &a, b"MSCF-here");
    here.failure_bucket = Some("APP_BUCKET");
    let mut there = report(other_app(), &b, b"MSCF-there");
    there.failure_bucket = Some("OTHER_BUCKET");
    let mut blue = report(BucketPath::Blue, &c, b"MSCF-blue2");
    blue.failure_bucket = Some("0xD1_BLUE");
    match ShareWriter::new(&share, 2).file_group(&[here, there, blue]) {
        Ok(outcomes) => {
            for (i, outcome) in outcomes.into_iter().enumerate() {
                match outcome {
                    Ok(FileOutcome::Filed { .. }) if i == 1 => other_filed = true,
                    Ok(_) => {}
                    Err(e) => said.push(e.to_string()),
                }
            }
        }
        Err(e) => said.push(e.to_string()),
    }
    match scan(root) {
        Ok(scanned) => said.extend(
            scanned
                .strays
                .iter()
                .filter(|s| s.path == link)
                .map(|s| format!("{}: {}", s.path.display(), s.reason)),
        ),
        Err(e) => said.push(e.to_string()),
    }
    if let Err(e) = share.repair() {
        said.push(e.to_string());
    }
    if let Err(e) = share.create_status(&other_app(), 7, "x") {
        said.push(e.to_string());
    }
    (said, other_filed)
}

fn check_every_target(tag: &str) {
    for (n, rel) in TARGETS.iter().enumerate() {
        let dir = TempDir::new(&format!("jail-{tag}-{n}"));
        let root = dir.0.join("share");
        let outside = dir.0.join("outside");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&outside).unwrap();
        populated(&root);
        let link = plant(&root, rel, &outside);
        let before = tree(&outside);

        let (said, other_filed) = exercise(&root, &link);

        assert_eq!(
            tree(&outside),
            before,
            "{rel}: a byte changed outside the share"
        );
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{rel}: the link was not left alone"
        );
        let named = link.display().to_string();
        assert!(
            said.iter().any(|s| s.contains(&named)),
            "{rel}: the link is not reported; said: {said:#?}"
        );
        assert!(
            !root.join("planted.txt").exists(),
            "{rel}: a journal was read through a link"
        );
        // A link inside one application bucket stops that bucket only.
        if rel.contains("TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000")
            || rel.ends_with("TestModule")
        {
            assert!(
                other_filed,
                "{rel}: the other bucket's report was not filed"
            );
        }
    }
}

#[test]
fn links_at_every_level_are_refused_reported_and_left_alone() {
    check_every_target("openat2");
}

#[test]
fn the_walk_without_openat2_refuses_the_same_links() {
    super::jail::force_walk_for_tests(true);
    check_every_target("walk");
    super::jail::force_walk_for_tests(false);
}

#[test]
fn link_free_paths_still_work_under_the_jail() {
    // The root itself may be reached through a link: it is the administrator's choice.
    let dir = TempDir::new("jail-root-link");
    let real = dir.0.join("real");
    fs::create_dir_all(&real).unwrap();
    let via = dir.0.join("via");
    symlink(&real, &via).unwrap();
    let share = CerShare::open(&via).unwrap();
    let a = id(0x31);
    let out = share.file(&report(app(), &a, b"MSCF")).unwrap();
    assert!(matches!(out, FileOutcome::Filed { .. }), "{out:?}");
    assert!(real.join(format!("cabs/{APP_DIR}/{a}.cab")).exists());
}

#[test]
fn a_fifo_in_the_share_is_a_stray_not_a_hang() {
    let dir = TempDir::new("jail-fifo");
    populated(&dir.0);
    let log = dir.0.join(format!("cabs/{APP_DIR}/hits.log"));
    fs::remove_file(&log).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&log)
        .status()
        .unwrap();
    assert!(status.success());
    let scanned = scan(&dir.0).unwrap();
    assert!(
        scanned
            .strays
            .iter()
            .any(|s| s.path == log && s.reason.contains("not a regular file")),
        "{:?}",
        scanned.strays
    );
    let share = CerShare::open(&dir.0).unwrap();
    let a = id(0x41);
    let err = share.file(&report(app(), &a, b"MSCF")).unwrap_err();
    assert!(err.to_string().contains("hits.log"), "{err}");
}
