//! A PE file on disk (or fetched from an image store) read as if it were loaded.
//!
//! [`super::pe::read_pe_info`] reads an image by relative virtual address, as it lies in dump
//! memory. A file keeps its sections at raw file offsets instead, so this maps each RVA
//! through the section table: the headers at RVA 0, each section's raw bytes at its
//! VirtualAddress, zeros between SizeOfRawData and VirtualSize (as the loader would).

use super::error::KernelError;
use super::pe::{read_pe_info, PeInfo};
use super::virtual_memory::VirtualRead;
use le_bytes::{u16_at, u32_at};

/// More sections than this is not a real image (the loader's own limit is 96).
const MAX_SECTIONS: usize = 96;

/// One section's placement: RVA range and the bytes of the file that back it.
#[derive(Debug, Clone, Copy)]
struct Section {
    rva: u64,
    virtual_size: u64,
    raw_offset: u64,
    raw_size: u64,
}

/// A PE file whose reads go through its section table.
#[derive(Debug)]
pub struct PeFile<'a> {
    data: &'a [u8],
    headers: u64,
    sections: Vec<Section>,
}

fn bad(offset: usize, detail: impl Into<String>) -> KernelError {
    KernelError::Malformed {
        what: "PE file",
        offset: offset as u64,
        detail: detail.into(),
    }
}

impl<'a> PeFile<'a> {
    /// Reads the section table of a PE file. Fails when the headers are not those of a PE.
    pub fn parse(data: &'a [u8]) -> Result<PeFile<'a>, KernelError> {
        if u16_at(data, 0) != Some(0x5A4D) {
            return Err(bad(0, "no MZ signature"));
        }
        let nt = u32_at(data, 0x3C).ok_or_else(|| bad(0x3C, "file ends inside the DOS header"))?
            as usize;
        if u32_at(data, nt) != Some(0x0000_4550) {
            return Err(bad(nt, "no PE signature"));
        }
        let count = usize::from(u16_at(data, nt + 6).ok_or_else(|| bad(nt, "truncated"))?);
        let opt_size = usize::from(u16_at(data, nt + 20).ok_or_else(|| bad(nt, "truncated"))?);
        if count > MAX_SECTIONS {
            return Err(bad(
                nt + 6,
                format!("{count} sections (at most {MAX_SECTIONS})"),
            ));
        }
        let opt = nt + 24;
        let headers =
            u32_at(data, opt + 60).ok_or_else(|| bad(opt, "truncated optional header"))?;
        let table = opt + opt_size;
        let mut sections = Vec::with_capacity(count);
        for i in 0..count {
            let at = table + i * 40;
            let field = |off: usize| {
                u32_at(data, at + off)
                    .map(u64::from)
                    .ok_or_else(|| bad(at, format!("section header {i} lies past the end")))
            };
            sections.push(Section {
                virtual_size: field(8)?,
                rva: field(12)?,
                raw_size: field(16)?,
                raw_offset: field(20)?,
            });
        }
        Ok(PeFile {
            data,
            headers: u64::from(headers).min(data.len() as u64),
            sections,
        })
    }

    /// The PE facts (timestamp, SizeOfImage, CodeView id, file version) of the file.
    pub fn info(&self) -> Result<PeInfo, KernelError> {
        read_pe_info(self, 0)
    }

    /// File bytes backing `len` bytes at `rva`: `(offset, available)` where bytes past
    /// `available` (but inside the section) read as zero.
    fn locate(&self, rva: u64, len: u64) -> Option<(u64, u64)> {
        if rva.checked_add(len)? <= self.headers {
            return Some((rva, len));
        }
        let s = self.sections.iter().find(|s| {
            let span = s.virtual_size.max(s.raw_size);
            rva >= s.rva && rva - s.rva < span && rva + len <= s.rva + span
        })?;
        let inside = rva - s.rva;
        let available = s.raw_size.saturating_sub(inside).min(len);
        Some((s.raw_offset + inside, available))
    }
}

impl VirtualRead for PeFile<'_> {
    fn read_virtual(&self, va: u64, buf: &mut [u8]) -> Result<(), KernelError> {
        let len = buf.len() as u64;
        let unmapped = || KernelError::Malformed {
            what: "PE file",
            offset: va,
            detail: format!("RVA {va:#x} (+{len} bytes) is in no section"),
        };
        let (offset, available) = self.locate(va, len).ok_or_else(unmapped)?;
        let end = offset.checked_add(available).ok_or_else(unmapped)?;
        let src = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(end).ok())
            .and_then(|(a, b)| self.data.get(a..b))
            .ok_or_else(|| KernelError::Malformed {
                what: "PE file",
                offset,
                detail: format!("section data for RVA {va:#x} lies past the end of the file"),
            })?;
        let (head, tail) = buf.split_at_mut(src.len());
        head.copy_from_slice(src);
        tail.fill(0);
        Ok(())
    }
}
