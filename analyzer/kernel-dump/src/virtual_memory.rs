//! Virtual-to-physical translation and virtual reads.
//!
//! The kernel's own structures (module list, PE headers, the stack) are at virtual addresses;
//! full, summary and bitmap dumps only store physical pages, so every read walks the page
//! tables of the DirectoryTableBase: x64 4-level (with 2 MiB / 1 GiB pages and transition
//! PTEs), x86 PAE (3-level) and x86 non-PAE (2-level). Each page of a read is translated on its
//! own: a read crossing a page boundary must not continue in the physically next page.
//! Triage dumps have no page tables; they implement [`VirtualRead`] over their saved regions.

use super::error::KernelError;
use super::physical::{PhysicalMemory, PAGE_SIZE};

/// Something that reads physical memory (the dump, or a test fake).
pub trait PhysicalRead {
    /// Fills `buf` from physical address `pa`.
    fn read_physical(&self, pa: u64, buf: &mut [u8]) -> Result<(), KernelError>;
}

impl PhysicalRead for PhysicalMemory<'_> {
    fn read_physical(&self, pa: u64, buf: &mut [u8]) -> Result<(), KernelError> {
        self.read(pa, buf)
    }
}

/// Something that reads virtual memory.
pub trait VirtualRead {
    /// Fills `buf` from virtual address `va`; fails if any byte is unavailable.
    fn read_virtual(&self, va: u64, buf: &mut [u8]) -> Result<(), KernelError>;

    /// Little-endian u16 at `va`.
    fn read_u16(&self, va: u64) -> Result<u16, KernelError> {
        let mut b = [0u8; 2];
        self.read_virtual(va, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    /// Little-endian u32 at `va`.
    fn read_u32(&self, va: u64) -> Result<u32, KernelError> {
        let mut b = [0u8; 4];
        self.read_virtual(va, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    /// Little-endian u64 at `va`.
    fn read_u64(&self, va: u64) -> Result<u64, KernelError> {
        let mut b = [0u8; 8];
        self.read_virtual(va, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Pointer at `va`: u64, or u32 zero-extended.
    fn read_ptr(&self, va: u64, ptr64: bool) -> Result<u64, KernelError> {
        if ptr64 {
            self.read_u64(va)
        } else {
            self.read_u32(va).map(u64::from)
        }
    }
}

/// The paging mode and its root table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// x64 4-level paging; the PML4 physical address (PCID bits already cleared).
    X64 {
        /// PML4 physical address.
        pml4: u64,
    },
    /// x86 PAE; the PDPT physical address (CR3 & !0x1F).
    Pae {
        /// PDPT physical address.
        pdpt: u64,
    },
    /// x86 without PAE; the page directory physical address.
    NonPae {
        /// Page directory physical address.
        pd: u64,
    },
    /// ARM64, 4 KiB granule, 48-bit addresses: four levels of 8-byte descriptors; the root is
    /// the DirectoryTableBase (a TTBR value: ASID and CnP bits are not part of the address).
    /// Windows indexes the kernel half through the same root.
    Arm64 {
        /// Level 0 table physical address.
        root: u64,
    },
    /// No translation available (unknown machine).
    Unsupported(&'static str),
}

impl Paging {
    /// The paging mode for a machine type, its DirectoryTableBase and the PAE flag.
    pub fn for_machine(machine: u32, dtb: u64, pae: bool) -> Paging {
        match machine {
            0x8664 => Paging::X64 { pml4: dtb & !0xFFF },
            0x14C if pae => Paging::Pae {
                pdpt: dtb & 0xFFFF_FFE0,
            },
            0x14C => Paging::NonPae {
                pd: dtb & 0xFFFF_F000,
            },
            0xAA64 => Paging::Arm64 {
                root: dtb & ARM64_ADDRESS,
            },
            _ => Paging::Unsupported("unknown machine type: no address translation"),
        }
    }
}

/// Physical frame bits of a 64-bit entry (bits 12..51).
const PFN_MASK: u64 = 0x000F_FFFF_FFFF_F000;
const PRESENT: u64 = 1;
const LARGE: u64 = 1 << 7;
const PROTOTYPE: u64 = 1 << 10;
const TRANSITION: u64 = 1 << 11;

fn entry64(mem: &impl PhysicalRead, pa: u64) -> Result<u64, KernelError> {
    let mut b = [0u8; 8];
    mem.read_physical(pa, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn entry32(mem: &impl PhysicalRead, pa: u64) -> Result<u64, KernelError> {
    let mut b = [0u8; 4];
    mem.read_physical(pa, &mut b)?;
    Ok(u64::from(u32::from_le_bytes(b)))
}

/// A present entry of a non-last level, or the error naming it.
fn require_present(
    va: u64,
    level: &'static str,
    entry: u64,
    entry_pa: u64,
) -> Result<u64, KernelError> {
    if entry & PRESENT != 0 {
        Ok(entry)
    } else {
        Err(KernelError::NotMapped {
            va,
            level,
            entry,
            entry_pa,
        })
    }
}

/// A last-level PTE: present, or a transition PTE (valid 0, transition 1, prototype 0) whose
/// page is still in memory.
fn last_level(va: u64, entry: u64, entry_pa: u64) -> Result<u64, KernelError> {
    let transition = entry & TRANSITION != 0 && entry & PROTOTYPE == 0;
    if entry & PRESENT != 0 || transition {
        Ok(entry)
    } else {
        Err(KernelError::NotMapped {
            va,
            level: "PTE",
            entry,
            entry_pa,
        })
    }
}

/// ARM64 descriptor output address (bits 12..47).
const ARM64_ADDRESS: u64 = 0x0000_FFFF_FFFF_F000;

/// ARM64: descriptors whose bits 1:0 are 0b11 point at the next table (levels 0 to 2) or map a
/// page (level 3); 0b01 maps a 1 GiB (level 1) or 2 MiB (level 2) block; bit 0 clear is
/// invalid.
fn translate_arm64(root: u64, mem: &impl PhysicalRead, va: u64) -> Result<u64, KernelError> {
    const LEVELS: [(&str, u32); 4] = [("L0", 39), ("L1", 30), ("L2", 21), ("L3", 12)];
    let mut table = root;
    for (depth, (level, shift)) in LEVELS.into_iter().enumerate() {
        let pa = table + ((va >> shift) & 0x1FF) * 8;
        let e = entry64(mem, pa)?;
        let kind = e & 3;
        let not_mapped = KernelError::NotMapped {
            va,
            level,
            entry: e,
            entry_pa: pa,
        };
        match (depth, kind) {
            (3, 3) => return Ok((e & ARM64_ADDRESS) | (va & 0xFFF)),
            (1 | 2, 1) => {
                let span = (1u64 << shift) - 1;
                return Ok((e & ARM64_ADDRESS & !span) | (va & span));
            }
            (0..=2, 3) => table = e & ARM64_ADDRESS,
            _ => return Err(not_mapped),
        }
    }
    Err(KernelError::VirtualNotInDump { va })
}

/// Translates `va` to a physical address.
pub fn translate(paging: Paging, mem: &impl PhysicalRead, va: u64) -> Result<u64, KernelError> {
    match paging {
        Paging::X64 { pml4 } => {
            let idx = |shift: u32| ((va >> shift) & 0x1FF) * 8;
            let pa = pml4 + idx(39);
            let e = require_present(va, "PML4E", entry64(mem, pa)?, pa)?;
            let pa = (e & PFN_MASK) + idx(30);
            let e = require_present(va, "PDPTE", entry64(mem, pa)?, pa)?;
            if e & LARGE != 0 {
                return Ok((e & PFN_MASK & !0x3FFF_FFFF) | (va & 0x3FFF_FFFF));
            }
            let pa = (e & PFN_MASK) + idx(21);
            let e = require_present(va, "PDE", entry64(mem, pa)?, pa)?;
            if e & LARGE != 0 {
                return Ok((e & PFN_MASK & !0x1F_FFFF) | (va & 0x1F_FFFF));
            }
            let pa = (e & PFN_MASK) + idx(12);
            let e = last_level(va, entry64(mem, pa)?, pa)?;
            Ok((e & PFN_MASK) | (va & 0xFFF))
        }
        Paging::Pae { pdpt } => {
            let va = va & 0xFFFF_FFFF;
            let pa = pdpt + ((va >> 30) & 0x3) * 8;
            let e = require_present(va, "PDPTE", entry64(mem, pa)?, pa)?;
            let pa = (e & PFN_MASK) + ((va >> 21) & 0x1FF) * 8;
            let e = require_present(va, "PDE", entry64(mem, pa)?, pa)?;
            if e & LARGE != 0 {
                return Ok((e & PFN_MASK & !0x1F_FFFF) | (va & 0x1F_FFFF));
            }
            let pa = (e & PFN_MASK) + ((va >> 12) & 0x1FF) * 8;
            let e = last_level(va, entry64(mem, pa)?, pa)?;
            Ok((e & PFN_MASK) | (va & 0xFFF))
        }
        Paging::NonPae { pd } => {
            let va = va & 0xFFFF_FFFF;
            let pa = pd + ((va >> 22) & 0x3FF) * 4;
            let e = require_present(va, "PDE", entry32(mem, pa)?, pa)?;
            if e & LARGE != 0 {
                return Ok((e & 0xFFC0_0000) | (va & 0x3F_FFFF));
            }
            let pa = (e & 0xFFFF_F000) + ((va >> 12) & 0x3FF) * 4;
            let e = last_level(va, entry32(mem, pa)?, pa)?;
            Ok((e & 0xFFFF_F000) | (va & 0xFFF))
        }
        Paging::Arm64 { root } => translate_arm64(root, mem, va),
        Paging::Unsupported(reason) => Err(KernelError::NoPageData {
            offset: 0x30,
            reason,
        }),
    }
}

/// Virtual memory through page tables over some physical memory.
#[derive(Debug)]
pub struct PagedMemory<'m, M> {
    /// Paging mode and root.
    pub paging: Paging,
    /// The physical memory.
    pub memory: &'m M,
}

impl<M> Clone for PagedMemory<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M> Copy for PagedMemory<'_, M> {}

impl<M: PhysicalRead> VirtualRead for PagedMemory<'_, M> {
    fn read_virtual(&self, va: u64, buf: &mut [u8]) -> Result<(), KernelError> {
        let mut done = 0usize;
        // Each iteration consumes at least one byte and at most one page: bounded by buf.len().
        while done < buf.len() {
            let addr = va
                .checked_add(done as u64)
                .ok_or(KernelError::VirtualNotInDump { va })?;
            let in_page = addr % PAGE_SIZE;
            let n = ((PAGE_SIZE - in_page) as usize).min(buf.len() - done);
            let pa = translate(self.paging, self.memory, addr)?;
            let dst = buf
                .get_mut(done..done + n)
                .ok_or(KernelError::VirtualNotInDump { va: addr })?;
            self.memory.read_physical(pa, dst)?;
            done += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Sparse physical memory for hand-built page tables.
    #[derive(Default)]
    struct FakePhys(HashMap<u64, u8>);

    impl FakePhys {
        fn put64(&mut self, pa: u64, v: u64) {
            for (i, b) in v.to_le_bytes().into_iter().enumerate() {
                self.0.insert(pa + i as u64, b);
            }
        }
        fn put32(&mut self, pa: u64, v: u32) {
            for (i, b) in v.to_le_bytes().into_iter().enumerate() {
                self.0.insert(pa + i as u64, b);
            }
        }
        fn put(&mut self, pa: u64, bytes: &[u8]) {
            for (i, b) in bytes.iter().enumerate() {
                self.0.insert(pa + i as u64, *b);
            }
        }
    }

    impl PhysicalRead for FakePhys {
        fn read_physical(&self, pa: u64, buf: &mut [u8]) -> Result<(), KernelError> {
            for (i, slot) in buf.iter_mut().enumerate() {
                let a = pa + i as u64;
                *slot = *self
                    .0
                    .get(&a)
                    .ok_or(KernelError::PhysicalNotInDump { pa: a })?;
            }
            Ok(())
        }
    }

    const VA: u64 = 0xFFFF_F804_8B58_334C;

    fn x64_indices(va: u64) -> [u64; 4] {
        [39, 30, 21, 12].map(|s| (va >> s) & 0x1FF)
    }

    #[test]
    fn x64_4k_with_pcid_and_transition() {
        let mut m = FakePhys::default();
        let dtb_with_pcid = 0x1AD002u64;
        let pml4 = 0x1AD000;
        let [i4, i3, i2, i1] = x64_indices(VA);
        m.put64(pml4 + i4 * 8, 0x20_0000 | 0x63);
        m.put64(0x20_0000 + i3 * 8, 0x30_0000 | 0x63);
        m.put64(0x30_0000 + i2 * 8, 0x40_0000 | 0x63);
        m.put64(0x40_0000 + i1 * 8, 0x8000_0000_5555_5000 | 0x63); // NX bit set
        let paging = Paging::for_machine(0x8664, dtb_with_pcid, false);
        assert_eq!(paging, Paging::X64 { pml4 });
        assert_eq!(translate(paging, &m, VA).unwrap(), 0x5555_534C);
        // Transition PTE: P=0, bit 11 set, bit 10 clear -> still translates.
        m.put64(0x40_0000 + i1 * 8, 0x6666_6000 | TRANSITION);
        assert_eq!(translate(paging, &m, VA).unwrap(), 0x6666_634C);
        // Prototype PTE (bit 10 set): not in memory.
        m.put64(0x40_0000 + i1 * 8, 0x6666_6000 | TRANSITION | PROTOTYPE);
        assert!(matches!(
            translate(paging, &m, VA),
            Err(KernelError::NotMapped { level: "PTE", .. })
        ));
        // Not present PDE.
        m.put64(0x30_0000 + i2 * 8, 0x40_0000);
        assert!(matches!(
            translate(paging, &m, VA),
            Err(KernelError::NotMapped { level: "PDE", .. })
        ));
    }

    /// ARM64 descriptors: table (0b11) at levels 0-2, page (0b11) at level 3 with the access
    /// flag and upper attributes (UXN/PXN) set, a 2 MiB block (0b01) at level 2, an invalid
    /// entry; the TTBR's ASID is not part of the root.
    #[test]
    fn arm64_4k_granule() {
        let mut m = FakePhys::default();
        let root = 0x8_1000u64;
        let ttbr_with_asid = 0x0042_0000_0008_1000u64;
        let [i0, i1, i2, i3] = x64_indices(VA);
        m.put64(root + i0 * 8, 0x20_0000 | 3);
        m.put64(0x20_0000 + i1 * 8, 0x30_0000 | 3);
        m.put64(0x30_0000 + i2 * 8, 0x40_0000 | 3);
        m.put64(0x40_0000 + i3 * 8, 0x0060_0000_5555_5000 | 0x400 | 0x3);
        let paging = Paging::for_machine(0xAA64, ttbr_with_asid, false);
        assert_eq!(paging, Paging::Arm64 { root });
        assert_eq!(translate(paging, &m, VA).unwrap(), 0x5555_534C);
        // A 2 MiB block at level 2.
        m.put64(0x30_0000 + i2 * 8, 0x7740_0000 | 0x401);
        assert_eq!(
            translate(paging, &m, VA).unwrap(),
            0x7740_0000 | (VA & 0x1F_FFFF)
        );
        // A block descriptor at level 3 is reserved: not mapped.
        m.put64(0x30_0000 + i2 * 8, 0x40_0000 | 3);
        m.put64(0x40_0000 + i3 * 8, 0x5555_5000 | 1);
        assert!(matches!(
            translate(paging, &m, VA),
            Err(KernelError::NotMapped { level: "L3", .. })
        ));
        // An invalid level 1 descriptor.
        m.put64(0x20_0000 + i1 * 8, 0x30_0000);
        assert!(matches!(
            translate(paging, &m, VA),
            Err(KernelError::NotMapped { level: "L1", .. })
        ));
    }

    #[test]
    fn x64_large_pages() {
        let mut m = FakePhys::default();
        let [i4, i3, i2, _] = x64_indices(VA);
        m.put64(0x1000 + i4 * 8, 0x2000 | 0x3);
        // 2 MiB page with the PAT bit (12) set: it must not leak into the address.
        m.put64(0x2000 + i3 * 8, 0x3000 | 0x3);
        m.put64(0x3000 + i2 * 8, 0x1_2340_0000 | LARGE | (1 << 12) | 0x3);
        let paging = Paging::X64 { pml4: 0x1000 };
        assert_eq!(
            translate(paging, &m, VA).unwrap(),
            0x1_2340_0000 | (VA & 0x1F_FFFF)
        );
        // 1 GiB page.
        m.put64(0x2000 + i3 * 8, 0x4_0000_0000 | LARGE | (1 << 12) | 0x3);
        assert_eq!(
            translate(paging, &m, VA).unwrap(),
            0x4_0000_0000 | (VA & 0x3FFF_FFFF)
        );
    }

    #[test]
    fn pae_translation() {
        let mut m = FakePhys::default();
        let va = 0x8123_4567u64;
        let cr3 = 0x0033_1FE0u64 | 0x18; // low bits beyond 0x1F alignment are flags
        let paging = Paging::for_machine(0x14C, cr3, true);
        let pdpt = 0x0033_1FE0;
        assert_eq!(paging, Paging::Pae { pdpt });
        m.put64(pdpt + ((va >> 30) & 3) * 8, 0x5000 | 1);
        m.put64(0x5000 + ((va >> 21) & 0x1FF) * 8, 0x6000 | 0x63);
        m.put64(
            0x6000 + ((va >> 12) & 0x1FF) * 8,
            0x8000_0000_0077_7000 | 0x63,
        );
        assert_eq!(translate(paging, &m, va).unwrap(), 0x77_7567);
        // 2 MiB page.
        m.put64(0x5000 + ((va >> 21) & 0x1FF) * 8, 0x0A00_0000 | LARGE | 1);
        assert_eq!(
            translate(paging, &m, va).unwrap(),
            0x0A00_0000 | (va & 0x1F_FFFF)
        );
    }

    #[test]
    fn non_pae_translation() {
        let mut m = FakePhys::default();
        let va = 0x8123_4567u64;
        let paging = Paging::for_machine(0x14C, 0x0039_0000, false);
        assert_eq!(paging, Paging::NonPae { pd: 0x39_0000 });
        m.put32(0x39_0000 + (va >> 22) * 4, 0x7000 | 0x63);
        m.put32(0x7000 + ((va >> 12) & 0x3FF) * 4, 0x0012_3000 | 0x63);
        assert_eq!(translate(paging, &m, va).unwrap(), 0x12_3567);
        // 4 MiB page.
        m.put32(0x39_0000 + (va >> 22) * 4, 0x0840_0000 | LARGE as u32 | 1);
        assert_eq!(
            translate(paging, &m, va).unwrap(),
            0x0840_0000 | (va & 0x3F_FFFF)
        );
    }

    #[test]
    fn cross_page_read_translates_each_page() {
        let mut m = FakePhys::default();
        let va = 0xFFFF_F800_0000_0FFCu64;
        let [i4, i3, i2, i1] = x64_indices(va);
        m.put64(0x1000 + i4 * 8, 0x2000 | 1);
        m.put64(0x2000 + i3 * 8, 0x3000 | 1);
        m.put64(0x3000 + i2 * 8, 0x4000 | 1);
        // Virtually adjacent pages map to physically distant frames, in reverse order.
        m.put64(0x4000 + i1 * 8, 0x9000 | 1);
        m.put64(0x4000 + (i1 + 1) * 8, 0x7000 | 1);
        m.put(0x9FFC, &[1, 2, 3, 4]);
        m.put(0xA000, &[0xEE; 4]); // physically next page: must not be read
        m.put(0x7000, &[5, 6, 7, 8]);
        let vm = PagedMemory {
            paging: Paging::X64 { pml4: 0x1000 },
            memory: &m,
        };
        let mut buf = [0u8; 8];
        vm.read_virtual(va, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(
            vm.read_u32(va + 2).unwrap(),
            u32::from_le_bytes([3, 4, 5, 6])
        );
    }
}
