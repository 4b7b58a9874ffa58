//! `dumpsig analyze` over the real minidumps of `../shared/real-dumps`.

use crate::support::{expected_subpaths, real_dump};
use serde_json::Value;

use crate::support::BIN;

fn analyze_json(extra: &[&str], file: &str) -> Value {
    crate::support::analyze_json(BIN, extra, &real_dump(file))
}

/// Every minidump row of the README table, on both the full and the signature-only path.
#[test]
fn cer_subpaths_match_the_expected_table() {
    let rows: Vec<_> = expected_subpaths()
        .into_iter()
        .filter(|(f, _)| f.starts_with("minidump/"))
        .collect();
    assert_eq!(rows.len(), 15, "the table lists 15 minidumps");
    for (file, expected) in rows {
        for mode in [&[][..], &["--signature-only"][..]] {
            let r = analyze_json(mode, &file);
            assert_eq!(r["error"], Value::Null, "{file}");
            assert_eq!(r["cer_subpath"], expected, "{file} {mode:?}");
            assert_eq!(r["kind"], "minidump");
            assert_eq!(r["schema_version"], 3);
            if mode.is_empty() {
                assert!(
                    r["crash_state"].is_array(),
                    "{file}: the full path walks the stack"
                );
            } else {
                // The signature path must not run the stack walker.
                assert_eq!(r["crash_state"], Value::Null, "{file}");
                assert_eq!(r["minidump"]["crashing_thread"], Value::Null, "{file}");
            }
            let hash = r["failure_id_hash"].as_str().unwrap_or_default();
            assert_eq!(hash.len(), 36, "{file}: hash {hash}");
        }
    }
}

/// Frame 0 of the crashing thread agrees with minidump-stackwalk's output.
#[test]
fn frame_zero_agrees_with_the_peer() {
    let peer_dir = real_dump("peer-output");
    let mut compared = 0;
    for entry in std::fs::read_dir(&peer_dir).expect("peer-output") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some(stem) = name.strip_suffix(".stackwalk.json") else {
            continue;
        };
        let peer: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let Some(peer_frame) = peer["crashing_thread"]["frames"].get(0) else {
            // The peer has no crashing thread for a dump without an exception.
            assert_eq!(stem, "tiny-exe-with-cet-xsave");
            continue;
        };
        let ours = analyze_json(&[], &format!("minidump/{stem}.dmp"));
        let frame = &ours["minidump"]["crashing_thread"]["frames"][0];
        assert_eq!(frame["module"], peer_frame["module"], "{stem}: module");
        let hex = |v: &Value| {
            v.as_str()
                .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        };
        assert_eq!(
            hex(&frame["module_offset"]),
            hex(&peer_frame["module_offset"]),
            "{stem}: module offset"
        );
        assert_eq!(
            hex(&frame["instruction"]),
            hex(&peer_frame["offset"]),
            "{stem}: instruction"
        );
        assert_eq!(
            ours["minidump"]["crashing_thread"]["index"].as_u64(),
            peer["crash_info"]["crashing_thread"].as_u64(),
            "{stem}: crashing thread"
        );
        compared += 1;
    }
    assert_eq!(compared, 13, "13 peer outputs carry a crashing thread");
}

/// With Breakpad symbols, `test.dmp`'s frame 0 is named with file and line, and the failure
/// bucket uses the function.
#[test]
fn breakpad_symbols_name_frame_zero() {
    let symbols = real_dump("symbols/breakpad");
    let r = analyze_json(
        &["--symbols", symbols.to_str().expect("utf-8")],
        "minidump/test.dmp",
    );
    let frame = &r["minidump"]["crashing_thread"]["frames"][0];
    assert_eq!(frame["function"], "`anonymous namespace'::CrashFunction");
    assert_eq!(frame["file"], "c:\\test_app.cc");
    assert_eq!(frame["line"], 58);
    assert_eq!(
        r["failure_bucket"],
        "NULL_POINTER_WRITE_c0000005_test_app.exe!`anonymous_namespace'::CrashFunction"
    );
    assert_eq!(
        r["crash_state"][0],
        "test_app.exe!`anonymous namespace'::CrashFunction"
    );
    assert_eq!(r["crash_state"][1], "test_app.exe!main");
}

/// The report carries the pieces the issue lists, with the exception's instruction address
/// (not the data address) and the access kind.
#[test]
fn report_fields_for_an_access_violation() {
    let r = analyze_json(&[], "minidump/ascii_read_av.dmp");
    let md = &r["minidump"];
    assert_eq!(md["system"]["cpu"], "x86");
    assert_eq!(md["exception"]["code"], "0xc0000005");
    assert_eq!(md["exception"]["name"], "EXCEPTION_ACCESS_VIOLATION");
    assert_eq!(md["exception"]["access"]["kind"], "read");
    assert_eq!(md["exception"]["access"]["address"], "0x41414141");
    assert_eq!(md["exception"]["instruction_source"], "exception_address");
    assert_eq!(md["process"]["name"], "crashme.exe");
    assert_eq!(md["wer_parameters"].as_array().map(Vec::len), Some(8));
    assert_eq!(md["wer_parameters"][7]["value"], "0000a6cd");
    assert!(md["modules"].as_array().is_some_and(|m| !m.is_empty()));

    let p = analyze_json(&[], "minidump/invalid-parameter.dmp");
    assert_eq!(
        p["minidump"]["exception"]["instruction_source"],
        "context_instruction"
    );
    assert_eq!(
        p["minidump"]["exception"]["recorded_address"],
        "0x0000000000000000"
    );

    let h = analyze_json(&[], "minidump/tiny-exe-with-cet-xsave.dmp");
    assert_eq!(h["minidump"]["exception"], Value::Null);
    assert_eq!(
        h["failure_bucket"],
        "APPLICATION_HANG_cfffffff_tiny.exe!Unknown"
    );

    // XP-era hang report: versions from VS_FIXEDFILEINFO.
    let c = analyze_json(&[], "minidump/Cucku.exe.mdmp");
    assert_eq!(c["minidump"]["process"]["version"], "2.11.3610.1220");
    assert_eq!(c["signature"]["mod_ver"], "5.1.2600.5755");
}

/// The CAB rows of the README table: the dump inside each report CAB is analyzed from memory.
#[test]
fn report_cabs_give_the_expected_subpaths() {
    let rows: Vec<_> = expected_subpaths()
        .into_iter()
        .filter(|(f, _)| f.starts_with("cab/"))
        .collect();
    assert_eq!(rows.len(), 4, "the table lists 4 CABs");
    for (file, expected) in rows {
        let r = analyze_json(&[], &file);
        assert_eq!(r["error"], Value::Null, "{file}");
        assert_eq!(r["kind"], "cab");
        assert_eq!(r["cer_subpath"], expected, "{file}");
        assert!(r["cab"]["files"].as_array().is_some_and(|f| !f.is_empty()));
    }
}

/// WER's own problem signature in the BEX CAB agrees with ours on every field; its ModName
/// `StackHash_0a9e` against our `unknown` is an expected difference, stated as such.
#[test]
fn wer_metadata_agrees_with_our_tuple() {
    let r = analyze_json(&[], "cab/1535419857-SpecialException-1116452068.cab");
    let cab = &r["cab"];
    assert_eq!(cab["wer"]["event_type"], "BEX");
    let fields = cab["wer_agreement"].as_array().expect("agreement");
    assert_eq!(fields.len(), 8);
    assert!(fields.iter().all(|f| f["agrees"] == true), "{fields:?}");
    let module = fields
        .iter()
        .find(|f| f["field"] == "ModName")
        .expect("ModName");
    assert_eq!(module["theirs"], "StackHash_0a9e");
    assert_eq!(module["ours"], "unknown");
    assert!(module["note"]
        .as_str()
        .is_some_and(|n| n.contains("StackHash")));
}

/// Breakpad and Crashpad dumps of Linux and macOS record the faulting data address in
/// ExceptionAddress: the offset comes from the crashing thread's context instead, on both
/// paths (docs/minidump-platforms.md).
#[test]
fn non_windows_offsets_come_from_the_context() {
    let cases = [
        (
            "minidump/linux-mini.dmp",
            0x401d72u64,
            r"crash\0.0.0.0\crash\0.0.0.0\0000000000001d72",
        ),
        (
            "minidump/linux_null_dereference.dmp",
            0x401f26,
            r"driver\0.0.0.0\driver\0.0.0.0\0000000000001f26",
        ),
        (
            "minidump/simple-crashpad.dmp",
            0x7fff6f41333a,
            r"crashy\0.0.0.0\libsystem_kernel.dylib\6153.141.10.0\000000000000733a",
        ),
    ];
    for (file, instruction, subpath) in cases {
        for mode in [&[][..], &["--signature-only"][..]] {
            let r = analyze_json(mode, file);
            assert_eq!(r["cer_subpath"], subpath, "{file} {mode:?}");
            assert_eq!(
                r["signature"]["fault_address"], instruction,
                "{file} {mode:?}"
            );
            assert_eq!(
                r["signature"]["fault_location"], "context_instruction",
                "{file} {mode:?}"
            );
            if mode.is_empty() {
                // Frame 0 of the walk is the same instruction.
                assert_eq!(
                    r["minidump"]["crashing_thread"]["frames"][0]["instruction"],
                    format!("{instruction:#018x}"),
                    "{file}"
                );
            }
        }
    }
}

/// The text report says how many frames it leaves out; `--frames N` shows N, `--frames 0`
/// all of them (stack_exhaustion.dmp walks 246 frames, the JSON keeps 32 by default).
#[test]
fn text_report_counts_the_frames_it_leaves_out() {
    let path = real_dump("minidump/stack_exhaustion.dmp");
    let path = path.to_str().expect("utf-8");
    let frame_lines =
        |r: &crate::support::Run| r.stdout.lines().filter(|l| l.starts_with("  #")).count();
    let default = crate::support::run(BIN, &["analyze", path]);
    assert_eq!(frame_lines(&default), 10, "{}", default.stdout);
    assert!(
        default
            .stdout
            .contains("  ... 236 more frames (--frames N or 0 shows more)"),
        "{}",
        default.stdout
    );
    let forty = crate::support::run(BIN, &["analyze", "--frames", "40", path]);
    assert_eq!(frame_lines(&forty), 40);
    assert!(
        forty.stdout.contains("  ... 206 more frames"),
        "{}",
        forty.stdout
    );
    let all = crate::support::run(BIN, &["analyze", "--frames", "0", path]);
    assert_eq!(frame_lines(&all), 246);
    assert!(!all.stdout.contains("more frame"), "{}", all.stdout);
    let json = analyze_json(&[], "minidump/stack_exhaustion.dmp");
    let kept = json["minidump"]["crashing_thread"]["frames"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(kept, 32);
    assert_eq!(json["minidump"]["crashing_thread"]["total_frames"], 246);
}
