//! The generated kernel samples: each gives the bug check, faulting module and offset it was
//! built with; every sample and real kernel dump survives truncation and byte flips.

use std::sync::mpsc;
use std::time::Duration;

use crate::support::{real_dump, run, workspace_root};
use serde_json::Value;

use crate::support::BIN;

fn hex(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| panic!("not a hex string: {v}"))
}

#[test]
fn every_kernel_sample_gives_what_it_was_built_with() {
    let samples = sample_dumps::kernel::kernel_samples();
    assert_eq!(samples.len(), 11);
    let dir = workspace_root().join("sample-dumps/kernel");
    for s in &samples {
        let path = dir.join(&s.file_name);
        let r = run(BIN, &["analyze", "--json", path.to_str().expect("utf-8")]);
        assert_eq!(r.code(), 0, "{}: {}", s.file_name, r.stderr);
        let rec = &r.json_lines()[0];
        let k = &rec["kernel"];
        let e = &s.expected;
        assert_eq!(rec["cer_subpath"], "blue", "{}", s.file_name);
        assert_eq!(
            hex(&k["bugcheck"]["code"]),
            u64::from(e.bug_check),
            "{}",
            s.file_name
        );
        for (i, p) in e.params.iter().enumerate() {
            assert_eq!(
                hex(&k["bugcheck"]["parameters"][i]),
                *p,
                "{} P{}",
                s.file_name,
                i + 1
            );
        }
        assert_eq!(k["dump_type"], e.dump_type, "{}", s.file_name);
        assert_eq!(
            k["header_width"] == "64-bit",
            e.is_64bit,
            "{}: {}",
            s.file_name,
            k["header_width"]
        );
        if e.bug_check == 0x124 {
            // 0x124 is attributed from the WHEA record (CPER), not from an address in a module.
            let selection = &rec["kernel_signature"]["bucket"]["selection"];
            assert_eq!(
                selection["name"],
                e.faulting_module.as_str(),
                "{}",
                s.file_name
            );
            assert_eq!(selection["rule"], "whea_record");
            continue;
        }
        let selection = &rec["kernel_signature"]["bucket"]["selection"];
        assert_eq!(
            selection["module"]["name"],
            e.faulting_module.as_str(),
            "{}: the debugger-style selection agrees",
            s.file_name
        );
        assert_eq!(
            k["caused_by"]["driver"],
            e.faulting_module.as_str(),
            "{}",
            s.file_name
        );
        assert_eq!(
            hex(&k["caused_by"]["offset"]),
            e.faulting_offset,
            "{}",
            s.file_name
        );
        assert_eq!(
            k["partial"],
            s.file_name.contains("truncated"),
            "{}: {}",
            s.file_name,
            k["missing"]
        );
    }
}

#[test]
fn seed_scenario_pair_differs_only_in_the_diskdump_version() {
    let dir = workspace_root().join("sample-dumps/kernel");
    let version = |name: &str| -> (Value, Value) {
        let path = dir.join(name);
        let r = run(BIN, &["analyze", "--json", path.to_str().expect("utf-8")]);
        let rec = r.json_lines().remove(0);
        let k = &rec["kernel"];
        let attrs: Vec<String> = k["attributes"]
            .as_array()
            .expect("attributes")
            .iter()
            .map(|a| a["name"].as_str().unwrap_or("").to_owned())
            .collect();
        assert!(
            attrs.iter().any(|a| a.contains("Hiber")),
            "{name}: HiberCrash stated: {attrs:?}"
        );
        assert_eq!(k["os"]["build"], 7600);
        let drivers = k["drivers"].as_array().expect("drivers");
        assert!(
            drivers.iter().any(|d| d["name"] == "dump_storvsc.sys"),
            "{name}: the miniport's dump_ clone is loaded"
        );
        (
            k["caused_by"]["driver"].clone(),
            k["caused_by"]["file_version"].clone(),
        )
    };
    assert_eq!(
        version("win7-d1-dumpstack-16385.dmp"),
        (
            Value::from("dump_diskdump.sys"),
            Value::from("6.1.7600.16385")
        )
    );
    assert_eq!(
        version("win7-d1-dumpstack-20882.dmp"),
        (
            Value::from("dump_diskdump.sys"),
            Value::from("6.1.7600.20882")
        )
    );
    let offline = dir.join("x86-offline-full.dmp");
    let r = run(BIN, &["analyze", offline.to_str().expect("utf-8")]);
    assert!(
        r.stdout.to_lowercase().contains("offline"),
        "the offline attribute is stated in words:\n{}",
        r.stdout
    );
}

/// Analyzes `bytes` on a worker thread and fails the test if it takes longer than `limit`
/// (a hang) or panics.
fn analyze_bounded(name: &str, bytes: Vec<u8>, limit: Duration) {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(|| analysis::kernel::analyze(&bytes).map(|_| ()));
        let _ = tx.send(outcome.is_ok());
    });
    match rx.recv_timeout(limit) {
        Ok(true) => {
            let _ = worker.join();
        }
        Ok(false) => panic!("{name}: the kernel reader panicked"),
        Err(_) => panic!("{name}: no result within {limit:?} (hang)"),
    }
}

#[test]
fn kernel_dumps_survive_truncation() {
    let mut inputs: Vec<(String, Vec<u8>)> = sample_dumps::kernel::kernel_samples()
        .into_iter()
        .map(|s| (s.file_name, s.bytes))
        .collect();
    for real in ["kernel/triage_x64.dmp", "kernel/full-dump-head-x64.dmp"] {
        inputs.push((
            real.to_owned(),
            std::fs::read(real_dump(real)).expect("real kernel dump"),
        ));
    }
    // Random byte changes are the `kernel_dump` fuzz target's (fuzz/); its regression inputs
    // are replayed by the workspace tests.
    let limit = Duration::from_secs(20);
    for (name, bytes) in &inputs {
        let len = bytes.len();
        for i in 1..=20u64 {
            let cut = (len as u64 * i / 21) as usize;
            analyze_bounded(
                &format!("{name} cut at {cut}"),
                bytes[..cut].to_vec(),
                limit,
            );
        }
    }
}

fn analyze_sample(name: &str) -> Value {
    crate::support::analyze_json(
        BIN,
        &[],
        &workspace_root().join("sample-dumps/kernel").join(name),
    )
}

/// The seed scenario: fix-missing on the GDR build, regression on the fixed LDR build, with the
/// faulting module and the HiberCrash context stated.
#[test]
fn dump_path_issue_verdicts() {
    for (name, verdict, version) in [
        (
            "win7-d1-dumpstack-16385.dmp",
            "fix-missing",
            "6.1.7600.16385",
        ),
        (
            "win7-d1-dumpstack-20882.dmp",
            "regression",
            "6.1.7600.20882",
        ),
    ] {
        let r = analyze_sample(name);
        assert_eq!(r["failure_bucket"], "AV_IMAGE_dump_diskdump.sys", "{name}");
        assert_eq!(
            r["kernel_signature"]["bucket"]["selection"]["module"]["name"],
            "dump_diskdump.sys"
        );
        let issues = r["known_issues"].as_array().expect("known_issues");
        assert_eq!(issues.len(), 1, "{name}: {issues:?}");
        let v = &issues[0];
        assert_eq!(v["id"], "dump-path-virtual-miniport");
        assert_eq!(v["verdict"], verdict, "{name}");
        let reason = v["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains(version) && reason.contains("dump_diskdump.sys"),
            "{name}: {reason}"
        );
        let context: Vec<&str> = v["context"]
            .as_array()
            .expect("context")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            context.iter().any(|c| c.contains("HiberCrash")),
            "{name}: {context:?}"
        );
        // The hash follows the bucket.
        let hash =
            signatures::failure_id_hash(signatures::HashKind::Kernel, "AV_IMAGE_dump_diskdump.sys");
        assert_eq!(r["failure_id_hash"], hash.as_str());
    }
}

/// Stop 0x124: the record at P2 is read through dump memory and decoded.
#[test]
fn whea_record_is_decoded_and_bucketed() {
    let r = analyze_sample("x64-whea-124.dmp");
    let whea = &r["kernel_signature"]["whea"];
    let sections = whea["sections"].as_array().expect("sections");
    assert_eq!(sections.len(), 3);
    assert_eq!(sections[0]["section_type"]["name"], "processor generic");
    assert_eq!(sections[2]["section_type"]["name"], "Windows x86/x64 MCA");
    assert!(sections.iter().all(|s| s["severity"]["name"] == "fatal"));
    assert_eq!(
        r["failure_bucket"],
        "0x124_0_GenuineIntel_PROCESSOR_CACHE_IMAGE_GenuineIntel.sys"
    );
    assert_eq!(
        r["kernel_signature"]["bucket"]["whea"]["vendor"],
        "GenuineIntel"
    );
}

/// The real triage dump buckets to amdppm.sys with a stated reason.
#[test]
fn triage_x64_buckets_to_amdppm_with_a_reason() {
    let path = real_dump("kernel/triage_x64.dmp");
    let r = run(BIN, &["analyze", "--json", path.to_str().expect("utf-8")]);
    let rec = r.json_lines().remove(0);
    assert_eq!(rec["failure_bucket"], "AV_IMAGE_amdppm.sys");
    let selection = &rec["kernel_signature"]["bucket"]["selection"];
    assert_eq!(selection["module"]["name"], "amdppm.sys");
    assert_eq!(selection["offset"], 0x334c);
    assert!(
        selection["reason"]
            .as_str()
            .is_some_and(|r| r.contains("amdppm")),
        "{selection}"
    );
}

/// One culprit: the report's "Caused by driver" (BlueScreenView's column) is the module the
/// failure bucket's selection chose, with the same address, on every generated and real
/// kernel dump, with and without symbols.
#[test]
fn caused_by_is_the_bucket_module_on_every_kernel_dump() {
    let kernel_dir = workspace_root().join("sample-dumps/kernel");
    let real_dir = real_dump("kernel");
    let symbols = workspace_root().join("sample-dumps/symbols");
    for extra in [vec![], vec!["--symbols", symbols.to_str().expect("utf-8")]] {
        let mut args = vec!["analyze", "--json", "--jobs", "1"];
        args.extend(extra.iter().copied());
        args.push(kernel_dir.to_str().expect("utf-8"));
        args.push(real_dir.to_str().expect("utf-8"));
        let r = run(BIN, &args);
        let records = r.json_lines();
        assert!(records.len() >= 13, "{}", r.stderr);
        let mut checked = 0;
        for rec in &records {
            let path = rec["path"].as_str().unwrap_or("?");
            if rec["kernel"].is_null() {
                continue;
            }
            let selection = &rec["kernel_signature"]["bucket"]["selection"];
            let caused_by = &rec["kernel"]["caused_by"];
            match selection["module"]["name"].as_str() {
                Some(module) => {
                    assert_eq!(caused_by["driver"], module, "{path}");
                    assert_eq!(
                        hex(&caused_by["address"]),
                        selection["address"].as_u64().expect("address"),
                        "{path}"
                    );
                }
                None => assert!(caused_by.is_null(), "{path}: {caused_by}"),
            }
            assert_eq!(
                rec["kernel"]["attribution_rule"], selection["reason"],
                "{path}"
            );
            checked += 1;
        }
        assert!(checked >= 13, "{checked} kernel dumps checked");
    }
}
