//! Tests of the reader side: policy.txt / status.txt and count.txt parsing, scan and repair.

use std::fs;
use std::path::Path;

use super::tests::{app, id, report, text, TempDir, APP_DIR, SUB};
use super::*;

#[test]
fn config_entries_not_honoured_are_reported_by_line() {
    let text = b"Tracking=yes\ntracking=NO\nCrashes per bucket=05\nCrashes per bucket=3\n\
        Tracking=NO\nURLLaunch=\niData=1\nnonsense\nFileTreeRoot=relative\nNoExternalURL=maybe";
    let f = parse_config(Path::new("policy.txt"), ConfigKind::Policy, text);
    assert_eq!(f.settings.tracking, Some(true));
    assert_eq!(f.settings.crashes_per_bucket, Some(3));
    assert_eq!(f.settings.file_tree_root, None);
    let lines: Vec<(usize, &str)> = f
        .not_honoured
        .iter()
        .map(|i| (i.line, i.reason.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (
                2,
                "unknown parameter name (names are case-sensitive and take no spaces)"
            ),
            (3, "leading zeros are not allowed"),
            (5, "repeated parameter; the first occurrence is honoured"),
            (6, "empty value"),
            (7, "a status.txt parameter, not honoured in policy.txt"),
            (8, "not a Name=Value entry"),
            (9, "not an absolute path on this platform"),
            (10, "not a CER boolean (YES TRUE 1 NO FALSE 0)"),
        ]
    );
    let warnings: Vec<usize> = f.warnings.iter().map(|w| w.line).collect();
    assert_eq!(
        warnings,
        [1, 10],
        "LF-only once, then the unterminated last line"
    );

    let s = parse_config(
        Path::new("status.txt"),
        ConfigKind::Status,
        b"URLLaunch=\r\nBucket=0\r\nResponse=1\r\n",
    );
    assert_eq!(s.settings.url_launch.as_deref(), Some(""));
    assert_eq!(s.settings.response.as_deref(), Some("1"));
    assert_eq!(s.not_honoured[0].reason, "a BucketID must not be 0");
    assert!(s.warnings.is_empty());
}

#[test]
fn scan_reports_damage_and_repair_fixes_counts() {
    let dir = TempDir::new("scan");
    fs::write(dir.0.join("policy.txt"), "Tracking=YES\nbogus\n").unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    let (a, b) = (id(0xa), id(0xb));
    share.file(&report(app(), &a, b"A")).unwrap();
    let mut kernel = report(BucketPath::Blue, &b, b"B");
    kernel.failure_bucket = Some("0x1E_c0000005_R_nt!x");
    share.file(&kernel).unwrap();
    let hits = dir.0.join(format!("cabs/{APP_DIR}/hits.log"));
    let mut log = fs::read(&hits).unwrap();
    log.extend_from_slice(b"garbage\r\n15:32:23  04-23-2007\tM\tU\tpartial");
    fs::write(&hits, log).unwrap();
    fs::write(dir.0.join(format!("cabs/{APP_DIR}/foreign.cab")), b"F").unwrap();
    fs::write(dir.0.join("counts/blue/count.txt"), "Cabs Gathered=x\r\n").unwrap();
    fs::write(dir.0.join("cabs/stray.txt"), b"?").unwrap();

    let s = scan(&dir.0).unwrap();
    assert_eq!(s.policy.as_ref().unwrap().not_honoured[0].line, 2);
    assert_eq!(s.buckets.len(), 2);
    let appb = &s.buckets[0];
    assert_eq!(appb.subpath, SUB);
    assert_eq!(appb.reports.len(), 2);
    let h = appb.hits_log.as_ref().unwrap();
    assert_eq!(h.entries, 1);
    assert_eq!(h.damaged.iter().map(|d| d.line).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(
        appb.inconsistencies,
        ["Cabs Gathered=1 but 2 report files are present"]
    );
    let blue = &s.buckets[1];
    assert_eq!(blue.bucket, BucketPath::Blue);
    assert_eq!(
        blue.inconsistencies,
        ["count.txt cannot be read as two counters"]
    );
    assert_eq!(s.strays.len(), 1);
    assert_eq!(s.crash_log.as_ref().unwrap().entries, 2);
    assert_eq!(s.registry[0].failure_bucket, "0x1E_c0000005_R_nt!x");
    assert_eq!(s.blue_index.len(), 1);
    serde_json::to_string(&s).unwrap();

    let c = id(0xcc);
    let err = share.file(&report(BucketPath::Blue, &c, b"C")).unwrap_err();
    assert!(matches!(err, ShareError::DamagedCount { .. }));
    let fixed = share.repair().unwrap();
    assert_eq!(fixed.counts_rewritten.len(), 2);
    assert_eq!(
        text(&dir.0, &format!("counts/{APP_DIR}/count.txt")),
        "Cabs Gathered=2\r\nTotal Hits=2\r\n"
    );
    assert_eq!(
        text(&dir.0, "counts/blue/count.txt"),
        "Cabs Gathered=1\r\nTotal Hits=1\r\n"
    );
    assert!(scan(&dir.0)
        .unwrap()
        .buckets
        .iter()
        .all(|b| b.inconsistencies.is_empty()));
    assert!(matches!(
        share.file(&report(BucketPath::Blue, &c, b"C")).unwrap(),
        FileOutcome::Filed { .. }
    ));
}

#[test]
fn count_txt_reader_tolerates_and_reports() {
    let r = parse_count(b"Cabs Gathered=0012\nTotal Hits=30");
    assert_eq!(
        r.counts(),
        Some(Counts {
            cabs_gathered: 12,
            total_hits: 30
        })
    );
    let reasons: Vec<(usize, &str)> = r
        .issues
        .iter()
        .map(|i| (i.line, i.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (1, "LF without CR accepted"),
            (1, "leading zeros accepted"),
            (2, "last line has no CRLF")
        ]
    );
    assert!(parse_count(b"Cabs Gathered=1\r\nTotal Hits=1\r\n")
        .issues
        .is_empty());
    assert_eq!(parse_count(b"").counts(), None);
}
