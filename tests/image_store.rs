//! Issue 4's triage variant of the seed scenario: the diskdump.sys version a triage dump lacks
//! is resolved through a generated image store (a local folder, or a loopback HTTP server with
//! a cache), giving the same verdicts as the full dumps; without a store the verdict is
//! `known`, naming the key to look up.

use std::path::{Path, PathBuf};

use crate::support::http::FileServer;
use crate::support::{analyze_json, run, scratch_dir, workspace_root};
use serde_json::Value;

use crate::support::BIN;

/// (sample, diskdump key id, expected verdict, version)
const CASES: [(&str, &str, &str, &str); 2] = [
    (
        "win7-d1-triage-16385.dmp",
        "4A5BC5F8a000",
        "fix-missing",
        "6.1.7600.16385",
    ),
    (
        "win7-d1-triage-20882.dmp",
        "4D33E008a000",
        "regression",
        "6.1.7600.20882",
    ),
];

fn sample(name: &str) -> PathBuf {
    workspace_root().join("sample-dumps/kernel").join(name)
}

fn store_dir() -> PathBuf {
    workspace_root().join("sample-dumps/image-store")
}

fn dump_path_verdict(report: &Value) -> &Value {
    let verdicts = report["known_issues"].as_array().expect("known_issues");
    let found: Vec<&Value> = verdicts
        .iter()
        .filter(|v| v["id"] == "dump-path-virtual-miniport")
        .collect();
    assert_eq!(found.len(), 1, "{report}");
    found[0]
}

fn check_seed_facts(report: &Value) {
    assert_eq!(report["kernel"]["dump_type"], 4, "a triage dump");
    assert_eq!(report["failure_bucket"], "AV_IMAGE_dump_diskdump.sys");
    let selection = &report["kernel_signature"]["bucket"]["selection"];
    assert_eq!(selection["module"]["name"], "dump_diskdump.sys");
    let v = dump_path_verdict(report);
    let context: Vec<&str> = v["context"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        context.iter().any(|c| c.contains("HiberCrash")),
        "HiberCrash context stated: {context:?}"
    );
}

#[test]
fn without_a_store_the_verdict_is_known_and_names_the_lookup() {
    for (file, id, _, _) in CASES {
        let report = analyze_json(BIN, &[], &sample(file));
        check_seed_facts(&report);
        let v = dump_path_verdict(&report);
        assert_eq!(v["verdict"], "known", "{file}: {v}");
        let reason = v["reason"].as_str().unwrap();
        let key = format!("diskdump.sys/{id}/diskdump.sys");
        assert!(reason.contains(&key), "{file}: key in {reason}");
        assert!(
            reason.contains(&format!("timestamp {}", &id[..8])),
            "{reason}"
        );
        assert!(reason.contains("SizeOfImage a000"), "{reason}");
    }
}

#[test]
fn a_local_image_store_settles_the_verdicts() {
    let store = store_dir();
    for (file, id, verdict, version) in CASES {
        let report = analyze_json(
            BIN,
            &["--image-store", store.to_str().unwrap()],
            &sample(file),
        );
        check_seed_facts(&report);
        let v = dump_path_verdict(&report);
        assert_eq!(v["verdict"], verdict, "{file}: {v}");
        let reason = v["reason"].as_str().unwrap();
        assert!(reason.contains(&format!("version {version}")), "{reason}");
        assert!(
            reason.contains(&format!("key diskdump.sys/{id}/diskdump.sys")),
            "{reason}"
        );
        let notes = report["kernel_signature"]["notes"].to_string();
        assert!(notes.contains("from image store"), "{notes}");
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn an_http_image_store_is_fetched_once_and_cached() {
    let server = FileServer::serve(store_dir());
    let cache = scratch_dir("image-cache");
    let element = format!("srv*{}*{}", cache.display(), server.url);
    let (first_file, first_id, verdict, _) = CASES[0];
    let report = analyze_json(BIN, &["--image-store", &element], &sample(first_file));
    assert_eq!(dump_path_verdict(&report)["verdict"], verdict);
    let key = format!("/diskdump.sys/{first_id}/diskdump.sys");
    // The triage dump lacks its modules' pages: the unwinder asks the store for each module on
    // its stack too (the others are not there: misses). Every path is asked once.
    let first = server.requests();
    assert_eq!(
        first.iter().filter(|r| **r == key).count(),
        1,
        "one request for the diskdump key: {first:?}"
    );
    let mut unique = first.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), first.len(), "no path asked twice: {first:?}");
    let cached = cache.join(format!("diskdump.sys/{first_id}/diskdump.sys"));
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(store_dir().join(format!("diskdump.sys/{first_id}/diskdump.sys"))).unwrap(),
        "the cache holds the served file"
    );
    // A second process finds the file in the cache and the misses remembered: no new request.
    let again = analyze_json(BIN, &["--image-store", &element], &sample(first_file));
    assert_eq!(dump_path_verdict(&again)["verdict"], verdict);
    assert_eq!(server.requests(), first);
    // A batch of both samples (each twice) asks only for the key not yet cached.
    let both = [
        sample(CASES[0].0),
        sample(CASES[1].0),
        sample(CASES[0].0),
        sample(CASES[1].0),
    ];
    let mut args: Vec<String> = vec![
        "analyze".into(),
        "--json".into(),
        "--image-store".into(),
        element.clone(),
    ];
    args.extend(both.iter().map(|p| p.display().to_string()));
    let r = run(BIN, &args);
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let verdicts: Vec<String> = r
        .json_lines()
        .iter()
        .map(|l| dump_path_verdict(l)["verdict"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        verdicts,
        ["fix-missing", "regression", "fix-missing", "regression"]
    );
    // Only the other build's keys are new, and its diskdump.sys is asked once.
    let new = &server.requests()[first.len()..];
    let second_key = format!("/diskdump.sys/{}/diskdump.sys", CASES[1].1);
    assert_eq!(
        new.iter().filter(|r| **r == second_key).count(),
        1,
        "{new:?}"
    );
    assert!(new.iter().all(|r| r.contains(CASES[1].1)), "{new:?}");
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn misses_are_remembered_and_failures_reported() {
    let empty = scratch_dir("image-empty");
    let server = FileServer::serve(empty.clone());
    let cache = scratch_dir("image-neg-cache");
    let element = format!("srv*{}*{}", cache.display(), server.url);
    let (file, id, _, _) = CASES[0];
    let report = analyze_json(BIN, &["--image-store", &element], &sample(file));
    assert_eq!(dump_path_verdict(&report)["verdict"], "known");
    let asked = server.requests().len();
    assert!(
        asked >= 2,
        "plain and compressed names tried: {:?}",
        server.requests()
    );
    assert!(cache
        .join(format!("diskdump.sys/{id}/.dumpsig-miss"))
        .is_file());
    // The miss marker keeps the next process from asking again.
    let _ = analyze_json(BIN, &["--image-store", &element], &sample(file));
    let after: Vec<String> = server.requests()[asked..]
        .iter()
        .filter(|r| r.contains("diskdump.sys/"))
        .cloned()
        .collect();
    assert!(
        after.iter().all(|r| !r.starts_with("/diskdump.sys/")),
        "diskdump.sys asked again despite the miss marker: {after:?}"
    );

    // A failing server is reported in the notes, and is not remembered as a miss.
    let failing = format!("{}/fail500", server.url);
    let report = analyze_json(BIN, &["--image-store", &failing], &sample(file));
    assert_eq!(dump_path_verdict(&report)["verdict"], "known");
    let notes = report["kernel_signature"]["notes"].to_string();
    assert!(notes.contains("HTTP status 500"), "{notes}");

    // An unreachable server: a clear note, the analysis still completes.
    let report = analyze_json(BIN, &["--image-store", "http://127.0.0.1:9"], &sample(file));
    assert_eq!(dump_path_verdict(&report)["verdict"], "known");
    assert!(report["kernel_signature"]["notes"]
        .to_string()
        .contains("request failed"));
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn a_different_build_under_the_key_is_rejected() {
    let store = scratch_dir("image-wrong");
    copy_tree(&store_dir(), &store);
    // Put the 20882 binary where the 16385 one belongs.
    let wrong = store.join(format!("diskdump.sys/{}/diskdump.sys", CASES[1].1));
    let slot = store.join(format!("diskdump.sys/{}/diskdump.sys", CASES[0].1));
    std::fs::copy(&wrong, &slot).unwrap();
    let report = analyze_json(
        BIN,
        &["--image-store", store.to_str().unwrap()],
        &sample(CASES[0].0),
    );
    assert_eq!(dump_path_verdict(&report)["verdict"], "known");
    let notes = report["kernel_signature"]["notes"].to_string();
    assert!(
        notes.contains("not the wanted file") && notes.contains("wanted 4A5BC5F8"),
        "{notes}"
    );
    let _ = std::fs::remove_dir_all(&store);
}

#[test]
fn a_malformed_image_store_element_is_a_usage_error() {
    let r = run(
        BIN,
        &[
            "analyze",
            "--image-store",
            "srv*/only-a-cache",
            sample(CASES[0].0).to_str().unwrap(),
        ],
    );
    assert_eq!(r.code(), 2);
    assert!(
        r.stderr.contains("--image-store") && r.stderr.contains("srv*/only-a-cache"),
        "{}",
        r.stderr
    );
}
