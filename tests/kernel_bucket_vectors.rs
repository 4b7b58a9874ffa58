//! The kernel-mode rows of `../shared/spec/failure-bucket-vectors.tsv`: for every row whose
//! crash the generator can express, `sample-dumps` builds that crash as a Windows 10 x64 full
//! dump (stop code and parameters, the drivers, a stack of named functions, the process,
//! Driver Verifier, the live-dump attribute, Breakpad symbols for the modules the row names a
//! function of) and the analysis must give the row's bucket and FAILURE_ID_HASH. The rows the
//! generator cannot express, or that our grammar does not produce, are listed with the reason
//! (docs/buckets.md) and counted.

use sample_dumps::kernel::{kernel_bucket_dump, CaseFrame, CaseParam, KernelBucketCase};
use serde_json::Value;

use crate::support::{run, scratch_dir, shared_dir, BIN};

pub(crate) const NT: &str = "ntoskrnl.exe";

pub(crate) fn nt(f: &str) -> CaseFrame {
    CaseFrame::new(NT, f)
}

pub(crate) fn d(m: &str, f: &str) -> CaseFrame {
    CaseFrame::new(m, f)
}

pub(crate) fn v(x: u64) -> CaseParam {
    CaseParam::Value(x)
}

fn func(m: &str, f: &str) -> CaseParam {
    CaseParam::Function(m.into(), f.into())
}

pub(crate) fn case(
    code: u32,
    params: [CaseParam; 4],
    stack: Vec<CaseFrame>,
    symbols: &[&str],
) -> KernelBucketCase {
    KernelBucketCase {
        code,
        params,
        stack,
        symbols_for: symbols.iter().map(|s| s.to_string()).collect(),
        process: Some("System".into()),
        verifier: false,
        live_dump: false,
        unwind: true,
        decoys: Vec::new(),
        triage: false,
    }
}

/// A 0xD1 whose faulting instruction is `module!function`, reached through the page fault
/// handler; with the module's symbols or only the kernel's.
pub(crate) fn d1(module: &str, function: &str, symbolized: bool) -> KernelBucketCase {
    let symbols: &[&str] = if symbolized { &[NT, module] } else { &[NT] };
    case(
        0xD1,
        [v(0x28), v(2), v(0), func(module, function)],
        vec![
            nt("KiBugCheckDispatch"),
            nt("KiPageFault"),
            d(module, function),
            d(module, "DispatchRoutine"),
            nt("IofCallDriver"),
        ],
        symbols,
    )
}

/// A stop code with a fast-fail sub-code, raised through the fast-fail path from `frame`.
fn fast_fail(code: u64, frame: CaseFrame) -> KernelBucketCase {
    let trap = CaseParam::TrapFrame(frame.module.clone(), frame.function.clone());
    case(
        0x139,
        [v(code), trap, v(0xFFFF_A08D_6F2C_B100), v(0)],
        vec![
            nt("KiBugCheckDispatch"),
            nt("KiFastFailDispatch"),
            nt("KiRaiseSecurityCheckFailure"),
            frame,
        ],
        &[NT],
    )
}

/// A stop code raised by the kernel below `frames`, with the kernel's symbols.
fn raised(
    code: u32,
    params: [u64; 4],
    frames: Vec<CaseFrame>,
    symbols: &[&str],
) -> KernelBucketCase {
    let [a, b, c, e] = params;
    case(code, [v(a), v(b), v(c), v(e)], frames, symbols)
}

/// The case a row describes, or why there is none.
fn case_of(bucket: &str) -> Result<KernelBucketCase, &'static str> {
    const OLD: &str = "the grammar of debuggers before about 2015 (offsets or the platform in the \
                       bucket): never emitted, checked by hash only";
    Ok(match bucket {
        "AV_NETIO!StreamInvokeCalloutAndNormalizeAction" => {
            d1("NETIO.SYS", "StreamInvokeCalloutAndNormalizeAction", true)
        }
        "AV_rassstp!RetrieveSendPackets" => d1("rassstp.sys", "RetrieveSendPackets", true),
        "AV_OVSExt!OvsWaitEventIoctl" => d1("OVSExt.sys", "OvsWaitEventIoctl", true),
        "AV_ndis!NdisQueueIoWorkItem" => d1("ndis.sys", "NdisQueueIoWorkItem", true),
        "AV_o2micro_sdhost!unknown_function" => d1("o2micro_sdhost.sys", "Isr", false),
        "AV_myfault!unknown_function" => d1("myfault.sys", "MyfaultDeviceControl", false),
        "AV_tunnel!TeredoWfpRemoveHashEntry" => d1("tunnel.sys", "TeredoWfpRemoveHashEntry", true),
        "AV_kbase!RequestXXXDetectedCreate" => d1("kbase.sys", "RequestXXXDetectedCreate", true),
        "AV_VRF_usbprint!USBPRINT_ProcessIOCTL" => {
            let mut c = d1("usbprint.sys", "USBPRINT_ProcessIOCTL", true);
            c.verifier = true;
            c
        }
        "AV_CODE_AV_PAGED_IP_TestDriver!AccessPageableMemory" => {
            let ip = func("TestDriver.sys", "AccessPageableMemory");
            let mut c = d1("TestDriver.sys", "AccessPageableMemory", true);
            c.params = [ip.clone(), v(2), v(8), ip];
            c
        }
        "AV_nt!KiDeferredReadySingleThread" => case(
            0xA,
            [v(0x1F8), v(2), v(0), func(NT, "KiDeferredReadySingleThread")],
            vec![
                nt("KiBugCheckDispatch"),
                nt("KiPageFault"),
                nt("KiDeferredReadySingleThread"),
                nt("KiExitDispatcher"),
            ],
            &[NT],
        ),
        "AV_fileinfo!FIPfFileFSOpPostCreate" => {
            // The faulting IP in Ntfs, the stack through FLTMGR into fileinfo.
            let mut c = d1("Ntfs.sys", "NtfsCommonCreate", true);
            c.stack = vec![
                nt("KiBugCheckDispatch"),
                nt("KiPageFault"),
                d("Ntfs.sys", "NtfsCommonCreate"),
                d("FLTMGR.SYS", "FltpPerformPostCallbacks"),
                d("fileinfo.sys", "FIPfFileFSOpPostCreate"),
                d("FLTMGR.SYS", "FltpDispatch"),
                nt("IofCallDriver"),
            ];
            c.symbols_for = [NT, "Ntfs.sys", "FLTMGR.SYS", "fileinfo.sys"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            c
        }
        "AV_EvilDriver!unknown_function" => case(
            0x1000_007E,
            [v(0xC000_0005), func("EvilDriver.sys", "FillBuffer"), v(0), v(0)],
            vec![nt("PspSystemThreadStartup"), d("EvilDriver.sys", "FillBuffer")],
            &[NT],
        ),
        "AV_W_(null)_Driver!unknown_function" => case(
            0x50,
            [v(0x10), v(1), func("Driver.sys", "CopyBuffer"), v(2)],
            vec![nt("KiBugCheckDispatch"), nt("KiPageFault"), d("Driver.sys", "CopyBuffer")],
            &[NT],
        ),
        "AV_R_INVALID_WwanUsbMP!unknown_function" => case(
            0x50,
            [v(0xFFFF_A08D_0BAD_0000), v(0), func("WwanUsbMP.sys", "ReadIndication"), v(0)],
            vec![nt("KiBugCheckDispatch"), nt("KiPageFault"), d("WwanUsbMP.sys", "ReadIndication")],
            &[NT],
        ),
        "AV_R_(null)_win32kbase!WmsgpConnect" => case(
            0x50,
            [v(0x8), v(0), func("win32kbase.sys", "WmsgpConnect"), v(0)],
            vec![nt("KiBugCheckDispatch"), nt("KiPageFault"), d("win32kbase.sys", "WmsgpConnect")],
            &[NT, "win32kbase.sys"],
        ),
        "0x13a_12_Driver!CreateRandomFile" => raised(
            0x13A,
            [0x12, 0xFFFF_C50B_2A4F_1000, 0xFFFF_C50B_2A4F_1200, 0],
            vec![nt("RtlpHeapHandleError"), nt("ExFreePoolWithTag"), d("Driver.sys", "CreateRandomFile")],
            &[NT, "Driver.sys"],
        ),
        "0x39_nt!IopLoadUnloadDriver" => raised(
            0x39,
            [0xFFFF_C50B_2A4F_2000, 0, 0, 0],
            vec![nt("KiBugCheckDispatch"), nt("IopLoadUnloadDriver"), nt("ExpWorkerThread")],
            &[NT],
        ),
        "0x19_22_Driver!unknown_function" => raised(
            0x19,
            [0x22, 0xFFFF_C50B_2A4F_3000, 0, 0],
            vec![nt("ExFreePoolWithTag"), d("Driver.sys", "DriverUnload")],
            &[NT],
        ),
        "0x133_DPC_gwdrv!unknown_function" => raised(
            0x133,
            [0, 0x501, 0x500, 0],
            vec![nt("KeAccumulateTicks"), nt("KiUpdateRunTime"), d("gwdrv.sys", "DpcRoutine")],
            &[NT],
        ),
        "0x139_3_CORRUPT_LIST_ENTRY_nt!KiFastFailDispatch" => {
            fast_fail(3, nt("ObpRemoveObjectRoutine"))
        }
        "0x139_3_CORRUPT_LIST_ENTRY_PROCMON24!unknown_function" => {
            fast_fail(3, d("PROCMON24.SYS", "RemoveEntry"))
        }
        "0x139_1d_INVALID_BALANCED_TREE_Driver!unknown_function" => {
            fast_fail(0x1d, d("Driver.sys", "TreeInsert"))
        }
        "0x162_TestDriver!unknown_function" => raised(
            0x162,
            [0xFFFF_C50B_2A4F_4000, 0xFFFF_C50B_2A4F_4100, 0, 0],
            vec![nt("KeAbPostRelease"), d("TestDriver.sys", "ReleaseThread")],
            &[NT],
        ),
        "0x13C_nt!PspThreadDelete" => raised(
            0x13C,
            [0xFFFF_C50B_2A4F_5000, 0, 0, 0],
            vec![nt("PspThreadDelete"), nt("ObpRemoveObjectRoutine")],
            &[NT],
        ),
        "0xCA_13_nt!PiDmaGuardProcessPreStart" => raised(
            0xCA,
            [0x13, 0xFFFF_C50B_2A4F_6000, 0, 0],
            vec![nt("PiDmaGuardProcessPreStart"), nt("PipProcessStartPhase1")],
            &[NT],
        ),
        "0xE3_TestDriver!FileCreationThread" => raised(
            0xE3,
            [0xFFFF_C50B_2A4F_7000, 0xFFFF_C50B_2A4F_7100, 0, 2],
            vec![nt("ExReleaseResourceLite"), d("TestDriver.sys", "FileCreationThread")],
            &[NT, "TestDriver.sys"],
        ),
        "0x20_NULLAPC_KAPC_NEGATIVE_nt!PspExitThread" => raised(
            0x20,
            [0, 0xFFFF, 0, 1],
            vec![nt("PspExitThread"), nt("PspTerminateThreadByPointer")],
            &[NT],
        ),
        "0x153_KERNEL_LOCK_ENTRY_LEAKED_ON_THREAD_TERMINATION_LOCK_POINTER_NOT_NULL_nt!KeCleanupThreadState" => {
            raised(
                0x153,
                [0xFFFF_C50B_2A4F_8000, 0xFFFF_C50B_2A4F_8100, 1, 0],
                vec![nt("KeCleanupThreadState"), nt("PspExitThread")],
                &[NT],
            )
        }
        "lkd_0x117_image_igdkmd64.sys" => {
            let mut c = raised(
                0x117,
                [0xFFFF_C50B_2A4F_9000, 0, 0, 0],
                vec![nt("KiSwapContext"), d("igdkmd64.sys", "WaitForEngine")],
                &[],
            );
            c.live_dump = true;
            c
        }
        "X64_0x5C_HAL_CLOCK_INTERRUPT_NOT_RECEIVED_nt!InitBootProcessor+12a"
        | "x64_0x7e_man+1ce7"
        | "x64_0x3b_win32k!ntusergetdcex+b7"
        | "0x1e_c0000005_r_nt!cmpcreatekeybody"
        | "0xD5_VRF_win32k!hbmSelectBitmap+ca" => return Err(OLD),
        "0xEF_csrss.exe_BUGCHECK_CRITICAL_PROCESS_66897700_ntdll!NtTerminateProcess" => {
            return Err("the token after BUGCHECK_CRITICAL_PROCESS (66897700) matches no \
                        documented parameter, and the frame is user-mode ntdll")
        }
        "STATUS_DLL_INIT_FAILED_nt!PopTransitionSystemPowerStateEx"
        | "ACCESS_VIOLATION_HEVD!TriggerDoubleFetch" => {
            return Err("a head named after an exception, from a stop code and rule no \
                        public output documents")
        }
        "0x5C_HAL_INTERRUPT_REMAPPING_SETUP_FAILURE_nt!InitBootProcessor" => {
            return Err("0x5C's sub-code names are not publicly documented")
        }
        "LKD_0x1cc_EXRESOURCE_TIMEOUT_OWNERTHREAD_nt!KiSwapContext" => {
            return Err("the debugger analyzes the ERESOURCE's owner thread and its stack")
        }
        "0x9F_3_RtsPer_IMAGE_pci.sys" => case(
            0x9F,
            [
                v(3),
                CaseParam::DeviceObject("pci.sys".into()),
                v(0xFFFF_A08D_6F2C_CF00),
                CaseParam::BlockedIrp("RtsPer.sys".into()),
            ],
            vec![
                nt("PopIrpWatchdogBugcheck"),
                nt("PopIrpWatchdog"),
                nt("KiProcessExpiredTimerList"),
            ],
            &[NT],
        ),
        "0x124_16_GenuineIntel__UNKNOWN_IMAGE_GenuineIntel.sys" => {
            return Err("the CPU vendor without a decoded WHEA section comes from the KPRCB's \
                        CPUID vendor string, whose offset per build is not in our table (the \
                        signatures tests build this row from the vendor)")
        }
        "MEMORY_CORRUPTION_ONE_BIT" => {
            return Err("needs the image file to compare the faulting code with")
        }
        "0x5a_c0000428_image_filecrypt.sys" => {
            return Err("which 0x5A parameter holds the status is not documented")
        }
        _ => return Err("a row this test does not know"),
    })
}

/// Writes `(relative path, bytes)` files under `root`.
pub(crate) fn write_files(root: &std::path::Path, files: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(root).unwrap();
    for (rel, bytes) in files {
        let file = root.join(rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
}

pub(crate) fn analyze(dump: &std::path::Path, symbols: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec!["analyze", "--json", "--symbols", symbols.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(dump.to_str().unwrap());
    let r = run(BIN, &args);
    r.json_lines().remove(0)
}

#[test]
fn every_expressible_kernel_row_gives_its_bucket_and_hash() {
    let tsv = std::fs::read_to_string(shared_dir().join("spec/failure-bucket-vectors.tsv"))
        .expect("failure-bucket-vectors.tsv");
    let dir = scratch_dir("kernel-bucket-vectors");
    let (mut checked, mut gaps) = (0, Vec::new());
    for (n, line) in tsv.lines().enumerate() {
        let cells: Vec<&str> = line.split('\t').collect();
        let (Some(&"km"), Some(&bucket), Some(&hash)) = (cells.first(), cells.get(1), cells.get(2))
        else {
            continue;
        };
        let path = dir.join(format!("row{n}.dmp"));
        let symbols = dir.join(format!("symbols{n}"));
        std::fs::create_dir_all(&symbols).unwrap();
        let c = match case_of(bucket) {
            Ok(c) => c,
            Err(why) => {
                gaps.push(format!("{bucket}: {why}"));
                continue;
            }
        };
        let dump = kernel_bucket_dump(&c).unwrap();
        std::fs::write(&path, &dump.bytes).unwrap();
        write_files(&symbols, &dump.symbols);
        for mode in [&[][..], &["--signature-only"][..]] {
            let record = analyze(&path, &symbols, mode);
            let got = record["failure_bucket"].as_str().unwrap_or_default();
            assert!(
                got.eq_ignore_ascii_case(bucket),
                "row {n} {mode:?}: {bucket}\n  got {got}\n{record:#}"
            );
            assert_eq!(
                record["failure_id_hash"], *hash,
                "row {n} {mode:?}: {bucket}"
            );
            // The stack below the context was unwound, not scanned.
            let stack = record["kernel"]["stack"].as_array().unwrap();
            assert!(
                !stack.is_empty() && stack.iter().all(|f| f["trust"] == "call_frame_info"),
                "row {n}: {stack:#?}"
            );
        }
        checked += 1;
    }
    for g in &gaps {
        eprintln!("not generated: {g}");
    }
    // 44 kernel-mode rows: 31 generated; the 13 others are the gaps of docs/buckets.md.
    assert_eq!((checked, gaps.len()), (31, 13), "{gaps:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The two heads that name a process: 0x4A (the current process, the frame below the bug
/// check plumbing even in nt) and 0xEF (the process P1 names). No published row has them with
/// a location we can generate, so the forms of analyze-buckets.md are checked.
#[test]
fn process_heads_name_the_process_from_the_dump() {
    let dir = scratch_dir("kernel-process-heads");
    let symbols = dir.join("symbols");
    let mut raised_irql = case(
        0x4A,
        [v(0x7FF8_1234_5678), v(2), v(0), v(0xFFFF_A08D_6F2C_CF00)],
        vec![
            nt("KiBugCheckDispatch"),
            nt("KiSystemServiceExitPico"),
            d("win32kfull.sys", "NtUserCallNoParam"),
        ],
        &[NT, "win32kfull.sys"],
    );
    raised_irql.process = Some("notmyfault64.exe".into());
    let mut critical = case(
        0xEF,
        [CaseParam::CurrentProcess, v(0), v(0), v(0)],
        vec![nt("PspCatchCriticalBreak"), nt("PspTerminateAllThreads")],
        &[NT],
    );
    critical.process = Some("csrss.exe".into());
    for (c, want) in [
        (
            raised_irql,
            // ImageFileName keeps 14 characters and the NUL.
            "RAISED_IRQL_FAULT_notmyfault64.e_nt!KiSystemServiceExitPico",
        ),
        (
            critical,
            "0xEF_csrss.exe_BUGCHECK_CRITICAL_PROCESS_nt!PspCatchCriticalBreak",
        ),
    ] {
        let dump = kernel_bucket_dump(&c).unwrap();
        let path = dir.join(format!("{:x}.dmp", c.code));
        std::fs::write(&path, &dump.bytes).unwrap();
        write_files(&symbols, &dump.symbols);
        let record = analyze(&path, &symbols, &[]);
        assert_eq!(record["failure_bucket"], want, "{record:#}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `.cxr` and `.trap`: a 0x7E's context record and a 0x139's trap frame give the faulting code's
/// stack, frame 0 found by context; the 0x7E's names the culprit.
#[test]
fn context_records_and_trap_frames_give_the_faulting_stack() {
    let dir = scratch_dir("kernel-fault-records");
    let symbols = dir.join("symbols");
    std::fs::create_dir_all(&symbols).unwrap();
    let trap = fast_fail(3, d("PROCMON24.SYS", "RemoveEntry"));
    let samples = sample_dumps::kernel::kernel_samples();
    let x64_full = samples
        .iter()
        .find(|s| s.file_name == "x64-full.dmp")
        .unwrap();
    let trap_dump = kernel_bucket_dump(&trap).unwrap();
    for (name, bytes, kind, parameter, module) in [
        (
            "x64-full.dmp",
            x64_full.bytes.clone(),
            "context_record",
            4,
            "contosoflt.sys",
        ),
        (
            "fastfail.dmp",
            trap_dump.bytes,
            "trap_frame",
            2,
            "PROCMON24.SYS",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let record = analyze(&path, &symbols, &[]);
        let fault = &record["kernel"]["fault_record"];
        assert_eq!(fault["kind"], kind, "{name}: {fault:#}");
        assert_eq!(fault["parameter"], parameter, "{name}");
        assert_eq!(
            fault["address"],
            record["kernel"]["bugcheck"]["parameters"][parameter - 1],
            "{name}"
        );
        let top = &fault["stack"][0];
        assert_eq!(
            (top["trust"].as_str(), top["module"].as_str()),
            (Some("context"), Some(module)),
            "{name}"
        );
        let text = run(BIN, &["analyze", path.to_str().unwrap()]).stdout;
        assert!(
            text.contains("Faulting code's stack, from the"),
            "{name}: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every generated kernel sample names one culprit in both places (the report's `caused_by` and
/// the bucket's module selection) and has a crash state without a frame repeated in a row.
#[test]
fn every_kernel_sample_names_one_culprit_and_repeats_no_frame() {
    let dir = scratch_dir("kernel-one-culprit");
    let symbols = dir.join("symbols");
    std::fs::create_dir_all(&symbols).unwrap();
    for sample in sample_dumps::kernel::kernel_samples() {
        let path = dir.join(&sample.file_name);
        std::fs::write(&path, &sample.bytes).unwrap();
        let record = analyze(&path, &symbols, &[]);
        let name = &sample.file_name;
        let caused_by = record["kernel"]["caused_by"]["driver"].as_str();
        let selected = record["kernel_signature"]["bucket"]["selection"]["module"]["name"].as_str();
        assert_eq!(caused_by, selected, "{name}: one culprit");
        let state: Vec<&str> = record["crash_state"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(!state.is_empty(), "{name}");
        assert!(
            state.windows(2).all(|w| w[0] != w[1]),
            "{name}: {state:?} repeats a frame"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Stop 0x124 for two CPU vendors: the record's processor section names the vendor, the error
/// type its class, and the pseudo image the vendor (the published row's family
/// `0x124_<source>_<vendor>_<CLASS>_<TYPE>_IMAGE_<vendor>.sys`).
#[test]
fn machine_checks_of_two_vendors_bucket_by_vendor() {
    let dir = scratch_dir("kernel-whea-vendors");
    let symbols = dir.join("symbols");
    std::fs::create_dir_all(&symbols).unwrap();
    for (brand, vendor) in [
        ("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", "GenuineIntel"),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AuthenticAMD"),
    ] {
        let c = case(
            0x124,
            [
                v(0),
                CaseParam::MachineCheck(brand.into()),
                v(0xBE00_0000),
                v(0x0001_0134),
            ],
            vec![
                nt("WheaReportHwError"),
                nt("HalpMcaReportError"),
                nt("KiMcheckAbort"),
            ],
            &[NT],
        );
        let dump = kernel_bucket_dump(&c).unwrap();
        let path = dir.join(format!("{vendor}.dmp"));
        std::fs::write(&path, &dump.bytes).unwrap();
        let record = analyze(&path, &symbols, &[]);
        let want = format!("0x124_0_{vendor}_PROCESSOR_CACHE_IMAGE_{vendor}.sys");
        assert_eq!(record["failure_bucket"], want.as_str(), "{record:#}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
