//! Concurrency and crash-safety tests: many writers at once, and a writer killed after every
//! step of a filing.

use std::fs;
use std::path::Path;

use super::tests::{app, id, report, tree, TempDir, LINE, SUB};
use super::*;

/// Every file parseable and every bucket consistent, as a killed writer must leave the share.
fn assert_sound(root: &Path) -> ShareScan {
    let s = scan(root).unwrap();
    for b in &s.buckets {
        // A folder holding only a killed writer's temp file has no count.txt yet.
        if let Some(count) = &b.count {
            assert!(count.issues.is_empty(), "{}: {:?}", b.subpath, count.issues);
        } else {
            assert!(
                b.reports.is_empty() && b.hits_log.is_none(),
                "{}",
                b.subpath
            );
        }
        assert!(
            b.inconsistencies.is_empty(),
            "{}: {:?}",
            b.subpath,
            b.inconsistencies
        );
        if let Some(h) = &b.hits_log {
            assert!(h.damaged.is_empty(), "{:?}", h.damaged);
        }
    }
    if let Some(c) = &s.crash_log {
        assert!(c.damaged.is_empty(), "{:?}", c.damaged);
    }
    assert!(s.registry_issues.is_empty() && s.blue_index_issues.is_empty());
    s
}

#[test]
fn concurrent_writers_lose_no_hit_and_tear_no_line() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 50;
    const BUCKETS: u64 = 5;
    let dir = TempDir::new("threads");
    fs::write(dir.0.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    let root = dir.0.clone();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let root = root.clone();
            std::thread::spawn(move || {
                // Each thread opens the share itself, as a separate process would.
                let share = CerShare::open(&root).unwrap();
                for i in 0..PER_THREAD {
                    let content = id(t << 32 | i);
                    let bucket = BucketPath::App([
                        "app.exe".into(),
                        "1.0.0.0".into(),
                        format!("mod{}.dll", i % BUCKETS),
                        "2.0.0.0".into(),
                        "0000abcd".into(),
                    ]);
                    let mut r = report(bucket, &content, b"MSCF");
                    r.failure_bucket = Some("AV_app!f");
                    let out = share.file(&r).unwrap();
                    assert!(!matches!(out, FileOutcome::AlreadyFiled { .. }));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let s = assert_sound(&root);
    assert_eq!(s.buckets.len(), BUCKETS as usize);
    let per_bucket = THREADS * PER_THREAD / BUCKETS;
    for b in &s.buckets {
        let counts = b.count.as_ref().unwrap().counts().unwrap();
        assert_eq!(
            counts,
            Counts {
                cabs_gathered: 5,
                total_hits: per_bucket
            }
        );
        assert_eq!(
            b.reports.len(),
            5,
            "the default limit holds under contention"
        );
        assert_eq!(b.hits_log.as_ref().unwrap().entries as u64, per_bucket);
    }
    assert_eq!(s.crash_log.unwrap().entries as u64, THREADS * PER_THREAD);
    assert_eq!(
        s.registry.len(),
        1,
        "one BucketID however many writers race for it"
    );
    assert!(s.temp_files.is_empty() && !s.pending_journal);
    let seen: usize = fs::read_dir(root.join("dumpsig-seen"))
        .unwrap()
        .map(|e| {
            fs::read(e.unwrap().path())
                .unwrap()
                .split(|&b| b == b'\n')
                .count()
                - 1
        })
        .sum();
    assert_eq!(seen as u64, THREADS * PER_THREAD);
}

/// The filing every crash scenario interrupts: a kernel report with tracking, a new BucketID
/// and an index line, into a share that already holds one filing.
fn prepare(tag: &str) -> (TempDir, CerShare) {
    let dir = TempDir::new(tag);
    fs::write(dir.0.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    let share = CerShare::open(&dir.0).unwrap();
    let first = id(1);
    share.file(&report(app(), &first, b"first")).unwrap();
    (dir, share)
}

fn victim(content: &str) -> ReportToFile<'_> {
    let mut r = report(BucketPath::Blue, content, b"MSCF-victim");
    r.failure_bucket = Some("0xD1_dump_diskdump!x");
    r
}

#[test]
fn a_writer_killed_after_any_step_leaves_a_sound_share() {
    let content = id(2);
    let (reference_dir, reference) = prepare("reference");
    let before_victim = tree(&reference_dir.0);
    reference.file(&victim(&content)).unwrap();
    let expected = tree(&reference_dir.0);

    let mut step = 0;
    loop {
        let (dir, share) = prepare(&format!("kill{step}"));
        let fault = |at: usize| {
            if at == step {
                Err(ShareError::Injected(at))
            } else {
                Ok(())
            }
        };
        match share.file_with(&victim(&content), &fault) {
            Ok(_) => break, // past the last step: the filing completed
            Err(ShareError::Injected(_)) => {}
            Err(e) => panic!("step {step}: {e}"),
        }
        // Killed: everything parseable and consistent, before anyone repairs anything.
        let s = assert_sound(&dir.0);
        assert_eq!(s.pending_journal, step > 0, "step {step}");

        // The next writer completes the filing; the result is byte-identical.
        let again = share.file(&victim(&content)).unwrap();
        let filed_now = matches!(again, FileOutcome::Filed { .. });
        assert_eq!(filed_now, step == 0, "step {step}: {again:?}");
        assert_eq!(tree(&dir.0), expected, "step {step}");

        // Or repair runs instead: it completes the journal, or drops the orphan temp.
        let (dir2, share2) = prepare(&format!("repair{step}"));
        let _ = share2.file_with(&victim(&content), &fault);
        let fixed = share2.repair().unwrap();
        assert_eq!(fixed.journal_completed, step > 0);
        assert!(fixed.counts_rewritten.is_empty(), "step {step}: {fixed:?}");
        let want = if step == 0 { &before_victim } else { &expected };
        assert_eq!(&tree(&dir2.0), want, "step {step}");
        step += 1;
    }
    assert!(step >= 8, "steps: temp, journal, 7 actions; got {step}");
}

#[test]
fn an_interrupted_append_is_completed_not_duplicated() {
    let dir = TempDir::new("append");
    let path = dir.0.join("crash.log");
    let line = format!("{LINE}{SUB}\r\n");
    fs::write(&path, &line.as_bytes()[..10]).unwrap();
    let action = journal::Action::Append {
        path: vec!["crash.log".into()],
        len_before: 0,
        data: line.clone().into_bytes(),
    };
    journal::commit(
        &dir.0,
        vec![action.clone()],
        &|_| Ok(()),
        1,
        Durability::Flushed,
    )
    .unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), line);
    journal::commit(&dir.0, vec![action], &|_| Ok(()), 1, Durability::Flushed).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        line,
        "a redo appends nothing"
    );
}

#[test]
fn a_damaged_journal_stops_writers_without_touching_the_share() {
    let (dir, share) = prepare("badjournal");
    fs::write(dir.0.join(journal::JOURNAL_FILE), b"{not json").unwrap();
    let before = tree(&dir.0);
    let content = id(3);
    let err = share.file(&victim(&content)).unwrap_err();
    assert!(matches!(err, ShareError::DamagedJournal { .. }));
    assert_eq!(tree(&dir.0), before);
    // A journal naming a path outside the share is refused too.
    let evil = r#"{"version":1,"actions":[{"Write":{"path":["..","x"],"data":[]}}]}"#;
    fs::write(dir.0.join(journal::JOURNAL_FILE), evil).unwrap();
    assert!(matches!(
        share.repair(),
        Err(ShareError::InvalidInput { .. })
    ));
    assert!(!dir.0.parent().unwrap().join("x").exists());
}
