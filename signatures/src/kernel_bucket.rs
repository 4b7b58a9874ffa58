//! The failure bucket of a kernel crash in the grammar of today's debugger, with its
//! `FAILURE_ID_HASH` and crash state (`shared/spec/analyze-buckets.md`, which supersedes section 2
//! of `signatures.md`).
//!
//! ```text
//! bucket   := [ "LKD_" ] head "_" location
//! head     := "AV" qualifiers | "0x" CODE { "_" token } [ "_VRF" ]
//!           | "RAISED_IRQL_FAULT_" process | "0xEF_" process "_BUGCHECK_CRITICAL_PROCESS"
//! location := module "!" function | module "!unknown_function" | "IMAGE_" imagefile
//! ```
//!
//! The head's rules, and the published rows each reproduces, are in [`head`]. The location:
//! - with a function, `<module>!<function>` (C++ names sanitized as the debugger does); when
//!   the analyzer had symbols (for any module) but none for this frame,
//!   `<module>!unknown_function`; with no symbols at all, `IMAGE_<file>`. Module = file name
//!   without extension, `nt` for the kernel. When no frame is in a module:
//!   `nt!unknown_function` with the raw address kept as an attribute.
//! - The frame is the first below the bug check plumbing whose module is not on the skip list
//!   (`module_selection`); for 0x4A the first below the plumbing in whatever module, since the
//!   process is the culprit (`RAISED_IRQL_FAULT_<process>_nt!KiSystemServiceExitPico`).
//! - No offset in the bucket: the function offset is its own field
//!   ([`BucketAttributes::function_offset`], the debugger's `BUCKET_ID_FUNC_OFFSET`), and
//!   module offset, timestamp, size and version are attributes, so that two crashes in one
//!   function share a bucket.

use serde::Serialize;

use crate::cper::{whea_bucket, WheaBucket};
use crate::crash_state::CrashState;
use crate::hash::HashKind;
use crate::module_selection::{
    kernel_crash_state, select_module, KernelCrashFacts, KernelFrame, ModuleSelection,
    SelectionRule, SkipList, KERNEL_MODULE,
};
use crate::stop_codes::{base_code, StopCode};
use crate::user_bucket::{sanitize_function, FailureBucket};

pub mod head;
pub use head::{is_live_dump, HeadFamily, LIVE_DUMP_ATTRIBUTE};

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
    /// Address minus the start of the chosen frame's function, when symbols named it: the
    /// debugger's `BUCKET_ID_FUNC_OFFSET`, kept out of the bucket.
    pub function_offset: Option<u64>,
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
    /// The part before the location, e.g. `AV_VRF`, `0x139_3_CORRUPT_LIST_ENTRY` or
    /// `LKD_0x1CC`.
    pub prefix: String,
    /// Which family the prefix belongs to.
    pub head_family: HeadFamily,
    /// A live kernel dump: the prefix starts with `LKD_`.
    pub live_dump: bool,
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
    /// The code is a memory-capture tool's marker: the machine was captured, it did not crash.
    CaptureMarker {
        /// The code the tool wrote.
        code: u32,
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
            BucketNote::CaptureMarker { code } => write!(
                f,
                "{code:#X} is the marker a memory-capture tool writes with \
                 KeInitializeCrashDumpHeader: the memory was captured, the machine did not crash"
            ),
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

impl KernelBucket {
    /// The bucket of a kernel crash with the built-in skip list.
    pub fn from_facts(facts: &KernelCrashFacts) -> KernelBucket {
        KernelBucket::with_skip_list(facts, SkipList::builtin())
    }

    /// The bucket of a kernel crash with the given skip list.
    pub fn with_skip_list(facts: &KernelCrashFacts, skip_list: &SkipList) -> KernelBucket {
        let code = base_code(facts.code);
        let mut notes = Vec::new();
        // 0x4A blames the process: the frame named is the first below the bug check plumbing,
        // in whatever module (the debugger's `nt!KiSystemServiceExitPico`).
        let process_culprit = code == 0x4A && facts.process_name.is_some();
        let mut selection = if process_culprit {
            select_module(&facts.frames, &skip_list.plumbing_only())
        } else {
            select_module(&facts.frames, skip_list)
        };
        let mut whea = None;
        let (mut prefix, head_family) = head::head(facts);
        let symbols =
            facts.symbols_loaded || facts.frames.iter().any(|f| f.clean_function().is_some());
        let (mut location, mut form) = location_of(&selection, symbols);

        if let Some(irp) = facts.power_irp.as_ref().filter(|_| code == 0x9F) {
            location = format!("IMAGE_{}", irp.device_image);
            form = LocationForm::Image;
            selection.rule = SelectionRule::DeviceObject;
            selection.rule_words = SelectionRule::DeviceObject.words().to_owned();
            selection.reason = format!(
                "{}: \\Driver\\{} ({}){}",
                SelectionRule::DeviceObject.words(),
                irp.device_driver,
                irp.device_image,
                irp.irp_owner
                    .as_ref()
                    .map(|o| format!("; the blocked IRP is held by \\Driver\\{o}"))
                    .unwrap_or_default()
            );
            selection.name = irp.device_driver.clone();
            selection.module = None;
            selection.frame_index = None;
            selection.function = None;
            selection.offset = None;
            selection.address = None;
        }
        if code == 0x124 {
            let p1 = facts.parameters[0];
            let parts = whea_bucket(p1, facts.whea.as_ref());
            prefix = parts.prefix.clone();
            if facts.verifier_active {
                prefix.push_str("_VRF");
            }
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
        let live_dump = is_live_dump(facts.code, facts.live_dump);
        if live_dump {
            prefix = format!("LKD_{prefix}");
        }
        if let Some(entry) = StopCode::lookup(code) {
            use crate::stop_codes::AddressRule;
            match entry.address_rule {
                AddressRule::Manual => notes.push(BucketNote::ManualCrash { stop: entry.name }),
                AddressRule::Capture => notes.push(BucketNote::CaptureMarker { code }),
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
        let function_offset = selection
            .frame_index
            .and_then(|i| facts.frames.get(i))
            .filter(|_| selection.function.is_some())
            .and_then(KernelFrame::function_offset);
        let attributes = BucketAttributes {
            module_file: selection.module.as_ref().map(|m| m.file_name().to_owned()),
            address: selection.address,
            offset: selection.offset,
            function_offset,
            timestamp: selection.module.as_ref().map(|m| m.timestamp),
            size: selection.module.as_ref().map(|m| m.size),
            version: selection.module.as_ref().and_then(|m| m.version.clone()),
        };
        KernelBucket {
            failure: FailureBucket::new(HashKind::Kernel, format!("{prefix}_{location}")),
            prefix,
            head_family,
            live_dump,
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
        (Some(_), Some(f)) => (
            format!("{}!{}", selection.name, sanitize_function(f)),
            LocationForm::Function,
        ),
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
mod tests;
