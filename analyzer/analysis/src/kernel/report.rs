//! The kernel dump report: what BlueScreenView shows, as a serializable struct and as text.
//!
//! The report holds plain facts (numbers, names, words); the text rendering is a pure function
//! of it so the command line and tests see the same thing. A partial dump still gets a report:
//! `partial` is set and `missing` says what could not be read.

use serde::Serialize;

use kernel_dump::context::{Context, ExceptionRecord};
use kernel_dump::header::AttributeNote;
use kernel_dump::pe::CodeViewId;
use kernel_dump::Missing;
use signatures::time::UtcTime;

/// The stop code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BugCheck {
    /// Code as written.
    #[serde(serialize_with = "le_bytes::hex::hex_u32")]
    pub code: u32,
    /// Symbolic name, when known.
    pub name: Option<String>,
    /// The four parameters.
    #[serde(serialize_with = "le_bytes::hex::hex_array4")]
    pub parameters: [u64; 4],
}

/// What the symbols say about one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameSymbol {
    /// Function (a FUNC record), else the nearest public symbol before the address.
    pub function: String,
    /// Offset of the address from the function's start.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub function_offset: u64,
    /// Source file, when the symbols have line records for the address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

impl FrameSymbol {
    /// `module!function+0xoffset [file:line]`, the module without its extension as debuggers
    /// print it.
    pub fn display(&self, module: &str) -> String {
        let stem = module.rsplit_once('.').map_or(module, |(stem, _)| stem);
        let mut text = format!("{stem}!{}+{:#x}", self.function, self.function_offset);
        if let (Some(file), Some(line)) = (&self.file, self.line) {
            text.push_str(&format!(" [{file}:{line}]"));
        }
        text
    }
}

/// The driver the crash is attributed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CausedBy {
    /// Module file name.
    pub driver: String,
    /// Attributed address.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub address: u64,
    /// Offset in the module.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub offset: u64,
    /// Module base.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub base: u64,
    /// PE timestamp, when known.
    #[serde(serialize_with = "le_bytes::hex::hex8_opt")]
    pub timestamp: Option<u32>,
    /// File version, when known.
    pub file_version: Option<String>,
    /// Function and source line, when the module's symbols were found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<FrameSymbol>,
}

/// A stack value that lies in a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackAddress {
    /// Where on the stack.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub stack_address: u64,
    /// The value.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub address: u64,
    /// Module name.
    pub module: String,
    /// Offset in the module.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub offset: u64,
    /// How the frame was found: unwind data, frame pointer, or a stack scan (a guess).
    pub trust: unwind::Trust,
    /// Function and source line, when the module's symbols were found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<FrameSymbol>,
}

/// A loaded driver row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriverRow {
    /// File name.
    pub name: String,
    /// Full path.
    pub path: String,
    /// Base address.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub base: u64,
    /// Size of image.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub size: u64,
    /// PE timestamp.
    #[serde(serialize_with = "le_bytes::hex::hex8_opt")]
    pub timestamp: Option<u32>,
    /// File version.
    pub file_version: Option<String>,
    /// CodeView debug id.
    pub codeview: Option<CodeViewId>,
    /// Whether an address on the scanned stack lies in it.
    pub on_stack: bool,
}

/// An unloaded driver row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnloadedRow {
    /// Name.
    pub name: String,
    /// Start address.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub start: u64,
    /// End address.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub end: u64,
}

/// Operating system facts from the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsInfo {
    /// Header MajorVersion (0xF free, 0xC checked).
    pub major_version: u32,
    /// Header MinorVersion (the build number).
    pub minor_version: u32,
    /// `free` or `checked`.
    pub build_kind: &'static str,
    /// NT version derived from the build number (`10.0`, `6.1`...), when recognised.
    pub nt_version: Option<&'static str>,
    /// Build number.
    pub build: u32,
    /// ProductType (1 workstation, 2 domain controller, 3 server), when written.
    pub product_type: Option<u32>,
}

/// Everything the analysis found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelReport {
    /// DumpType.
    pub dump_type: u32,
    /// DumpType in words.
    pub dump_type_name: &'static str,
    /// `32-bit` or `64-bit` header.
    pub header_width: &'static str,
    /// Whether something could not be read (see `missing`).
    pub partial: bool,
    /// Crash time (RFC 3339 UTC).
    pub crash_time: Option<UtcTime>,
    /// Uptime in seconds; `None` when the header recorded none (zero, or the `PAGE` filler).
    pub uptime_seconds: Option<u64>,
    /// The stop code.
    pub bugcheck: BugCheck,
    /// Attributed driver.
    pub caused_by: Option<CausedBy>,
    /// How the attribution was made.
    pub attribution_rule: String,
    /// Crash address (the attributed address, or the named one when no module holds it).
    #[serde(serialize_with = "le_bytes::hex::hex_opt")]
    pub crash_address: Option<u64>,
    /// Processor architecture.
    pub architecture: &'static str,
    /// Number of processors.
    pub processors: u32,
    /// OS facts.
    pub os: OsInfo,
    /// Kernel base (from the KDBG block), when known.
    #[serde(serialize_with = "le_bytes::hex::hex_opt")]
    pub kernel_base: Option<u64>,
    /// The process and thread running when the system stopped, and the IRQL, where the dump
    /// holds them (a triage dump's copies, or memory through the KPRCB).
    pub process: Option<kernel_dump::process::CurrentProcess>,
    /// Driver Verifier flags in effect (`MmVerifierData.Level`), where the dump holds them:
    /// non-zero means the verifier was on, and kernel buckets get `_VRF`.
    pub verifier_level: Option<u32>,
    /// Crash context.
    pub context: Option<Context>,
    /// Exception record from the header, when written.
    pub exception: Option<ExceptionRecord>,
    /// The record is the bug check's own stand-in (a breakpoint without parameters), not an
    /// exception that happened: reports then show no exception.
    pub exception_is_bugcheck_breakpoint: bool,
    /// Top stack addresses in modules, innermost first.
    pub stack: Vec<StackAddress>,
    /// The faulting code's context record or trap frame, when the stop code names one, with
    /// the stack unwound from it (`.cxr` / `.trap`).
    pub fault_record: Option<FaultRecord>,
    /// Loaded drivers.
    pub drivers: Vec<DriverRow>,
    /// Unloaded drivers.
    pub unloaded_drivers: Vec<UnloadedRow>,
    /// DUMP_FILE_ATTRIBUTES value, when written.
    pub attributes_raw: Option<u32>,
    /// Attribute bits in words.
    pub attributes: Vec<AttributeNote>,
    /// What could not be read.
    pub missing: Vec<Missing>,
}

/// The name of a stop code, from the one table (`signatures::stop_codes`: every code Windows
/// defines, `_M` for the 0x1000xxxx variants); `None` for a code no one defined.
pub fn bugcheck_name(code: u32) -> Option<String> {
    signatures::stop_codes::StopCode::lookup(code).map(|entry| entry.name_for(code))
}

/// NT version for a build number.
pub fn nt_version(build: u32) -> Option<&'static str> {
    Some(match build {
        2195 => "5.0",
        2600 => "5.1",
        3790 => "5.2",
        6000..=6003 => "6.0",
        7600 | 7601 => "6.1",
        9200 => "6.2",
        9600 => "6.3",
        10240.. => "10.0",
        _ => return None,
    })
}

/// The crash time of a header's SystemTime: `None` when it is 0 or still the `PAGE` filler.
pub fn crash_time(filetime: u64) -> Option<UtcTime> {
    if filetime == kernel_dump::UNSET64 {
        return None;
    }
    UtcTime::from_filetime(filetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filetime_conversion() {
        assert_eq!(
            crash_time(116_444_736_000_000_000)
                .map(|t| t.to_string())
                .as_deref(),
            Some("1970-01-01T00:00:00.0000000Z")
        );
        // 2000-03-01T12:34:56.5Z: a leap-year boundary.
        assert_eq!(
            crash_time(125_963_876_965_000_000)
                .map(|t| t.to_string())
                .as_deref(),
            Some("2000-03-01T12:34:56.5000000Z")
        );
        assert_eq!(crash_time(0), None);
    }

    #[test]
    fn names() {
        let name = |code| bugcheck_name(code);
        assert_eq!(
            name(0x1000_007E).as_deref(),
            Some("SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M")
        );
        assert_eq!(name(0xD1).as_deref(), Some("DRIVER_IRQL_NOT_LESS_OR_EQUAL"));
        assert_eq!(
            name(0x4A).as_deref(),
            Some("IRQL_GT_ZERO_AT_SYSTEM_SERVICE")
        );
        assert_eq!(name(0x5454_414D).as_deref(), Some("MEMORY_CAPTURE_MARKER"));
        assert_eq!(name(0x7777_7777), None);
        assert_eq!(nt_version(19041), Some("10.0"));
    }
}

/// What kind of record a stop code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A CONTEXT (`.cxr`).
    ContextRecord,
    /// A KTRAP_FRAME (`.trap`).
    TrapFrame,
}

/// The faulting code's context and stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultRecord {
    /// Context record or trap frame.
    pub kind: RecordKind,
    /// The parameter that names it (1-based).
    pub parameter: usize,
    /// Its address.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub address: u64,
    /// The registers it holds.
    pub context: kernel_dump::Context,
    /// The stack from it: frame 0 is the faulting instruction (`context`), then its callers.
    pub stack: Vec<StackAddress>,
}
