#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::inputs::Discovery;
use crate::shard::Shard;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn shard_parsing() {
    assert_eq!(Shard::parse("3/8").unwrap(), Shard { index: 3, count: 8 });
    assert_eq!(
        Shard::parse(" 1 / 1 ").unwrap(),
        Shard { index: 1, count: 1 }
    );
    for bad in ["0/4", "5/4", "1/0", "x/2", "2", "1/y"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        Shard::from_zero_based(0, 4),
        Some(Shard { index: 1, count: 4 })
    );
    assert_eq!(Shard::from_zero_based(4, 4), None);
}

#[test]
fn shards_partition_names_evenly() {
    let names: Vec<String> = (0..4000)
        .map(|i| format!("dir{}/dump{i}.dmp", i % 7))
        .collect();
    let mut counts = [0usize; 4];
    for name in &names {
        let owners: Vec<u64> = (1..=4)
            .filter(|k| {
                Shard {
                    index: *k,
                    count: 4,
                }
                .owns(name)
            })
            .collect();
        assert_eq!(owners.len(), 1, "{name} owned by {owners:?}");
        counts[(owners[0] - 1) as usize] += 1;
    }
    for c in counts {
        assert!((800..1200).contains(&c), "uneven split {counts:?}");
    }
    // Separators do not matter: a Windows and a Unix listing agree.
    let s = Shard { index: 2, count: 3 };
    assert_eq!(s.owns("a\\b\\c.dmp"), s.owns("a/b/c.dmp"));
}

fn inputs(n: usize) -> Vec<Input> {
    (0..n)
        .map(|i| Input::File(PathBuf::from(format!("{i}"))))
        .collect()
}

#[test]
fn results_come_in_input_order_with_bounded_memory() {
    let in_flight = AtomicUsize::new(0);
    let max_seen = AtomicUsize::new(0);
    let options = BatchOptions {
        jobs: Some(3),
        progress: None,
    };
    let mut out = Vec::new();
    run_batch(
        inputs(2000),
        &options,
        |input| {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max_seen.fetch_max(now, Ordering::SeqCst);
            let n: u64 = input.path().to_string_lossy().parse().unwrap();
            // Uneven work so later inputs often finish first.
            std::thread::sleep(std::time::Duration::from_micros((n * 7919) % 300));
            n
        },
        |_, n| {
            in_flight.fetch_sub(1, Ordering::SeqCst);
            out.push(n);
        },
    )
    .unwrap();
    assert_eq!(out, (0..2000).collect::<Vec<u64>>());
    let bound = max_in_flight(options.jobs());
    assert!(
        max_seen.load(Ordering::SeqCst) <= bound,
        "{} inputs between discovery and the sink, bound {bound}",
        max_seen.load(Ordering::SeqCst)
    );
}

#[test]
fn a_slow_input_holds_the_sink_not_the_order() {
    let options = BatchOptions {
        jobs: Some(2),
        progress: None,
    };
    let mut out = Vec::new();
    run_batch(
        inputs(40),
        &options,
        |input| {
            if input.path() == std::path::Path::new("0") {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            input.path().display().to_string()
        },
        |_, s| out.push(s),
    )
    .unwrap();
    assert_eq!(out.first().map(String::as_str), Some("0"));
    assert_eq!(out.len(), 40);
}

#[test]
fn discovery_is_sorted_recursive_and_shards_without_overlap() {
    let root = std::env::temp_dir().join(format!("dumpsig-discovery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (dir, n) in [("a", 30), ("b/c", 25), ("d", 0)] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        for i in 0..n {
            std::fs::write(root.join(dir).join(format!("{i:02}.dmp")), b"x").unwrap();
        }
    }
    std::fs::write(root.join("notes.txt"), b"not a dump").unwrap();
    let all: Vec<Input> = Discovery::new(std::slice::from_ref(&root), None).collect();
    assert_eq!(all.len(), 55);
    let paths: Vec<&std::path::Path> = all.iter().map(Input::path).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "depth-first in sorted order");

    let mut union = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let part: Vec<Input> = Discovery::new(
            std::slice::from_ref(&root),
            Some(Shard { index: k, count: 3 }),
        )
        .collect();
        total += part.len();
        union.extend(part.into_iter().map(|i| i.path().to_owned()));
    }
    assert_eq!(total, 55, "no input in two shards");
    assert_eq!(union.len(), 55, "every input in one shard");
    // The same tree under another mount point shards the same way.
    let other = root.with_extension("moved");
    let _ = std::fs::remove_dir_all(&other);
    std::fs::rename(&root, &other).unwrap();
    let shard = Some(Shard { index: 2, count: 3 });
    let names = |dir: &std::path::Path| -> Vec<PathBuf> {
        Discovery::new(&[dir.to_owned()], shard)
            .map(|i| i.path().strip_prefix(dir).unwrap().to_owned())
            .collect()
    };
    let moved = names(&other);
    std::fs::rename(&other, &root).unwrap();
    assert_eq!(moved, names(&root));
    let _ = std::fs::remove_dir_all(&root);
}

/// A panic that escapes `work` (analysis guards its own; this is the pool's last line) ends
/// the batch with that panic instead of leaving the sink waiting for the lost chunk.
#[test]
fn a_panicking_worker_ends_the_batch_instead_of_hanging_it() {
    let options = BatchOptions {
        jobs: Some(2),
        progress: None,
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| {
            let _ = run_batch(
                inputs(500),
                &options,
                |input| {
                    let n: u64 = input.path().to_string_lossy().parse().unwrap();
                    assert!(n != 137, "input 137 fails");
                    n
                },
                |_, _| {},
            );
        });
        let _ = done_tx.send(outcome.is_err());
    });
    let panicked = done_rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the batch hung after a worker panicked");
    assert!(panicked, "the worker's panic was lost");
}
