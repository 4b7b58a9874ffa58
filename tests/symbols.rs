//! Symbolized reports: PDBs fetched from a symbol server (a loopback HTTP server serving
//! `../shared/real-dumps/symbols/symstore`), cached, and used for the stack and the bucket.
//! That store keeps `crash.pdb` CAB-compressed under its plain name, holding Breakpad text (as
//! Sentry's symbol servers do); real MSF PDBs are covered by the converter's unit tests.

use crate::support::http::FileServer;
use crate::support::{analyze_json, real_dump, run, scratch_dir};
use serde_json::Value;

use crate::support::BIN;

fn frames(report: &Value) -> &Vec<Value> {
    report["minidump"]["crashing_thread"]["frames"]
        .as_array()
        .expect("frames")
}

#[test]
fn sentry_windows_symbolizes_from_crash_pdb_through_a_symbol_server() {
    let server = FileServer::serve(real_dump("symbols/symstore"));
    let cache = scratch_dir("symcache");
    let path = format!("srv*{}*{}", cache.display(), server.url);
    let dump = real_dump("minidump/sentry-windows.dmp");

    let plain = analyze_json(BIN, &[], &dump);
    assert!(
        frames(&plain)[0]["function"].is_null(),
        "no symbols without a path"
    );

    let report = analyze_json(BIN, &["--symbol-path", &path], &dump);
    let top = &frames(&report)[0];
    assert_eq!(top["module"], "crash.exe");
    let function = top["function"].as_str().expect("top frame symbolized");
    assert!(!function.is_empty());
    assert!(
        top["file"].as_str().is_some_and(|f| f.ends_with(".cpp")),
        "{top}"
    );
    assert!(top["line"].as_u64().is_some(), "{top}");
    // The bucket uses the function once symbols resolve it.
    let bucket = report["failure_bucket"].as_str().unwrap();
    assert!(
        bucket.starts_with("NULL_POINTER_WRITE_c0000005_crash.exe!")
            && !bucket.ends_with("!Unknown"),
        "{bucket}"
    );
    assert!(
        server
            .requests()
            .contains(&"/crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb".to_owned()),
        "{:?}",
        server.requests()
    );
    let cached = cache.join("crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb");
    assert!(cached.is_file(), "the PDB is cached");

    // A second process symbolizes from the cache without asking for crash.pdb again, and the
    // modules the server lacks are not asked for again either (negative cache).
    let asked = server.requests().len();
    let again = analyze_json(BIN, &["--symbol-path", &path], &dump);
    assert_eq!(frames(&again)[0]["function"], top["function"]);
    assert_eq!(
        server.requests().len(),
        asked,
        "{:?}",
        &server.requests()[asked..]
    );

    // The same through _NT_SYMBOL_PATH, with a plain folder store.
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["analyze", "--json"]).arg(&dump);
    cmd.env("_NT_SYMBOL_PATH", cache.display().to_string());
    let out = cmd.output().unwrap();
    let env_report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(frames(&env_report)[0]["function"], top["function"]);
    let _ = std::fs::remove_dir_all(&cache);
}

/// The store's file and the Breakpad directory's were made from the same build by different
/// tools (one without argument lists): same functions, offsets, files and lines.
#[test]
fn store_symbols_agree_with_the_breakpad_directory() {
    let server = FileServer::serve(real_dump("symbols/symstore"));
    let dump = real_dump("minidump/sentry-windows.dmp");
    let via_pdb = analyze_json(BIN, &["--symbol-path", &server.url], &dump);
    let breakpad = real_dump("symbols/breakpad");
    let via_sym = analyze_json(BIN, &["--symbols", breakpad.to_str().unwrap()], &dump);
    for (a, b) in frames(&via_pdb).iter().zip(frames(&via_sym)).take(4) {
        if b["module"] == "crash.exe" {
            let bare = |v: &Value| v.as_str().unwrap().split('(').next().unwrap().to_owned();
            assert_eq!(bare(&a["function"]), bare(&b["function"]), "{a} vs {b}");
            for field in ["function_offset", "file", "line"] {
                assert_eq!(a[field], b[field], "{field}: {a} vs {b}");
            }
        }
    }
}

#[test]
fn an_unreachable_symbol_server_is_noted_and_the_report_still_complete() {
    let dump = real_dump("minidump/sentry-windows.dmp");
    let r = run(
        BIN,
        &[
            "analyze",
            "--json",
            "--symbol-path",
            "http://127.0.0.1:9",
            dump.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    assert!(r.stderr.contains("request failed"), "{}", r.stderr);
    assert_eq!(r.json_lines().len(), 1);
    let bad = run(
        BIN,
        &["analyze", "--symbol-path", "srv*", dump.to_str().unwrap()],
    );
    assert_eq!(bad.code(), 2);
    assert!(bad.stderr.contains("--symbol-path"), "{}", bad.stderr);
}

/// One dump, one answer: with symbols, the signature path names the faulting function with
/// one lookup, so `analyze`, `analyze --signature-only` and `bucket` give the same bucket and
/// hash, and `regress` between the runs finds nothing new.
#[test]
fn signature_path_and_bucket_use_the_symbols_too() {
    let syms = real_dump("symbols/breakpad");
    let syms = syms.to_str().expect("utf-8");
    let dump = real_dump("minidump/test.dmp");
    let full = analyze_json(BIN, &["--symbols", syms], &dump);
    let quick = analyze_json(BIN, &["--signature-only", "--symbols", syms], &dump);
    assert_eq!(
        full["failure_bucket"],
        "NULL_POINTER_WRITE_c0000005_test_app.exe!`anonymous_namespace'::CrashFunction"
    );
    for key in ["cer_subpath", "failure_bucket", "failure_id_hash"] {
        assert_eq!(full[key], quick[key], "{key}");
    }
    let dir = scratch_dir("one-answer");
    let share = dir.join("share");
    let b = run(
        BIN,
        &[
            "bucket",
            "--json",
            "--share",
            share.to_str().expect("utf-8"),
            "--symbols",
            syms,
            dump.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(b.code(), 0, "{}", b.stderr);
    let record = &b.json_lines()[0];
    assert_eq!(
        record["failure_bucket"], full["failure_bucket"],
        "{}",
        b.stdout
    );
    // regress between the analyze run and the bucket run: the same keys, nothing new.
    let analyzed = dir.join("analyze.jsonl");
    std::fs::write(&analyzed, format!("{full}\n")).expect("write run");
    let bucketed = dir.join("bucket.jsonl");
    std::fs::write(&bucketed, &b.stdout).expect("write run");
    let r = run(
        BIN,
        &[
            "regress",
            "--baseline",
            analyzed.to_str().expect("utf-8"),
            "--current",
            bucketed.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(r.code(), 0, "{}\n{}", r.stdout, r.stderr);
}
