//! Past one machine (docs/scale-out.md): N `bucket --shard K/N` processes started at once over
//! one input set, all filing into one share, leave the share that one process over all the
//! inputs leaves: the same files, the same bytes in every report and count, the same lines in
//! every index (their order, and the BucketIDs numbered in first-filed order, follow the filing
//! order, which concurrency changes).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::support::{run, scratch_dir, workspace_root, BIN};

/// An index line without its BucketID: IDs are numbered in the order buckets were first filed,
/// which concurrent writers change (each share numbers its buckets 1..n all the same, checked
/// below).
fn without_bucket_id(rel: &str, line: &str) -> String {
    let cells: Vec<&str> = line.split('\t').collect();
    match rel {
        "dumpsig-buckets.tsv" => cells[1..].join("\t"),
        "dumpsig-blue-index.tsv" => [&cells[..1], &cells[2..]].concat().join("\t"),
        _ => line.to_owned(),
    }
}

/// The BucketIDs of a share's registry, sorted.
fn bucket_ids(root: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(root.join("dumpsig-buckets.tsv")).unwrap();
    let mut ids: Vec<u64> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap().parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

/// Every file of a share but the lock: its relative path and its content, the lines of the
/// tab-separated indexes sorted.
fn share_contents(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == "dumpsig.lock" {
                continue;
            }
            let mut bytes = std::fs::read(&path).unwrap();
            if rel.ends_with(".tsv") {
                let text = String::from_utf8(bytes).unwrap();
                let mut lines: Vec<String> = text
                    .lines()
                    .map(|line| without_bucket_id(&rel, line))
                    .collect();
                lines.sort_unstable();
                bytes = lines.join("\n").into_bytes();
            }
            out.insert(rel, bytes);
        }
    }
    out
}

#[test]
fn shard_processes_into_one_share_equal_one_process() {
    const N: usize = 4;
    let dir = scratch_dir("shard-share");
    let samples = workspace_root().join("sample-dumps");
    let sharded = dir.join("sharded");
    let single = dir.join("single");
    let children: Vec<_> = (1..=N)
        .map(|k| {
            Command::new(BIN)
                .args([
                    "bucket",
                    "--json",
                    "--jobs",
                    "1",
                    "--no-progress",
                    "--share",
                ])
                .arg(&sharded)
                .arg("--shard")
                .arg(format!("{k}/{N}"))
                .arg(&samples)
                .output_spawned()
        })
        .collect();
    let mut filed = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.code() == Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        filed += String::from_utf8_lossy(&out.stdout).lines().count();
    }
    let one = run(
        BIN,
        &[
            "bucket",
            "--json",
            "--no-progress",
            "--share",
            single.to_str().unwrap(),
            samples.to_str().unwrap(),
        ],
    );
    assert_eq!(one.code(), 0, "{}", one.stderr);
    assert_eq!(
        filed,
        one.json_lines().len(),
        "every input filed once over the shards"
    );
    let ids = bucket_ids(&single);
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        bucket_ids(&sharded),
        ids,
        "the same BucketIDs, in another order"
    );
    let (a, b) = (share_contents(&sharded), share_contents(&single));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (path, bytes) in &a {
        assert!(
            bytes == &b[path],
            "{path} differs between the sharded and the single share"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Spawns with piped output, so the N processes run at once.
trait SpawnPiped {
    fn output_spawned(&mut self) -> std::process::Child;
}

impl SpawnPiped for Command {
    fn output_spawned(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}
