//! The signature-only reader: just the fields the CER tuple needs, without stack walking and
//! without building the report.
//!
//! Bucketing a share of thousands of dumps needs only: the CPU (for the pointer width), each
//! module's base, size, timestamp and VS_FIXEDFILEINFO, the exception record, and — only when
//! ExceptionAddress is 0 or the dump was written on a non-Windows system — the exception
//! context's instruction pointer. The `minidump` crate
//! locates the streams; the few fields are read here straight from the stream bytes, and only
//! two module names (the main executable and the faulting module) are decoded. The full path
//! ([`super::read_facts`]) gives the same tuple; a test holds the two together.

use signatures::{ExceptionFacts, ModuleFacts, UserCrashFacts};

use super::MinidumpWarning;
use crate::error::{AnalyzeError, Result};

const STREAM_MODULE_LIST: u32 = 4;
const STREAM_EXCEPTION: u32 = 6;
const STREAM_SYSTEM_INFO: u32 = 7;
/// Size of MINIDUMP_MODULE.
const MODULE_ENTRY: usize = 108;
/// Longest module name decoded (bytes of UTF-16); real paths are far shorter.
const MAX_NAME_BYTES: usize = 64 * 1024;
const VS_FFI_SIGNATURE: u32 = 0xFEEF_04BD;

// Reads go through `le_bytes`, the workspace's one bounds-checked layer.
use le_bytes::{u16_at, u32_at, u64_at};

fn malformed(what: &'static str, offset: usize, reason: &str) -> AnalyzeError {
    AnalyzeError::Malformed {
        what,
        offset: offset as u64,
        reason: reason.to_owned(),
    }
}

/// A raw stream by type: absent is `None`, present but unreadable is an error.
fn stream<'a>(
    dump: &'a super::OpenMinidump<'a>,
    kind: u32,
    context: &'static str,
) -> Result<Option<&'a [u8]>> {
    match dump.get_raw_stream(kind) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(minidump::Error::StreamNotFound) => Ok(None),
        Err(source) => Err(AnalyzeError::Minidump { context, source }),
    }
}

/// Pointer width by MINIDUMP_SYSTEM_INFO.ProcessorArchitecture (Windows and Breakpad values).
fn pointer_bits(arch: Option<u16>) -> Option<u32> {
    match arch? {
        0 | 1 | 3 | 4 | 5 | 10 | 0x8001 => Some(32),
        6 | 7 | 9 | 12 | 0x8002 | 0x8003 | 0x8004 => Some(64),
        _ => None,
    }
}

/// Instruction pointer of a thread context, by architecture and context size.
fn context_ip(arch: Option<u16>, context: &[u8]) -> Option<u64> {
    match (arch?, context.len()) {
        (0, 716..) => u32_at(context, 0xB8).map(u64::from), // x86 Eip
        (9, 1232..) => u64_at(context, 0xF8),               // AMD64 Rip
        (12 | 0x8003, 0x110..) => u64_at(context, 0x108),   // ARM64 Pc
        (5, 0x44..) => u32_at(context, 0x40).map(u64::from), // ARM Pc
        _ => None,
    }
}

/// One raw module entry.
struct RawModule<'a> {
    entry: &'a [u8],
}

impl RawModule<'_> {
    fn base(&self) -> u64 {
        u64_at(self.entry, 0).unwrap_or(0)
    }
    fn size(&self) -> u64 {
        u64::from(u32_at(self.entry, 8).unwrap_or(0))
    }
    fn contains(&self, address: u64) -> bool {
        address >= self.base() && address - self.base() < self.size()
    }
    /// Whether the module's name ends in `verifier.dll` (Application Verifier, which the
    /// bucket marks `_AVRF`): compared in its UTF-16 form, without decoding every name.
    fn is_verifier(&self, whole: &[u8]) -> bool {
        const NAME: &[u8] = b"\\verifier.dll";
        let name_rva = u64::from(u32_at(self.entry, 20).unwrap_or(0));
        let Some(len) = u32_at(whole, name_rva).map(u64::from) else {
            return false;
        };
        // A bare `verifier.dll` (no folder) counts too: compare without the separator.
        let (name, want) = if len == (NAME.len() as u64 - 1) * 2 {
            (NAME.get(1..).unwrap_or(NAME), len)
        } else {
            (NAME, NAME.len() as u64 * 2)
        };
        if len < want {
            return false;
        }
        le_bytes::slice(whole, name_rva + 4 + len - want, want).is_some_and(|tail| {
            tail.chunks_exact(2).zip(name).all(|(unit, &c)| {
                unit == [c.to_ascii_lowercase(), 0]
                    || unit == [c.to_ascii_uppercase(), 0]
                    || (c == b'\\' && unit == [b'/', 0])
            })
        })
    }
    fn facts(&self, whole: &[u8]) -> Result<ModuleFacts> {
        let name_rva = u32_at(self.entry, 20).unwrap_or(0) as usize;
        let version = (u32_at(self.entry, 24) == Some(VS_FFI_SIGNATURE)).then(|| {
            let hi = u32_at(self.entry, 32).unwrap_or(0);
            let lo = u32_at(self.entry, 36).unwrap_or(0);
            le_bytes::FileVersion::new(hi, lo).to_string()
        });
        Ok(ModuleFacts {
            path: read_string(whole, name_rva)?,
            base: self.base(),
            size: self.size(),
            version,
            timestamp: u32_at(self.entry, 16).unwrap_or(0),
        })
    }
}

/// A MINIDUMP_STRING: u32 length in bytes, then UTF-16LE.
fn read_string(whole: &[u8], rva: usize) -> Result<String> {
    let len = u32_at(whole, rva).ok_or_else(|| malformed("module name", rva, "outside the file"))?
        as usize;
    if len > MAX_NAME_BYTES {
        return Err(malformed("module name", rva, &format!("{len} bytes long")));
    }
    let raw = rva
        .checked_add(4)
        .and_then(|start| whole.get(start..start.checked_add(len)?))
        .ok_or_else(|| malformed("module name", rva, "runs past the end of the file"))?;
    let units = raw
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes);
    Ok(char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect())
}

/// The error for a minidump that carries neither a module list nor an exception stream.
/// The error for a minidump that carries neither a module list nor an exception stream; the
/// damaged streams (hidden from the reader) are counted in it, since they may be why.
pub(super) fn nothing_to_bucket(warnings: &[MinidumpWarning]) -> AnalyzeError {
    let damaged = warnings
        .iter()
        .filter(|w| matches!(w, MinidumpWarning::DamagedStream { .. }))
        .count();
    let why = match damaged {
        0 => String::new(),
        1 => " (1 damaged stream was left out)".to_owned(),
        n => format!(" ({n} damaged streams were left out)"),
    };
    AnalyzeError::Malformed {
        what: "minidump",
        offset: 0,
        reason: format!(
            "it has neither a module list nor an exception stream{why}: nothing identifies the crash"
        ),
    }
}

/// Reads the signature facts, and the warnings of the parts that are damaged. The returned
/// `modules` hold only the main executable and the faulting module: all the tuple needs.
pub fn read_signature_facts(bytes: &[u8]) -> Result<(UserCrashFacts, Vec<MinidumpWarning>)> {
    let (fixed, warnings) = super::checked(bytes)?;
    read_checked(&fixed, warnings)
}

/// [`read_signature_facts`] over bytes [`super::checked`] returned, with its warnings.
pub fn read_checked(
    bytes: &[u8],
    mut warnings: Vec<MinidumpWarning>,
) -> Result<(UserCrashFacts, Vec<MinidumpWarning>)> {
    let dump = super::open_checked(bytes)?;
    let system = stream(&dump, STREAM_SYSTEM_INFO, "system info stream")?;
    let arch = system.and_then(|s| u16_at(s, 0));
    let data_address = system
        .and_then(|s| u32_at(s, 20))
        .is_some_and(super::exception_address_is_data);

    let modules_stream = stream(&dump, STREAM_MODULE_LIST, "module list stream")?;
    let exception_stream = stream(&dump, STREAM_EXCEPTION, "exception stream")?;
    if modules_stream.is_none() && exception_stream.is_none() {
        return Err(nothing_to_bucket(&warnings));
    }
    let modules_raw = modules_stream.unwrap_or(&[]);
    let count = u32_at(modules_raw, 0).unwrap_or(0) as usize;
    // Some writers pad the count to 8 bytes; the entries end where the stream ends.
    let start = if modules_raw.len() == 8 + count.saturating_mul(MODULE_ENTRY) {
        8
    } else {
        4
    };
    let table = modules_raw.get(start..).unwrap_or(&[]);
    if count.saturating_mul(MODULE_ENTRY) > table.len() {
        return Err(malformed(
            "module list",
            0,
            &format!(
                "{count} modules do not fit in a {}-byte stream",
                modules_raw.len()
            ),
        ));
    }
    // As the `minidump` crate does, entries of size 0 or that wrap the address space are not
    // modules.
    let raw: Vec<RawModule<'_>> = table
        .chunks_exact(MODULE_ENTRY)
        .take(count)
        .map(|entry| RawModule { entry })
        .filter(|m| m.size() > 0 && m.base().checked_add(m.size()).is_some())
        .collect();

    let bits = pointer_bits(arch).unwrap_or_else(|| {
        if raw
            .iter()
            .any(|m| m.base().saturating_add(m.size()) > 1 << 32)
        {
            64
        } else {
            32
        }
    });
    let truncate = |a: u64| if bits == 32 { a & 0xFFFF_FFFF } else { a };

    let (exception, context_instruction) = match exception_stream {
        None => (None, None),
        Some(s) => {
            let field =
                |at| u32_at(s, at).ok_or_else(|| malformed("exception stream", at, "too short"));
            let n = (field(32)? as usize).min(15);
            let parameters = (0..n).filter_map(|i| u64_at(s, 40 + 8 * i)).collect();
            let address =
                u64_at(s, 24).ok_or_else(|| malformed("exception stream", 24, "too short"))?;
            let facts = ExceptionFacts {
                code: field(8)?,
                flags: field(12)?,
                address,
                parameters,
            };
            // The context is needed only when ExceptionAddress is 0 or a data address.
            let ip = if truncate(address) == 0 || data_address {
                let (size, rva) = (field(0xA0)? as usize, field(0xA4)? as usize);
                bytes
                    .get(rva..rva.saturating_add(size))
                    .and_then(|c| context_ip(arch, c))
            } else {
                None
            };
            (Some(facts), ip)
        }
    };

    let mut modules = Vec::with_capacity(2);
    if let Some(main) = raw.first() {
        modules.push(main.facts(bytes)?);
    }
    if let Some(e) = &exception {
        let fault = match (truncate(e.address), context_instruction) {
            (_, Some(ip)) if data_address => truncate(ip),
            (0, Some(ip)) => truncate(ip),
            (a, _) => a,
        };
        if let Some(hit) = raw
            .iter()
            .position(|m| m.contains(fault))
            .filter(|&i| i != 0)
        {
            if let Some(m) = raw.get(hit) {
                modules.push(m.facts(bytes)?);
            }
        }
    }
    // Application Verifier marks the bucket (`_AVRF`): keep its module when it is loaded.
    if let Some(verifier) = raw.iter().skip(1).find(|m| m.is_verifier(bytes)) {
        modules.push(verifier.facts(bytes)?);
    }
    if modules_stream.is_none() {
        warnings.push(MinidumpWarning::NoModuleList);
    }
    let facts = UserCrashFacts {
        is_32bit: bits == 32,
        modules,
        exception,
        context_instruction,
        exception_address_is_data: data_address,
        frames: Vec::new(),
        fault_function: None,
        null_class_pointer: false,
    };
    let mut facts = facts;
    super::mark_null_class_pointer(bytes, &mut facts);
    Ok((facts, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use signatures::CerTuple;

    /// The fast path and the full path give the same tuple on every real and generated
    /// minidump, and the same outcome (error or not) on truncated copies.
    #[test]
    fn quick_and_full_paths_agree() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in [
            root.join("../../../shared/real-dumps/minidump"),
            root.join("../../sample-dumps/minidump"),
        ] {
            let mut entries: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            files.extend(entries);
        }
        assert!(files.len() >= 29);
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            for len in [bytes.len(), bytes.len() / 2, 64] {
                let cut = &bytes[..len];
                let quick = read_signature_facts(cut);
                let full = super::super::checked(cut).and_then(|(fixed, w)| {
                    super::super::read_facts(&super::super::open_checked(&fixed)?, w)
                });
                match (quick, full) {
                    (Ok((q, _)), Ok(f)) => {
                        assert_eq!(
                            CerTuple::from_facts(&q),
                            CerTuple::from_facts(&f.facts),
                            "{}",
                            path.display()
                        );
                        assert_eq!(q.exception, f.facts.exception);
                        assert_eq!(q.is_32bit, f.facts.is_32bit);
                    }
                    (Err(_), Err(_)) => {}
                    (q, f) => panic!(
                        "{} cut at {len}: quick {:?} vs full {:?}",
                        path.display(),
                        q.err(),
                        f.err()
                    ),
                }
            }
        }
    }
}
