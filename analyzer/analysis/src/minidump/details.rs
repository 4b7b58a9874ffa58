//! The report sections of a user-mode minidump, as serializable values.
//!
//! Addresses are strings of the form `0x...` in JSON: 64-bit values do not survive a JSON
//! number in most consumers.

use serde::Serialize;
use signatures::time::UtcTime;
use signatures::{AccessKind, FaultLocation};

/// Operating system and CPU.
#[derive(Debug, Clone, Serialize)]
pub struct SystemDetails {
    /// OS family as the dump says (`Windows`, `Linux`, ...).
    pub os: String,
    /// `major.minor.build`.
    pub os_version: String,
    /// Service pack or build string, when present.
    pub csd_version: Option<String>,
    /// CPU architecture (`x86`, `amd64`, `arm64`, ...).
    pub cpu: String,
    /// CPU vendor/model text when present.
    pub cpu_info: Option<String>,
    /// Number of processors.
    pub processor_count: u32,
    /// Pointer width of the process in bits (32 or 64).
    pub pointer_bits: u32,
}

/// The crashed process.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessDetails {
    /// File name of the main executable.
    pub name: String,
    /// Full path as recorded.
    pub path: String,
    /// File version, when the module has one.
    pub version: Option<String>,
    /// PE TimeDateStamp as 8 hex digits.
    pub timestamp: String,
    /// Process id, when recorded.
    pub pid: Option<u32>,
    /// Process creation time (RFC 3339 UTC), when recorded.
    pub create_time: Option<UtcTime>,
}

/// How an access violation touched memory.
#[derive(Debug, Clone, Serialize)]
pub struct AccessDetails {
    /// Read, write or execute.
    pub kind: AccessKind,
    /// The data address that faulted (not the instruction).
    pub address: String,
}

/// The exception record.
#[derive(Debug, Clone, Serialize)]
pub struct ExceptionDetails {
    /// `0x` + 8 hex digits.
    pub code: String,
    /// Symbolic name when known.
    pub name: Option<String>,
    /// ExceptionFlags, hex.
    pub flags: String,
    /// Thread that raised it.
    pub thread_id: u32,
    /// The faulting instruction address used for the signature.
    pub instruction_address: String,
    /// Where that address came from.
    pub instruction_source: FaultLocation,
    /// ExceptionAddress exactly as recorded.
    pub recorded_address: String,
    /// For access violations: the data access.
    pub access: Option<AccessDetails>,
    /// ExceptionInformation, hex.
    pub parameters: Vec<String>,
}

/// One stack frame.
#[derive(Debug, Clone, Serialize)]
pub struct FrameDetails {
    /// Frame number from the top.
    pub index: usize,
    /// Instruction address.
    pub instruction: String,
    /// Module file name, if the address is in one.
    pub module: Option<String>,
    /// Offset in that module, hex.
    pub module_offset: Option<String>,
    /// Function name from symbols.
    pub function: Option<String>,
    /// Offset in that function, hex.
    pub function_offset: Option<String>,
    /// Source file from symbols.
    pub file: Option<String>,
    /// Source line from symbols.
    pub line: Option<u32>,
    /// How the walker found the frame (`context`, `cfi`, `frame_pointer`, `scan`, ...).
    pub trust: String,
}

/// The crashing (or, for a hang, the first) thread.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadDetails {
    /// Thread id.
    pub id: u32,
    /// Index in the thread list.
    pub index: usize,
    /// Thread name, when the dump records one.
    pub name: Option<String>,
    /// Top frames (at most 32).
    pub frames: Vec<FrameDetails>,
    /// Total frames the walker found.
    pub total_frames: usize,
}

/// A loaded module.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleDetails {
    /// File name.
    pub name: String,
    /// Path as recorded.
    pub path: String,
    /// Load address.
    pub base: String,
    /// Image size, hex.
    pub size: String,
    /// File version from VS_FIXEDFILEINFO.
    pub version: Option<String>,
    /// PE TimeDateStamp, 8 hex digits.
    pub timestamp: String,
    /// PDB name from the CodeView record.
    pub debug_file: Option<String>,
    /// Breakpad-style debug id.
    pub debug_id: Option<String>,
}

/// An unloaded module.
#[derive(Debug, Clone, Serialize)]
pub struct UnloadedModuleDetails {
    /// File name.
    pub name: String,
    /// Path as recorded.
    pub path: String,
    /// Former load address.
    pub base: String,
    /// Image size, hex.
    pub size: String,
    /// PE TimeDateStamp, 8 hex digits.
    pub timestamp: String,
}

/// One WER problem-signature parameter.
#[derive(Debug, Clone, Serialize)]
pub struct WerParameter {
    /// `P1`..`P8`.
    pub name: String,
    /// What the parameter means (`AppName`, ...).
    pub field: String,
    /// Its value.
    pub value: String,
}

/// Everything a minidump report shows besides the signature keys.
#[derive(Debug, Clone, Serialize)]
pub struct MinidumpDetails {
    /// When the dump was written (RFC 3339 UTC), from the header.
    pub dump_time: Option<UtcTime>,
    /// OS and CPU; `None` when the dump has no system info stream.
    pub system: Option<SystemDetails>,
    /// The process.
    pub process: ProcessDetails,
    /// The exception; `None` for a dump without an exception stream (hang report).
    pub exception: Option<ExceptionDetails>,
    /// The crashing thread, filled by the stack walk (`None` on the signature-only path).
    pub crashing_thread: Option<ThreadDetails>,
    /// Loaded modules in list order.
    pub modules: Vec<ModuleDetails>,
    /// Unloaded modules.
    pub unloaded_modules: Vec<UnloadedModuleDetails>,
    /// WER problem-signature parameters P1..P8.
    pub wer_parameters: Vec<WerParameter>,
}

/// `0x` + hex, padded to the pointer width.
pub fn hex_address(address: u64, pointer_bits: u32) -> String {
    if pointer_bits == 32 {
        format!("0x{:08x}", address & 0xFFFF_FFFF)
    } else {
        format!("0x{address:016x}")
    }
}
