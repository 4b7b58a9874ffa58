//! Simulated physical memory: the run list (what RAM exists), the pages that have content, and a
//! deterministic page allocator.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::writer::PAGE;
use super::GenError;

/// One physical memory run: `count` pages starting at page frame `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// First PFN.
    pub(crate) base: u64,
    /// Number of pages.
    pub(crate) count: u64,
}

/// Physical memory of the simulated machine.
#[derive(Debug, Clone)]
pub(crate) struct PhysMem {
    runs: Vec<Run>,
    pages: BTreeMap<u64, Vec<u8>>,
    pool: VecDeque<u64>,
    used: BTreeSet<u64>,
}

impl PhysMem {
    /// Memory described by `runs`; pages are handed out in the order of `pool` (front first),
    /// every entry of which must lie inside a run.
    pub(crate) fn new(runs: Vec<Run>, pool: Vec<u64>) -> Result<Self, GenError> {
        let mut mem = Self {
            runs,
            pages: BTreeMap::new(),
            pool: VecDeque::new(),
            used: BTreeSet::new(),
        };
        for pfn in pool {
            if !mem.in_runs(pfn) {
                return Err(GenError::new(format!("pool PFN {pfn:#x} outside the runs")));
            }
            mem.pool.push_back(pfn);
        }
        Ok(mem)
    }

    /// Every PFN of every run, in order (for building allocation pools).
    pub(crate) fn all_pfns(runs: &[Run]) -> impl Iterator<Item = u64> + '_ {
        runs.iter().flat_map(|r| r.base..r.base + r.count)
    }

    /// The run list.
    pub(crate) fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// Total pages described by the runs.
    pub(crate) fn total_pages(&self) -> u64 {
        self.runs.iter().map(|r| r.count).sum()
    }

    /// Whether `pfn` lies inside a run.
    pub(crate) fn in_runs(&self, pfn: u64) -> bool {
        self.runs
            .iter()
            .any(|r| pfn >= r.base && pfn < r.base + r.count)
    }

    /// Allocates the next free page from the front of the pool.
    pub(crate) fn alloc(&mut self) -> Result<u64, GenError> {
        self.take(false)
    }

    /// Allocates the next free page from the back of the pool.
    pub(crate) fn alloc_last(&mut self) -> Result<u64, GenError> {
        self.take(true)
    }

    /// Takes the next unused page from one end of the pool and gives it a zeroed page.
    fn take(&mut self, from_back: bool) -> Result<u64, GenError> {
        loop {
            let next = if from_back {
                self.pool.pop_back()
            } else {
                self.pool.pop_front()
            };
            let Some(pfn) = next else {
                return Err(GenError::new("out of physical pages"));
            };
            if self.used.insert(pfn) {
                self.pages
                    .entry(pfn)
                    .or_insert_with(|| vec![0; PAGE as usize]);
                return Ok(pfn);
            }
        }
    }

    /// Reserves `count` contiguous pages from `base` (for large pages).
    pub(crate) fn reserve(&mut self, base: u64, count: u64) -> Result<(), GenError> {
        for pfn in base..base + count {
            if !self.in_runs(pfn) || !self.used.insert(pfn) {
                return Err(GenError::new(format!("cannot reserve PFN {pfn:#x}")));
            }
        }
        Ok(())
    }

    /// Writes `data` at physical address `pa`; the write must stay inside one page.
    pub(crate) fn write(&mut self, pa: u64, data: &[u8]) -> Result<(), GenError> {
        let pfn = pa / PAGE;
        let off = (pa % PAGE) as usize;
        if !self.in_runs(pfn) {
            return Err(GenError::new(format!(
                "write to PA {pa:#x} outside the runs"
            )));
        }
        let page = self
            .pages
            .entry(pfn)
            .or_insert_with(|| vec![0; PAGE as usize]);
        match page.get_mut(off..off + data.len()) {
            Some(dst) => {
                dst.copy_from_slice(data);
                Ok(())
            }
            None => Err(GenError::new(format!("write at PA {pa:#x} crosses a page"))),
        }
    }

    /// Reads a little-endian u64 (or u32 when `width` is 4) at `pa` (0 for pages without data).
    pub(crate) fn read_entry(&self, pa: u64, width: usize) -> u64 {
        let off = (pa % PAGE) as usize;
        let Some(page) = self.pages.get(&(pa / PAGE)) else {
            return 0;
        };
        let mut b = [0u8; 8];
        if let (Some(src), Some(dst)) = (page.get(off..off + width), b.get_mut(..width)) {
            dst.copy_from_slice(src);
        }
        u64::from_le_bytes(b)
    }

    /// Reads `len` bytes at `pa` inside one page (zeros for pages without data).
    pub(crate) fn read(&self, pa: u64, len: usize) -> Vec<u8> {
        let off = (pa % PAGE) as usize;
        self.pages
            .get(&(pa / PAGE))
            .and_then(|p| p.get(off..off + len))
            .map(<[u8]>::to_vec)
            .unwrap_or_else(|| vec![0; len])
    }

    /// The content of `pfn`, if the page has any.
    pub(crate) fn page(&self, pfn: u64) -> Option<&[u8]> {
        self.pages.get(&pfn).map(Vec::as_slice)
    }

    /// The PFNs that have content, ascending.
    pub(crate) fn content_pfns(&self) -> impl Iterator<Item = u64> + '_ {
        self.pages.keys().copied()
    }
}

/// The bytes stored for `pfn` in a dump: its content, or a recognisable filler for a page the
/// generator never wrote (`FREEPAGE`, the PFN, zeros), so a mistranslated read is easy to spot.
pub(crate) fn page_bytes(mem: &PhysMem, pfn: u64) -> Vec<u8> {
    match mem.page(pfn) {
        Some(p) => p.to_vec(),
        None => {
            let mut v = vec![0u8; PAGE as usize];
            let mut marker = b"FREEPAGE".to_vec();
            marker.extend_from_slice(&pfn.to_le_bytes());
            if let Some(dst) = v.get_mut(..marker.len()) {
                dst.copy_from_slice(&marker);
            }
            v
        }
    }
}

/// Physical memory runs covering about `total` bytes: the classic first run below 640 KiB, then
/// RAM up to 3 GiB, then (for larger sizes) everything above 4 GiB.
pub(crate) fn sparse_runs(total: u64) -> Vec<(u64, u64)> {
    let pages = total / PAGE;
    let low = pages.saturating_sub(0x100).min(0xC_0000 - 0x100);
    let mut v = vec![(0x1, 0x9E), (0x100, low)];
    let rest = pages.saturating_sub(0x100 + low);
    if rest > 0 {
        v.push((0x10_0000, rest));
    }
    v
}
