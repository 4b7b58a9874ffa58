//! Physical memory: where a physical page lives in the file, for every page-data layout.
//!
//! Full dumps (type 1) and debugger-written dumps (8/9/0xA) list runs of page frames stored one
//! after another; summary (2) and bitmap dumps (5/6) store a bitmap with one bit per page frame
//! and the present pages in ascending order. For the bitmap a prefix sum of popcounts per 64-bit
//! word (a rank index) finds the file position of a page in O(1) with memory proportional to the
//! bitmap, never to the number of pages. A truncated file keeps its readable pages and reports
//! the rest in [`PhysicalMemory::missing`].

use super::bytes::{slice, u32_at, u64_at};
use super::error::KernelError;
use super::header::{DumpHeader, Width};
use super::missing::Missing;

/// Page size of every supported architecture.
pub const PAGE_SIZE: u64 = 0x1000;
/// Most truncated runs listed one by one in `missing`.
const MAX_LISTED_RUNS: usize = 16;

/// A run of page frames and where its first page sits among the stored pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredRun {
    base_page: u64,
    page_count: u64,
    /// Index of the run's first page among all stored pages.
    first_index: u64,
}

/// Page-data layout.
#[derive(Debug, Clone)]
enum Layout<'a> {
    /// Runs sorted by base page; page `k` is at `data_start + k * PAGE_SIZE`.
    Runs {
        data_start: u64,
        runs: Vec<StoredRun>,
    },
    /// One bit per PFN, LSB first; present pages from `data_start` in PFN order.
    Bitmap {
        data_start: u64,
        bitmap: &'a [u8],
        bits: u64,
        /// `rank[w]` = set bits in words `0..w`.
        rank: Vec<u64>,
    },
    /// No physical memory (triage, header-only, unknown or unreadable layouts).
    None,
}

/// Physical memory of a dump.
#[derive(Debug, Clone)]
pub struct PhysicalMemory<'a> {
    data: &'a [u8],
    layout: Layout<'a>,
    missing: Vec<Missing>,
    /// File offset to blame when there is no page data.
    none_reason: (u64, &'static str),
}

impl<'a> PhysicalMemory<'a> {
    /// An empty physical memory: every read fails with `reason`.
    pub fn none(data: &'a [u8], offset: u64, reason: &'static str) -> Self {
        PhysicalMemory {
            data,
            layout: Layout::None,
            missing: Vec::new(),
            none_reason: (offset, reason),
        }
    }

    /// A run layout over `runs` (`(base_page, page_count)` in file order) with page data at
    /// `data_start`.
    pub fn from_runs(data: &'a [u8], data_start: u64, runs: &[(u64, u64)]) -> Self {
        let mut stored = Vec::with_capacity(runs.len());
        let mut next = 0u64;
        let mut missing = Vec::new();
        for &(base_page, page_count) in runs {
            if page_count == 0 {
                continue;
            }
            stored.push(StoredRun {
                base_page,
                page_count,
                first_index: next,
            });
            next = match next.checked_add(page_count) {
                Some(n) => n,
                None => {
                    missing.push(Missing::RunCountsOverflow);
                    break;
                }
            };
        }
        let available = stored_pages_in_file(data, data_start);
        // Runs are in file order here: the cut runs are the last ones.
        let cut: Vec<(usize, &StoredRun)> = stored
            .iter()
            .enumerate()
            .filter(|(_, r)| r.first_index.saturating_add(r.page_count) > available)
            .collect();
        if !cut.is_empty() {
            missing.push(Missing::RunPagesTruncated {
                present: available,
                total: next,
                runs_cut: cut.len(),
                file_len: data.len() as u64,
            });
            for (i, run) in cut.iter().take(MAX_LISTED_RUNS) {
                let end = run.first_index.saturating_add(run.page_count);
                let lost = end - available.max(run.first_index);
                missing.push(Missing::RunTruncated {
                    index: *i,
                    base_page: run.base_page,
                    page_count: run.page_count,
                    lost,
                });
            }
            if cut.len() > MAX_LISTED_RUNS {
                missing.push(Missing::MoreRunsTruncated(cut.len() - MAX_LISTED_RUNS));
            }
        }
        stored.sort_by_key(|r| r.base_page);
        PhysicalMemory {
            data,
            layout: Layout::Runs {
                data_start,
                runs: stored,
            },
            missing,
            none_reason: (0, ""),
        }
    }

    /// A bitmap layout: `bits` bits at `bitmap_offset`, present pages from `data_start`.
    pub fn from_bitmap(
        data: &'a [u8],
        bitmap_offset: u64,
        bits: u64,
        data_start: u64,
    ) -> Result<Self, KernelError> {
        let file_len = data.len() as u64;
        let bytes = bits.div_ceil(8);
        let bitmap = slice(data, bitmap_offset, bytes)
            .ok_or_else(|| KernelError::truncated("page bitmap", bitmap_offset, bytes, file_len))?;
        let mut rank = Vec::with_capacity(bitmap.len().div_ceil(8).saturating_add(1));
        let mut total = 0u64;
        for w in 0..bitmap.len().div_ceil(8) as u64 {
            rank.push(total);
            total = total.saturating_add(u64::from(word(bitmap, bits, w).count_ones()));
        }
        rank.push(total);
        let mut missing = Vec::new();
        let available = stored_pages_in_file(data, data_start);
        if total > available {
            missing.push(Missing::BitmapPagesTruncated {
                present: available,
                total,
                file_len,
            });
        }
        Ok(PhysicalMemory {
            data,
            layout: Layout::Bitmap {
                data_start,
                bitmap,
                bits,
                rank,
            },
            missing,
            none_reason: (0, ""),
        })
    }

    /// Builds the physical memory a dump's header describes. Problems become [`missing`]
    /// entries; the returned memory is then partial or empty.
    ///
    /// [`missing`]: PhysicalMemory::missing
    pub fn from_dump(data: &'a [u8], header: &DumpHeader) -> Self {
        let hs = header.header_size;
        match header.dump_type {
            1 => match &header.physical_memory {
                Some(desc) => {
                    let runs: Vec<(u64, u64)> = desc
                        .runs
                        .iter()
                        .map(|r| (r.base_page, r.page_count))
                        .collect();
                    let mut pm = Self::from_runs(data, hs, &runs);
                    if u64::from(desc.number_of_runs) > desc.runs.len() as u64 {
                        pm.missing.push(Missing::TooManyRuns {
                            declared: desc.number_of_runs,
                            held: desc.runs.len(),
                        });
                    }
                    let sum = runs.iter().fold(0u64, |a, r| a.saturating_add(r.1));
                    if sum != desc.number_of_pages {
                        pm.missing.push(Missing::PageCountMismatch {
                            declared: desc.number_of_pages,
                            runs: sum,
                        });
                    }
                    pm
                }
                None => Self::none(data, 0x88, "full dump without a physical memory run list"),
            },
            2 => {
                let (sub, bitmap_at) = (
                    hs,
                    if header.width == Width::Bits64 {
                        0x28
                    } else {
                        0x20
                    },
                );
                match (u32_at(data, sub + 0xC), u32_at(data, sub + 0x10)) {
                    (Some(first), Some(bits)) => Self::bitmap_or_none(
                        data,
                        sub + bitmap_at,
                        u64::from(bits),
                        u64::from(first),
                    ),
                    _ => Self::truncated_sub_header(data, sub, "summary dump header"),
                }
            }
            5 | 6 => match (u64_at(data, hs + 0x20), u64_at(data, hs + 0x30)) {
                (Some(first), Some(bits)) => {
                    let mut pm = Self::bitmap_or_none(data, hs + 0x38, bits, first);
                    let sig = slice(data, hs, 8);
                    if sig != Some(b"SDMPDUMP".as_slice()) && sig != Some(b"FDMPDUMP".as_slice()) {
                        pm.missing.push(Missing::BitmapSignature { offset: hs });
                    }
                    pm
                }
                _ => Self::truncated_sub_header(data, hs, "bitmap dump header"),
            },
            8..=0xA => Self::from_rdmp(data, hs),
            3 => Self::none(data, 0xF98, "header-only dump: no page data"),
            4 => Self::none(
                data,
                hs,
                "triage dump: no physical memory, only saved regions",
            ),
            _ => {
                let mut pm = Self::none(data, 0xF98, "unknown dump type: page data layout unknown");
                pm.missing.push(Missing::UnknownDumpType(header.dump_type));
                pm
            }
        }
    }

    fn bitmap_or_none(data: &'a [u8], at: u64, bits: u64, first: u64) -> Self {
        Self::from_bitmap(data, at, bits, first).unwrap_or_else(|e| {
            let mut pm = Self::none(data, at, "page bitmap unreadable");
            pm.missing.push(Missing::PageBitmap(e));
            pm
        })
    }

    fn truncated_sub_header(data: &'a [u8], at: u64, what: &'static str) -> Self {
        let mut pm = Self::none(data, at, "page data sub-header beyond end of file");
        pm.missing
            .push(Missing::SubHeaderBeyondEnd { what, offset: at });
        pm
    }

    /// Debugger-written dumps: `RDMP` header with a range list at 0x30 from the header start.
    fn from_rdmp(data: &'a [u8], at: u64) -> Self {
        let (Some(meta), Some(first)) = (u64_at(data, at + 0x10), u64_at(data, at + 0x18)) else {
            return Self::truncated_sub_header(data, at, "RDMP header");
        };
        let file_len = data.len() as u64;
        let mut runs = Vec::new();
        let mut missing = None;
        // Ranges fill MetadataSize bytes from +0x30 (the field that holds them); a zero PFN ends them.
        let end = at.saturating_add(0x30).saturating_add(meta.min(file_len));
        let mut off = at + 0x30;
        while off.saturating_add(16) <= end {
            let (Some(pfn), Some(count)) = (u64_at(data, off), u64_at(data, off + 8)) else {
                missing = Some(Missing::RangeListBeyondEnd { offset: off });
                break;
            };
            if pfn == 0 {
                break;
            }
            runs.push((pfn, count));
            off += 16;
        }
        let mut pm = Self::from_runs(data, first, &runs);
        pm.missing.extend(missing);
        pm
    }

    /// What is missing from the page data, in words.
    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// Whether the dump carries physical memory at all.
    pub fn has_pages(&self) -> bool {
        !matches!(self.layout, Layout::None)
    }

    /// The 4 KiB page holding physical address `pa`.
    pub fn page(&self, pa: u64) -> Result<&'a [u8], KernelError> {
        let pfn = pa / PAGE_SIZE;
        let (data_start, index) = match &self.layout {
            Layout::None => {
                return Err(KernelError::NoPageData {
                    offset: self.none_reason.0,
                    reason: self.none_reason.1,
                })
            }
            Layout::Runs { data_start, runs } => {
                let pos = runs.partition_point(|r| r.base_page <= pfn);
                let run = pos
                    .checked_sub(1)
                    .and_then(|i| runs.get(i))
                    .filter(|r| pfn - r.base_page < r.page_count)
                    .ok_or(KernelError::PhysicalNotInDump { pa })?;
                (*data_start, run.first_index + (pfn - run.base_page))
            }
            Layout::Bitmap {
                data_start,
                bitmap,
                bits,
                rank,
            } => {
                if pfn >= *bits {
                    return Err(KernelError::PhysicalNotInDump { pa });
                }
                let w = word(bitmap, *bits, pfn / 64);
                let bit = pfn % 64;
                if (w >> bit) & 1 == 0 {
                    return Err(KernelError::PhysicalNotInDump { pa });
                }
                let before = u64::from((w & ((1u64 << bit) - 1)).count_ones());
                let base = usize::try_from(pfn / 64)
                    .ok()
                    .and_then(|i| rank.get(i))
                    .copied()
                    .ok_or(KernelError::PhysicalNotInDump { pa })?;
                (*data_start, base + before)
            }
        };
        let offset = index
            .checked_mul(PAGE_SIZE)
            .and_then(|o| o.checked_add(data_start))
            .ok_or(KernelError::PhysicalNotInDump { pa })?;
        slice(self.data, offset, PAGE_SIZE).ok_or(KernelError::PhysicalBeyondEof { pa, offset })
    }

    /// Reads `buf.len()` bytes from physical address `pa`, page by page.
    pub fn read(&self, pa: u64, buf: &mut [u8]) -> Result<(), KernelError> {
        let mut done = 0usize;
        while done < buf.len() {
            let addr = pa
                .checked_add(done as u64)
                .ok_or(KernelError::PhysicalNotInDump { pa })?;
            let page = self.page(addr)?;
            let in_page = (addr % PAGE_SIZE) as usize;
            let src = page.get(in_page..).unwrap_or(&[]);
            let dst = buf.get_mut(done..).unwrap_or(&mut []);
            let n = src.len().min(dst.len());
            if n == 0 {
                return Err(KernelError::PhysicalNotInDump { pa: addr });
            }
            if let (Some(d), Some(s)) = (dst.get_mut(..n), src.get(..n)) {
                d.copy_from_slice(s);
            }
            done += n;
        }
        Ok(())
    }
}

/// Number of whole pages stored from `data_start` to the end of the file.
fn stored_pages_in_file(data: &[u8], data_start: u64) -> u64 {
    (data.len() as u64).saturating_sub(data_start) / PAGE_SIZE
}

/// 64-bit word `w` of the bitmap, bits at or beyond `bits` cleared.
fn word(bitmap: &[u8], bits: u64, w: u64) -> u64 {
    let mut b = [0u8; 8];
    let start = w.saturating_mul(8);
    for (i, slot) in (0u64..).zip(b.iter_mut()) {
        if let Some(v) = usize::try_from(start + i).ok().and_then(|j| bitmap.get(j)) {
            *slot = *v;
        }
    }
    let value = u64::from_le_bytes(b);
    let first_bit = w.saturating_mul(64);
    match bits.saturating_sub(first_bit) {
        n if n >= 64 => value,
        n => value & ((1u64 << n) - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_rank_lookup() {
        // bitmap: PFNs 1, 3, 64, 130 present (bits 1, 3, 64, 130), 131 bits.
        let mut file = vec![0u8; 0x100];
        let bitmap_at = 0x10u64;
        for pfn in [1u64, 3, 64, 130] {
            let byte = (bitmap_at + pfn / 8) as usize;
            file[byte] |= 1 << (pfn % 8);
        }
        let data_start = 0x100u64;
        for (k, fill) in [0xA1u8, 0xA3, 0xB0, 0xC2].into_iter().enumerate() {
            file.resize(data_start as usize + (k + 1) * 0x1000, fill);
        }
        let pm = PhysicalMemory::from_bitmap(&file, bitmap_at, 131, data_start).unwrap();
        assert!(pm.missing().is_empty());
        assert_eq!(pm.page(0x1000).unwrap()[0], 0xA1);
        assert_eq!(pm.page(0x3abc).unwrap()[5], 0xA3);
        assert_eq!(pm.page(64 * 0x1000).unwrap()[0], 0xB0);
        assert_eq!(pm.page(130 * 0x1000 + 0xfff).unwrap()[0], 0xC2);
        assert!(matches!(
            pm.page(0x2000),
            Err(KernelError::PhysicalNotInDump { .. })
        ));
        assert!(matches!(
            pm.page(131 * 0x1000),
            Err(KernelError::PhysicalNotInDump { .. })
        ));
        // Truncate: the last page is gone and reported.
        let cut = &file[..file.len() - 0x800];
        let pm = PhysicalMemory::from_bitmap(cut, bitmap_at, 131, data_start).unwrap();
        assert_eq!(pm.missing().len(), 1, "{:?}", pm.missing());
        assert!(matches!(
            pm.page(130 * 0x1000),
            Err(KernelError::PhysicalBeyondEof { .. })
        ));
    }

    #[test]
    fn rdmp_range_list() {
        // RDMP header at 0x100: MetadataSize 0x20 (two ranges), first page at 0x200.
        let mut file = vec![0u8; 0x200];
        file[0x110..0x118].copy_from_slice(&0x20u64.to_le_bytes());
        file[0x118..0x120].copy_from_slice(&0x200u64.to_le_bytes());
        for (i, (pfn, count)) in [(0x40u64, 1u64), (0x10, 2)].into_iter().enumerate() {
            let at = 0x130 + 16 * i;
            file[at..at + 8].copy_from_slice(&pfn.to_le_bytes());
            file[at + 8..at + 16].copy_from_slice(&count.to_le_bytes());
        }
        for k in 0..3u8 {
            file.extend(vec![k + 1; 0x1000]);
        }
        let pm = PhysicalMemory::from_rdmp(&file, 0x100);
        assert!(pm.missing().is_empty(), "{:?}", pm.missing());
        assert_eq!(pm.page(0x40 * 0x1000).unwrap()[0], 1);
        assert_eq!(pm.page(0x11 * 0x1000).unwrap()[0], 3);
        let cut = PhysicalMemory::from_rdmp(&file[..file.len() - 0x1000], 0x100);
        assert_eq!(
            cut.missing()[1],
            Missing::RunTruncated {
                index: 1,
                base_page: 0x10,
                page_count: 2,
                lost: 1
            }
        );
        assert!(
            cut.missing()[1].to_string().starts_with(
                "run 1 (PFN 0x10..0x12): 0x1 of 0x2 pages beyond end of file (from PFN 0x11)"
            ),
            "{:?}",
            cut.missing()
        );
    }

    #[test]
    fn runs_lookup_and_cross_page_read() {
        // runs: PFN 5..7 then PFN 2..3, stored in that order.
        let mut file = vec![0u8; 0x10];
        for k in 0..3u8 {
            file.extend(vec![k + 1; 0x1000]);
        }
        let pm = PhysicalMemory::from_runs(&file, 0x10, &[(5, 2), (2, 1)]);
        assert_eq!(pm.page(5 * 0x1000).unwrap()[0], 1);
        assert_eq!(pm.page(6 * 0x1000).unwrap()[0], 2);
        assert_eq!(pm.page(2 * 0x1000).unwrap()[0], 3);
        assert!(pm.page(7 * 0x1000).is_err());
        let mut buf = [0u8; 4];
        pm.read(6 * 0x1000 - 2, &mut buf).unwrap();
        assert_eq!(buf, [1, 1, 2, 2]);
        // PFN 7 is not captured: the read that crosses into it fails.
        assert!(pm.read(7 * 0x1000 - 2, &mut buf).is_err());
    }
}
