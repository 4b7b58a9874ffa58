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
    assert_eq!(b.failure.bucket, "0xD1_IMAGE_dump_diskdump.sys");
    assert_eq!(b.location_form, LocationForm::Image);
    assert_eq!(b.attributes.offset, Some(0x1A2B));
    assert_eq!(b.attributes.timestamp, Some(0x4D34_1F2E));
    assert_eq!(b.attributes.size, Some(0x8000));
    assert_eq!(b.selection.skip_list_version, 1);
    f.symbols_loaded = true;
    assert_eq!(
        KernelBucket::from_facts(&f).failure.bucket,
        "0xD1_dump_diskdump!unknown_function"
    );
    f.frames[0].function = Some("DiskDumpWrite+0x4b".into());
    let b = KernelBucket::from_facts(&f);
    assert_eq!(b.failure.bucket, "0xD1_dump_diskdump!DiskDumpWrite");
    assert_eq!(
        b.failure.failure_id_hash,
        failure_id_hash(HashKind::Kernel, "0xD1_dump_diskdump!DiskDumpWrite")
    );
    assert_eq!(b.crash_state.frames, vec!["dump_diskdump!DiskDumpWrite"]);
}

/// Every published vector: through the bucket API where our grammar can build it, by
/// hash alone for the debugger's `AV_` family we do not produce.
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

    for (bucket, hash) in [
        (
            "AV_OVSExt!OvsWaitEventIoctl",
            "07550bfb-c3b5-0412-b95d-f89a5c4671a9",
        ),
        (
            "AV_myfault!unknown_function",
            "9745090a-9bce-ccba-c096-ca6e9ca04c64",
        ),
        (
            "AV_CODE_AV_PAGED_IP_TestDriver!AccessPageableMemory",
            "2463ca34-5d68-cb7c-6807-dd2087a41e36",
        ),
        (
            "AV_R_(null)_win32kbase!WmsgpConnect",
            "ece26be9-101a-e2cf-72a9-a92359219248",
        ),
        (
            "AV_NETIO!StreamInvokeCalloutAndNormalizeAction",
            "c2ca2d1f-cfdc-88d5-c7bc-7693b8f0de04",
        ),
    ] {
        assert_eq!(failure_id_hash(HashKind::Kernel, bucket), hash, "{bucket}");
    }
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
    assert_eq!(
        bucket(0x1E, [0xC000_0005, 0, 0, 0x10], None),
        "0x1E_c0000005_R"
    );
    assert_eq!(
        bucket(0x1E, [0xC000_0005, 0, 1, 0x10], None),
        "0x1E_c0000005_W"
    );
    assert_eq!(bucket(0x1E, [0x8000_0003, 0, 0, 0], None), "0x1E_80000003");
    assert_eq!(
        bucket(0x1E, [0xFFFF_FFFF_C000_0005, 0, 1, 0], None),
        "0x1E_c0000005_W"
    );
    assert_eq!(
        bucket(0x1000_007E, [0xC000_0005, 0, 0, 0], None),
        "0x7E_c0000005"
    );
    assert_eq!(
        bucket(0x1000_008E, [0xC000_001D, 0, 0, 0], None),
        "0x8E_c000001d"
    );
    assert_eq!(bucket(0x7F, [0xD, 0, 0, 0], None), "0x7F_13");
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
    assert_eq!(bucket(0xD1, [0, 2, 0, 0x8000_0010], None), "0xD1");
    assert_eq!(bucket(0x5454_414D, [0; 4], None), "0x5454414D");
    let b = KernelBucket::from_facts(&facts(0xD1, [0, 2, 0, 0x8000_0010], frames.clone()));
    assert_eq!(b.failure.bucket, "0xD1_e1g60i32!RxProcessReceiveInterrupts");
}

#[test]
fn serializes_to_json() {
    let dd = module("dump_diskdump.sys", 0x7000_0000);
    let b = KernelBucket::from_facts(&facts(0xD1, [0, 2, 1, dd.base + 4], vec![at(&dd, 4, None)]));
    let json = serde_json::to_value(&b).unwrap_or_default();
    assert_eq!(json["failure"]["bucket"], "0xD1_IMAGE_dump_diskdump.sys");
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
    assert_eq!(b.failure.bucket, "0x7E_c0000005_amdppm!unknown_function");
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
    assert_eq!(b.failure.bucket, "0xA_nt!unknown_function");
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
