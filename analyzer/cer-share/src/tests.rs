//! Byte-exact tests of the writer, the configuration rules and the reader.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A unique temporary directory, removed on drop.
pub(super) struct TempDir(pub PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> TempDir {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("dumpsig-share-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub(super) const SUB: &str = "TestApplication\\1.0.0.0\\TestModule\\1.0.0.0\\00000000";
pub(super) const LINE: &str = "15:32:23  04-23-2007\tTestMachine\tTestUser\t";

pub(super) fn app() -> BucketPath {
    BucketPath::App(
        [
            "TestApplication",
            "1.0.0.0",
            "TestModule",
            "1.0.0.0",
            "00000000",
        ]
        .map(String::from),
    )
}

pub(super) fn id(n: u64) -> String {
    format!("{n:016x}")
}

pub(super) fn report<'a>(bucket: BucketPath, id: &'a str, bytes: &'a [u8]) -> ReportToFile<'a> {
    ReportToFile {
        bucket,
        content_id: id,
        report: Some(ReportSource::Bytes(bytes)),
        failure_bucket: None,
        crash_time: CrashTime::new(2007, 4, 23, 15, 32, 23),
        file_mtime: None,
        machine: Some("TestMachine"),
        user: Some("TestUser"),
    }
}

/// Every file under `root`, relative path (with `/`) to bytes.
pub(super) fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn go(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                go(&path, root, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel.replace('\\', "/"), fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    go(root, root, &mut out);
    out
}

pub(super) fn text(root: &Path, rel: &str) -> String {
    String::from_utf8(fs::read(root.join(rel)).unwrap()).unwrap()
}

pub(super) const APP_DIR: &str = "TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000";

#[test]
fn new_bucket_then_second_hit() {
    let dir = TempDir::new("new");
    let share = CerShare::open(&dir.0).unwrap();
    let a = id(0xa1);
    let out = share.file(&report(app(), &a, b"MSCF-a")).unwrap();
    let cab = dir.0.join(format!("cabs/{APP_DIR}/{a}.cab"));
    assert_eq!(
        out,
        FileOutcome::Filed {
            report: cab.clone(),
            counts: Counts {
                cabs_gathered: 1,
                total_hits: 1
            },
            bucket_id: None,
            tracked: false,
        }
    );
    let files = tree(&dir.0);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    let count = format!("counts/{APP_DIR}/count.txt");
    let cab_rel = format!("cabs/{APP_DIR}/{a}.cab");
    let mut expected = vec![
        cab_rel.as_str(),
        count.as_str(),
        "dumpsig-seen/0.tsv",
        "dumpsig.lock",
    ];
    expected.sort();
    assert_eq!(
        names, expected,
        "tracking is off: no hits.log, no crash.log"
    );
    assert_eq!(files[&count], b"Cabs Gathered=1\r\nTotal Hits=1\r\n");
    assert_eq!(files[&cab_rel], b"MSCF-a");
    assert_eq!(
        files["dumpsig-seen/0.tsv"],
        format!("{a}\t{SUB}\r\n").as_bytes()
    );

    let b = id(0xb2);
    share.file(&report(app(), &b, b"MSCF-b")).unwrap();
    assert_eq!(text(&dir.0, &count), "Cabs Gathered=2\r\nTotal Hits=2\r\n");
}

#[test]
fn limit_with_tracking_writes_both_logs_to_the_byte() {
    let dir = TempDir::new("limit");
    fs::write(
        dir.0.join("policy.txt"),
        "Crashes per bucket=1\r\nTracking=YES\r\n",
    )
    .unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    let (a, b) = (id(1), id(2));
    assert!(matches!(
        share.file(&report(app(), &a, b"A")).unwrap(),
        FileOutcome::Filed { tracked: true, .. }
    ));
    let out = share.file(&report(app(), &b, b"B")).unwrap();
    assert_eq!(
        out,
        FileOutcome::CountedOnly {
            reason: NotCopied::OverLimit { limit: 1 },
            counts: Counts {
                cabs_gathered: 1,
                total_hits: 2
            },
            bucket_id: None,
            tracked: true,
        }
    );
    assert_eq!(
        text(&dir.0, &format!("counts/{APP_DIR}/count.txt")),
        "Cabs Gathered=1\r\nTotal Hits=2\r\n"
    );
    assert_eq!(
        text(&dir.0, &format!("cabs/{APP_DIR}/hits.log")),
        format!("{LINE}{a}.cab\r\n{LINE}No CAB\r\n")
    );
    assert_eq!(
        text(&dir.0, "crash.log"),
        format!("{LINE}{SUB}\r\n{LINE}{SUB}\r\n")
    );
    assert!(!dir.0.join(format!("cabs/{APP_DIR}/{b}.cab")).exists());
    assert_eq!(
        serde_json::to_string(&out).unwrap(),
        concat!(
            r#"{"outcome":"counted_only","reason":"over_limit","limit":1,"#,
            r#""counts":{"cabs_gathered":1,"total_hits":2},"bucket_id":null,"tracked":true}"#
        )
    );
}

#[test]
fn idata_no_copies_nothing() {
    let dir = TempDir::new("idata");
    let status = dir.0.join(format!("status/{APP_DIR}"));
    fs::create_dir_all(&status).unwrap();
    fs::write(status.join("status.txt"), "iData=no\r\n").unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    let a = id(7);
    let out = share.file(&report(app(), &a, b"A")).unwrap();
    assert!(matches!(
        out,
        FileOutcome::CountedOnly {
            reason: NotCopied::NotWanted,
            ..
        }
    ));
    assert_eq!(
        text(&dir.0, &format!("counts/{APP_DIR}/count.txt")),
        "Cabs Gathered=0\r\nTotal Hits=1\r\n"
    );
    assert!(
        !dir.0.join("cabs").exists(),
        "nothing goes to cabs without tracking or a report"
    );
}

#[test]
fn status_overrides_policy() {
    let dir = TempDir::new("override");
    fs::write(
        dir.0.join("policy.txt"),
        "Tracking=NO\r\nCrashes per bucket=0\r\n",
    )
    .unwrap();
    let status = dir.0.join(format!("status/{APP_DIR}"));
    fs::create_dir_all(&status).unwrap();
    fs::write(
        status.join("status.txt"),
        "Tracking=true\r\nCrashes per bucket=2\r\nBucket=42\r\nFileTreeRoot=/elsewhere\r\n",
    )
    .unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    let a = id(9);
    let out = share.file(&report(app(), &a, b"A")).unwrap();
    assert!(matches!(out, FileOutcome::Filed { tracked: true, .. }));
    assert_eq!(text(&dir.0, "crash.log"), format!("{LINE}42\r\n"));
    assert_eq!(
        text(&dir.0, &format!("cabs/{APP_DIR}/hits.log")),
        format!("{LINE}{a}.cab\r\n")
    );
    let scanned = scan(&dir.0).unwrap();
    let st = scanned.buckets[0].status.as_ref().unwrap();
    assert_eq!(st.not_honoured.len(), 1);
    assert_eq!(st.not_honoured[0].line, 4);
    assert_eq!(
        st.not_honoured[0].reason,
        "FileTreeRoot is honoured only in policy.txt"
    );
}

#[test]
fn blue_has_no_default_limit_and_an_index() {
    let dir = TempDir::new("blue");
    let share = CerShare::open(&dir.0).unwrap();
    let ids: Vec<String> = (1..=7).map(id).collect();
    for (n, content) in ids.iter().enumerate() {
        let mut r = report(BucketPath::Blue, content, b"K");
        r.failure_bucket = Some(if n == 6 {
            "AV_myfault!unknown_function"
        } else {
            "0xD1_x!y"
        });
        assert!(matches!(share.file(&r).unwrap(), FileOutcome::Filed { .. }));
    }
    assert_eq!(
        text(&dir.0, "counts/blue/count.txt"),
        "Cabs Gathered=7\r\nTotal Hits=7\r\n"
    );
    assert_eq!(
        text(&dir.0, "dumpsig-buckets.tsv"),
        "1\t0xD1_x!y\r\n2\tAV_myfault!unknown_function\r\n"
    );
    let index = text(&dir.0, "dumpsig-blue-index.tsv");
    assert!(index.starts_with(&format!("0xD1_x!y\t1\t{}.cab\t{}\r\n", ids[0], ids[0])));
    assert!(index.ends_with(&format!(
        "AV_myfault!unknown_function\t2\t{}.cab\t{}\r\n",
        ids[6], ids[6]
    )));
    assert_eq!(share.bucket_id("0xD1_x!y").unwrap(), 1);
    assert_eq!(share.bucket_id("new").unwrap(), 3);
    assert_eq!(share.bucket_id("new").unwrap(), 3);
    // An explicit limit still applies to blue.
    let status = dir.0.join("status/blue");
    fs::create_dir_all(&status).unwrap();
    fs::write(status.join("status.txt"), "Crashes per bucket=7\r\n").unwrap();
    let extra = id(99);
    let out = share.file(&report(BucketPath::Blue, &extra, b"K")).unwrap();
    assert!(matches!(
        out,
        FileOutcome::CountedOnly {
            reason: NotCopied::OverLimit { limit: 7 },
            ..
        }
    ));
}

#[test]
fn refiling_the_same_report_changes_no_byte() {
    let dir = TempDir::new("refile");
    fs::write(
        dir.0.join("policy.txt"),
        "Tracking=YES\r\nCrashes per bucket=1\r\n",
    )
    .unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    let (a, b) = (id(0x10), id(0x20));
    share.file(&report(app(), &a, b"A")).unwrap();
    share.file(&report(app(), &b, b"B")).unwrap();
    let before = tree(&dir.0);
    for content in [&a, &b] {
        let out = share.file(&report(app(), content, b"A")).unwrap();
        assert_eq!(
            out,
            FileOutcome::AlreadyFiled {
                subpath: SUB.to_owned()
            }
        );
    }
    assert_eq!(tree(&dir.0), before);
}

#[test]
fn redirects_loops_and_the_limit_of_ten() {
    let dir = TempDir::new("redirect");
    let (a, b) = (dir.0.join("a"), dir.0.join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    fs::write(
        a.join("policy.txt"),
        format!("FileTreeRoot={}\r\n", b.display()),
    )
    .unwrap();
    fs::write(b.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    let share = CerShare::open(&a).unwrap();
    assert_eq!(share.root(), b.as_path());
    assert_eq!(share.redirects(), std::slice::from_ref(&b));
    let c = id(3);
    share.file(&report(app(), &c, b"C")).unwrap();
    assert!(b.join("crash.log").exists());
    assert_eq!(tree(&a).len(), 1, "only a's policy.txt");

    fs::write(
        b.join("policy.txt"),
        format!("FileTreeRoot={}\r\n", a.display()),
    )
    .unwrap();
    assert!(matches!(CerShare::open(&a), Err(ShareError::RedirectLoop(p)) if p == a));

    let chain: Vec<PathBuf> = (0..=11).map(|n| dir.0.join(format!("r{n}"))).collect();
    for pair in chain.windows(2) {
        fs::create_dir_all(&pair[0]).unwrap();
        fs::create_dir_all(&pair[1]).unwrap();
        fs::write(
            pair[0].join("policy.txt"),
            format!("FileTreeRoot={}\r\n", pair[1].display()),
        )
        .unwrap();
    }
    assert!(matches!(
        CerShare::open(&chain[0]),
        Err(ShareError::TooManyRedirects(_))
    ));
    assert_eq!(
        CerShare::open(&chain[1]).unwrap().root(),
        chain[11].as_path(),
        "10 are fine"
    );
    assert!(matches!(
        CerShare::open(&dir.0.join("missing")),
        Err(ShareError::NotADirectory(_))
    ));
}

#[test]
fn over_260_characters_is_discarded_and_writes_nothing() {
    let dir = TempDir::new("long");
    let share = CerShare::open(&dir.0).unwrap();
    let root_len = windows_root(&dir.0).chars().count();
    let c = id(5);
    // Longest path: root + `\cabs\` + subpath + `\` + 20-char report name.
    let fixed = root_len + "\\cabs\\".len() + "\\1\\m\\1\\0".len() + 1 + 20;
    let name_for = |total: usize| "n".repeat(total - fixed);
    let bucket =
        |name: String| BucketPath::App([name, "1".into(), "m".into(), "1".into(), "0".into()]);

    let out = share
        .file(&report(bucket(name_for(261)), &c, b"X"))
        .unwrap();
    assert!(matches!(out, FileOutcome::Discarded { chars: 261, .. }));
    assert!(tree(&dir.0).is_empty(), "not even the lock file");
    let out = share
        .file(&report(bucket(name_for(260)), &c, b"X"))
        .unwrap();
    assert!(matches!(out, FileOutcome::Filed { .. }));
}

#[test]
fn hostile_components_are_rejected() {
    let dir = TempDir::new("hostile");
    let share = CerShare::open(&dir.0).unwrap();
    let c = id(6);
    for bad in [
        "..",
        ".",
        "",
        "..\\..\\x",
        "a/b",
        "a:b",
        "con",
        "Nul.txt",
        "x.",
        "x ",
        "Ünï",
        "a\0b",
        "a\tb",
        "a*",
    ] {
        let bucket = BucketPath::App([bad.into(), "1".into(), "m".into(), "1".into(), "0".into()]);
        let err = share.file(&report(bucket, &c, b"X")).unwrap_err();
        assert!(
            matches!(
                err,
                ShareError::InvalidInput {
                    what: "AppName",
                    ..
                }
            ),
            "{bad:?}"
        );
    }
    for bad in [
        "../../etc/passwd",
        "ABCDEF0123456789",
        "0123",
        &"a".repeat(65),
    ] {
        let err = share.file(&report(app(), bad, b"X")).unwrap_err();
        assert!(
            matches!(
                err,
                ShareError::InvalidInput {
                    what: "content id",
                    ..
                }
            ),
            "{bad:?}"
        );
    }
    assert!(tree(&dir.0).is_empty());
}

#[test]
fn status_creation_only_where_none_exists() {
    let dir = TempDir::new("status");
    fs::write(dir.0.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    let url = "https://example.invalid/kb/1";
    assert_eq!(
        share.create_status(&app(), 17, url).unwrap(),
        StatusOutcome::Created
    );
    let rel = format!("status/{APP_DIR}/status.txt");
    assert_eq!(
        text(&dir.0, &rel),
        format!("Bucket=17\r\nResponse={url}\r\n")
    );
    fs::write(dir.0.join(&rel), "Response=1\r\n").unwrap();
    assert_eq!(
        share.create_status(&app(), 18, url).unwrap(),
        StatusOutcome::AlreadyExists
    );
    assert_eq!(text(&dir.0, &rel), "Response=1\r\n");
    assert_eq!(
        share.create_status(&BucketPath::Blue, 3, url).unwrap(),
        StatusOutcome::SharedBucket
    );
    fs::remove_file(dir.0.join(&rel)).unwrap();
    share.create_status(&app(), 17, url).unwrap();
    let c = id(8);
    share.file(&report(app(), &c, b"C")).unwrap();
    assert_eq!(text(&dir.0, "crash.log"), format!("{LINE}17\r\n"));
}

#[test]
fn ansi_items_and_time_fallback() {
    let dir = TempDir::new("ansi");
    fs::write(dir.0.join("policy.txt"), "Tracking=1\r\n").unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    let c = id(0xc);
    let mut r = report(BucketPath::Shutdown, &c, b"S");
    r.machine = Some("MÜLLER-PC-WITH-A-LONG-NAME");
    r.user = Some("日本\r\n\tx€");
    r.crash_time = None;
    r.file_mtime = Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000));
    share.file(&r).unwrap();
    let line = fs::read(dir.0.join("cabs/shutdown/hits.log")).unwrap();
    let mut expected = b"22:13:20  11-14-2023\tM\xdcLLER-PC-WITH-\t??x\x80\t".to_vec();
    expected.extend_from_slice(format!("{c}.cab\r\n").as_bytes());
    assert_eq!(line, expected);
    r.machine = Some("\r\n");
    r.user = None;
    r.content_id = "00000000000000ff";
    share.file(&r).unwrap();
    let crash = fs::read(dir.0.join("crash.log")).unwrap();
    assert!(crash.ends_with(b"\tUNKNOWN\tunknown user\tshutdown\r\n"));
    assert_eq!(decode_ansi(&encode_ansi("€ŸÿA")), "€ŸÿA");
}
