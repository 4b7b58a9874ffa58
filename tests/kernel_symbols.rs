//! Kernel frames symbolized by the CodeView id read from each driver's image in dump memory:
//! the seed scenario's full dump with the generated Breakpad symbols of dump_diskdump.sys,
//! from a folder and through a loopback symbol server, in `analyze` and in `bucket`.

use std::path::PathBuf;

use crate::support::http::FileServer;
use crate::support::{analyze_json, run, scratch_dir, workspace_root};
use serde_json::Value;

use crate::support::BIN;
/// The debug id of dump_diskdump.sys 6.1.7600.16385 in the generated samples.
const DISKDUMP_ID: &str = "2A1E34644E2647259813469B2CE0A09B2";

fn seed_dump() -> PathBuf {
    workspace_root().join("sample-dumps/kernel/win7-d1-dumpstack-16385.dmp")
}

fn symbols_dir() -> PathBuf {
    workspace_root().join("sample-dumps/symbols")
}

fn stack_symbol(report: &Value, offset: &str) -> Value {
    report["kernel"]["stack"]
        .as_array()
        .expect("stack")
        .iter()
        .find(|s| s["module"] == "dump_diskdump.sys" && s["offset"] == offset)
        .map(|s| s["symbol"].clone())
        .unwrap_or(Value::Null)
}

/// What both lookups must show for the seed dump.
fn assert_symbolized(report: &Value) {
    let caused = &report["kernel"]["caused_by"]["symbol"];
    assert_eq!(caused["function"], "DiskDumpWrite", "{caused}");
    assert_eq!(caused["function_offset"], "0x2c");
    assert_eq!(caused["line"], 497);
    assert!(caused["file"].as_str().unwrap().ends_with("diskdump.c"));
    assert_eq!(
        stack_symbol(report, "0x1d80")["function"],
        "StartNextPacket"
    );
    assert_eq!(stack_symbol(report, "0x1d80")["function_offset"], "0x40");
    // The failure bucket names the function once symbols resolve it.
    assert_eq!(report["failure_bucket"], "AV_dump_diskdump!DiskDumpWrite");
    // Drivers without symbols stay unnamed and are reported.
    let crashdmp = report["kernel"]["stack"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["module"] == "crashdmp.sys")
        .expect("crashdmp.sys on the stack");
    assert!(crashdmp.get("symbol").is_none(), "{crashdmp}");
    let notes = report["kernel_signature"]["notes"].to_string();
    assert!(notes.contains("no symbols for crashdmp.sys"), "{notes}");
}

#[test]
fn kernel_frames_symbolize_from_a_breakpad_folder() {
    let plain = analyze_json(BIN, &[], &seed_dump());
    assert_eq!(plain["failure_bucket"], "AV_IMAGE_dump_diskdump.sys");
    assert!(plain["kernel"]["caused_by"].get("symbol").is_none());

    let dir = symbols_dir();
    let report = analyze_json(BIN, &["--symbols", dir.to_str().unwrap()], &seed_dump());
    assert_symbolized(&report);

    let text = run(
        BIN,
        &[
            "analyze".into(),
            "--symbols".into(),
            dir.display().to_string(),
            seed_dump().display().to_string(),
        ],
    );
    assert_eq!(text.code(), 0, "{}", text.stderr);
    assert!(
        text.stdout.contains(
            "dump_diskdump!DiskDumpWrite+0x2c [d:\\w7rtm\\drivers\\storage\\diskdump\\diskdump.c:497]"
        ),
        "{}",
        text.stdout
    );
}

#[test]
fn kernel_frames_symbolize_through_a_symbol_server_and_the_cache() {
    // A symbol server keeps the file under the PDB's name; Breakpad text is accepted there.
    let store = scratch_dir("kernel-symstore");
    let key = store.join("diskdump.pdb").join(DISKDUMP_ID);
    std::fs::create_dir_all(&key).unwrap();
    std::fs::copy(
        symbols_dir()
            .join("diskdump.pdb")
            .join(DISKDUMP_ID)
            .join("diskdump.sym"),
        key.join("diskdump.pdb"),
    )
    .unwrap();
    let server = FileServer::serve(store);
    let cache = scratch_dir("kernel-symcache");
    let path = format!("srv*{}*{}", cache.display(), server.url);

    let report = analyze_json(BIN, &["--symbol-path", &path], &seed_dump());
    assert_symbolized(&report);
    let wanted = format!("/diskdump.pdb/{DISKDUMP_ID}/diskdump.pdb");
    assert!(
        server.requests().contains(&wanted),
        "{:?}",
        server.requests()
    );
    assert!(cache
        .join("diskdump.pdb")
        .join(DISKDUMP_ID)
        .join("diskdump.pdb")
        .is_file());

    // A second process reads the cache and asks the server nothing new.
    let asked = server.requests().len();
    let again = analyze_json(BIN, &["--symbol-path", &path], &seed_dump());
    assert_symbolized(&again);
    assert_eq!(server.requests().len(), asked, "{:?}", server.requests());
}

#[test]
fn bucket_files_the_kernel_report_under_the_symbolized_failure_bucket() {
    let share = scratch_dir("kernel-symbols-share");
    let r = run(
        BIN,
        &[
            "bucket".into(),
            "--json".into(),
            "--share".into(),
            share.display().to_string(),
            "--symbols".into(),
            symbols_dir().display().to_string(),
            seed_dump().display().to_string(),
        ],
    );
    assert_eq!(r.code(), 0, "{}", r.stderr);
    let records = r.json_lines();
    assert_eq!(
        records[0]["failure_bucket"],
        "AV_dump_diskdump!DiskDumpWrite"
    );
    let registry = std::fs::read_to_string(share.join("dumpsig-buckets.tsv")).unwrap();
    assert_eq!(registry, "1\tAV_dump_diskdump!DiskDumpWrite\r\n");
    let index = std::fs::read_to_string(share.join("dumpsig-blue-index.tsv")).unwrap();
    assert!(
        index.starts_with("AV_dump_diskdump!DiskDumpWrite\t1\t"),
        "{index}"
    );
}
