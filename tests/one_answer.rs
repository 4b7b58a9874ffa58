//! One dump, one answer: every generated sample and every real dump and CAB gets the same
//! CER subpath, failure bucket and FAILURE_ID_HASH from `analyze`, `analyze --signature-only`,
//! `bucket` (its `--json` records and the share's folders), `report --html` (the bucket table)
//! and `regress` (which finds nothing new between any two of those runs), without symbols, with
//! Breakpad symbol folders, and with a symbol path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::support::{real_dump, run, scratch_dir, workspace_root, Run, BIN};

/// path -> (cer_subpath, failure_bucket, failure_id_hash) of the records that have keys.
type Keys = BTreeMap<String, (String, String, String)>;

fn keys(records: &[Value], with_hash: bool) -> Keys {
    records
        .iter()
        .filter(|r| r["error"].is_null())
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            let hash = if with_hash {
                text("failure_id_hash")
            } else {
                String::new()
            };
            (
                text("path"),
                (text("cer_subpath"), text("failure_bucket"), hash),
            )
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The CER subpaths a share's `counts` tree holds (folders with a count.txt).
fn share_subpaths(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.join("counts")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "count.txt") {
                let rel = dir.strip_prefix(root.join("counts")).unwrap_or(&dir);
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.insert(parts.join("\\"));
            }
        }
    }
    out
}

/// `regress` with the run's symbol options (a folder is analyzed with them).
fn regress(baseline: &Path, current: &Path, symbols: &[String]) -> Run {
    let mut args: Vec<String> = vec![
        "regress".into(),
        "--baseline".into(),
        baseline.to_str().unwrap().into(),
        "--current".into(),
        current.to_str().unwrap().into(),
    ];
    args.extend(symbols.iter().cloned());
    run(BIN, &args)
}

#[test]
fn every_command_gives_the_same_keys() {
    let dir = scratch_dir("one-answer-all");
    let s = |p: std::path::PathBuf| p.to_str().unwrap().to_owned();
    let inputs = [s(workspace_root().join("sample-dumps")), s(real_dump(""))];
    let symbol_sets: [Vec<String>; 3] = [
        vec![],
        vec![
            "--symbols".into(),
            s(real_dump("symbols/breakpad")),
            "--symbols".into(),
            s(workspace_root().join("sample-dumps/symbols")),
        ],
        vec!["--symbol-path".into(), s(real_dump("symbols/symstore"))],
    ];
    for (n, symbols) in symbol_sets.iter().enumerate() {
        let with = |command: &[&str]| -> Vec<String> {
            let mut args: Vec<String> = command.iter().map(|a| (*a).to_owned()).collect();
            args.extend(symbols.iter().cloned());
            args
        };
        let mut args = with(&["analyze", "--json"]);
        args.extend(inputs.iter().cloned());
        let full = run(BIN, &args);
        let full_keys = keys(&full.json_lines(), true);
        assert!(
            full_keys.len() >= 40,
            "{n}: {} inputs with keys",
            full_keys.len()
        );

        let mut args = with(&["analyze", "--json", "--signature-only"]);
        args.extend(inputs.iter().cloned());
        let quick = run(BIN, &args);
        assert_eq!(
            keys(&quick.json_lines(), true),
            full_keys,
            "{n}: --signature-only"
        );

        let share = dir.join(format!("share{n}"));
        let mut args = with(&["bucket", "--json", "--share", share.to_str().unwrap()]);
        args.extend(inputs.iter().cloned());
        let bucket = run(BIN, &args);
        let bucket_keys = keys(&bucket.json_lines(), false);
        let without_hash: Keys = full_keys
            .iter()
            .map(|(p, (c, b, _))| (p.clone(), (c.clone(), b.clone(), String::new())))
            .collect();
        assert_eq!(bucket_keys, without_hash, "{n}: bucket --json");
        let subpaths: BTreeSet<String> = full_keys.values().map(|(c, _, _)| c.clone()).collect();
        assert_eq!(share_subpaths(&share), subpaths, "{n}: the share's folders");

        let page = dir.join(format!("report{n}.html"));
        let mut args = with(&["report", "--html", page.to_str().unwrap()]);
        args.extend(inputs.iter().cloned());
        let report = run(BIN, &args);
        let html = std::fs::read_to_string(&page)
            .unwrap_or_else(|e| panic!("{n}: no page ({e}): {}", report.stderr));
        for (path, (_, bucket, hash)) in &full_keys {
            assert!(
                html.contains(&html_escape(bucket)) && html.contains(hash.as_str()),
                "{n}: {path}: {bucket} {hash} not in the report's table"
            );
        }

        // regress between the runs: the same keys, so nothing new, grown or gone.
        let runs: Vec<(&str, &Run)> =
            vec![("analyze", &full), ("quick", &quick), ("bucket", &bucket)];
        let mut files = Vec::new();
        for (name, r) in runs {
            let file = dir.join(format!("{name}{n}.jsonl"));
            std::fs::write(&file, &r.stdout).unwrap();
            files.push(file);
        }
        for current in &files[1..] {
            let r = regress(&files[0], current, symbols);
            assert_eq!(r.code(), 0, "{n}: {}\n{}", r.stdout, r.stderr);
            assert!(r.stdout.starts_with("no regression"), "{n}: {}", r.stdout);
        }
        let r = regress(&files[0], &share, symbols);
        assert!(
            !r.stdout.contains("new buckets") && !r.stdout.contains("gone buckets"),
            "{n}: the share against the analysis:\n{}",
            r.stdout
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
