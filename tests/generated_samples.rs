//! `dumpsig analyze` over the committed generated samples: each gives the signature it was
//! built with, on both the full and the signature-only path.

use crate::support::{run, workspace_root};
use serde_json::Value;

use crate::support::BIN;

#[test]
fn every_minidump_sample_gives_its_intended_signature() {
    let samples = sample_dumps::minidump_samples();
    assert!(samples.len() >= 9);
    let dir = workspace_root().join("sample-dumps/minidump");
    for sample in &samples {
        let path = dir.join(&sample.file_name);
        for mode in [None, Some("--signature-only")] {
            let mut args = vec!["analyze", "--json"];
            args.extend(mode);
            args.push(path.to_str().expect("utf-8"));
            let r = run(BIN, &args);
            assert_eq!(r.code(), 0, "{}: {}", sample.file_name, r.stderr);
            let record = &r.json_lines()[0];
            assert_eq!(record["error"], Value::Null);
            assert_eq!(
                record["cer_subpath"],
                sample.expected_cer_subpath.as_str(),
                "{} {mode:?}",
                sample.file_name
            );
            let subpath = record["cer_subpath"].as_str().unwrap_or_default();
            for part in subpath.split('\\') {
                assert!(
                    !part.is_empty() && part != "." && part != "..",
                    "{}: component {part:?}",
                    sample.file_name
                );
                assert!(
                    part.is_ascii() && !part.contains(['/', ':', '<', '>', '"', '|', '?', '*'])
                );
                assert!(part.len() <= 64);
            }
        }
    }
}

#[test]
fn real_versions_and_fallbacks_show_in_the_report() {
    let dir = workspace_root().join("sample-dumps/minidump");
    let analyze = |name: &str| -> Value { crate::support::analyze_json(BIN, &[], &dir.join(name)) };
    let x86 = analyze("x86-dll-crash.dmp");
    assert_eq!(x86["signature"]["app_ver"], "3.1.4.1");
    assert_eq!(x86["signature"]["mod_ver"], "2.7.1828.18");
    assert_eq!(x86["minidump"]["system"]["pointer_bits"], 32);
    assert_eq!(x86["minidump"]["exception"]["access"]["kind"], "write");
    assert_eq!(
        x86["failure_bucket"],
        "NULL_POINTER_WRITE_c0000005_render.dll!Unknown"
    );
    assert_eq!(
        x86["minidump"]["unloaded_modules"][0]["name"],
        "oldplugin.dll"
    );
    // The walker reaches the main executable below the crashing DLL frame.
    assert_eq!(
        x86["minidump"]["crashing_thread"]["frames"][1]["module"],
        "contoso.exe"
    );
    assert_eq!(x86["crash_state"][0], "render.dll+0x1234");

    let x64 = analyze("x64-dll-crash.dmp");
    assert_eq!(x64["minidump"]["system"]["pointer_bits"], 64);
    assert_eq!(
        x64["failure_bucket"],
        "INVALID_POINTER_READ_c0000005_fabcore.dll!Unknown"
    );
    assert_eq!(
        x64["minidump"]["crashing_thread"]["frames"][1]["module"],
        "fabrikam.exe"
    );

    let zero = analyze("x64-exception-address-zero.dmp");
    assert_eq!(
        zero["minidump"]["exception"]["instruction_source"],
        "context_instruction"
    );

    let outside = analyze("x64-outside-modules.dmp");
    assert_eq!(
        outside["failure_bucket"],
        "INVALID_POINTER_EXECUTE_c0000005_fabrikam.exe!unknown_error_in_process"
    );

    let hang = analyze("x86-no-exception.dmp");
    assert_eq!(
        hang["failure_bucket"],
        "APPLICATION_HANG_cfffffff_contoso.exe!Unknown"
    );
    assert_eq!(hang["signature"]["fault_location"], "no_exception");

    // The raw hostile name is kept in the tuple; only the subpath is sanitized.
    let traversal = analyze("x86-hostile-traversal.dmp");
    assert_eq!(traversal["signature"]["app_name"], "..");
    assert_eq!(
        traversal["minidump"]["modules"][1]["path"],
        "..\\..\\evil.dll"
    );
}
