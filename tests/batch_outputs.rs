//! Issue 6's outputs end to end: CSV, sharding, `regress` exit statuses, the HTML report in
//! headless Chromium, and status.txt creation for a known issue.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::{run, scratch_dir, workspace_root};

use crate::support::BIN;

fn samples() -> PathBuf {
    workspace_root().join("sample-dumps")
}

fn s(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn csv_has_bluescreenview_columns_and_ours() {
    let r = run(
        BIN,
        &[
            "analyze",
            "--csv",
            "--signature-only",
            &s(&samples().join("kernel")),
        ],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let mut lines = r.stdout.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("Dump File,Crash Time,Bug Check String,Bug Check Code,Parameter 1"));
    assert!(header.ends_with("CER Subpath,Failure Bucket,Failure ID Hash,Verdicts"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 11);
    let seed = rows
        .iter()
        .find(|r| r.contains("win7-d1-dumpstack-16385.dmp"))
        .unwrap();
    for part in [
        "DRIVER_IRQL_NOT_LESS_OR_EQUAL,0x000000d1",
        ",dump_diskdump.sys,dump_diskdump.sys+1a2c,6.1.7600.16385,x64,",
        ",6.1.7600,",
        ",AV_IMAGE_dump_diskdump.sys,",
        "dump-path-virtual-miniport=fix-missing",
    ] {
        assert!(seed.contains(part), "{part} in {seed}");
    }
    let header_cols = header.split(',').count();
    assert_eq!(seed.split(',').count(), header_cols);
}

#[test]
fn shards_split_the_inputs_without_overlap() {
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let r = run(
            BIN,
            &[
                "analyze",
                "--json",
                "--signature-only",
                "--shard",
                &shard,
                &s(&samples()),
            ],
        );
        assert!(r.code() == 0, "{}", r.stderr);
        for line in r.json_lines() {
            total += 1;
            seen.insert(line["path"].as_str().unwrap().to_owned());
        }
    }
    let all = run(
        BIN,
        &["analyze", "--json", "--signature-only", &s(&samples())],
    );
    let everything: BTreeSet<String> = all
        .json_lines()
        .iter()
        .map(|l| l["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(total, everything.len(), "no input twice");
    assert_eq!(seen, everything, "every input once");
    let bad = run(BIN, &["analyze", "--shard", "4/3", &s(&samples())]);
    assert_eq!(bad.code(), 2);
}

#[test]
fn regress_gates_on_a_diskdump_regression() {
    let dir = scratch_dir("regress");
    let clean = dir.join("baseline.jsonl");
    let current = dir.join("current.jsonl");
    let analyze = |inputs: &[PathBuf], out: &PathBuf| {
        let mut args = vec![
            "analyze".to_owned(),
            "--json".to_owned(),
            "--signature-only".to_owned(),
        ];
        args.extend(inputs.iter().map(|p| s(p)));
        let r = run(BIN, &args);
        assert_eq!(r.code(), 0, "{}", r.stderr);
        std::fs::write(out, &r.stdout).unwrap();
    };
    let base_inputs = vec![
        samples().join("minidump"),
        samples().join("kernel/x64-full.dmp"),
    ];
    analyze(&base_inputs, &clean);
    let mut cur_inputs = base_inputs.clone();
    cur_inputs.push(samples().join("kernel/win7-d1-dumpstack-20882.dmp"));
    analyze(&cur_inputs, &current);

    let same = run(
        BIN,
        &["regress", "--baseline", &s(&clean), "--current", &s(&clean)],
    );
    assert_eq!(same.code(), 0, "{}{}", same.stdout, same.stderr);
    assert!(same.stdout.contains("no regression"), "{}", same.stdout);

    let r = run(
        BIN,
        &[
            "regress",
            "--json",
            "--baseline",
            &s(&clean),
            "--current",
            &s(&current),
        ],
    );
    assert_eq!(r.code(), 1, "{}{}", r.stdout, r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["regressed"], true);
    let ids: Vec<&str> = v["verdict_regressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["dump-path-virtual-miniport"]);
    assert!(v["new_buckets"]
        .to_string()
        .contains("AV_IMAGE_dump_diskdump.sys"));

    let text = run(
        BIN,
        &[
            "regress",
            "--baseline",
            &s(&clean),
            "--current",
            &s(&current),
        ],
    );
    assert_eq!(text.code(), 1);
    assert!(text.stdout.starts_with("REGRESSED"), "{}", text.stdout);

    // Folders are analyzed first; an unreadable run is exit status 2.
    let folders = run(
        BIN,
        &[
            "regress",
            "--baseline",
            &s(&samples().join("minidump")),
            "--current",
            &s(&samples().join("minidump")),
        ],
    );
    assert_eq!(folders.code(), 0, "{}{}", folders.stdout, folders.stderr);
    let missing = run(
        BIN,
        &[
            "regress",
            "--baseline",
            &s(&dir.join("nope.jsonl")),
            "--current",
            &s(&clean),
        ],
    );
    assert_eq!(missing.code(), 2);
    std::fs::write(dir.join("bad.jsonl"), "{\"path\": 1\n").unwrap();
    let bad = run(
        BIN,
        &[
            "regress",
            "--baseline",
            &s(&dir.join("bad.jsonl")),
            "--current",
            &s(&clean),
        ],
    );
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr.contains("line 1"), "{}", bad.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let dir = scratch_dir("html");
    let page = dir.join("report.html");
    let r = run(
        BIN,
        &[
            "report",
            "--html",
            &s(&page),
            &s(&samples().join("minidump")),
            &s(&samples().join("kernel")),
        ],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("id=\"buckets\"") && html.contains("id=\"chart-top-buckets\""));
    // Self-contained: nothing loaded at view time (an SVG namespace URI is not a load).
    for load in [
        "src=\"http",
        "href=\"http",
        "url(http",
        "<link",
        "<script src",
        "@import",
    ] {
        assert!(!html.contains(load), "{load} in the page");
    }
    let has_browser = ["chromium", "chromium-browser"].iter().any(|b| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {b}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !crate::support::require(
        has_browser,
        "html_report_renders_in_headless_chromium (browser check)",
        "chromium is not installed (scripts/install-chromium.sh)",
    ) {
        return;
    }
    let shot = dir.join("report.png");
    let check = std::process::Command::new("bash")
        .arg(workspace_root().join("scripts/check-html.sh"))
        .arg(&page)
        .arg(&shot)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn create_status_writes_status_txt_for_a_known_issue_only_once() {
    let dir = scratch_dir("status");
    let share = dir.join("share");
    let rules = dir.join("rules.txt");
    std::fs::write(
        &rules,
        "[fabcore-null-read]\ntitle = fabcore.dll reads through a null pointer\n\
reference = https://example.invalid/kb/fabcore\nexception = 0xC0000005\nfaulting_module = fabcore.dll\n",
    )
    .unwrap();
    let dump = samples().join("minidump/x64-dll-crash.dmp");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "bucket".to_owned(),
            "--json".to_owned(),
            "--share".to_owned(),
            s(&share),
        ];
        a.extend(extra.iter().map(|e| (*e).to_owned()));
        a.push(s(&dump));
        a
    };
    let r = run(
        BIN,
        &args(&[
            "--create-status",
            "--rules",
            &s(&rules),
            "--machine",
            "WS-0042\tX",
            "--user",
            "alice",
        ]),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let rec = &r.json_lines()[0];
    assert_eq!(rec["status"], "created", "{rec}");
    let subpath = rec["cer_subpath"].as_str().unwrap().replace('\\', "/");
    let status = share.join("status").join(&subpath).join("status.txt");
    let text = std::fs::read_to_string(&status).unwrap();
    assert!(text.starts_with("Bucket=") && text.contains("\r\nResponse=known issue fabcore-null-read: https://example.invalid/kb/fabcore\r\n"), "{text:?}");
    // A second run leaves it alone.
    std::fs::write(&status, "Bucket=7\r\nResponse=mine\r\nTracking=YES\r\n").unwrap();
    let again = run(BIN, &args(&["--create-status", "--rules", &s(&rules)]));
    assert_eq!(again.json_lines()[0]["status"], "already_exists");
    assert_eq!(
        std::fs::read_to_string(&status).unwrap(),
        "Bucket=7\r\nResponse=mine\r\nTracking=YES\r\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
