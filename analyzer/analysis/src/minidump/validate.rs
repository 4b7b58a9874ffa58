//! Extent checks: does every byte range the minidump references lie inside the file, and does
//! every count fit the stream that declares it?
//!
//! Real dumps written by crashing processes are often damaged in some stream. As
//! minidump-processor does, a damaged stream the keys do not need is a warning, not a refusal:
//! [`check_extents`] lists the damage, and [`repaired`] gives the `minidump` crate a copy in
//! which each damaged part is hidden (its directory entry marked unused, or one location
//! cleared), so no crate ever reads or reserves memory for it. Only an unusable header or
//! directory, or a damaged exception stream (the crash's identity), is an error.

use std::borrow::Cow;

use crate::error::{AnalyzeError, Result};

const STREAM_THREAD_LIST: u32 = 3;
const STREAM_MODULE_LIST: u32 = 4;
const STREAM_MEMORY_LIST: u32 = 5;
const STREAM_EXCEPTION: u32 = 6;
const STREAM_MEMORY64_LIST: u32 = 9;
const STREAM_HANDLE_DATA: u32 = 12;
const STREAM_UNLOADED_MODULES: u32 = 14;
const STREAM_MISC_INFO: u32 = 15;
const STREAM_MEMORY_INFO: u32 = 16;
const STREAM_THREAD_INFO: u32 = 17;
const STREAM_THREAD_NAMES: u32 = 24;
const STREAM_SYSTEM_INFO: u32 = 7;

/// Size of MINIDUMP_EXCEPTION_STREAM.
const EXCEPTION_STREAM: u64 = 0xA8;
/// Size of MINIDUMP_SYSTEM_INFO.
const SYSTEM_INFO: u64 = 56;

/// Size of MINIDUMP_HEADER.
const HEADER: u64 = 32;
/// Size of MINIDUMP_DIRECTORY.
const DIRECTORY_ENTRY: u64 = 12;
/// Size of MINIDUMP_THREAD.
const THREAD_ENTRY: u64 = 48;
/// Size of MINIDUMP_MODULE.
const MODULE_ENTRY: u64 = 108;
/// Size of MINIDUMP_MEMORY_DESCRIPTOR.
const MEMORY_DESCRIPTOR: u64 = 16;
/// Size of MINIDUMP_MEMORY_DESCRIPTOR64.
const MEMORY64_DESCRIPTOR: u64 = 16;
/// Size of MINIDUMP_THREAD_NAME.
const THREAD_NAME_ENTRY: u64 = 12;

// Reads go through `le_bytes`, the workspace's one bounds-checked layer.
use le_bytes::{u32_at, u64_at};

/// How a damaged part is kept from the `minidump` crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// Mark the stream's directory entry (at this offset) `UnusedStream`.
    HideStream(u64),
    /// Zero the MINIDUMP_LOCATION_DESCRIPTOR at this offset (one stack, one context, one
    /// memory range), keeping the rest of its stream.
    ClearLocation(u64),
}

/// One part of a stream that cannot be used as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDamage {
    /// The stream's type.
    pub stream_type: u32,
    /// Where the damaged structure starts in the file.
    pub offset: u64,
    /// What is wrong, in words.
    pub problem: String,
    /// How it is kept from the reader.
    pub repair: Repair,
}

/// The stream's name for messages.
pub fn stream_name(kind: u32) -> String {
    let name = match kind {
        STREAM_THREAD_LIST => "thread list",
        STREAM_MODULE_LIST => "module list",
        STREAM_MEMORY_LIST => "memory list",
        STREAM_EXCEPTION => "exception",
        7 => "system info",
        STREAM_MEMORY64_LIST => "memory64 list",
        STREAM_HANDLE_DATA => "handle data",
        STREAM_UNLOADED_MODULES => "unloaded module list",
        STREAM_MISC_INFO => "misc info",
        STREAM_MEMORY_INFO => "memory info list",
        STREAM_THREAD_INFO => "thread info list",
        STREAM_THREAD_NAMES => "thread names",
        _ => return format!("stream type {kind:#x}"),
    };
    format!("{name} stream")
}

/// Whether `size` bytes at `offset` lie inside the file.
fn inside(bytes: &[u8], offset: u64, size: u64) -> bool {
    offset
        .checked_add(size)
        .is_some_and(|end| end <= bytes.len() as u64)
}

/// Longest module name read (bytes of UTF-16), as the signature path reads them.
pub const MAX_NAME_BYTES: u64 = 64 * 1024;

/// What makes a module's name unreadable, for the entries the reader does not skip.
fn bad_module_name(bytes: &[u8], module: u64) -> Option<String> {
    let base = u64_at(bytes, module).unwrap_or(0);
    let size = u64::from(u32_at(bytes, module + 8).unwrap_or(0));
    if size == 0 || base.checked_add(size).is_none() {
        return None; // skipped by the reader, never named
    }
    let name = u64::from(u32_at(bytes, module + 20).unwrap_or(0));
    let Some(len) = u32_at(bytes, name).map(u64::from) else {
        return Some(format!(
            "its name (at {name:#x}) lies past the end of the file ({:#x})",
            bytes.len()
        ));
    };
    let Some(raw) = le_bytes::slice(bytes, name + 4, len) else {
        return Some(format!(
            "its {len}-byte name at {name:#x} runs past the end of the file ({:#x})",
            bytes.len()
        ));
    };
    if len % 2 != 0 || len > MAX_NAME_BYTES {
        return Some(format!("its name at {name:#x} is {len} bytes long"));
    }
    let units = raw
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes);
    if char::decode_utf16(units).any(|c| c.is_err()) {
        return Some(format!("its name at {name:#x} is not valid UTF-16"));
    }
    None
}

/// Collects the damage of one stream.
struct Checker<'b> {
    bytes: &'b [u8],
    kind: u32,
    entry: u64,
    damage: Vec<StreamDamage>,
}

impl Checker<'_> {
    fn hide(&mut self, offset: u64, problem: String) {
        self.damage.push(StreamDamage {
            stream_type: self.kind,
            offset,
            problem,
            repair: Repair::HideStream(self.entry),
        });
    }

    fn clear(&mut self, offset: u64, location: u64, problem: String) {
        self.damage.push(StreamDamage {
            stream_type: self.kind,
            offset,
            problem,
            repair: Repair::ClearLocation(location),
        });
    }

    /// A location descriptor (`DataSize` u32, `Rva` u32) at `at` whose range must be inside.
    fn location(&mut self, at: u64, what: impl FnOnce() -> String) {
        if let (Some(len), Some(rva)) = (u32_at(self.bytes, at), u32_at(self.bytes, at + 4)) {
            if !inside(self.bytes, rva.into(), len.into()) {
                let problem = format!(
                    "{} ({len} bytes at {rva:#x}) lies past the end of the file ({:#x})",
                    what(),
                    self.bytes.len()
                );
                self.clear(at, at, problem);
            }
        }
    }

    /// A list stream as the `minidump` crate reads it: a u32 count, 4 bytes of padding or
    /// none, then exactly `count` entries; any other size makes the reader refuse the stream.
    /// Returns the offset of the first entry when the stream is sound.
    fn list(&mut self, rva: u64, size: u64, entry: u64, what: &str) -> Option<u64> {
        let count = u64::from(u32_at(self.bytes, rva).unwrap_or(0));
        let body = count.checked_mul(entry);
        match body {
            Some(b) if b.checked_add(4) == Some(size) => Some(rva + 4),
            Some(b) if b.checked_add(8) == Some(size) => Some(rva + 8),
            _ => {
                self.hide(
                    rva,
                    format!("it declares {count} {what}, which do not match its {size} bytes"),
                );
                None
            }
        }
    }

    /// `count` entries of `entry` bytes after a `header`-byte header must fit `size`.
    fn fits(
        &mut self,
        rva: u64,
        size: u64,
        count: u64,
        header: u64,
        entry: u64,
        what: &str,
    ) -> bool {
        let needed = count.checked_mul(entry).and_then(|n| n.checked_add(header));
        // An entry size of 0 would let any count through, and readers reserve by count.
        if needed.is_some_and(|n| n <= size) && (entry > 0 || count == 0) {
            return true;
        }
        self.hide(
            rva,
            format!("it declares {count} {what}, which do not fit in its {size} bytes"),
        );
        false
    }

    /// A CodeView record inside the file but too short for its signature: the reader refuses
    /// the whole module list for it.
    fn short_codeview(&mut self, at: u64, module: u64) {
        let (Some(len), Some(rva)) = (u32_at(self.bytes, at), u32_at(self.bytes, at + 4)) else {
            return;
        };
        let (len, rva) = (u64::from(len), u64::from(rva));
        if len == 0 || !inside(self.bytes, rva, len) {
            return;
        }
        let needed = match le_bytes::slice(self.bytes, rva, 4u64.min(len)) {
            Some(b"RSDS") => 24,
            Some(b"NB10") => 16,
            _ => 4,
        };
        if len < needed {
            self.clear(
                at,
                at,
                format!("the CodeView record of module {module} is {len} bytes, too short to read"),
            );
        }
    }

    /// MINIDUMP_HANDLE_DATA_STREAM: the reader reserves memory by its count and follows each
    /// descriptor's chain of object information, so the descriptor size must be one of the two
    /// the format defines, the count must fit, and no chain may leave the file or loop.
    fn handle_data(&mut self, rva: u64, size: u64) {
        let bytes = self.bytes;
        let header = u64::from(u32_at(bytes, rva).unwrap_or(0));
        let entry = u64::from(u32_at(bytes, rva + 4).unwrap_or(0));
        let count = u64::from(u32_at(bytes, rva + 8).unwrap_or(0));
        if count > 0 && entry != 32 && entry != 40 {
            self.hide(
                rva,
                format!("its descriptors are {entry} bytes; the format has 32 or 40"),
            );
            return;
        }
        if !self.fits(rva, size, count, header.max(16), entry, "handles") || entry != 40 {
            return;
        }
        // MINIDUMP_HANDLE_DESCRIPTOR_2: ObjectInfoRva at +32; each
        // MINIDUMP_HANDLE_OBJECT_INFORMATION starts with NextInfoRva. Bounded work: at most
        // one step per 12 bytes of the file overall.
        let mut budget = bytes.len() as u64 / 12;
        for i in 0..count {
            let d = rva + header.max(16) + i * entry;
            let mut next = u64::from(u32_at(bytes, d + 32).unwrap_or(0));
            let mut seen = std::collections::HashSet::new();
            while next != 0 {
                budget = budget.saturating_sub(1);
                if budget == 0 || !seen.insert(next) || !inside(bytes, next, 12) {
                    self.hide(
                        d,
                        format!(
                            "the object information chain of handle {i} leaves the file or loops"
                        ),
                    );
                    return;
                }
                next = u64::from(u32_at(bytes, next).unwrap_or(0));
            }
        }
    }

    fn check(&mut self, rva: u64, size: u64) {
        let bytes = self.bytes;
        match self.kind {
            STREAM_THREAD_LIST => {
                if let Some(first) = self.list(rva, size, THREAD_ENTRY, "threads") {
                    let count = u64::from(u32_at(bytes, rva).unwrap_or(0));
                    for i in 0..count {
                        let t = first + i * THREAD_ENTRY;
                        let id = u32_at(bytes, t).unwrap_or(0);
                        self.location(t + 32, || format!("the stack memory of thread {id}"));
                        self.location(t + 40, || format!("the context of thread {id}"));
                    }
                }
            }
            STREAM_MODULE_LIST => {
                if let Some(first) = self.list(rva, size, MODULE_ENTRY, "modules") {
                    let count = u64::from(u32_at(bytes, rva).unwrap_or(0));
                    for i in 0..count {
                        let m = first + i * MODULE_ENTRY;
                        if let Some(problem) = bad_module_name(bytes, m) {
                            self.hide(m, format!("module {i}: {problem}"));
                            break;
                        }
                        // CvRecord @76 and MiscRecord @84: the module stays, without its
                        // debug id, when its record is cut or too short to read.
                        self.location(m + 76, || format!("the CodeView record of module {i}"));
                        self.short_codeview(m + 76, i);
                        self.location(m + 84, || format!("the misc record of module {i}"));
                    }
                }
            }
            STREAM_MEMORY_LIST => {
                if let Some(first) = self.list(rva, size, MEMORY_DESCRIPTOR, "memory ranges") {
                    let count = u64::from(u32_at(bytes, rva).unwrap_or(0));
                    for i in 0..count {
                        let d = first + i * MEMORY_DESCRIPTOR;
                        let start = u64_at(bytes, d).unwrap_or(0);
                        self.location(d + 8, || format!("memory range {start:#x}"));
                    }
                }
            }
            STREAM_MEMORY64_LIST => {
                let count = u64_at(bytes, rva).unwrap_or(0);
                if self.fits(rva, size, count, 16, MEMORY64_DESCRIPTOR, "memory ranges") {
                    let mut at = u64_at(bytes, rva + 8).unwrap_or(0);
                    for i in 0..count {
                        let d = rva + 16 + i * MEMORY64_DESCRIPTOR;
                        let start = u64_at(bytes, d).unwrap_or(0);
                        let len = u64_at(bytes, d + 8).unwrap_or(0);
                        if !inside(bytes, at, len) {
                            // The ranges are laid end to end: one cut range cuts the rest.
                            self.hide(
                                d,
                                format!(
                                    "memory range {start:#x} ({len} bytes at {at:#x}) lies past the end of the file ({:#x})",
                                    bytes.len()
                                ),
                            );
                            break;
                        }
                        at += len; // cannot overflow: inside() proved at + len <= file length
                    }
                }
            }
            STREAM_EXCEPTION => {
                // MINIDUMP_EXCEPTION_STREAM: ThreadContext location at +0xA0.
                self.location(rva + 0xA0, || "the exception's thread context".to_owned());
            }
            STREAM_HANDLE_DATA => self.handle_data(rva, size),
            STREAM_UNLOADED_MODULES | STREAM_THREAD_INFO => {
                // SizeOfHeader u32, SizeOfEntry/Descriptor u32, NumberOfEntries u32.
                let header = u64::from(u32_at(bytes, rva).unwrap_or(0));
                let entry = u64::from(u32_at(bytes, rva + 4).unwrap_or(0));
                let count = u64::from(u32_at(bytes, rva + 8).unwrap_or(0));
                self.fits(rva, size, count, header.max(12), entry, "entries");
            }
            STREAM_MEMORY_INFO => {
                // SizeOfHeader u32, SizeOfEntry u32, NumberOfEntries u64.
                let header = u64::from(u32_at(bytes, rva).unwrap_or(0));
                let entry = u64::from(u32_at(bytes, rva + 4).unwrap_or(0));
                let count = u64_at(bytes, rva + 8).unwrap_or(0);
                self.fits(rva, size, count, header.max(16), entry, "entries");
            }
            STREAM_MISC_INFO => {
                let declared = u64::from(u32_at(bytes, rva).unwrap_or(0));
                if declared > size {
                    self.hide(
                        rva,
                        format!("its SizeOfInfo {declared} exceeds its {size} bytes"),
                    );
                }
            }
            STREAM_THREAD_NAMES => {
                let count = u64::from(u32_at(bytes, rva).unwrap_or(0));
                self.fits(rva, size, count, 4, THREAD_NAME_ENTRY, "thread names");
            }
            _ => {}
        }
    }
}

/// Verifies the directory and every stream, memory range, thread context and stack it
/// references; counts are checked against the stream size before they drive a loop. Returns
/// the damage the analysis can live with; fails on an unusable header or directory and on a
/// damaged exception stream.
pub fn check_extents(bytes: &[u8]) -> Result<Vec<StreamDamage>> {
    let malformed = |offset: u64, reason: &str| AnalyzeError::Malformed {
        what: "minidump header",
        offset,
        reason: reason.to_owned(),
    };
    let count = u64::from(u32_at(bytes, 8).ok_or_else(|| malformed(8, "header cut short"))?);
    let dir = u64::from(u32_at(bytes, 12).ok_or_else(|| malformed(12, "header cut short"))?);
    let dir_size = count
        .checked_mul(DIRECTORY_ENTRY)
        .ok_or_else(|| malformed(8, "stream count overflows"))?;
    if count > 0 && dir < HEADER {
        return Err(malformed(
            12,
            &format!("the stream directory at {dir:#x} overlaps the {HEADER}-byte header"),
        ));
    }
    if !inside(bytes, dir, dir_size) {
        return Err(AnalyzeError::Truncated {
            what: format!("stream directory ({count} entries)"),
            offset: dir,
            needed: dir_size,
            file_len: bytes.len() as u64,
        });
    }
    let mut damage = Vec::new();
    for i in 0..count {
        let entry = dir + i * DIRECTORY_ENTRY;
        let (Some(kind), Some(size), Some(rva)) = (
            u32_at(bytes, entry),
            u32_at(bytes, entry + 4),
            u32_at(bytes, entry + 8),
        ) else {
            return Err(malformed(entry, "directory entry cut short"));
        };
        let (size, rva) = (u64::from(size), u64::from(rva));
        if kind == 0 {
            continue; // UnusedStream: its location means nothing.
        }
        if kind == STREAM_EXCEPTION && size < EXCEPTION_STREAM {
            return Err(AnalyzeError::Malformed {
                what: "exception stream",
                offset: rva,
                reason: format!(
                    "it is {size} bytes, a MINIDUMP_EXCEPTION_STREAM takes {EXCEPTION_STREAM}"
                ),
            });
        }
        if !inside(bytes, rva, size) {
            if kind == STREAM_EXCEPTION {
                // Without it nothing says what crashed: the keys cannot be computed.
                return Err(AnalyzeError::Truncated {
                    what: stream_name(kind),
                    offset: rva,
                    needed: size,
                    file_len: bytes.len() as u64,
                });
            }
            damage.push(StreamDamage {
                stream_type: kind,
                offset: rva,
                problem: format!(
                    "its {size} bytes at {rva:#x} lie past the end of the file ({:#x})",
                    bytes.len()
                ),
                repair: Repair::HideStream(entry),
            });
            continue;
        }
        let mut checker = Checker {
            bytes,
            kind,
            entry,
            damage: Vec::new(),
        };
        if kind == STREAM_SYSTEM_INFO && size < SYSTEM_INFO {
            checker.hide(
                rva,
                format!("it is {size} bytes, a MINIDUMP_SYSTEM_INFO takes {SYSTEM_INFO}"),
            );
        }
        checker.check(rva, size);
        damage.extend(checker.damage);
    }
    Ok(damage)
}

/// The dump with every damaged part hidden, for the `minidump` crate; the bytes themselves
/// when nothing is damaged.
pub fn repaired<'b>(bytes: &'b [u8], damage: &[StreamDamage]) -> Cow<'b, [u8]> {
    if damage.is_empty() {
        return Cow::Borrowed(bytes);
    }
    let mut copy = bytes.to_vec();
    for d in damage {
        let (at, len) = match d.repair {
            Repair::HideStream(entry) => (entry, 4),
            Repair::ClearLocation(location) => (location, 8),
        };
        let range = usize::try_from(at)
            .ok()
            .and_then(|s| Some(s..s.checked_add(len)?));
        if let Some(field) = range.and_then(|r| copy.get_mut(r)) {
            field.fill(0);
        }
    }
    Cow::Owned(copy)
}

#[cfg(test)]
mod tests;
