//! The bodies of dumpsig's fuzz targets: one per parser and per file the tool reads. The
//! cargo-fuzz binaries in `fuzz/fuzz_targets/` call these; the replay test runs every committed
//! regression input (`fuzz/regressions/<target>/`) and every seed through them on stable, which
//! is what CI does.
//!
//! Each body must not panic, hang or allocate without bound on any input: errors are values.

mod seeds;

pub use seeds::seeds;

use std::path::{Path, PathBuf};

use analysis::{AnalyzeOptions, Depth, DumpSource};
use cab::{Cabinet, ExtractLimits};
use cer_share::{ConfigKind, LogKind};

/// One fuzz target: its name (the cargo-fuzz binary and the corpus folders use it) and body.
#[derive(Clone, Copy)]
pub struct Target {
    /// Name of the target.
    pub name: &'static str,
    /// What it reads.
    pub reads: &'static str,
    /// Its body.
    pub run: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "minidump_signature",
        reads: "a minidump through the signature path (stream checks, repair, the quick reader)",
        run: minidump_signature,
    },
    Target {
        name: "minidump_full",
        reads: "any input through the full analysis (format sniffing, minidump stack walk, report)",
        run: minidump_full,
    },
    Target {
        name: "kernel_dump",
        reads: "a kernel dump: header, physical memory runs and bitmap, address translation, \
                module walk, triage data, WHEA records, attribution",
        run: kernel_dump,
    },
    Target {
        name: "unwind",
        reads: "unwind data: an image (PE headers, exception directory, UNWIND_INFO, code) and \
                a stack, walked as x64, ARM64 (.pdata and .xdata) and x86",
        run: unwind_stack,
    },
    Target {
        name: "cab",
        reads: "a cabinet: header, folders, files, LZX / MSZIP / stored data blocks",
        run: cab_file,
    },
    Target {
        name: "report_cab",
        reads: "a WER report CAB: the dump member chosen and analyzed, the metadata compared",
        run: report_cab,
    },
    Target {
        name: "wer_metadata",
        reads: "WER metadata files (Report.wer UTF-16, WERInternalMetadata.xml)",
        run: wer_metadata,
    },
    Target {
        name: "cper",
        reads: "a WHEA / CPER error record and its sections",
        run: cper,
    },
    Target {
        name: "share_text",
        reads: "CER share files: count.txt, hits.log, crash.log, policy.txt, status.txt, the \
                BucketID registry and the kernel index (first byte chooses)",
        run: share_text,
    },
    Target {
        name: "known_issue_rules",
        reads: "a known-issue rule file",
        run: known_issue_rules,
    },
    Target {
        name: "symbol_path",
        reads: "a symbol path (`srv*cache*url;folder`, _NT_SYMBOL_PATH)",
        run: symbol_path,
    },
    Target {
        name: "pdb_to_breakpad",
        reads: "a PDB converted to Breakpad text",
        run: pdb_to_breakpad,
    },
    Target {
        name: "store_response",
        reads: "a symbol or image store's answer: unpacked when CAB-compressed, then checked \
                as a Breakpad file, a PDB or a PE image",
        run: store_response,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// Limits that keep one input cheap: a fuzzer runs thousands per second.
const EXTRACT: ExtractLimits = ExtractLimits {
    max_total_bytes: 64 << 20,
    max_file_bytes: 64 << 20,
    verify_checksums: false,
};

fn analyze(data: &[u8], depth: Depth) {
    let options = AnalyzeOptions {
        depth,
        ..AnalyzeOptions::default()
    };
    let source = DumpSource::from_bytes(PathBuf::from("fuzz.dmp"), data.to_vec());
    if let Ok(report) = analysis::analyze_source(&source, &options) {
        // The report is rendered as users see it: every writer runs over what was read.
        let _ = report.to_json_line();
        let _ = report.to_text();
    }
}

fn minidump_signature(data: &[u8]) {
    let _ = analysis::minidump::quick::read_signature_facts(data);
    analyze(data, Depth::Signature);
}

fn minidump_full(data: &[u8]) {
    analyze(data, Depth::Full);
}

fn kernel_dump(data: &[u8]) {
    let _ = analysis::kernel::analyze(data);
}

fn cab_file(data: &[u8]) {
    if let Ok(cabinet) = Cabinet::parse(data) {
        let _ = cabinet.extract_all(&ExtractLimits {
            verify_checksums: true,
            ..EXTRACT
        });
        let _ = cabinet.extract_all(&EXTRACT);
    }
}

fn report_cab(data: &[u8]) {
    let source = DumpSource::from_bytes(PathBuf::from("fuzz.cab"), data.to_vec());
    if let Ok(cab) = analysis::cab_report::open_report_cab(&source) {
        let options = AnalyzeOptions {
            depth: Depth::Signature,
            ..AnalyzeOptions::default()
        };
        if let Ok(report) = analysis::analyze_source(&cab.inner, &options) {
            let _ = cab.into_report(report, &source).to_json_line();
        }
    }
}

fn wer_metadata(data: &[u8]) {
    let names = ["Report.wer", "WERInternalMetadata.xml", "memory.hdmp"];
    let (first, rest) = data.split_first().unwrap_or((&0, &[]));
    let name = names.get(usize::from(*first) % names.len()).unwrap_or(&"x");
    let _ = cab::wer::WerMetadata::from_files([(*name, rest)]);
}

fn cper(data: &[u8]) {
    let _ = signatures::cper::bytes_to_read(data);
    let record = signatures::cper::decode_record(data);
    let _ = format!("{record:?}");
}

fn share_text(data: &[u8]) {
    let (first, text) = data.split_first().unwrap_or((&0, &[]));
    match first % 7 {
        0 => {
            let read = cer_share::parse_count(text);
            let _ = read.counts();
        }
        1 => drop(cer_share::parse_log(text, LogKind::Hits)),
        2 => drop(cer_share::parse_log(text, LogKind::Crash)),
        3 => drop(cer_share::parse_config(
            Path::new("policy.txt"),
            ConfigKind::Policy,
            text,
        )),
        4 => drop(cer_share::parse_config(
            Path::new("status.txt"),
            ConfigKind::Status,
            text,
        )),
        5 => drop(cer_share::parse_registry(text)),
        _ => drop(cer_share::parse_blue_index(text)),
    }
}

fn known_issue_rules(data: &[u8]) {
    let (rules, errors) = signatures::known_issues::parse_rules(&String::from_utf8_lossy(data));
    let _ = (rules.len(), errors.len());
}

fn symbol_path(data: &[u8]) {
    if let Ok(path) = symbols::SymbolPath::parse(&String::from_utf8_lossy(data)) {
        let _ = path.entries().len();
    }
}

fn pdb_to_breakpad(data: &[u8]) {
    let _ = symbols::pdb_breakpad::pdb_to_breakpad(data, "fuzz.pdb", "unknown");
}

fn store_response(data: &[u8]) {
    let (first, body) = data.split_first().unwrap_or((&0, &[]));
    let (name, compressed) = match first % 4 {
        0 => ("crash.pdb", false),
        1 => ("crash.pdb", true),
        2 => ("driver.sys", false),
        _ => ("crash.sym", false),
    };
    let Ok(bytes) = symbols::store::maybe_unpack(body.to_vec(), name, compressed) else {
        return;
    };
    match first % 4 {
        0 | 1 => drop(symbols::pdb_breakpad::pdb_to_breakpad(
            &bytes, name, "unknown",
        )),
        2 => drop(kernel_dump::pe_file::PeFile::parse(&bytes)),
        _ => drop(String::from_utf8_lossy(&bytes).lines().count()),
    }
}

/// The input as an image (from byte 8 on, loaded at `IMAGE_BASE`) and as a stack (all of it,
/// at `STACK_BASE`); bytes 0..8 place RIP and RSP in them.
struct FuzzSpace<'d> {
    data: &'d [u8],
}

const IMAGE_BASE: u64 = 0x1000_0000;
const STACK_BASE: u64 = 0x2000_0000;

impl FuzzSpace<'_> {
    fn image(&self) -> &[u8] {
        self.data.get(8..).unwrap_or_default()
    }
}

impl unwind::Image for FuzzSpace<'_> {
    fn base(&self) -> u64 {
        IMAGE_BASE
    }
    fn size(&self) -> u64 {
        self.image().len() as u64
    }
    fn read_rva(&self, rva: u64, buf: &mut [u8]) -> bool {
        read_at(self.image(), rva, buf)
    }
}

impl unwind::Images for FuzzSpace<'_> {
    fn image_at(&self, address: u64) -> Option<&dyn unwind::Image> {
        let rva = address.checked_sub(IMAGE_BASE)?;
        (rva < self.image().len() as u64).then_some(self as &dyn unwind::Image)
    }
}

impl unwind::Memory for FuzzSpace<'_> {
    fn read(&self, address: u64, buf: &mut [u8]) -> bool {
        address
            .checked_sub(STACK_BASE)
            .is_some_and(|offset| read_at(self.data, offset, buf))
    }
}

fn read_at(bytes: &[u8], offset: u64, buf: &mut [u8]) -> bool {
    let Ok(start) = usize::try_from(offset) else {
        return false;
    };
    match bytes.get(start..start.saturating_add(buf.len())) {
        Some(src) if src.len() == buf.len() => {
            buf.copy_from_slice(src);
            true
        }
        _ => false,
    }
}

fn unwind_stack(data: &[u8]) {
    let space = FuzzSpace { data };
    let word = |at: usize| {
        u64::from(u16::from_le_bytes([
            data.get(at).copied().unwrap_or(0),
            data.get(at + 1).copied().unwrap_or(0),
        ]))
    };
    let mut gpr = [0u64; 16];
    gpr[4] = STACK_BASE + (word(2) & !7);
    gpr[5] = STACK_BASE + word(4);
    let start = unwind::X64Registers {
        gpr,
        rip: IMAGE_BASE + word(0),
    };
    let _ = unwind::walk_x64(start, &space, &space);
    let mut arm64 = unwind::Arm64Registers {
        pc: IMAGE_BASE + (word(0) & !3),
        sp: STACK_BASE + (word(2) & !7),
        ..unwind::Arm64Registers::default()
    };
    arm64.x[29] = STACK_BASE + word(4);
    arm64.x[30] = IMAGE_BASE + word(6);
    let _ = unwind::walk_arm64(arm64, &space, &space);
    let start = unwind::X86Registers {
        eip: (IMAGE_BASE + word(0)) as u32,
        esp: (STACK_BASE + word(2)) as u32,
        ebp: (STACK_BASE + word(4)) as u32,
        ..unwind::X86Registers::default()
    };
    let _ = unwind::walk_x86(start, &space, &space, None);
    // Frame data as FPO records give it: the return address a fixed distance above ESP.
    let fpo = FixedFrame(u32::from(data.get(6).copied().unwrap_or(0)) * 4);
    let _ = unwind::walk_x86(start, &space, &space, Some(&fpo));
}

/// Frame data whose every function keeps `.0` bytes of locals and saved registers.
struct FixedFrame(u32);

impl unwind::X86FrameData for FixedFrame {
    fn caller(
        &self,
        callee: &unwind::X86Callee,
        memory: &dyn unwind::Memory,
    ) -> Option<unwind::X86Registers> {
        let slot = callee.registers.esp.checked_add(self.0)?;
        Some(unwind::X86Registers {
            eip: memory.u32_at(u64::from(slot))?,
            esp: slot.checked_add(4)?,
            ..callee.registers
        })
    }
}

/// Runs `run` on `data` and says which input panicked, for the replay.
pub fn replay(target: &Target, name: &str, data: &[u8]) -> Result<(), String> {
    std::panic::catch_unwind(|| (target.run)(data))
        .map_err(|_| format!("{}: {name} panicked", target.name))
}
