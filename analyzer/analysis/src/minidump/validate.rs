//! Extent checks: does every byte range the minidump references lie inside the file?
//!
//! The `minidump` crate reads streams lazily and turns a missing stream into "not found", so a
//! truncated file could silently lose its exception stream and be bucketed as a hang. Checking
//! every referenced range up front turns truncation into an explicit error that says what is
//! missing.

use crate::error::{AnalyzeError, Result};

const STREAM_THREAD_LIST: u32 = 3;
const STREAM_MEMORY_LIST: u32 = 5;
const STREAM_EXCEPTION: u32 = 6;
const STREAM_MEMORY64_LIST: u32 = 9;

/// Size of MINIDUMP_DIRECTORY.
const DIRECTORY_ENTRY: u64 = 12;
/// Size of MINIDUMP_THREAD.
const THREAD_ENTRY: u64 = 48;
/// Size of MINIDUMP_MEMORY_DESCRIPTOR.
const MEMORY_DESCRIPTOR: u64 = 16;
/// Size of MINIDUMP_MEMORY_DESCRIPTOR64.
const MEMORY64_DESCRIPTOR: u64 = 16;

// Reads go through `le_bytes`, the workspace's one bounds-checked layer.
use le_bytes::{u32_at, u64_at};

/// Checks one referenced range.
fn check(bytes: &[u8], what: impl FnOnce() -> String, offset: u64, size: u64) -> Result<()> {
    let file_len = bytes.len() as u64;
    match offset.checked_add(size) {
        Some(end) if end <= file_len => Ok(()),
        _ => Err(AnalyzeError::Truncated {
            what: what(),
            offset,
            needed: size,
            file_len,
        }),
    }
}

fn stream_name(kind: u32) -> String {
    let name = match kind {
        3 => "thread list",
        4 => "module list",
        5 => "memory list",
        6 => "exception",
        7 => "system info",
        9 => "memory64 list",
        14 => "unloaded module list",
        15 => "misc info",
        16 => "memory info list",
        17 => "thread info list",
        24 => "thread names",
        _ => return format!("stream type {kind:#x}"),
    };
    format!("{name} stream")
}

/// Verifies the directory and every stream, memory range, thread context and stack it
/// references. Counts are checked against the stream size before they drive a loop.
pub fn check_extents(bytes: &[u8]) -> Result<()> {
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
    check(
        bytes,
        || format!("stream directory ({count} entries)"),
        dir,
        dir_size,
    )?;

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
        check(bytes, || stream_name(kind), rva, size)?;
        match kind {
            STREAM_THREAD_LIST => check_threads(bytes, rva, size)?,
            STREAM_MEMORY_LIST => check_memory_list(bytes, rva, size)?,
            STREAM_MEMORY64_LIST => check_memory64_list(bytes, rva, size)?,
            STREAM_EXCEPTION => {
                // MINIDUMP_EXCEPTION_STREAM: ThreadContext location at +0xA0.
                if let (Some(ctx_size), Some(ctx_rva)) =
                    (u32_at(bytes, rva + 0xA0), u32_at(bytes, rva + 0xA4))
                {
                    check(
                        bytes,
                        || "exception thread context".to_owned(),
                        ctx_rva.into(),
                        ctx_size.into(),
                    )?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_threads(bytes: &[u8], rva: u64, size: u64) -> Result<()> {
    let count = u64::from(u32_at(bytes, rva).unwrap_or(0));
    if count.saturating_mul(THREAD_ENTRY).saturating_add(4) > size {
        return Err(AnalyzeError::Malformed {
            what: "thread list",
            offset: rva,
            reason: format!("{count} threads do not fit in a {size}-byte stream"),
        });
    }
    for i in 0..count {
        let t = rva + 4 + i * THREAD_ENTRY;
        let id = u32_at(bytes, t).unwrap_or(0);
        // MINIDUMP_THREAD: Stack {start u64, size u32 @+0x20, rva u32 @+0x24}, Context @+0x28.
        let stack = (u32_at(bytes, t + 0x20), u32_at(bytes, t + 0x24));
        if let (Some(len), Some(at)) = stack {
            check(
                bytes,
                || format!("stack memory of thread {id}"),
                at.into(),
                len.into(),
            )?;
        }
        if let (Some(len), Some(at)) = (u32_at(bytes, t + 0x28), u32_at(bytes, t + 0x2C)) {
            check(
                bytes,
                || format!("context of thread {id}"),
                at.into(),
                len.into(),
            )?;
        }
    }
    Ok(())
}

fn check_memory_list(bytes: &[u8], rva: u64, size: u64) -> Result<()> {
    let count = u64::from(u32_at(bytes, rva).unwrap_or(0));
    if count.saturating_mul(MEMORY_DESCRIPTOR).saturating_add(4) > size {
        return Err(AnalyzeError::Malformed {
            what: "memory list",
            offset: rva,
            reason: format!("{count} ranges do not fit in a {size}-byte stream"),
        });
    }
    for i in 0..count {
        let d = rva + 4 + i * MEMORY_DESCRIPTOR;
        let start = u64_at(bytes, d).unwrap_or(0);
        if let (Some(len), Some(at)) = (u32_at(bytes, d + 8), u32_at(bytes, d + 12)) {
            check(
                bytes,
                || format!("memory range {start:#x}"),
                at.into(),
                len.into(),
            )?;
        }
    }
    Ok(())
}

fn check_memory64_list(bytes: &[u8], rva: u64, size: u64) -> Result<()> {
    let count = u64_at(bytes, rva).unwrap_or(0);
    let mut at = u64_at(bytes, rva + 8).unwrap_or(0);
    if count.saturating_mul(MEMORY64_DESCRIPTOR).saturating_add(16) > size {
        return Err(AnalyzeError::Malformed {
            what: "memory64 list",
            offset: rva,
            reason: format!("{count} ranges do not fit in a {size}-byte stream"),
        });
    }
    for i in 0..count {
        let d = rva + 16 + i * MEMORY64_DESCRIPTOR;
        let start = u64_at(bytes, d).unwrap_or(0);
        let len = u64_at(bytes, d + 8).unwrap_or(0);
        check(bytes, || format!("memory range {start:#x}"), at, len)?;
        at += len; // cannot overflow: check() proved at + len <= file length
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(count: u32, dir: u32) -> Vec<u8> {
        let mut b = b"MDMP".to_vec();
        b.extend_from_slice(&0xA793u32.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&dir.to_le_bytes());
        b.resize(32, 0);
        b
    }

    #[test]
    fn huge_stream_count_is_truncation_not_a_loop() {
        let b = header(u32::MAX, 32);
        assert!(matches!(
            check_extents(&b),
            Err(AnalyzeError::Truncated { .. })
        ));
    }

    #[test]
    fn stream_past_the_end_is_named() {
        let mut b = header(1, 32);
        for v in [6u32, 0xA8, 0x1000] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        let err = check_extents(&b)
            .map(|_| ())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("exception stream"), "{err}");
    }

    #[test]
    fn memory_list_count_must_fit_its_stream() {
        let mut b = header(1, 32);
        for v in [5u32, 4, 44] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.extend_from_slice(&1000u32.to_le_bytes());
        assert!(matches!(
            check_extents(&b),
            Err(AnalyzeError::Malformed {
                what: "memory list",
                ..
            })
        ));
    }
}
