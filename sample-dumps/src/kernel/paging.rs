//! Page-table builders for the paging modes Windows kernel dumps use: x86 without PAE
//! (10/10/12, 4-byte entries), x86 PAE (2/9/9/12, 8-byte entries, PDPT at CR3 & ~0x1F), x64
//! (9/9/9/9/12), and ARM64 with the 4 KiB granule (9/9/9/9/12; 0b11 tables and pages, 0b01
//! blocks). The tables live in the simulated physical memory and are dumped with it.

use super::phys::PhysMem;
use super::writer::PAGE;
use super::GenError;

/// The paging mode of the simulated machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paging {
    /// x86, two levels, 4-byte entries.
    X86,
    /// x86 with PAE, three levels, 8-byte entries.
    X86Pae,
    /// x64, four levels.
    X64,
    /// ARM64, 4 KiB granule, four levels of 8-byte descriptors (table/page 0b11, block 0b01),
    /// the root in DirectoryTableBase for both halves.
    Arm64,
}

/// What a mapped page holds (decides the protection bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prot {
    /// Read-only, executable.
    Code,
    /// Read-write, not executable.
    Data,
}

const P: u64 = 0x1;
const RW: u64 = 0x2;
const ACC: u64 = 0x20;
const DIRTY: u64 = 0x40;
const PS: u64 = 0x80;
const GLOBAL: u64 = 0x100;
/// Windows' software "write" bit in a valid PTE, and the transition bit in an invalid one.
const SW_WRITE: u64 = 0x800;
const NX: u64 = 1 << 63;
/// Upper-level (non-leaf) entry flags.
const TABLE: u64 = P | RW | ACC | DIRTY;
/// ARM64: table descriptor; page descriptor with the access flag; its execute-never bits
/// (PXN, UXN); a block descriptor with the access flag.
const ARM64_TABLE: u64 = 0b11;
const ARM64_PAGE: u64 = 0b11 | 0x400;
const ARM64_XN: u64 = (1 << 53) | (1 << 54);
const ARM64_BLOCK: u64 = 0b01 | 0x400;
/// Offset of the PAE PDPT inside its page (CR3 need only be 32-byte aligned).
const PAE_PDPT_OFFSET: u64 = 0x20;
/// x64 self-map PML4 slot used by Windows 7 / 8.1 (0xFFFFF680`00000000).
const X64_SELF_MAP: u64 = 0x1ED;

/// A machine: paging mode, physical memory and the root of its page tables.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    /// Paging mode.
    pub(crate) paging: Paging,
    /// Physical memory (page tables included).
    pub(crate) phys: PhysMem,
    /// Physical address of the root table (PD, PDPT or PML4).
    root: u64,
}

impl Machine {
    /// Creates the root tables (and, for PAE, the four page directories).
    pub(crate) fn new(paging: Paging, mut phys: PhysMem) -> Result<Self, GenError> {
        let root_pfn = phys.alloc()?;
        let root = match paging {
            Paging::X86 => {
                let pa = root_pfn * PAGE;
                // Self-map at 0xC0000000: PD[0x300] -> PD.
                phys.write(pa + 0x300 * 4, &((pa | TABLE) as u32).to_le_bytes())?;
                pa
            }
            Paging::X86Pae => {
                let pdpt = root_pfn * PAGE + PAE_PDPT_OFFSET;
                let mut pds = [0u64; 4];
                for (i, slot) in pds.iter_mut().enumerate() {
                    let pd = phys.alloc()? * PAGE;
                    *slot = pd;
                    // PDPTEs allow only P (and cache bits): RW/A/D are reserved there.
                    phys.write(pdpt + 8 * i as u64, &(pd | P).to_le_bytes())?;
                }
                // Self-map at 0xC0000000: PD3[0..4] -> the four PDs (PDEs at 0xC0600000).
                for (i, pd) in pds.iter().enumerate() {
                    phys.write(pds[3] + 8 * i as u64, &((pd | TABLE) | NX).to_le_bytes())?;
                }
                pdpt
            }
            Paging::X64 => {
                let pa = root_pfn * PAGE;
                phys.write(pa + X64_SELF_MAP * 8, &((pa | TABLE) | NX).to_le_bytes())?;
                pa
            }
            Paging::Arm64 => root_pfn * PAGE,
        };
        Ok(Self { paging, phys, root })
    }

    /// The value for the header's DirectoryTableBase (without PCID bits).
    pub(crate) fn directory_table_base(&self) -> u64 {
        self.root
    }

    /// Pointer width of the machine in bytes.
    pub(crate) fn ptr_width(&self) -> usize {
        if matches!(self.paging, Paging::X64 | Paging::Arm64) {
            8
        } else {
            4
        }
    }

    fn entry_width(&self) -> usize {
        if self.paging == Paging::X86 {
            4
        } else {
            8
        }
    }

    fn leaf_flags(&self, prot: Prot) -> u64 {
        if self.paging == Paging::Arm64 {
            return match prot {
                Prot::Code => ARM64_PAGE,
                Prot::Data => ARM64_PAGE | ARM64_XN,
            };
        }
        let nx = if self.paging == Paging::X86 { 0 } else { NX };
        match prot {
            Prot::Code => P | ACC | GLOBAL,
            Prot::Data => P | RW | ACC | DIRTY | GLOBAL | SW_WRITE | nx,
        }
    }

    /// Table indices from the root down to the leaf table, with the physical address of the
    /// root-level table the walk starts from.
    fn indices(&self, va: u64) -> Vec<u64> {
        match self.paging {
            Paging::X86 => vec![(va >> 22) & 0x3ff, (va >> 12) & 0x3ff],
            Paging::X86Pae => vec![(va >> 30) & 3, (va >> 21) & 0x1ff, (va >> 12) & 0x1ff],
            Paging::X64 | Paging::Arm64 => vec![
                (va >> 39) & 0x1ff,
                (va >> 30) & 0x1ff,
                (va >> 21) & 0x1ff,
                (va >> 12) & 0x1ff,
            ],
        }
    }

    fn entry_pa(&self, table: u64, index: u64) -> u64 {
        table + index * self.entry_width() as u64
    }

    fn write_entry(&mut self, pa: u64, value: u64) -> Result<(), GenError> {
        if self.entry_width() == 4 {
            self.phys.write(pa, &(value as u32).to_le_bytes())
        } else {
            self.phys.write(pa, &value.to_le_bytes())
        }
    }

    /// Physical address of the table entry for `va` at `depth` levels above the leaf
    /// (`up` = 0: PTE, 1: PDE), creating missing intermediate tables.
    fn entry_for(&mut self, va: u64, up: usize) -> Result<u64, GenError> {
        let idx = self.indices(va);
        let levels = idx.len();
        let mut table = self.root;
        for (level, &i) in idx.iter().enumerate().take(levels - up) {
            let epa = self.entry_pa(table, i);
            if level + 1 == levels - up {
                return Ok(epa);
            }
            let e = self.phys.read_entry(epa, self.entry_width());
            if e & P == 0 {
                if self.paging == Paging::X86Pae && level == 0 {
                    return Err(GenError::new("PAE PDPTE missing"));
                }
                let pfn = self.phys.alloc()?;
                let table_flags = if self.paging == Paging::Arm64 {
                    ARM64_TABLE
                } else {
                    TABLE
                };
                self.write_entry(epa, (pfn * PAGE) | table_flags)?;
                table = pfn * PAGE;
            } else if self.is_large(e) && self.large_size_at(level, levels).is_some() {
                return Err(GenError::new(format!(
                    "{va:#x} already inside a large page"
                )));
            } else {
                table = e & 0x000f_ffff_ffff_f000;
            }
        }
        Err(GenError::new("bad paging depth"))
    }

    /// Maps the 4 KiB page at `va` to `pfn`.
    pub(crate) fn map_page(&mut self, va: u64, pfn: u64, prot: Prot) -> Result<(), GenError> {
        let epa = self.entry_for(va, 0)?;
        let flags = self.leaf_flags(prot);
        self.write_entry(epa, (pfn * PAGE) | flags)
    }

    /// Maps `va` with a transition PTE (not valid, bit 11 set, bit 10 clear, protection
    /// read-write): the data is still in `pfn` and readers must follow it.
    pub(crate) fn map_transition(&mut self, va: u64, pfn: u64) -> Result<(), GenError> {
        if self.paging == Paging::Arm64 {
            return Err(GenError::new(
                "transition PTEs are written for x86 and x64 only",
            ));
        }
        let epa = self.entry_for(va, 0)?;
        self.write_entry(epa, (pfn * PAGE) | SW_WRITE | (4 << 5))
    }

    /// Size in bytes of a large page in this paging mode.
    pub(crate) fn large_page_size(&self) -> u64 {
        if self.paging == Paging::X86 {
            0x40_0000
        } else {
            0x20_0000
        }
    }

    /// Page size mapped by a PS entry at `level` (0 = root) of a walk with `levels` levels.
    fn large_size_at(&self, level: usize, levels: usize) -> Option<u64> {
        if level + 2 == levels {
            Some(self.large_page_size())
        } else if matches!(self.paging, Paging::X64 | Paging::Arm64) && level == 1 {
            Some(1 << 30)
        } else {
            None
        }
    }

    /// Whether a valid non-leaf entry maps a large page (x86/x64 PS bit; ARM64 block
    /// descriptor, bits 1:0 = 0b01).
    fn is_large(&self, e: u64) -> bool {
        if self.paging == Paging::Arm64 {
            e & 3 == 1
        } else {
            e & PS != 0
        }
    }

    /// Maps a large page (2 MiB, or 4 MiB without PAE) at `va` to the reserved block at `pfn`.
    pub(crate) fn map_large(&mut self, va: u64, pfn: u64) -> Result<(), GenError> {
        let size = self.large_page_size();
        if va % size != 0 || (pfn * PAGE) % size != 0 {
            return Err(GenError::new("misaligned large page"));
        }
        self.phys.reserve(pfn, size / PAGE)?;
        let epa = self.entry_for(va, 1)?;
        let flags = if self.paging == Paging::Arm64 {
            ARM64_BLOCK
        } else {
            P | RW | ACC | DIRTY | PS | GLOBAL | SW_WRITE
        };
        self.write_entry(epa, (pfn * PAGE) | flags)
    }

    /// Translates `va` to a physical address (valid, large and transition entries), or `None`.
    pub(crate) fn translate(&self, va: u64) -> Option<u64> {
        let idx = self.indices(va);
        let levels = idx.len();
        let mut table = self.root;
        for (level, &i) in idx.iter().enumerate() {
            let e = self
                .phys
                .read_entry(self.entry_pa(table, i), self.entry_width());
            let leaf = level + 1 == levels;
            let mask = if self.entry_width() == 4 {
                0xffff_f000
            } else {
                0x000f_ffff_ffff_f000
            };
            if e & P == 0 {
                if leaf && e & SW_WRITE != 0 && e & 0x400 == 0 && e & mask != 0 {
                    return Some((e & mask) | (va & 0xfff));
                }
                return None;
            }
            if let (false, true, Some(size)) =
                (leaf, self.is_large(e), self.large_size_at(level, levels))
            {
                return Some((e & mask & !(size - 1)) | (va & (size - 1)));
            }
            if leaf {
                return Some((e & mask) | (va & 0xfff));
            }
            table = e & mask;
        }
        None
    }

    /// Makes sure every page of `[va, va+len)` is mapped, allocating fresh pages for the
    /// missing ones (from the back of the pool when `last`).
    pub(crate) fn ensure(
        &mut self,
        va: u64,
        len: u64,
        prot: Prot,
        last: bool,
    ) -> Result<(), GenError> {
        let mut page = va & !(PAGE - 1);
        let end = va.saturating_add(len.max(1));
        while page < end {
            if self.translate(page).is_none() {
                let pfn = if last {
                    self.phys.alloc_last()?
                } else {
                    self.phys.alloc()?
                };
                self.map_page(page, pfn, prot)?;
            }
            page = page.wrapping_add(PAGE);
            if page == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Writes `data` at `va` through the page tables (page by page).
    pub(crate) fn write(&mut self, va: u64, data: &[u8]) -> Result<(), GenError> {
        let mut done = 0usize;
        while done < data.len() {
            let cur = va.wrapping_add(done as u64);
            let pa = self
                .translate(cur)
                .ok_or_else(|| GenError::new(format!("write to unmapped VA {cur:#x}")))?;
            let room = (PAGE - (cur % PAGE)) as usize;
            let n = room.min(data.len() - done);
            let chunk = data
                .get(done..done + n)
                .ok_or_else(|| GenError::new("write slice"))?;
            self.phys.write(pa, chunk)?;
            done += n;
        }
        Ok(())
    }

    /// Writes a pointer-sized value.
    pub(crate) fn write_ptr(&mut self, va: u64, v: u64) -> Result<(), GenError> {
        if self.ptr_width() == 4 {
            self.write(va, &(v as u32).to_le_bytes())
        } else {
            self.write(va, &v.to_le_bytes())
        }
    }

    /// Reads `len` bytes at `va` (`None` if any page is unmapped).
    pub(crate) fn read(&self, va: u64, len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let cur = va.wrapping_add(out.len() as u64);
            let pa = self.translate(cur)?;
            let room = (PAGE - (cur % PAGE)) as usize;
            let n = room.min(len - out.len());
            out.extend_from_slice(&self.phys.read(pa, n));
        }
        Some(out)
    }
}
