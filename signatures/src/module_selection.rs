//! Choosing the faulting module of a kernel crash, the way the debugger does it.
//!
//! The debugger starts at the frame the stop code names and moves down the stack only while the
//! frame's owner is on its skip list: Microsoft plumbing that is called *by* the culprit
//! (`shared/spec/signatures.md`, "Choosing the faulting module (kernel)"). The skip list is data
//! (`data/skip-list.txt`), versioned, and the version goes into every selection, so a bucket that
//! moved after a skip-list change can be explained. `crashdmp.sys` and `dump_*.sys` can never be
//! skipped: the seed's dump-path bug lives there.
//!
//! Every selection says which frame won, by which rule, and which frames were passed over, so a
//! user can check it.

use std::sync::OnceLock;

use serde::Serialize;

use crate::cper::WheaFacts;
use crate::crash_state::{CrashState, MAX_FRAME_CHARS, STATE_FRAMES};
use crate::facts::file_name_of;

const SKIP_LIST_TEXT: &str = include_str!("../data/skip-list.txt");

/// The debugger's module name for the kernel image, whatever its file name.
pub const KERNEL_MODULE: &str = "nt";

/// File names of the kernel image (ntoskrnl and its multi-processor / PAE builds).
const KERNEL_FILES: &[&str] = &[
    "nt",
    "ntoskrnl.exe",
    "ntkrnlmp.exe",
    "ntkrnlpa.exe",
    "ntkrpamp.exe",
];

/// A loaded kernel module as the analyzer found it in the dump's module list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleRef {
    /// File name or full path as the dump records it (`dump_diskdump.sys`).
    pub name: String,
    /// Load address.
    pub base: u64,
    /// SizeOfImage.
    pub size: u64,
    /// PE TimeDateStamp.
    pub timestamp: u32,
    /// File version `a.b.c.d`, when the analyzer could read it.
    pub version: Option<String>,
}

impl ModuleRef {
    /// The file name: the part after the last `\` or `/`.
    pub fn file_name(&self) -> &str {
        file_name_of(&self.name)
    }

    /// The debugger's module name: the file name without its extension, `nt` for the kernel.
    pub fn debugger_name(&self) -> String {
        let file = self.file_name();
        if KERNEL_FILES.iter().any(|k| k.eq_ignore_ascii_case(file)) {
            return KERNEL_MODULE.to_owned();
        }
        match file.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
            _ => file.to_owned(),
        }
    }
}

/// One frame: frame 0 is the address the stop code names (or the context PC), the next ones are
/// the return addresses of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelFrame {
    /// Instruction or return address.
    pub address: u64,
    /// The loaded module containing the address.
    pub module: Option<ModuleRef>,
    /// Function name when symbols resolved it (`Foo`, `mod!Foo` or `Foo+0x12` are accepted).
    pub function: Option<String>,
}

impl KernelFrame {
    /// The function name without a `module!` prefix or a `+0x..` displacement.
    pub fn clean_function(&self) -> Option<&str> {
        let f = self.function.as_deref()?;
        let f = f.rsplit_once('!').map_or(f, |(_, name)| name);
        let f = f.split_once('+').map_or(f, |(name, _)| name).trim();
        (!f.is_empty()).then_some(f)
    }

    /// The displacement from the function's start, when the name carries one (`Foo+0x12`):
    /// the debugger's `BUCKET_ID_FUNC_OFFSET`.
    pub fn function_offset(&self) -> Option<u64> {
        let f = self.function.as_deref()?;
        let (_, offset) = f.rsplit_once('+')?;
        let offset = offset.trim();
        match offset
            .strip_prefix("0x")
            .or_else(|| offset.strip_prefix("0X"))
        {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => u64::from_str_radix(offset, 16).ok(),
        }
    }

    /// `module!function`, or `module+0xoffset` without symbols, or the raw address.
    pub fn describe(&self) -> String {
        match (&self.module, self.clean_function()) {
            (Some(m), Some(f)) => format!("{}!{f}", m.debugger_name()),
            (Some(m), None) => format!(
                "{}+0x{:x}",
                m.debugger_name(),
                self.address.wrapping_sub(m.base)
            ),
            (None, _) => format!("0x{:x}", self.address),
        }
    }
}

/// Everything the kernel bucket rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelCrashFacts {
    /// The bug check code as recorded (`0x1000007E` included).
    pub code: u32,
    /// P1..P4.
    pub parameters: [u64; 4],
    /// Frame 0 = the named address or the context PC, then the stack's return addresses.
    pub frames: Vec<KernelFrame>,
    /// Driver Verifier was active (the bucket gets `_VRF`).
    pub verifier_active: bool,
    /// The analyzer had symbols for at least one module (the kernel's PDB). Without any
    /// symbols the bucket location is `IMAGE_<file>`; see `kernel_bucket`.
    pub symbols_loaded: bool,
    /// A sub-token the analyzer derived beyond the parameters: `ISR` for 0x133 when an ISR (not
    /// a DPC) ran too long; for 0x9F sub-code 3 e.g. `POWER_DOWN` from the blocked IRP.
    pub detail: Option<String>,
    /// The WHEA record of a Stop 0x124 and the CPU vendor.
    pub whea: Option<WheaFacts>,
    /// A live kernel dump (header attribute LiveDumpGeneratedDump): the bucket gets `LKD_`.
    pub live_dump: bool,
    /// The process the stop code is about, as `EPROCESS.ImageFileName` holds it: for 0xEF the
    /// process P1 names, otherwise the current one. 0x4A and 0xEF buckets name it.
    pub process_name: Option<String>,
    /// Stop 0x9F sub-code 3 (a device blocked an IRP too long): the driver of the device
    /// object P2 names and its image file, and the driver owning the blocked IRP P4 (the
    /// device object of the IRP's current stack location), by their `\Driver\` names.
    pub power_irp: Option<PowerIrpFacts>,
}

/// The drivers of a Stop 0x9F sub-code 3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PowerIrpFacts {
    /// The physical device object's driver (`pci`), and the image it was loaded from
    /// (`pci.sys`) when the module list holds it.
    pub device_driver: String,
    /// Its image file name.
    pub device_image: String,
    /// The driver whose device holds the blocked IRP (`RtsPer`).
    pub irp_owner: Option<String>,
}

/// Which rule chose the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionRule {
    /// The first frame whose module is not on the skip list.
    FirstNotSkipped,
    /// Every framed module is on the skip list: the module of the first framed frame.
    AllSkippedFirstFrame,
    /// No frame lies in any module: `nt` with the raw address of frame 0.
    NoModule,
    /// No frames at all: `nt`, no address.
    NoFrames,
    /// Stop 0x124: the WHEA record names the hardware, not the stack.
    WheaRecord,
    /// Stop 0x9F sub-code 3: the device object's driver (P2, the physical device object)
    /// names the image, and the driver owning the blocked IRP (P4) is a sub-token.
    DeviceObject,
}

impl SelectionRule {
    /// The rule in words.
    pub fn words(self) -> &'static str {
        match self {
            SelectionRule::FirstNotSkipped => "first frame whose module is not on the skip list",
            SelectionRule::AllSkippedFirstFrame => {
                "every module on the stack is on the skip list: the first frame below the bug check plumbing"
            }
            SelectionRule::NoModule => "no frame lies in a loaded module: nt with the raw address",
            SelectionRule::NoFrames => "no frames: nt",
            SelectionRule::WheaRecord => "Stop 0x124: the WHEA error record names the hardware",
            SelectionRule::DeviceObject => {
                "Stop 0x9F: the physical device object's driver (P2) names the image"
            }
        }
    }
}

/// A frame passed over, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFrame {
    /// Frame index.
    pub index: usize,
    /// The frame's module file name (empty when it lies in none).
    pub module: String,
    /// Why it was skipped.
    pub why: String,
}

/// The faulting module and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleSelection {
    /// The chosen module (`None` for [`SelectionRule::NoModule`] and [`SelectionRule::NoFrames`]).
    pub module: Option<ModuleRef>,
    /// The debugger's module name (`nt`, `dump_diskdump`, or the CPU vendor for 0x124).
    pub name: String,
    /// The chosen frame's index.
    pub frame_index: Option<usize>,
    /// The chosen frame's address.
    pub address: Option<u64>,
    /// Address minus the module base.
    pub offset: Option<u64>,
    /// The chosen frame's function, when symbolized.
    pub function: Option<String>,
    /// The rule that chose it.
    pub rule: SelectionRule,
    /// [`SelectionRule::words`].
    pub rule_words: String,
    /// A sentence a user can check.
    pub reason: String,
    /// Frames passed over before the chosen one (all of them when none was chosen).
    pub skipped: Vec<SkippedFrame>,
    /// Version of the skip list used.
    pub skip_list_version: u32,
}

/// The versioned skip list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipList {
    /// Recorded with every selection.
    pub version: u32,
    /// Patterns of skipped modules.
    pub skip: Vec<String>,
    /// Patterns that are never skipped (`crashdmp.sys`, `dump_*`).
    pub never: Vec<String>,
    /// Functions of the bug check plumbing (`KeBugCheckEx`, `KiBugCheckDispatch`, the trap
    /// handlers): never chosen when every module on the stack is skipped, so the frame named
    /// is the first one below them, as the debugger names `nt!KiSystemServiceExitPico`.
    pub functions: Vec<String>,
}

/// Case-insensitive match with an optional trailing `*`.
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    match p.strip_suffix('*') {
        Some(prefix) => n.starts_with(prefix),
        None => p == n,
    }
}

impl SkipList {
    /// The built-in list (`data/skip-list.txt`).
    pub fn builtin() -> &'static SkipList {
        static LIST: OnceLock<SkipList> = OnceLock::new();
        LIST.get_or_init(|| {
            SkipList::parse(SKIP_LIST_TEXT).unwrap_or_else(|_| SkipList {
                version: 0,
                skip: Vec::new(),
                never: vec!["crashdmp.sys".into(), "dump_*".into()],
                functions: Vec::new(),
            })
        })
    }

    /// Parses the skip-list format: `version N`, `skip PATTERN`, `never PATTERN`,
    /// `function NAME`, `#` comments.
    /// Errors are returned with their 1-based line numbers.
    pub fn parse(text: &str) -> Result<SkipList, Vec<(usize, String)>> {
        let mut list = SkipList {
            version: 0,
            skip: Vec::new(),
            never: Vec::new(),
            functions: Vec::new(),
        };
        let mut errors = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once(char::is_whitespace) {
                Some(("version", v)) => match v.trim().parse() {
                    Ok(v) => list.version = v,
                    Err(_) => errors.push((n + 1, format!("bad version {v:?}"))),
                },
                Some(("skip", p)) => list.skip.push(p.trim().to_owned()),
                Some(("never", p)) => list.never.push(p.trim().to_owned()),
                Some(("function", p)) => list.functions.push(p.trim().to_owned()),
                _ => errors.push((
                    n + 1,
                    format!("expected version/skip/never/function: {line:?}"),
                )),
            }
        }
        if errors.is_empty() {
            Ok(list)
        } else {
            Err(errors)
        }
    }

    /// True when `name` (a file name or path) may never be skipped.
    pub fn is_protected(&self, name: &str) -> bool {
        let file = file_name_of(name);
        self.never.iter().any(|p| name_matches(p, file))
    }

    /// True when the frame's function is bug check plumbing (`function` entries).
    pub fn is_plumbing(&self, frame: &KernelFrame) -> bool {
        frame
            .clean_function()
            .is_some_and(|f| self.functions.iter().any(|p| name_matches(p, f)))
    }

    /// The same list without its module entries: for stop codes whose culprit is a process
    /// (0x4A), where the frame named is the first below the plumbing, in whatever module.
    pub fn plumbing_only(&self) -> SkipList {
        SkipList {
            version: self.version,
            skip: Vec::new(),
            never: self.never.clone(),
            functions: self.functions.clone(),
        }
    }

    /// The skip entry `name` matches, unless the name is protected.
    pub fn skip_entry(&self, name: &str) -> Option<&str> {
        let file = file_name_of(name);
        if self.is_protected(file) {
            return None;
        }
        self.skip
            .iter()
            .find(|p| name_matches(p, file))
            .map(String::as_str)
    }
}

/// Chooses the faulting module from the frames (rules 2 and 3 of the spec).
pub fn select_module(frames: &[KernelFrame], skip_list: &SkipList) -> ModuleSelection {
    let mut skipped = Vec::new();
    for (index, frame) in frames.iter().enumerate() {
        let Some(module) = &frame.module else {
            skipped.push(SkippedFrame {
                index,
                module: String::new(),
                why: format!("0x{:x} lies in no loaded module", frame.address),
            });
            continue;
        };
        if skip_list.is_plumbing(frame) {
            skipped.push(SkippedFrame {
                index,
                module: module.file_name().to_owned(),
                why: format!(
                    "{} is bug check plumbing (skip list v{})",
                    frame.describe(),
                    skip_list.version
                ),
            });
            continue;
        }
        if let Some(entry) = skip_list.skip_entry(&module.name) {
            skipped.push(SkippedFrame {
                index,
                module: module.file_name().to_owned(),
                why: format!(
                    "{} is on skip list v{} (entry {entry})",
                    module.file_name(),
                    skip_list.version
                ),
            });
            continue;
        }
        let reason = format!(
            "frame {index} ({}) is the first frame whose module {} is not on skip list v{}{}",
            frame.describe(),
            module.file_name(),
            skip_list.version,
            passed_over(&skipped),
        );
        return chosen(
            frame,
            index,
            SelectionRule::FirstNotSkipped,
            reason,
            skipped,
            skip_list,
        );
    }
    // Below the plumbing when the stack goes on; the plumbing itself only when nothing else is
    // in a module.
    let framed = |f: &&KernelFrame| f.module.is_some();
    let fallback = frames
        .iter()
        .enumerate()
        .find(|(_, f)| framed(f) && !skip_list.is_plumbing(f))
        .or_else(|| frames.iter().enumerate().find(|(_, f)| framed(f)));
    if let Some((index, frame)) = fallback {
        let reason = format!(
            "every framed module is on skip list v{}: frame {index} ({}) is the first in a module below the bug check plumbing",
            skip_list.version,
            frame.describe()
        );
        return chosen(
            frame,
            index,
            SelectionRule::AllSkippedFirstFrame,
            reason,
            skipped,
            skip_list,
        );
    }
    let (rule, address, reason) = match frames.first() {
        Some(f) => (
            SelectionRule::NoModule,
            Some(f.address),
            format!(
                "no frame lies in a loaded module: nt with frame 0's raw address 0x{:x}",
                f.address
            ),
        ),
        None => (
            SelectionRule::NoFrames,
            None,
            "no frames were found: nt".to_owned(),
        ),
    };
    ModuleSelection {
        module: None,
        name: KERNEL_MODULE.to_owned(),
        frame_index: address.map(|_| 0),
        address,
        offset: None,
        function: None,
        rule,
        rule_words: rule.words().to_owned(),
        reason,
        skipped,
        skip_list_version: skip_list.version,
    }
}

fn passed_over(skipped: &[SkippedFrame]) -> String {
    if skipped.is_empty() {
        return String::new();
    }
    let list: Vec<String> = skipped
        .iter()
        .map(|s| {
            if s.module.is_empty() {
                format!("{} (no module)", s.index)
            } else {
                format!("{} ({})", s.index, s.module)
            }
        })
        .collect();
    format!("; skipped frames {}", list.join(", "))
}

fn chosen(
    frame: &KernelFrame,
    index: usize,
    rule: SelectionRule,
    reason: String,
    skipped: Vec<SkippedFrame>,
    skip_list: &SkipList,
) -> ModuleSelection {
    let module = frame.module.clone();
    ModuleSelection {
        name: module
            .as_ref()
            .map_or_else(|| KERNEL_MODULE.to_owned(), ModuleRef::debugger_name),
        offset: module.as_ref().map(|m| frame.address.wrapping_sub(m.base)),
        module,
        frame_index: Some(index),
        address: Some(frame.address),
        function: frame.clean_function().map(str::to_owned),
        rule,
        rule_words: rule.words().to_owned(),
        reason,
        skipped,
        skip_list_version: skip_list.version,
    }
}

/// The kernel crash state: the first 3 frames not on the skip list (`module!function` or
/// `module+0xoffset`, frames in no module as raw addresses), each capped at 80 characters, a
/// frame repeated at the same address kept once.
/// When every frame is skipped, the top frames are used as they are.
pub fn kernel_crash_state(frames: &[KernelFrame], skip_list: &SkipList) -> CrashState {
    let relevant: Vec<&KernelFrame> = frames
        .iter()
        .filter(|f| {
            !skip_list.is_plumbing(f)
                && f.module
                    .as_ref()
                    .map_or(true, |m| skip_list.skip_entry(&m.name).is_none())
        })
        .collect();
    let below_plumbing: Vec<&KernelFrame> = frames
        .iter()
        .filter(|f| !skip_list.is_plumbing(f))
        .collect();
    let mut chosen: Vec<&KernelFrame> = if !relevant.is_empty() {
        relevant
    } else if !below_plumbing.is_empty() {
        below_plumbing
    } else {
        frames.iter().collect()
    };
    // The address a stop code names is usually also a return address on the stack (or its copy
    // in the bug check's parameters): one frame, not three.
    chosen.dedup_by_key(|f| f.address);
    CrashState {
        frames: chosen
            .into_iter()
            .take(STATE_FRAMES)
            .map(|f| f.describe().chars().take(MAX_FRAME_CHARS).collect())
            .collect(),
        skip_list_version: skip_list.version,
    }
}

#[cfg(test)]
mod tests;
