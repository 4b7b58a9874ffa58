//! Tests of the kernel failure buckets.
use super::*;
use crate::cper::WheaFacts;
use crate::hash::failure_id_hash;
use crate::module_selection::{KernelFrame, ModuleRef};

fn module(name: &str, base: u64) -> ModuleRef {
    ModuleRef {
        name: name.into(),
        base,
        size: 0x8000,
        timestamp: 0x4D34_1F2E,
        version: Some("6.1.7600.16385".into()),
    }
}

fn at(m: &ModuleRef, offset: u64, function: Option<&str>) -> KernelFrame {
    KernelFrame {
        address: m.base + offset,
        module: Some(m.clone()),
        function: function.map(Into::into),
    }
}

fn facts(code: u32, parameters: [u64; 4], frames: Vec<KernelFrame>) -> KernelCrashFacts {
    KernelCrashFacts {
        code,
        parameters,
        frames,
        verifier_active: false,
        symbols_loaded: false,
        detail: None,
        whea: None,
        live_dump: false,
        process_name: None,
        power_irp: None,
    }
}

fn nt() -> ModuleRef {
    module("ntoskrnl.exe", 0xFFFF_F800_0260_0000)
}

/// The seed's dump-path crash, in the three location forms.
#[test]
fn seed_dump_path_buckets() {
    let dd = module("dump_diskdump.sys", 0xFFFF_F880_0140_0000);
    let mut f = facts(
        0xD1,
        [0x28, 2, 0, dd.base + 0x1A2B],
        vec![at(&dd, 0x1A2B, None), at(&nt(), 0x100, None)],
    );
    let b = KernelBucket::from_facts(&f);
    assert_eq!(b.failure.bucket, "AV_IMAGE_dump_diskdump.sys");
    assert_eq!(b.head_family, HeadFamily::AccessViolation);
    assert_eq!(b.location_form, LocationForm::Image);
    assert_eq!(b.attributes.offset, Some(0x1A2B));
    assert_eq!(b.attributes.timestamp, Some(0x4D34_1F2E));
    assert_eq!(b.attributes.size, Some(0x8000));
    assert_eq!(b.selection.skip_list_version, 2);
    f.symbols_loaded = true;
    assert_eq!(
        KernelBucket::from_facts(&f).failure.bucket,
        "AV_dump_diskdump!unknown_function"
    );
    f.frames[0].function = Some("DiskDumpWrite+0x4b".into());
    let b = KernelBucket::from_facts(&f);
    assert_eq!(b.failure.bucket, "AV_dump_diskdump!DiskDumpWrite");
    assert_eq!(b.attributes.function_offset, Some(0x4b));
    assert_eq!(
        b.failure.failure_id_hash,
        failure_id_hash(HashKind::Kernel, "AV_dump_diskdump!DiskDumpWrite")
    );
    assert_eq!(b.crash_state.frames, vec!["dump_diskdump!DiskDumpWrite"]);
}

/// Published vectors of the older grammar that today's rules still build (the stop-code form
/// with `_VRF` after the sub-tokens), and 0x124.
#[test]
fn published_vectors() {
    let nt = nt();
    let mut f = facts(
        0x3B,
        [0xC000_0006, nt.base + 0x10, 0, 0],
        vec![
            at(&nt, 0x10, Some("HvpGetCellPaged")),
            at(&nt, 0x20, Some("CmpKcbCacheLookup")),
        ],
    );
    f.verifier_active = true;
    let b = KernelBucket::from_facts(&f);
    assert_eq!(b.failure.bucket, "0x3B_c0000006_VRF_nt!HvpGetCellPaged");
    assert_eq!(
        b.failure.failure_id_hash,
        "7a661e2f-534d-3e96-ba17-ba22422da673"
    );
    assert_eq!(b.selection.rule, SelectionRule::AllSkippedFirstFrame);

    let mut f = facts(
        0x7F,
        [8, 0, 0, 0],
        vec![at(&nt, 0x30, Some("KiDoubleFaultAbort"))],
    );
    f.verifier_active = true;
    let b = KernelBucket::from_facts(&f);
    assert_eq!(
        b.failure.failure_id_hash,
        "2575f830-7dd8-52d7-e1be-20f8274db764"
    );

    let mut f = facts(
        0x124,
        [0x10, 0xFFFF_E000_1234_0000, 0, 0],
        vec![at(&nt, 0x40, Some("WheaReportHwError"))],
    );
    f.whea = Some(WheaFacts {
        record: None,
        cpu_vendor: Some("GenuineIntel".into()),
    });
    let b = KernelBucket::from_facts(&f);
    assert_eq!(
        b.failure.bucket,
        "0x124_16_GenuineIntel__UNKNOWN_IMAGE_GenuineIntel.sys"
    );
    assert_eq!(
        b.failure.failure_id_hash,
        "37af9407-4a3e-0b08-acdd-dadffdc34c3c"
    );
    assert_eq!(b.selection.rule, SelectionRule::WheaRecord);
}

/// The head families of today's grammar, each against a published row.
#[test]
fn todays_heads() {
    let drv = module("Driver.sys", 0x8000_0000);
    let nt = nt();
    let one = |code, p: [u64; 4], frames: Vec<KernelFrame>| {
        let mut f = facts(code, p, frames);
        f.symbols_loaded = true;
        f
    };
    // 0x50 write to a null-based address.
    let b = KernelBucket::from_facts(&one(
        0x50,
        [0x10, 1, drv.base + 5, 2],
        vec![at(&drv, 5, None)],
    ));
    assert_eq!(b.failure.bucket, "AV_W_(null)_Driver!unknown_function");
    assert_eq!(
        b.failure.failure_id_hash,
        "2f4cb3f6-118f-01c9-d978-7b6c7a9a1257"
    );
    // 0x50 read of an invalid address.
    let b = KernelBucket::from_facts(&one(
        0x50,
        [0xFFFF_A000_0000_0000, 0, 0, 2],
        vec![at(&drv, 5, None)],
    ));
    assert_eq!(b.prefix, "AV_R_INVALID");
    // 0xD1 executing paged-out code: P1 == P4.
    let ip = drv.base + 0x40;
    let b = KernelBucket::from_facts(&one(
        0xD1,
        [ip, 2, 8, ip],
        vec![at(&drv, 0x40, Some("AccessPageableMemory"))],
    ));
    assert_eq!(
        b.failure.bucket,
        "AV_CODE_AV_PAGED_IP_Driver!AccessPageableMemory"
    );
    // Verifier.
    let mut f = one(
        0xD1,
        [0x28, 2, 0, drv.base + 1],
        vec![at(&drv, 1, Some("F"))],
    );
    f.verifier_active = true;
    assert_eq!(
        KernelBucket::from_facts(&f).failure.bucket,
        "AV_VRF_Driver!F"
    );
    // 0x7E with an access violation: plain AV; with another exception the code.
    let b = KernelBucket::from_facts(&one(
        0x1000_007E,
        [0xC000_0005, drv.base + 1, 0, 0],
        vec![at(&drv, 1, None)],
    ));
    assert_eq!(b.failure.bucket, "AV_Driver!unknown_function");
    // 0x4A names the process and the frame below the plumbing, in nt.
    let mut f = one(
        0x4A,
        [0x7FF8_0000_1000, 2, 0, 0xFFFF_A000_0000_1000],
        vec![
            at(&nt, 0x10, Some("KeBugCheckEx")),
            at(&nt, 0x20, Some("KiBugCheckDispatch+0x69")),
            at(&nt, 0x30, Some("KiSystemServiceExitPico+0x1fe")),
            at(&drv, 0x50, Some("Stray")),
        ],
    );
    f.process_name = Some("notmyfault64.e".into());
    let b = KernelBucket::from_facts(&f);
    assert_eq!(
        b.failure.bucket,
        "RAISED_IRQL_FAULT_notmyfault64.e_nt!KiSystemServiceExitPico"
    );
    assert_eq!(b.head_family, HeadFamily::RaisedIrql);
    assert_eq!(b.attributes.function_offset, Some(0x1fe));
    // 0xEF names the dying process.
    let mut f = one(
        0xEF,
        [0xFFFF_A000_0000_2000, 0, 0, 0],
        vec![at(&nt, 0x40, Some("PspCatchCriticalBreak"))],
    );
    f.process_name = Some("csrss.exe".into());
    assert_eq!(
        KernelBucket::from_facts(&f).prefix,
        "0xEF_csrss.exe_BUGCHECK_CRITICAL_PROCESS"
    );
    // Live dumps, by header and by code.
    let mut f = one(0x1CC, [0; 4], vec![at(&nt, 0x50, Some("KiSwapContext"))]);
    assert_eq!(
        KernelBucket::from_facts(&f).failure.bucket,
        "LKD_0x1CC_nt!KiSwapContext"
    );
    f.code = 0x117;
    f.symbols_loaded = false;
    f.frames = vec![at(&module("igdkmd64.sys", 0x9000_0000), 5, None)];
    let b = KernelBucket::from_facts(&f);
    assert_eq!(b.failure.bucket, "LKD_0x117_IMAGE_igdkmd64.sys");
    assert_eq!(
        b.failure.failure_id_hash,
        "df5cc292-6e03-34f8-7849-e22c43f13df4"
    );
    let mut f = one(
        0xD1,
        [0x28, 2, 0, drv.base + 1],
        vec![at(&drv, 1, Some("F"))],
    );
    f.live_dump = true;
    assert_eq!(
        KernelBucket::from_facts(&f).failure.bucket,
        "LKD_AV_Driver!F"
    );
    // Stop-code tokens.
    let plumbing = |f: &str| at(&nt, 0x10, Some(f));
    let b = KernelBucket::from_facts(&one(
        0x139,
        [0x1d, 0, 0, 0],
        vec![plumbing("KeBugCheckEx"), at(&drv, 9, None)],
    ));
    assert_eq!(
        b.failure.bucket,
        "0x139_1d_INVALID_BALANCED_TREE_Driver!unknown_function"
    );
    assert_eq!(
        b.failure.failure_id_hash,
        "8ebd2998-ea64-b96c-aae8-2108d8c92247"
    );
    let b = KernelBucket::from_facts(&one(
        0x20,
        [0, 0xFFFF, 0, 0],
        vec![
            plumbing("KeBugCheckEx"),
            at(&nt, 0x60, Some("PspExitThread")),
        ],
    ));
    assert_eq!(
        b.failure.bucket,
        "0x20_NULLAPC_KAPC_NEGATIVE_nt!PspExitThread"
    );
    let b = KernelBucket::from_facts(&one(
        0x153,
        [1, 2, 1, 0],
        vec![
            plumbing("KeBugCheckEx"),
            at(&nt, 0x70, Some("KeCleanupThreadState")),
        ],
    ));
    assert_eq!(
        b.failure.failure_id_hash, "c1f11abf-30b0-6f15-0afc-73c2b6a6a885",
        "{}",
        b.failure.bucket
    );
    let b = KernelBucket::from_facts(&one(
        0x39,
        [0; 4],
        vec![
            plumbing("KeBugCheckEx"),
            plumbing("KiBugCheckDispatch"),
            at(&nt, 0x80, Some("IopLoadUnloadDriver")),
        ],
    ));
    assert_eq!(b.failure.bucket, "0x39_nt!IopLoadUnloadDriver");
    assert_eq!(b.selection.rule, SelectionRule::AllSkippedFirstFrame);
}

#[test]
fn sub_tokens() {
    let drv = module("e1g60i32.sys", 0x8000_0000);
    let frames = vec![at(&drv, 0x10, Some("RxProcessReceiveInterrupts"))];
    let bucket = |code, p: [u64; 4], detail: Option<&str>| {
        let mut f = facts(code, p, frames.clone());
        f.detail = detail.map(Into::into);
        KernelBucket::from_facts(&f).prefix
    };
    assert_eq!(bucket(0x1E, [0xC000_0005, 0, 0, 0x10], None), "AV_R_(null)");
    assert_eq!(
        bucket(0x1E, [0xC000_0005, 0, 1, 0xFFFF_A000_0000_0010], None),
        "AV_W_INVALID"
    );
    assert_eq!(bucket(0x1E, [0x8000_0003, 0, 0, 0], None), "0x1E_80000003");
    assert_eq!(
        bucket(0x1E, [0xFFFF_FFFF_C000_0005, 0, 1, 0], None),
        "AV_W_(null)"
    );
    assert_eq!(bucket(0x1000_007E, [0xC000_0005, 0, 0, 0], None), "AV");
    assert_eq!(
        bucket(0x1000_008E, [0xC000_001D, 0, 0, 0], None),
        "0x8E_c000001d"
    );
    assert_eq!(bucket(0x7F, [0xD, 0, 0, 0], None), "0x7F_d");
    assert_eq!(
        bucket(0x9F, [3, 0, 0, 0], Some("power down wdf wait timeout")),
        "0x9F_3_POWER_DOWN_WDF_WAIT_TIMEOUT"
    );
    assert_eq!(bucket(0x133, [0, 0, 0, 0], None), "0x133_DPC");
    assert_eq!(bucket(0x133, [1, 0, 0, 0], Some("isr")), "0x133_ISR");
    assert_eq!(
        bucket(0x139, [3, 0, 0, 0], None),
        "0x139_3_CORRUPT_LIST_ENTRY"
    );
    assert_eq!(bucket(0x1A, [0x41790, 0, 0, 0], None), "0x1A_41790");
    assert_eq!(bucket(0xC2, [7, 0, 0, 0], None), "0xC2_7");
    assert_eq!(bucket(0xD1, [0, 2, 0, 0x8000_0010], None), "AV");
    assert_eq!(bucket(0x13A, [0x12, 0, 0, 0], None), "0x13A_12");
    assert_eq!(bucket(0x5454_414D, [0; 4], None), "0x5454414D");
    let b = KernelBucket::from_facts(&facts(0xD1, [0, 2, 0, 0x8000_0010], frames.clone()));
    assert_eq!(b.failure.bucket, "AV_e1g60i32!RxProcessReceiveInterrupts");
}

#[test]
fn serializes_to_json() {
    let dd = module("dump_diskdump.sys", 0x7000_0000);
    let b = KernelBucket::from_facts(&facts(0xD1, [0, 2, 1, dd.base + 4], vec![at(&dd, 4, None)]));
    let json = serde_json::to_value(&b).unwrap_or_default();
    assert_eq!(json["failure"]["bucket"], "AV_IMAGE_dump_diskdump.sys");
    assert_eq!(json["head_family"], "access_violation");
    assert_eq!(json["selection"]["rule"], "first_not_skipped");
    assert_eq!(json["location_form"], "image");
    let e =
        serde_json::to_value(crate::stop_codes::explain(0xD1, [0, 2, 1, 4])).unwrap_or_default();
    assert_eq!(e["address_rule"]["kind"], "parameter");
    assert_eq!(e["address_rule"]["parameter"], 4);
    assert_eq!(e["parameters"][2]["note"], "write");
}

/// `triage_x64.dmp`: Stop 0x1000007E in amdppm.sys at offset 0x334c.
#[test]
fn m_variant_with_offset_attribute() {
    let amd = module("amdppm.sys", 0xFFFF_F806_1A00_0000);
    let mut f = facts(
        0x1000_007E,
        [0xC000_0005, amd.base + 0x334C, 0, 0],
        vec![at(&amd, 0x334C, None), at(&nt(), 0x99, None)],
    );
    f.symbols_loaded = true;
    let b = KernelBucket::from_facts(&f);
    assert_eq!(b.failure.bucket, "AV_amdppm!unknown_function");
    assert_eq!(b.attributes.module_file.as_deref(), Some("amdppm.sys"));
    assert_eq!(b.attributes.offset, Some(0x334C));
    assert_eq!(b.crash_state.frames, vec!["amdppm+0x334c"]);
}

#[test]
fn whea_driver_source_names_the_driver_and_fallbacks() {
    let drv = module("storahci.sys", 0x9000_0000);
    let f = facts(
        0x124,
        [0x10, 0, 0, 0],
        vec![at(&nt(), 1, None), at(&drv, 0x20, Some("AhciPortError"))],
    );
    let b = KernelBucket::from_facts(&f);
    assert_eq!(
        b.failure.bucket,
        "0x124_16_UnknownVendor__UNKNOWN_storahci!AhciPortError"
    );
    let f = facts(0x124, [0, 0, 0, 0], vec![at(&drv, 0x20, None)]);
    let b = KernelBucket::from_facts(&f);
    assert_eq!(
        b.failure.bucket,
        "0x124_0_UnknownVendor__UNKNOWN_IMAGE_UnknownVendor.sys"
    );
    let b = KernelBucket::from_facts(&facts(
        0xA,
        [0; 4],
        vec![KernelFrame {
            address: 0x42,
            module: None,
            function: None,
        }],
    ));
    assert_eq!(b.failure.bucket, "AV_nt!unknown_function");
    assert_eq!(b.attributes.address, Some(0x42));
    assert!(!b.notes.is_empty());
    let b = KernelBucket::from_facts(&facts(
        0xE2,
        [0; 4],
        vec![at(&nt(), 5, Some("KeBugCheckEx"))],
    ));
    assert!(b
        .notes
        .iter()
        .any(|n| matches!(n, BucketNote::ManualCrash { .. })));
}
