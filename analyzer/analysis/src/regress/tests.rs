use serde_json::{json, Value};

use super::*;

/// A kernel report shaped like `analyze --json` output (docs/json.md), with extra fields that
/// must be ignored.
fn kernel(path: &str, bucket: &str, code: &str, base: u64, issues: Value) -> String {
    json!({
        "schema_version": 1, "path": path, "kind": "kernel", "file_size": 1024, "error": null,
        "cer_subpath": "blue", "failure_bucket": bucket, "failure_id_hash": "km:0000",
        "crash_state": ["nt!KeBugCheckEx"], "signature": null, "minidump": null,
        "kernel": {"dump_type": 1, "bugcheck": {"code": code, "name": "DRIVER_IRQL_NOT_LESS_OR_EQUAL",
                   "parameters": ["0x10", "0xf", "0x0", "0xfffff8800185da2c"]}},
        "kernel_signature": {"stop_code": {"code": base, "base_code": base, "name": "X"}},
        "cab": null, "known_issues": issues
    })
    .to_string()
}

fn minidump(path: &str, bucket: &str, code: Option<&str>) -> String {
    let exception =
        code.map(|c| json!({"code": c, "name": "EXCEPTION_ACCESS_VIOLATION", "flags": "0x0"}));
    json!({
        "schema_version": 1, "path": path, "kind": "minidump", "file_size": 2048, "error": null,
        "cer_subpath": format!("app.exe\\1.0\\{bucket}\\1.0\\00001234"), "failure_bucket": bucket,
        "failure_id_hash": null, "crash_state": null,
        "signature": {"exception_code": "c0000005", "fault_location": "exception_address"},
        "minidump": {"exception": exception, "modules": []}, "kernel": null,
        "kernel_signature": null, "cab": null, "known_issues": []
    })
    .to_string()
}

fn failed(path: &str) -> String {
    json!({"schema_version": 1, "path": path, "kind": "minidump", "file_size": 276,
           "error": "truncated: stream at offset 0x20000", "cer_subpath": null, "failure_bucket": null,
           "failure_id_hash": null, "crash_state": null, "signature": null, "minidump": null,
           "kernel": null, "kernel_signature": null, "cab": null, "known_issues": []})
    .to_string()
}

fn issue(verdict: &str) -> Value {
    json!([{"id": "dump-path-virtual-miniport", "title": "Stop 0xD1 in the dump path",
            "references": [], "verdict": verdict, "reason": format!("rule says {verdict}"), "context": []}])
}

/// A clean baseline: ten user-mode crashes in three buckets, one kernel crash, one failure.
fn clean_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..6 {
        lines.push(minidump(
            &format!("a{i}.dmp"),
            "NULL_POINTER_READ_c0000005_a.dll!unknown",
            Some("0xc0000005"),
        ));
    }
    for i in 0..4 {
        lines.push(minidump(
            &format!("b{i}.dmp"),
            "INVALID_POINTER_READ_c0000005_b.dll!unknown",
            Some("0xc0000005"),
        ));
    }
    lines.push(kernel(
        "k.dmp",
        "0x3B_c0000005_IMAGE_dxgkrnl.sys",
        "0x0000003b",
        0x3b,
        json!([]),
    ));
    lines.push(failed("bad.dmp"));
    lines
}

fn run(lines: &[String], name: &str) -> RunData {
    load_jsonl(&lines.join("\n"), name).unwrap()
}

#[test]
fn identical_runs_do_not_regress() {
    let lines = clean_lines();
    let report = compare(&run(&lines, "a"), &run(&lines, "b"), DEFAULT_THRESHOLD);
    assert!(!report.regressed);
    assert!(report.regressed_by.is_empty());
    assert!(
        report.new_buckets.is_empty()
            && report.gone_buckets.is_empty()
            && report.grown_buckets.is_empty()
    );
    assert!(report.verdict_regressions.is_empty() && report.reappeared_codes.is_empty());
    assert_eq!(report.baseline.reports, 12);
    assert_eq!(report.baseline.analyzed, 11);
    assert_eq!(report.baseline.buckets, 3);
    assert!(report.to_text().starts_with("no regression\n"));
}

#[test]
fn new_regression_verdict_regresses() {
    let base = clean_lines();
    let mut cur = clean_lines();
    cur.push(kernel(
        "win7-d1-dumpstack-20882.dmp",
        "0xD1_IMAGE_dump_diskdump.sys",
        "0x000000d1",
        0xd1,
        issue("regression"),
    ));
    let report = compare(
        &run(&base, "base.jsonl"),
        &run(&cur, "cur.jsonl"),
        DEFAULT_THRESHOLD,
    );
    assert!(report.regressed);
    assert_eq!(
        report.regressed_by,
        vec!["new_buckets", "verdict_regressions", "reappeared_codes"]
    );
    assert_eq!(report.new_buckets.len(), 1);
    assert_eq!(report.new_buckets[0].bucket, "0xD1_IMAGE_dump_diskdump.sys");
    assert_eq!(report.new_buckets[0].current_hits, 1);
    let v = &report.verdict_regressions[0];
    assert_eq!(v.id, "dump-path-virtual-miniport");
    assert_eq!(v.reports, 1);
    assert!(v.baseline_verdicts.is_empty());
    assert_eq!(v.buckets, vec!["0xD1_IMAGE_dump_diskdump.sys".to_owned()]);
    assert_eq!(v.reason.as_deref(), Some("rule says regression"));
    assert_eq!(v.example_path, "win7-d1-dumpstack-20882.dmp");
    let text = report.to_text();
    assert!(
        text.starts_with("REGRESSED: 1 new bucket, 1 verdict regression, 1 reappeared code\n"),
        "{text}"
    );
    // The JSON form uses snake_case names.
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["reappeared_codes"][0]["kind"], "stop");
    assert_eq!(value["reappeared_codes"][0]["code"], "0x000000d1");
}

#[test]
fn verdict_that_was_fix_missing_turns_into_regression() {
    let mut base = clean_lines();
    base.push(kernel(
        "k1.dmp",
        "0xD1_IMAGE_dump_diskdump.sys",
        "0x000000d1",
        0xd1,
        issue("fix-missing"),
    ));
    let mut cur = base.clone();
    cur.push(kernel(
        "k2.dmp",
        "0xD1_IMAGE_dump_diskdump.sys",
        "0x000000d1",
        0xd1,
        issue("regression"),
    ));
    let report = compare(&run(&base, "a"), &run(&cur, "b"), DEFAULT_THRESHOLD);
    assert_eq!(report.regressed_by, vec!["verdict_regressions"]);
    assert_eq!(
        report.verdict_regressions[0]
            .baseline_verdicts
            .get("fix-missing"),
        Some(&1)
    );
    // A regression already in the baseline is listed but does not count.
    let again = compare(&run(&cur, "a"), &run(&cur, "b"), DEFAULT_THRESHOLD);
    assert!(!again.regressed);
    assert_eq!(again.still_regressed.len(), 1);
    assert!(again.to_text().contains("still regressed"));
}

#[test]
fn gone_bucket_alone_does_not_regress() {
    let base = clean_lines();
    let cur: Vec<String> = base
        .iter()
        .filter(|l| !l.contains("k.dmp"))
        .cloned()
        .collect();
    let report = compare(&run(&base, "a"), &run(&cur, "b"), DEFAULT_THRESHOLD);
    assert!(!report.regressed);
    assert_eq!(report.gone_buckets.len(), 1);
    assert_eq!(
        report.gone_buckets[0].bucket,
        "0x3B_c0000005_IMAGE_dxgkrnl.sys"
    );
    assert_eq!(report.gone_buckets[0].baseline_hits, 1);
    assert!(report.to_text().contains("gone buckets"));
}

#[test]
fn grown_share_beyond_threshold() {
    let base = clean_lines(); // b: 4 of 11 analyzed (36.4%)
    let mut cur = clean_lines();
    for i in 0..4 {
        cur.push(minidump(
            &format!("more{i}.dmp"),
            "INVALID_POINTER_READ_c0000005_b.dll!unknown",
            Some("0xc0000005"),
        ));
    }
    // b: 8 of 15 (53.3%): +17.0 points, about 2.5 hits above the baseline share.
    let report = compare(&run(&base, "a"), &run(&cur, "b"), DEFAULT_THRESHOLD);
    assert_eq!(report.regressed_by, vec!["grown_buckets"]);
    let g = &report.grown_buckets[0];
    assert_eq!((g.baseline_hits, g.current_hits), (4, 8));
    assert!((g.share_delta - (8.0 / 15.0 - 4.0 / 11.0)).abs() < 1e-12);
    // A threshold above the growth lets it pass.
    assert!(!compare(&run(&base, "a"), &run(&cur, "b"), 0.2).regressed);
    assert!(report.to_text().contains("grown buckets (1)"));
}

#[test]
fn one_stray_hit_is_not_growth() {
    // 1 of 10 → 2 of 10 is +10 points but only one hit more than expected.
    let mk = |extra: usize| -> Vec<String> {
        let mut v: Vec<String> = (0..10 - extra)
            .map(|i| minidump(&format!("a{i}"), "A", None))
            .collect();
        v.extend((0..extra).map(|i| minidump(&format!("b{i}"), "B", None)));
        v
    };
    let report = compare(&run(&mk(1), "a"), &run(&mk(2), "b"), DEFAULT_THRESHOLD);
    assert!(report.grown_buckets.is_empty());
    let report = compare(&run(&mk(1), "a"), &run(&mk(3), "b"), DEFAULT_THRESHOLD);
    assert_eq!(report.grown_buckets.len(), 1);
}

#[test]
fn thresholds_parse() {
    assert_eq!(parse_threshold("5%"), Ok(0.05));
    assert_eq!(parse_threshold(" 0.05 "), Ok(0.05));
    assert_eq!(parse_threshold("12.5 %"), Ok(0.125));
    assert_eq!(parse_threshold("0"), Ok(0.0));
    assert_eq!(parse_threshold("-0"), Ok(0.0));
    assert_eq!(parse_threshold("100%"), Ok(1.0));
    for bad in [
        "", "%", "-1%", "-0.1", "NaN", "inf", "101%", "5", "five", "5%%",
    ] {
        assert!(parse_threshold(bad).is_err(), "{bad:?} accepted");
    }
    assert!(parse_threshold("5").unwrap_err().contains("write 5%"));
}

#[test]
fn malformed_line_is_reported_with_its_number() {
    let text = format!(
        "{}\n\n{}\n{{\"path\": \"x\", \n",
        minidump("a", "A", None),
        minidump("b", "B", None)
    );
    let err = load_jsonl(&text, "cur.jsonl").unwrap_err();
    assert_eq!((err.input.as_str(), err.line), ("cur.jsonl", 4));
    let message = err.to_string();
    assert!(
        message.starts_with("cur.jsonl, line 4: malformed JSON: EOF"),
        "{message}"
    );
    assert!(!message.contains("line 1 column"), "{message}");

    let cases = [
        ("[1, 2]", "not a dumpsig report: expected a JSON object"),
        (
            "{\"kind\": \"kernel\"}",
            "not a dumpsig report: missing field `path`",
        ),
        (
            "{\"path\": \"a\", \"known_issues\": 3}",
            "not a dumpsig report: invalid type",
        ),
        (
            "{\"path\": \"a\", \"schema_version\": 4}",
            "unsupported schema_version 4",
        ),
        (
            "{\"path\": \"a\", \"known_issues\": [{\"verdict\": \"known\"}]}",
            "missing field `id`",
        ),
    ];
    for (line, want) in cases {
        let err = load_jsonl(&format!("\n{line}\n"), "x").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains(want), "{line}: {err}");
    }
}

#[test]
fn blank_lines_crlf_and_bom_are_accepted() {
    let text = format!(
        "\u{feff}{}\r\n\r\n   \r\n{}\r\n",
        minidump("a", "A", None),
        minidump("b", "B", None)
    );
    let data = load_jsonl(&text, "x").unwrap();
    assert_eq!(data.summary().reports, 2);
    assert_eq!(load_jsonl("", "x").unwrap().summary().reports, 0);
}

#[test]
fn bucket_records_are_accepted() {
    let line = |path: &str, bucket: Option<&str>, error: Option<&str>| {
        json!({"schema_version": 1, "path": path, "kind": "minidump", "cer_subpath": bucket.map(|b| format!("{b}\\sub")),
               "failure_bucket": bucket, "outcome": null, "error": error})
        .to_string()
    };
    let base = vec![
        line("a", Some("A"), None),
        line("b", None, Some("truncated")),
    ];
    // Filing failed after the analysis: the bucket still counts.
    let cur = vec![
        line("a", Some("A"), None),
        line("c", Some("C"), Some("cannot write to the share")),
    ];
    let (b, c) = (run(&base, "a"), run(&cur, "b"));
    assert_eq!(b.summary().failed, 1);
    assert_eq!(c.summary().failed, 0);
    assert_eq!(c.summary().summary_only, 2);
    let report = compare(&b, &c, DEFAULT_THRESHOLD);
    assert_eq!(report.regressed_by, vec!["new_buckets"]);
    assert!(report
        .notes
        .iter()
        .any(|n| matches!(n, RunNote::SummaryOnly { .. })));
}

#[test]
fn bucket_falls_back_to_cer_subpath() {
    let line = json!({"path": "a", "failure_bucket": null, "cer_subpath": "app\\1\\m\\1\\0", "error": null}).to_string();
    let data = load_jsonl(&format!("{line}\n{{\"path\": \"b\"}}"), "x").unwrap();
    assert_eq!(data.summary().buckets, 2);
    assert!(data.buckets.contains_key("app\\1\\m\\1\\0"));
    assert!(data.buckets.contains_key(NO_BUCKET));
}

#[test]
fn failed_inputs_are_counted_not_bucketed() {
    let mut cur = clean_lines();
    cur.push(failed("bad2.dmp"));
    cur.push(failed("bad3.dmp"));
    let report = compare(
        &run(&clean_lines(), "a"),
        &run(&cur, "b"),
        DEFAULT_THRESHOLD,
    );
    assert_eq!(
        (
            report.current.reports,
            report.current.analyzed,
            report.current.failed
        ),
        (14, 11, 3)
    );
    assert_eq!(report.current.buckets, 3);
    assert!(!report.regressed);
}

#[test]
fn reappearing_stop_and_exception_codes() {
    let base = clean_lines();
    let mut cur = clean_lines();
    // Same bucket as the baseline's, but stop 0x1000007E (base 0x7E) was never seen there.
    cur.push(kernel(
        "t.dmp",
        "0x3B_c0000005_IMAGE_dxgkrnl.sys",
        "0x1000007e",
        0x7e,
        json!([]),
    ));
    cur.push(minidump(
        "so.dmp",
        "NULL_POINTER_READ_c0000005_a.dll!unknown",
        Some("0xc00000fd"),
    ));
    // A hang dump has no exception code.
    cur.push(minidump(
        "hang.dmp",
        "NULL_POINTER_READ_c0000005_a.dll!unknown",
        None,
    ));
    let report = compare(&run(&base, "a"), &run(&cur, "b"), 0.5);
    assert_eq!(report.regressed_by, vec!["reappeared_codes"]);
    let codes: Vec<(CodeKind, &str)> = report
        .reappeared_codes
        .iter()
        .map(|c| (c.kind, c.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (CodeKind::Stop, "0x0000007e"),
            (CodeKind::Exception, "0xc00000fd")
        ]
    );
    assert_eq!(
        report.reappeared_codes[0].name.as_deref(),
        Some("DRIVER_IRQL_NOT_LESS_OR_EQUAL")
    );
    assert!(report.to_text().contains("stop      0x0000007e"));
    // A stop code and an exception code with the same value are different codes.
    let mut cur = clean_lines();
    cur.push(minidump(
        "x.dmp",
        "NULL_POINTER_READ_c0000005_a.dll!unknown",
        Some("0x0000003b"),
    ));
    let report = compare(&run(&base, "a"), &run(&cur, "b"), 0.5);
    assert_eq!(report.reappeared_codes.len(), 1);
}

#[test]
fn control_characters_are_escaped_in_text() {
    let base = clean_lines();
    let mut cur = clean_lines();
    cur.push(minidump(
        "evil.dmp",
        "X_evil\n\u{1b}[2J.dll!unknown",
        Some("0xc0000005"),
    ));
    let text = compare(&run(&base, "a"), &run(&cur, "b"), DEFAULT_THRESHOLD).to_text();
    assert!(text.contains("X_evil\\n\\u{1b}[2J.dll"), "{text}");
    assert!(!text.contains('\u{1b}'));
}

#[test]
fn nan_or_negative_threshold_means_zero() {
    let lines = clean_lines();
    assert_eq!(
        compare(&run(&lines, "a"), &run(&lines, "b"), f64::NAN).threshold,
        0.0
    );
    assert_eq!(
        compare(&run(&lines, "a"), &run(&lines, "b"), -1.0).threshold,
        0.0
    );
}

#[test]
fn bucket_baseline_counts_verdicts_but_skips_codes() {
    let to_bucket_record = |line: &String| {
        let v: Value = serde_json::from_str(line).unwrap();
        json!({"schema_version": 1, "path": v["path"], "kind": v["kind"], "cer_subpath": v["cer_subpath"],
               "failure_bucket": v["failure_bucket"], "outcome": null, "error": v["error"]})
        .to_string()
    };
    let base: Vec<String> = clean_lines().iter().map(to_bucket_record).collect();
    let mut cur = clean_lines();
    cur.push(kernel(
        "k2.dmp",
        "0x3B_c0000005_IMAGE_dxgkrnl.sys",
        "0x000000d1",
        0xd1,
        issue("regression"),
    ));
    let (b, c) = (run(&base, "bucket.jsonl"), run(&cur, "cur.jsonl"));
    assert_eq!((b.summary().summary_only, b.summary().failed), (12, 1));
    let report = compare(&b, &c, DEFAULT_THRESHOLD);
    assert_eq!(report.regressed_by, vec!["verdict_regressions"]);
    assert!(report.reappeared_codes.is_empty());
    assert!(
        report.notes.iter().any(
            |n| matches!(n, RunNote::BlindBaseline { source } if source.ends_with("bucket.jsonl"))
        ),
        "{:?}",
        report.notes
    );
}

#[test]
fn runs_straddling_the_kernel_grammar_change_are_noted() {
    let old = kernel(
        "a.dmp",
        "0xD1_IMAGE_dump_diskdump.sys",
        "0xd1",
        0xD1,
        json!([]),
    );
    let new = old
        .replace("\"schema_version\":1", "\"schema_version\":3")
        .replace("0xD1_IMAGE_dump_diskdump.sys", "AV_IMAGE_dump_diskdump.sys");
    assert!(new.contains("\"schema_version\":3"), "{new}");
    let baseline = load_jsonl(&old, "baseline.jsonl").unwrap();
    let current = load_jsonl(&new, "current.jsonl").unwrap();
    let report = compare(&baseline, &current, 0.05);
    let notes: Vec<String> = report.notes.iter().map(ToString::to_string).collect();
    assert!(
        notes
            .iter()
            .any(|n| n
                .starts_with("baseline.jsonl: 1 kernel record(s) written before schema version 3")),
        "{notes:?}"
    );
    // Two runs of one version: no note.
    let same = compare(&current, &current, 0.05);
    assert!(same.notes.is_empty(), "{:?}", same.notes);
}
