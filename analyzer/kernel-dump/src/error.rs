//! The one error type of the kernel dump reader.
//!
//! Only an unusable header makes [`KernelDump::parse`](super::KernelDump::parse) fail; every
//! other problem (a truncated file, an unmapped address, a broken list) is reported by the lower
//! layers with this type and turned into an entry of the report's `missing` list by the caller.
//! Every variant says where in the file (or in which address space) the problem was found.

use thiserror::Error;

/// Everything that can go wrong while reading a kernel dump.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KernelError {
    /// The file is shorter than the structure that must be there.
    #[error("{what} needs bytes {offset:#x}..{end:#x} but the file ends at {file_len:#x}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// File offset of the structure.
        offset: u64,
        /// File offset one past its end.
        end: u64,
        /// Length of the file.
        file_len: u64,
    },
    /// The first eight bytes are not `PAGEDUMP` or `PAGEDU64`.
    #[error("not a kernel dump: signature at offset 0x0 is {found:#018x}, expected PAGEDUMP or PAGEDU64")]
    BadSignature {
        /// The first eight bytes, little-endian.
        found: u64,
    },
    /// A header field holds a value that makes the header unusable.
    #[error("unusable header: {what} at offset {offset:#x} is {value:#x}")]
    BadHeaderField {
        /// The field.
        what: &'static str,
        /// File offset of the field.
        offset: u64,
        /// The value found.
        value: u64,
    },
    /// A structure inside the file is malformed.
    #[error("malformed {what} at file offset {offset:#x}: {detail}")]
    Malformed {
        /// The structure.
        what: &'static str,
        /// File offset where it was read.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A physical page is not part of the dump (never captured).
    #[error("physical address {pa:#x} is not in the dump")]
    PhysicalNotInDump {
        /// The physical address.
        pa: u64,
    },
    /// A physical page was captured but its file offset lies beyond the end of the file.
    #[error(
        "physical address {pa:#x} is stored at file offset {offset:#x}, beyond the end of the file"
    )]
    PhysicalBeyondEof {
        /// The physical address.
        pa: u64,
        /// Where the page would be in the file.
        offset: u64,
    },
    /// A virtual address does not translate.
    #[error("virtual address {va:#x} is not mapped: {level} entry {entry:#x} at physical {entry_pa:#x} is not present")]
    NotMapped {
        /// The virtual address.
        va: u64,
        /// The paging level whose entry was not present (`PML4E`, `PDPTE`, `PDE`, `PTE`).
        level: &'static str,
        /// The entry.
        entry: u64,
        /// Physical address the entry was read from.
        entry_pa: u64,
    },
    /// A virtual address lies in no memory region the dump carries (triage dumps).
    #[error("virtual address {va:#x} is not in any memory region the dump carries")]
    VirtualNotInDump {
        /// The virtual address.
        va: u64,
    },
    /// The page data cannot be read at all.
    #[error("page data unavailable (header at offset {offset:#x}): {reason}")]
    NoPageData {
        /// File offset of the field that says why.
        offset: u64,
        /// Why.
        reason: &'static str,
    },
    /// A linked list in dump memory does not end.
    #[error("{what} at virtual address {va:#x} loops or runs away after {count} entries")]
    RunawayList {
        /// The list.
        what: &'static str,
        /// Where the walk stopped.
        va: u64,
        /// How many entries were read.
        count: usize,
    },
}

impl KernelError {
    /// A [`KernelError::Truncated`] for `len` bytes at `offset` in a file of `file_len` bytes.
    pub(crate) fn truncated(what: &'static str, offset: u64, len: u64, file_len: u64) -> Self {
        KernelError::Truncated {
            what,
            offset,
            end: offset.saturating_add(len),
            file_len,
        }
    }
}
