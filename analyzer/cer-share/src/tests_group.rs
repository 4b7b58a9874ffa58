//! Group commit gives the same share, byte for byte, as filing one report at a time.

use std::fs;
use std::path::Path;

use super::group::LIST_AT_MOST;
use super::tests::{app, id, report, tree, TempDir};
use super::*;

fn other_app() -> BucketPath {
    BucketPath::App(["Other.exe", "2.0.0.0", "other.dll", "2.0.0.0", "0000abcd"].map(String::from))
}

/// A mixed batch: a bucket going over its limit, a second bucket, kernel reports with
/// failure buckets (new and repeated BucketIDs), a duplicate, an invalid and a discarded one.
fn mixed(ids: &[String]) -> Vec<ReportToFile<'_>> {
    let mut out = Vec::new();
    for (n, content) in ids.iter().enumerate() {
        let mut r = match n % 4 {
            0 | 1 => report(app(), content, b"MSCF-app"),
            2 => report(other_app(), content, b"MSCF-other"),
            _ => report(BucketPath::Blue, content, b"MSCF-blue"),
        };
        r.failure_bucket = Some(if n % 8 == 3 { "0xD1_a!b" } else { "0x3B_c!d" });
        out.push(r);
    }
    // The same dump twice in one group: counted once.
    if let Some(first) = out.first().cloned() {
        out.push(first);
    }
    let mut bad = report(app(), "not-hex", b"x");
    bad.failure_bucket = None;
    out.push(bad);
    let long = "L".repeat(200);
    let mut discarded = report(
        BucketPath::App([long.clone(), long.clone(), long.clone(), long, "0".into()]),
        ids.first().map_or("", String::as_str),
        b"x",
    );
    discarded.failure_bucket = None;
    out.push(discarded);
    out
}

fn prepared(tag: &str) -> (TempDir, CerShare) {
    let dir = TempDir::new(tag);
    fs::write(dir.0.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    (dir, share)
}

fn outcome_names(results: &[Result<FileOutcome, ShareError>]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r {
            // The discarded path holds the temp dir's name, which differs between shares.
            Ok(FileOutcome::Discarded { .. }) => "Discarded".to_owned(),
            Ok(o) => format!("{o:?}"),
            Err(e) => format!("error: {e}"),
        })
        .collect()
}

#[test]
fn a_group_writes_what_one_by_one_filing_writes() {
    let ids: Vec<String> = (1..=30).map(id).collect();
    let reports = mixed(&ids);

    let (one_dir, one) = prepared("one");
    let singles: Vec<_> = reports.iter().map(|r| one.file(r)).collect();
    let (group_dir, group) = prepared("group");
    let mut writer = ShareWriter::new(&group, 3);
    let grouped = writer.file_group(&reports).unwrap();

    let strip = |o: &str, root: &Path| o.replace(&root.display().to_string(), "ROOT");
    let singles: Vec<_> = outcome_names(&singles)
        .iter()
        .map(|o| strip(o, &one_dir.0))
        .collect();
    let grouped: Vec<_> = outcome_names(&grouped)
        .iter()
        .map(|o| strip(o, &group_dir.0))
        .collect();
    assert_eq!(singles, grouped);
    assert!(
        grouped.iter().any(|o| o.contains("OverLimit")),
        "{grouped:?}"
    );
    assert!(grouped.iter().any(|o| o.contains("AlreadyFiled")));
    assert!(grouped.iter().any(|o| o.contains("Discarded")));
    assert!(grouped
        .iter()
        .any(|o| o.starts_with("error: invalid content id")));
    assert_eq!(tree(&one_dir.0), tree(&group_dir.0));

    // Later groups reuse the cached indexes; the result still matches, and refiling is a no-op.
    let more: Vec<String> = (31..=45).map(id).collect();
    let next = mixed(&more);
    for r in &next {
        one.file(r).unwrap_or_else(|_| FileOutcome::AlreadyFiled {
            subpath: String::new(),
        });
    }
    let _ = writer.file_group(&next).unwrap();
    assert_eq!(tree(&one_dir.0), tree(&group_dir.0));
    let before = tree(&group_dir.0);
    let again = writer.file_group(&reports).unwrap();
    assert!(again.iter().all(|o| !matches!(
        o,
        Ok(FileOutcome::Filed { .. } | FileOutcome::CountedOnly { .. })
    )));
    assert_eq!(tree(&group_dir.0), before);
}

#[test]
fn another_writer_between_groups_is_seen() {
    let (dir, share) = prepared("interleaved");
    let ids: Vec<String> = (1..=12).map(id).collect();
    let mut first = ShareWriter::new(&share, 1);
    let mut second = ShareWriter::new(&share, 2);
    let reports: Vec<ReportToFile<'_>> = ids
        .iter()
        .map(|c| {
            let mut r = report(app(), c, b"MSCF");
            r.failure_bucket = Some("0x3B_c!d");
            r
        })
        .collect();
    let (a, b) = reports.split_at(6);
    first.file_group(a).unwrap();
    second.file_group(b).unwrap();
    // Both writers now offer everything again: each must see the other's filings.
    assert!(first
        .file_group(&reports)
        .unwrap()
        .iter()
        .all(|o| matches!(o, Ok(FileOutcome::AlreadyFiled { .. }))));
    let counts = fs::read(dir.0.join("counts").join(SUB_PATH).join("count.txt")).unwrap();
    assert_eq!(counts, b"Cabs Gathered=5\r\nTotal Hits=12\r\n");
    // One BucketID, registered once although two writers met the failure bucket.
    let registry = fs::read_to_string(dir.0.join("dumpsig-buckets.tsv")).unwrap();
    assert_eq!(registry, "1\t0x3B_c!d\r\n");
}

const SUB_PATH: &str = "TestApplication/1.0.0.0/TestModule/1.0.0.0/00000000";

#[test]
fn a_failed_copy_fails_its_report_and_gives_the_slot_to_the_next() {
    let (dir, share) = prepared("copyfail");
    let ids: Vec<String> = (1..=7).map(id).collect();
    let missing = dir.0.join("no-such-report.cab");
    let mut reports: Vec<ReportToFile<'_>> =
        ids.iter().map(|c| report(app(), c, b"MSCF")).collect();
    if let Some(r) = reports.get_mut(2) {
        r.report = Some(ReportSource::File(&missing));
    }
    let results = ShareWriter::new(&share, 2).file_group(&reports).unwrap();
    let filed = results
        .iter()
        .filter(|o| matches!(o, Ok(FileOutcome::Filed { .. })))
        .count();
    assert_eq!(filed, 5, "{results:?}");
    assert!(matches!(results.get(2), Some(Err(ShareError::Io { .. }))));
    assert!(matches!(
        results.get(5),
        Some(Ok(FileOutcome::Filed { .. }))
    ));
    assert!(matches!(
        results.get(6),
        Some(Ok(FileOutcome::CountedOnly { .. }))
    ));
    let counts = fs::read(dir.0.join("counts").join(SUB_PATH).join("count.txt")).unwrap();
    assert_eq!(counts, b"Cabs Gathered=5\r\nTotal Hits=6\r\n");
    let s = scan(&dir.0).unwrap();
    assert!(s.temp_files.is_empty(), "{:?}", s.temp_files);
}

#[test]
fn a_group_killed_after_any_step_is_completed_by_the_next_writer() {
    let ids: Vec<String> = (1..=10).map(id).collect();
    let reports = mixed(&ids);
    let (reference_dir, reference) = prepared("group-ref");
    ShareWriter::new(&reference, 1)
        .file_group(&reports)
        .unwrap();
    let expected = tree(&reference_dir.0);

    let mut step = 0;
    loop {
        let (dir, share) = prepared(&format!("group-kill{step}"));
        let fault = |at: usize| {
            if at == step {
                Err(ShareError::Injected(at))
            } else {
                Ok(())
            }
        };
        match ShareWriter::new(&share, 2).file_group_with(&reports, &fault) {
            Ok(_) => break,
            Err(ShareError::Injected(_)) => {}
            Err(e) => panic!("step {step}: {e}"),
        }
        let s = scan(&dir.0).unwrap();
        assert_eq!(s.pending_journal, step > 0, "step {step}");
        ShareWriter::new(&share, 1).file_group(&reports).unwrap();
        assert_eq!(tree(&dir.0), expected, "step {step}");
        step += 1;
    }
    assert!(step >= 8, "steps: copies, journal, actions; got {step}");
}

#[test]
fn packed_dumps_are_cabs_made_only_when_copied() {
    let (dir, share) = prepared("pack");
    let ids: Vec<String> = (1..=7).map(id).collect();
    let dump = b"MDMP-not-really-a-dump".repeat(100);
    let modified = cab::DosDateTime {
        year: 2020,
        month: 5,
        day: 6,
        hour: 7,
        minute: 8,
        second: 10,
    };
    let reports: Vec<ReportToFile<'_>> = ids
        .iter()
        .map(|c| {
            let mut r = report(app(), c, b"");
            r.report = Some(ReportSource::PackDump {
                member: "crash.dmp",
                dump: &dump,
                modified,
            });
            r
        })
        .collect();
    ShareWriter::new(&share, 2).file_group(&reports).unwrap();
    let cabs: Vec<_> = fs::read_dir(dir.0.join("cabs").join(SUB_PATH))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cab"))
        .collect();
    assert_eq!(cabs.len(), 5);
    for cab in cabs {
        let bytes = fs::read(&cab).unwrap();
        let files = cab::Cabinet::parse(&bytes)
            .unwrap()
            .extract_all(&cab::ExtractLimits::default())
            .unwrap();
        assert_eq!(files.len(), 1);
        let file = files.first().unwrap();
        assert_eq!(file.name, "crash.dmp");
        assert_eq!(file.data, dump);
    }
}

/// A report file already in its folder counts as filed even when the seen index lacks it
/// (deleted, or written by an older version): found by the folder listing of a small bucket,
/// and by a lookup of its own in a bucket that counted too many report files to list.
#[test]
fn a_report_file_in_place_is_already_filed_without_its_seen_line() {
    for gathered in [1, LIST_AT_MOST + 1] {
        let dir = TempDir::new("in-place");
        let share = CerShare::open(&dir.0).unwrap();
        let a = id(0x51);
        let mut writer = ShareWriter::new(&share, 2);
        let first = writer.file_group(&[report(app(), &a, b"MSCF-a")]).unwrap();
        assert!(matches!(first.as_slice(), [Ok(FileOutcome::Filed { .. })]));
        fs::remove_dir_all(dir.0.join(index::SEEN_DIR)).unwrap();
        let count = dir
            .0
            .join("counts")
            .join(super::tests::APP_DIR)
            .join("count.txt");
        fs::write(
            &count,
            format!("Cabs Gathered={gathered}\r\nTotal Hits={gathered}\r\n"),
        )
        .unwrap();
        let before = tree(&dir.0);
        // A fresh writer: nothing cached from the first filing.
        let again = ShareWriter::new(&share, 2)
            .file_group(&[report(app(), &a, b"MSCF-a")])
            .unwrap();
        assert!(
            matches!(again.as_slice(), [Ok(FileOutcome::AlreadyFiled { .. })]),
            "{gathered} gathered: {again:?}"
        );
        assert_eq!(tree(&dir.0), before, "{gathered} gathered: nothing written");
        // Another report of the same bucket is still filed.
        let b = id(0x52);
        let other = ShareWriter::new(&share, 2)
            .file_group(&[report(app(), &b, b"MSCF-b")])
            .unwrap();
        assert!(
            !matches!(other.as_slice(), [Ok(FileOutcome::AlreadyFiled { .. })]),
            "{gathered} gathered: {other:?}"
        );
    }
}

/// A group with enough report files that the journal's renames run on several threads (blue
/// has no default limit): the share matches one-by-one filing, and a kill part-way through
/// those renames is completed by the next writer.
#[test]
fn renames_spread_over_threads_match_one_by_one_filing() {
    let ids: Vec<String> = (1..=100).map(id).collect();
    let reports: Vec<ReportToFile<'_>> = ids
        .iter()
        .map(|c| {
            let mut r = report(BucketPath::Blue, c, b"MSCF-blue");
            r.failure_bucket = Some("0xD1_a!b");
            r
        })
        .collect();
    let (one_dir, one) = prepared("threads-one");
    for r in &reports {
        one.file(r).unwrap();
    }
    let expected = tree(&one_dir.0);
    let (group_dir, group) = prepared("threads-group");
    let outcomes = ShareWriter::new(&group, 2).file_group(&reports).unwrap();
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Ok(FileOutcome::Filed { .. }))));
    assert_eq!(tree(&group_dir.0), expected);

    // Step 2 + i is action i; the actions are one count write, then the 100 renames.
    let (killed_dir, killed) = prepared("threads-kill");
    let fault = |at: usize| {
        if at == 2 + 1 + 70 {
            Err(ShareError::Injected(at))
        } else {
            Ok(())
        }
    };
    assert!(matches!(
        ShareWriter::new(&killed, 2).file_group_with(&reports, &fault),
        Err(ShareError::Injected(_))
    ));
    assert!(scan(&killed_dir.0).unwrap().pending_journal);
    ShareWriter::new(&killed, 2).file_group(&reports).unwrap();
    assert_eq!(tree(&killed_dir.0), expected);
}
