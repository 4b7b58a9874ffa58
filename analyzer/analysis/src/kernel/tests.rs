//! Tests over the real dumps in `shared/real-dumps/kernel/` and robustness against truncation
//! and byte flips.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;
use kernel_dump::*;

/// Path of a real kernel dump: relative to the crate, else the shared checkout.
fn real_dump_path(name: &str) -> PathBuf {
    let rel = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/real-dumps/kernel");
    let dir = if rel.exists() {
        rel
    } else {
        PathBuf::from("/work/shared/real-dumps/kernel")
    };
    dir.join(name)
}

fn real_dump(name: &str) -> Vec<u8> {
    let path = real_dump_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn kernel_report_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<KernelReport>();
}

#[test]
fn triage_x64_golden_values() {
    let data = real_dump("triage_x64.dmp");
    let dump = KernelDump::parse(&data).unwrap();
    let h = dump.header();
    assert_eq!(h.width, Width::Bits64);
    assert_eq!(h.dump_type, 4);
    assert_eq!((h.major_version, h.minor_version), (15, 19041));
    assert_eq!(h.machine_image_type, 0x8664);
    // The EPROCESS and ETHREAD copies, read with the 19041 offsets of the table.
    let process = kernel_dump::process::current_process(&dump, None).unwrap();
    assert_eq!(
        (process.name.as_str(), process.pid, process.thread_id),
        ("System", 4, Some(264))
    );
    assert_eq!(process.source, "triage copy");
    assert_eq!(h.number_processors, 16);
    assert_eq!(h.bugcheck_code, 0x1000_007E);
    assert_eq!(
        h.bugcheck_parameters,
        [
            0xffffffffc0000005,
            0xfffff8048b58334c,
            0xffff850429891ee8,
            0xffff850429891720
        ]
    );
    assert_eq!(h.kd_debugger_data_block, 0xfffff8047c600b20);
    assert_eq!(h.ps_loaded_module_list, 0xfffff8047c62a390);
    assert_eq!(
        h.physical_memory, None,
        "triage dumps leave the run list as PAGE"
    );
    assert_eq!(h.attributes, None);
    let t = dump.triage().unwrap();
    assert_eq!(t.header.driver_list_offset, 0x10828);
    assert_eq!(t.header.driver_count, 151);
    assert_eq!(t.header.string_pool_offset, 0x15d18);
    assert_eq!(t.header.data_blocks_count, 0x727);
    assert_eq!(t.drivers.len(), 151);
    let nt = &t.drivers[0];
    assert_eq!(nt.name, "\\SystemRoot\\system32\\ntoskrnl.exe");
    assert_eq!(
        (nt.base, nt.size, nt.timestamp),
        (0xfffff8047ba00000, 0x1046000, 0x0d8333e6)
    );
    let amd = t
        .drivers
        .iter()
        .find(|d| d.name.ends_with("amdppm.sys"))
        .unwrap();
    assert_eq!((amd.base, amd.size), (0xfffff8048b580000, 0x3b000));
    let kdbg = t.kdbg.as_ref().unwrap();
    assert_eq!(kdbg.ps_loaded_module_list, 0xfffff8047c62a390);
    assert_eq!(kdbg.kern_base, 0xfffff8047ba00000);
    assert_eq!(t.unloaded.len(), 4);
    assert_eq!(t.unloaded[0].name, "dam.sys");
    assert_eq!(
        dump.context().unwrap().pc,
        0xfffff8048b58334c,
        "context Rip equals P2"
    );
    assert!(dump.missing().is_empty(), "{:?}", dump.missing());

    let report = analyze(&data).unwrap();
    assert!(!report.partial, "{:?}", report.missing);
    assert_eq!(
        report.bugcheck.name.as_deref(),
        Some("SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M")
    );
    let c = report.caused_by.as_ref().unwrap();
    assert_eq!((c.driver.as_str(), c.offset), ("amdppm.sys", 0x334c));
    assert_eq!(c.address, 0xfffff8048b58334c);
    // Frame 0 is P2 of the stop (the exception address), which the selection keeps.
    assert!(
        report
            .attribution_rule
            .starts_with("frame 0 (amdppm+0x334c)"),
        "{}",
        report.attribution_rule
    );
    assert_eq!(
        report.crash_time.map(|t| t.to_string()).as_deref(),
        Some("2021-02-21T01:38:22.9877657Z")
    );
    assert_eq!((report.architecture, report.processors), ("x64", 16));
    assert_eq!(report.os.nt_version, Some("10.0"));
    assert_eq!(report.kernel_base, Some(0xfffff8047ba00000));
    assert_eq!(report.drivers.len(), 151);
    assert!(report
        .drivers
        .iter()
        .any(|d| d.name == "amdppm.sys" && d.on_stack));
    assert!(!report.stack.is_empty());
    assert_eq!(report.unloaded_drivers.len(), 4);
    let json = serde_json::to_string(&report).unwrap();
    assert!(json.contains("amdppm.sys"));
    let mut text = String::new();
    crate::report::kernel_text::render_report(&report, &mut text);
    assert!(text.contains("amdppm.sys+334c"), "{text}");

    // Cut inside the driver list: a partial report that says what is missing.
    let report = analyze(&data[..0x12000]).unwrap();
    assert!(report.partial);
    let missing = report
        .missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        missing.contains("driver list at 0x10828: 109 of 151 entries beyond end of file"),
        "{missing}"
    );
    assert!(missing.contains("SizeOfDump"), "{missing}");
    assert_eq!(report.drivers.len(), 42);
    assert!(missing.contains("names of 42 drivers"), "{missing}");
    // amdppm.sys is not among the first 42 drivers: the stack fallback names Wdf01000.sys
    // (driver 16, whose name is in the missing string pool).
    let c = report.caused_by.as_ref().unwrap();
    assert_eq!(c.base, 0xfffff80479950000);
    assert!(
        report
            .attribution_rule
            .contains("is the first frame whose module"),
        "{}",
        report.attribution_rule
    );
}

#[test]
fn full_dump_head_is_partial_not_an_error() {
    let data = real_dump("full-dump-head-x64.dmp");
    let dump = KernelDump::parse(&data).unwrap();
    let h = dump.header();
    assert_eq!(h.dump_type, 1);
    let pm = h.physical_memory.as_ref().unwrap();
    assert_eq!(pm.number_of_runs, 5);
    assert_eq!(pm.runs.len(), 5);
    assert_eq!(pm.number_of_pages, 0x7fe86);
    assert_eq!(pm.runs[0].base_page, 2);
    assert_eq!(h.directory_table_base, 0x1ad002);
    assert_eq!(h.dtb(), 0x1ad000);
    assert_eq!(dump.paging(), Paging::X64 { pml4: 0x1ad000 });
    assert_eq!(h.attributes, Some(0x18));
    assert_eq!(h.bugcheck_code, 0x5454414D);
    // The first two stored pages (PFN 2 and 3) are in the file, the rest are not.
    assert!(dump.physical().page(0x2000).is_ok());
    assert!(matches!(
        dump.physical().page(0x4000),
        Err(KernelError::PhysicalBeyondEof { .. })
    ));
    let report = analyze(&data).unwrap();
    assert!(report.partial);
    let missing = report
        .missing
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(missing.contains("page data truncated"), "{missing}");
    assert!(missing.contains("0x7fe84 pages"), "{missing}");
    assert!(missing.contains("run 4"), "{missing}");
    let names: Vec<&str> = report.attributes.iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        ["KernelGeneratedTriageDump", "LiveDumpGeneratedDump"]
    );
    // The capture tool's marker, explained as such rather than as an unknown stop code.
    assert_eq!(
        report.bugcheck.name.as_deref(),
        Some("MEMORY_CAPTURE_MARKER")
    );
    assert!(report.caused_by.is_none());
}

/// Parses and analyzes; must not panic and must finish quickly.
fn survive(bytes: &[u8]) {
    let start = Instant::now();
    if let Ok(dump) = KernelDump::parse(bytes) {
        let report = crate::kernel::analyze_dump(&dump, &[], None, None).report;
        let mut text = String::new();
        crate::report::kernel_text::render_report(&report, &mut text);
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
}

/// Cuts `data` at the header's edges and at eight points spread over the file: each prefix
/// must parse or fail cleanly, and quickly. (Random byte changes are the `kernel_dump` fuzz
/// target's job: fuzz/.)
pub(super) fn survives_cuts(data: &[u8]) {
    let len = data.len() as u64;
    let mut cuts = vec![
        0, 7, 8, 0x100, 0xfff, 0x1000, 0x1fff, 0x2000, 0x2001, 0x2040, 0x2080, 0x3000,
    ];
    for i in 1..=8 {
        cuts.push(len * i / 9);
    }
    for cut in cuts {
        let cut = cut.min(len) as usize;
        survive(&data[..cut]);
    }
}

#[test]
fn real_kernel_dumps_survive_cuts() {
    survives_cuts(&real_dump("triage_x64.dmp"));
    survives_cuts(&real_dump("full-dump-head-x64.dmp"));
}
