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
}

impl SelectionRule {
    /// The rule in words.
    pub fn words(self) -> &'static str {
        match self {
            SelectionRule::FirstNotSkipped => "first frame whose module is not on the skip list",
            SelectionRule::AllSkippedFirstFrame => {
                "every module on the stack is on the skip list: the first frame's module"
            }
            SelectionRule::NoModule => "no frame lies in a loaded module: nt with the raw address",
            SelectionRule::NoFrames => "no frames: nt",
            SelectionRule::WheaRecord => "Stop 0x124: the WHEA error record names the hardware",
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
            })
        })
    }

    /// Parses the skip-list format: `version N`, `skip PATTERN`, `never PATTERN`, `#` comments.
    /// Errors are returned with their 1-based line numbers.
    pub fn parse(text: &str) -> Result<SkipList, Vec<(usize, String)>> {
        let mut list = SkipList {
            version: 0,
            skip: Vec::new(),
            never: Vec::new(),
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
                _ => errors.push((n + 1, format!("expected version/skip/never: {line:?}"))),
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
    if let Some((index, frame)) = frames.iter().enumerate().find(|(_, f)| f.module.is_some()) {
        let reason = format!(
            "every framed module is on skip list v{}: frame {index} ({}) is the first in a module",
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
/// `module+0xoffset`, frames in no module as raw addresses), each capped at 80 characters.
/// When every frame is skipped, the top frames are used as they are.
pub fn kernel_crash_state(frames: &[KernelFrame], skip_list: &SkipList) -> CrashState {
    let relevant: Vec<&KernelFrame> = frames
        .iter()
        .filter(|f| {
            f.module
                .as_ref()
                .map_or(true, |m| skip_list.skip_entry(&m.name).is_none())
        })
        .collect();
    let chosen: Vec<&KernelFrame> = if relevant.is_empty() {
        frames.iter().collect()
    } else {
        relevant
    };
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
mod tests {
    use super::*;

    fn module(name: &str, base: u64) -> ModuleRef {
        ModuleRef {
            name: name.into(),
            base,
            size: 0x10_0000,
            timestamp: 0x4D5B_7A3E,
            version: None,
        }
    }

    fn frame(address: u64, m: Option<ModuleRef>, function: Option<&str>) -> KernelFrame {
        KernelFrame {
            address,
            module: m,
            function: function.map(Into::into),
        }
    }

    #[test]
    fn builtin_list_parses_and_protects_the_dump_stack() {
        let list = SkipList::builtin();
        assert!(SkipList::parse(SKIP_LIST_TEXT).is_ok());
        assert_eq!(list.version, 1);
        for skipped in [
            "ntoskrnl.exe",
            "NT",
            "ntkrnlmp.exe",
            "hal.dll",
            "Wdf01000.sys",
            "VerifierExt.sys",
            "ndis.sys",
            "tcpip.sys",
        ] {
            assert!(list.skip_entry(skipped).is_some(), "{skipped}");
        }
        for kept in [
            "crashdmp.sys",
            "dump_diskdump.sys",
            "DUMP_storvsc.sys",
            "dump_dumpfve.sys",
            "myfault.sys",
            "storport.sys",
        ] {
            assert!(list.skip_entry(kept).is_none(), "{kept}");
        }
        // Even a list that tries to skip them cannot.
        let hostile = SkipList::parse(
            "version 9\nskip *\nskip crashdmp.sys\nnever crashdmp.sys\nnever dump_*\n",
        );
        let hostile = hostile.unwrap_or_else(|e| panic!("{e:?}"));
        assert!(hostile.skip_entry("crashdmp.sys").is_none());
        assert!(hostile
            .skip_entry(r"\SystemRoot\System32\Drivers\dump_diskdump.sys")
            .is_none());
        assert!(hostile.skip_entry("anything.sys").is_some());
    }

    #[test]
    fn parse_reports_line_numbers() {
        let errors = SkipList::parse("version 1\nbogus line\nversion x\n")
            .err()
            .unwrap_or_default();
        assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 3]);
    }

    #[test]
    fn debugger_names() {
        assert_eq!(
            module(r"\SystemRoot\system32\ntoskrnl.exe", 0).debugger_name(),
            "nt"
        );
        assert_eq!(
            module("dump_diskdump.sys", 0).debugger_name(),
            "dump_diskdump"
        );
        assert_eq!(module("ovpn-dco.sys", 0).debugger_name(), "ovpn-dco");
        assert_eq!(
            frame(5, None, Some("nt!KiBugCheck+0x12")).clean_function(),
            Some("KiBugCheck")
        );
    }

    #[test]
    fn skips_plumbing_and_stops_at_the_dump_stack() {
        let nt = module("ntoskrnl.exe", 0xFFFF_F800_0000_0000);
        let dd = module("dump_diskdump.sys", 0xFFFF_F880_0100_0000);
        let frames = vec![
            frame(
                0xFFFF_F800_0000_1000,
                Some(nt.clone()),
                Some("KeBugCheckEx"),
            ),
            frame(0x1234, None, None),
            frame(0xFFFF_F880_0100_0456, Some(dd), None),
            frame(0xFFFF_F800_0000_2000, Some(nt), None),
        ];
        let s = select_module(&frames, SkipList::builtin());
        assert_eq!(s.rule, SelectionRule::FirstNotSkipped);
        assert_eq!(s.frame_index, Some(2));
        assert_eq!(s.name, "dump_diskdump");
        assert_eq!(s.offset, Some(0x456));
        assert_eq!(
            s.skipped.iter().map(|k| k.index).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert!(
            s.reason.contains("frame 2")
                && s.reason
                    .contains("skipped frames 0 (ntoskrnl.exe), 1 (no module)"),
            "{}",
            s.reason
        );
        let state = kernel_crash_state(&frames, SkipList::builtin());
        assert_eq!(state.frames, vec!["0x1234", "dump_diskdump+0x456"]);
    }

    #[test]
    fn fallbacks() {
        let nt = module("ntkrnlmp.exe", 0x1000_0000);
        let hal = module("hal.dll", 0x2000_0000);
        let frames = vec![
            frame(0x10, None, None),
            frame(0x2000_0010, Some(hal), None),
            frame(0x1000_0020, Some(nt), Some("KiPageFault")),
        ];
        let s = select_module(&frames, SkipList::builtin());
        assert_eq!(
            (s.rule, s.frame_index, s.name.as_str()),
            (SelectionRule::AllSkippedFirstFrame, Some(1), "hal")
        );
        assert_eq!(s.skipped.len(), 3);
        let state = kernel_crash_state(&frames, SkipList::builtin());
        assert_eq!(state.frames, vec!["0x10"]);

        let s = select_module(&[frame(0xDEAD, None, None)], SkipList::builtin());
        assert_eq!(
            (s.rule, s.name.as_str(), s.address),
            (SelectionRule::NoModule, "nt", Some(0xDEAD))
        );
        let s = select_module(&[], SkipList::builtin());
        assert_eq!((s.rule, s.address), (SelectionRule::NoFrames, None));
    }

    #[test]
    fn state_caps_frames_at_80_chars_and_keeps_three() {
        let m = module("drv.sys", 0);
        let long = "F".repeat(200);
        let frames: Vec<KernelFrame> = (0..5)
            .map(|i| frame(i, Some(m.clone()), Some(&long)))
            .collect();
        let state = kernel_crash_state(&frames, SkipList::builtin());
        assert_eq!(state.frames.len(), 3);
        assert!(state
            .frames
            .iter()
            .all(|f| f.chars().count() == MAX_FRAME_CHARS));
    }
}
