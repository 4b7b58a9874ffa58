//! Tests of the on-disk seen index.
use super::*;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("dumpsig-seen-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("dumpsig-seen")).unwrap();
    Dir(d)
}

fn line(i: usize) -> String {
    format!("{:064x}\tapp.exe\\1.0\\m.dll\\2.0\\{i:08x}", i * 7919)
}

fn append(log: &Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    for i in from..to {
        write!(f, "{}\r\n", line(i)).unwrap();
    }
}

#[test]
fn lookups_find_every_line_before_and_after_the_table_is_built() {
    let dir = scratch("lookups");
    let root = &dir.0;
    let log = root.join("dumpsig-seen/a.tsv");
    append(&log, 0, 100);
    let mut shard = SeenShard::open(root, log.clone(), false).unwrap();
    assert_eq!((shard.tail_len(), shard.indexed()), (100, (0, 0)));
    assert!(shard.contains(root, &line(42)).unwrap());
    assert!(!shard.contains(root, &line(100)).unwrap());

    // Past COMPACT_AT lines the table is built and the tail empties.
    append(&log, 100, COMPACT_AT + 500);
    let mut shard = SeenShard::open(root, log.clone(), false).unwrap();
    let log_len = std::fs::metadata(&log).unwrap().len();
    assert_eq!(shard.tail_len(), 0);
    assert_eq!(shard.indexed(), (log_len, (COMPACT_AT + 500) as u64));
    for i in [0, 1, 99, 100, 2048, COMPACT_AT + 499] {
        assert!(shard.contains(root, &line(i)).unwrap(), "{i}");
    }
    for i in [COMPACT_AT + 500, COMPACT_AT * 3] {
        assert!(!shard.contains(root, &line(i)).unwrap(), "{i}");
    }

    // New lines after the table are the tail; a second rebuild merges them in.
    append(&log, COMPACT_AT + 500, COMPACT_AT + 600);
    let mut shard = SeenShard::open(root, log.clone(), false).unwrap();
    assert_eq!(shard.tail_len(), 100);
    assert!(shard.contains(root, &line(COMPACT_AT + 550)).unwrap());
    assert!(shard.contains(root, &line(3)).unwrap());
    // Duplicate lines in the log (a redone append) are one record.
    append(&log, 0, COMPACT_AT + 10);
    let mut shard = SeenShard::open(root, log.clone(), true).unwrap();
    assert_eq!(shard.tail_len(), 0);
    assert_eq!(shard.indexed().1, (COMPACT_AT + 600) as u64);
    assert!(shard.contains(root, &line(COMPACT_AT + 599)).unwrap());
}

#[test]
fn a_damaged_or_foreign_table_is_ignored_and_rebuilt_from_the_log() {
    let dir = scratch("damaged");
    let root = &dir.0;
    let log = root.join("dumpsig-seen/b.tsv");
    append(&log, 0, COMPACT_AT + 1);
    let table = root.join("dumpsig-seen/b.tsv.sorted");
    drop(SeenShard::open(root, log.clone(), false).unwrap());
    let good = std::fs::read(&table).unwrap();
    let damaged: Vec<Vec<u8>> = vec![
        good[..good.len() - 5].to_vec(),                        // cut short
        [b"not-a-seen-table".as_slice(), &good[16..]].concat(), // wrong magic
        {
            // covers more of the log than there is
            let mut t = good.clone();
            t[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
            t
        },
        Vec::new(),
    ];
    for bytes in damaged {
        std::fs::write(&table, &bytes).unwrap();
        let mut shard = SeenShard::open(root, log.clone(), false).unwrap();
        assert_eq!(shard.tail_len(), 0, "rebuilt from the whole log");
        for i in [0, 77, COMPACT_AT] {
            assert!(shard.contains(root, &line(i)).unwrap());
        }
        assert_eq!(std::fs::read(&table).unwrap(), good);
    }
}

/// Every line of a table of many blocks (the last one partial) is found through its block,
/// none of a disjoint set is, and the first and last records of each block are found too.
#[test]
fn every_record_of_a_many_block_table_is_found_and_no_other() {
    let dir = scratch("blocks");
    let root = &dir.0;
    let log = root.join("dumpsig-seen/b.tsv");
    let n = 3 * COMPACT_AT + 77;
    append(&log, 0, n);
    let mut shard = SeenShard::open(root, log.clone(), false).unwrap();
    assert_eq!((shard.tail_len(), shard.indexed().1), (0, n as u64));
    for i in 0..n {
        assert!(shard.contains(root, &line(i)).unwrap(), "line {i}");
    }
    for i in n..n + 2000 {
        assert!(!shard.contains(root, &line(i)).unwrap(), "line {i}");
    }
    // The search tables too large to hold block fences for use gives the same answers.
    for i in (0..n + 2000).step_by(7) {
        let found = shard.search_records(root, &digest(&line(i))).unwrap();
        assert_eq!(found, i < n, "line {i}");
    }
}
