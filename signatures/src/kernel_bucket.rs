//! The failure bucket of a kernel crash in the debugger's grammar, with its `FAILURE_ID_HASH`
//! and crash state (`shared/spec/signatures.md`, section 2).
//!
//! ```text
//! bucket   := prefix "_" location
//! prefix   := "0x" CODE { "_" subtoken } [ "_VRF" ]
//! location := module "!" function | module "!unknown_function" | "IMAGE_" imagefile
//! ```
//!
//! Decisions, so that one driver bug is one bucket and buckets join with `!analyze` output:
//! - CODE is the base code in uppercase hex (`0x1000007E` -> `0x7E`). The hash lowercases the
//!   whole bucket, so `0x7f_8` and `0x7F_8` hash alike.
//! - Sub-tokens: 0x1E `_<exception code>` plus `_R`/`_W` for an access violation (P3);
//!   0x7E/0x8E/0x3B `_<exception code>`; 0x7F, 0x9F, 0x139 `_<P1 decimal>` (0x139 adds the
//!   fast-fail name, 0x9F the analyzer's detail such as `POWER_DOWN`); 0x1A, 0x19, 0xC2
//!   `_<P1 hex>` (their sub-types are known by hex names, `0x1a_41790`); 0x133 `_DPC` or `_ISR`;
//!   0x124 from the WHEA record (`cper::whea_bucket`). `_VRF` when Driver Verifier was active.
//! - The debugger's newer `AV_` family is not produced: we keep the stop code (the spec's seed
//!   example is `0xD1_dump_diskdump!...`). An `AV_` bucket from `!analyze` can still be hashed with
//!   `failure_id_hash` for joining.
//! - Location: with a function, `<module>!<function>`; when the analyzer had symbols (for any
//!   module) but none for this frame, `<module>!unknown_function`; with no symbols at all,
//!   `IMAGE_<file>`. Module = file name without extension, `nt` for the kernel. When no frame is
//!   in a module: `nt!unknown_function` with the raw address kept as an attribute.
//! - Offset, timestamp, size and version are attributes, never part of the bucket.

use serde::Serialize;

use crate::cper::{whea_bucket, WheaBucket};
use crate::crash_state::CrashState;
use crate::exception_codes::fast_fail_name;
use crate::hash::HashKind;
use crate::module_selection::{
    kernel_crash_state, select_module, KernelCrashFacts, ModuleSelection, SelectionRule, SkipList,
    KERNEL_MODULE,
};
use crate::stop_codes::{base_code, StopCode};
use crate::user_bucket::FailureBucket;

/// P1 of Stop 0x124 when a device driver reported the error.
pub const WHEA_DEVICE_DRIVER_SOURCE: u64 = 0x10;

/// Which form the location took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationForm {
    /// `module!function`.
    Function,
    /// `module!unknown_function`.
    UnknownFunction,
    /// `IMAGE_<file>`.
    Image,
}

/// What is kept beside the bucket: the details that would split one bug into many buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketAttributes {
    /// File name of the chosen module.
    pub module_file: Option<String>,
    /// The chosen frame's address (the raw address when no module contains it).
    pub address: Option<u64>,
    /// Address minus the module base.
    pub offset: Option<u64>,
    /// PE TimeDateStamp of the module.
    pub timestamp: Option<u32>,
    /// SizeOfImage of the module.
    pub size: Option<u64>,
    /// File version of the module.
    pub version: Option<String>,
}

/// A kernel failure bucket with everything needed to check it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelBucket {
    /// The bucket string and its `km:` hash.
    pub failure: FailureBucket,
    /// The part before the location, e.g. `0x1E_c0000005_R_VRF`.
    pub prefix: String,
    /// The location, e.g. `dump_diskdump!unknown_function`.
    pub location: String,
    /// Which form the location took.
    pub location_form: LocationForm,
    /// How the module was chosen.
    pub selection: ModuleSelection,
    /// Offset, timestamp, size, version.
    pub attributes: BucketAttributes,
    /// The top 3 relevant frames.
    pub crash_state: CrashState,
    /// For Stop 0x124: the record-derived parts.
    pub whea: Option<WheaBucket>,
    /// Remarks for the report (manual crash, process culprit, fallbacks).
    pub notes: Vec<BucketNote>,
}

/// A remark on how a kernel bucket was made, shown in the words of `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketNote {
    /// Stop 0x124 raised by a device driver that is on the stack.
    WheaDriver {
        /// The reporting driver.
        driver: String,
    },
    /// Stop 0x124 raised by a device driver that is not on the stack.
    WheaDriverNotOnStack,
    /// A manually initiated crash.
    ManualCrash {
        /// The stop code's name.
        stop: &'static str,
    },
    /// The culprit is a process, not a module.
    ProcessCulprit {
        /// The stop code's name.
        stop: &'static str,
    },
    /// Corruption the kernel detected: the module is a hint.
    KernelDetected {
        /// The stop code's name.
        stop: &'static str,
    },
    /// A stop code not in the table.
    UnknownStopCode(u32),
    /// No frame lies in a module: the selection's sentence.
    NoModule(String),
}

impl std::fmt::Display for BucketNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BucketNote::WheaDriver { driver } => write!(
                f,
                "Stop 0x124 reported by a device driver (P1 0x10): the reporting driver {driver} names the location"
            ),
            BucketNote::WheaDriverNotOnStack => f.write_str("Stop 0x124 from a device driver, but no driver outside the skip list is on the stack: the CPU vendor's pseudo image names the location, as the debugger does"),
            BucketNote::ManualCrash { stop } => {
                write!(f, "{stop}: a manually initiated crash, not a bug")
            }
            BucketNote::ProcessCulprit { stop } => write!(
                f,
                "{stop}: the culprit is a process (see the parameters), not a module"
            ),
            BucketNote::KernelDetected { stop } => write!(
                f,
                "{stop}: corruption detected by the kernel; the module is only a hint"
            ),
            BucketNote::UnknownStopCode(code) => {
                write!(f, "unknown stop code 0x{code:X}: bucketed by the stack")
            }
            BucketNote::NoModule(reason) => f.write_str(reason),
        }
    }
}

/// Written as its words.
impl Serialize for BucketNote {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn token(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The prefix without `_VRF` (and without the 0x124 parts, which need the record).
fn stop_prefix(facts: &KernelCrashFacts) -> String {
    let code = base_code(facts.code);
    let [p1, _, p3, _] = facts.parameters;
    let detail = facts.detail.as_deref().map(token).filter(|d| !d.is_empty());
    let mut out = format!("0x{code:X}");
    match code {
        0x1E => {
            out.push_str(&format!("_{:08x}", p1 as u32));
            // 64-bit dumps may sign-extend the NTSTATUS: compare its low 32 bits.
            if p1 as u32 == 0xC000_0005 {
                match p3 {
                    0 => out.push_str("_R"),
                    1 => out.push_str("_W"),
                    _ => {}
                }
            }
        }
        0x7E | 0x8E | 0x3B => out.push_str(&format!("_{:08x}", p1 as u32)),
        0x7F | 0x9F => out.push_str(&format!("_{p1}")),
        0x139 => {
            out.push_str(&format!("_{p1}"));
            if let Some(name) = fast_fail_name(p1) {
                out.push_str(&format!("_{name}"));
            }
        }
        0x1A | 0x19 | 0xC2 => out.push_str(&format!("_{p1:x}")),
        0x133 => {
            let kind = if detail.as_deref() == Some("ISR") {
                "ISR"
            } else {
                "DPC"
            };
            out.push_str(&format!("_{kind}"));
            return out;
        }
        _ => {}
    }
    if let Some(d) = detail {
        out.push_str(&format!("_{d}"));
    }
    out
}

impl KernelBucket {
    /// The bucket of a kernel crash with the built-in skip list.
    pub fn from_facts(facts: &KernelCrashFacts) -> KernelBucket {
        KernelBucket::with_skip_list(facts, SkipList::builtin())
    }

    /// The bucket of a kernel crash with the given skip list.
    pub fn with_skip_list(facts: &KernelCrashFacts, skip_list: &SkipList) -> KernelBucket {
        let code = base_code(facts.code);
        let mut notes = Vec::new();
        let mut selection = select_module(&facts.frames, skip_list);
        let mut whea = None;
        let mut prefix = stop_prefix(facts);
        let symbols =
            facts.symbols_loaded || facts.frames.iter().any(|f| f.clean_function().is_some());
        let (mut location, mut form) = location_of(&selection, symbols);

        if code == 0x124 {
            let p1 = facts.parameters[0];
            let parts = whea_bucket(p1, facts.whea.as_ref());
            prefix = parts.prefix.clone();
            let driver_found =
                p1 == WHEA_DEVICE_DRIVER_SOURCE && selection.rule == SelectionRule::FirstNotSkipped;
            if driver_found {
                notes.push(BucketNote::WheaDriver {
                    driver: selection.name.clone(),
                });
            } else {
                if p1 == WHEA_DEVICE_DRIVER_SOURCE {
                    notes.push(BucketNote::WheaDriverNotOnStack);
                }
                location = format!("IMAGE_{}", parts.image);
                form = LocationForm::Image;
                selection.rule = SelectionRule::WheaRecord;
                selection.rule_words = SelectionRule::WheaRecord.words().to_owned();
                selection.reason =
                    format!("{}; {}", SelectionRule::WheaRecord.words(), parts.reason);
                selection.name = parts.vendor.clone();
                selection.module = None;
                selection.frame_index = None;
                selection.function = None;
                selection.offset = None;
                selection.address = None;
            }
            whea = Some(parts);
        }
        if facts.verifier_active {
            prefix.push_str("_VRF");
        }
        if let Some(entry) = StopCode::lookup(code) {
            use crate::stop_codes::AddressRule;
            match entry.address_rule {
                AddressRule::Manual => notes.push(BucketNote::ManualCrash { stop: entry.name }),
                AddressRule::Process => notes.push(BucketNote::ProcessCulprit { stop: entry.name }),
                AddressRule::NoModule => {
                    notes.push(BucketNote::KernelDetected { stop: entry.name })
                }
                _ => {}
            }
        } else {
            notes.push(BucketNote::UnknownStopCode(facts.code));
        }
        if matches!(
            selection.rule,
            SelectionRule::NoModule | SelectionRule::NoFrames
        ) {
            notes.push(BucketNote::NoModule(selection.reason.clone()));
        }
        let attributes = BucketAttributes {
            module_file: selection.module.as_ref().map(|m| m.file_name().to_owned()),
            address: selection.address,
            offset: selection.offset,
            timestamp: selection.module.as_ref().map(|m| m.timestamp),
            size: selection.module.as_ref().map(|m| m.size),
            version: selection.module.as_ref().and_then(|m| m.version.clone()),
        };
        KernelBucket {
            failure: FailureBucket::new(HashKind::Kernel, format!("{prefix}_{location}")),
            prefix,
            location,
            location_form: form,
            selection,
            attributes,
            crash_state: kernel_crash_state(&facts.frames, skip_list),
            whea,
            notes,
        }
    }
}

fn location_of(selection: &ModuleSelection, symbols: bool) -> (String, LocationForm) {
    match (&selection.module, &selection.function) {
        (Some(_), Some(f)) => (format!("{}!{f}", selection.name), LocationForm::Function),
        (Some(m), None) if !symbols => (format!("IMAGE_{}", m.file_name()), LocationForm::Image),
        (Some(_), None) => (
            format!("{}!unknown_function", selection.name),
            LocationForm::UnknownFunction,
        ),
        (None, _) => (
            format!("{KERNEL_MODULE}!unknown_function"),
            LocationForm::UnknownFunction,
        ),
    }
}

#[cfg(test)]
mod tests {
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
        let b =
            KernelBucket::from_facts(&facts(0xD1, [0, 2, 1, dd.base + 4], vec![at(&dd, 4, None)]));
        let json = serde_json::to_value(&b).unwrap_or_default();
        assert_eq!(json["failure"]["bucket"], "0xD1_IMAGE_dump_diskdump.sys");
        assert_eq!(json["selection"]["rule"], "first_not_skipped");
        assert_eq!(json["location_form"], "image");
        let e = serde_json::to_value(crate::stop_codes::explain(0xD1, [0, 2, 1, 4]))
            .unwrap_or_default();
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
}
