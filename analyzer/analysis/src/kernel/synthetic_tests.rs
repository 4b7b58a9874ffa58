//! End-to-end tests over hand-built full dumps: x64, x86 PAE and x86 non-PAE page tables, an
//! LDR module list, a PE image with debug id and version resource, and a stack page.

use std::collections::BTreeMap;

use super::tests::survives_cuts;
use super::*;
use kernel_dump::*;

/// Paging mode of a built dump.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    X64,
    Pae,
    NonPae,
}

impl Mode {
    /// (shift, index mask) of each table level, root first, leaf last.
    fn levels(self) -> &'static [(u64, u64)] {
        match self {
            Mode::X64 => &[(39, 0x1FF), (30, 0x1FF), (21, 0x1FF), (12, 0x1FF)],
            Mode::Pae => &[(30, 0x3), (21, 0x1FF), (12, 0x1FF)],
            Mode::NonPae => &[(22, 0x3FF), (12, 0x3FF)],
        }
    }
    fn entry_size(self) -> u64 {
        if self == Mode::NonPae {
            4
        } else {
            8
        }
    }
    fn ptr64(self) -> bool {
        self == Mode::X64
    }
}

/// Page tables plus pages, by PFN; tables below `DATA_PFN_BASE`, data from it.
struct Builder {
    mode: Mode,
    pages: BTreeMap<u64, Vec<u8>>,
    next_table: u64,
}

const ROOT_PFN: u64 = 0x10;
const DATA_PFN_BASE: u64 = 0x100;

fn put(p: &mut [u8], off: usize, v: &[u8]) {
    p[off..off + v.len()].copy_from_slice(v);
}

impl Builder {
    fn new(mode: Mode) -> Self {
        let mut pages = BTreeMap::new();
        pages.insert(ROOT_PFN, vec![0; 0x1000]);
        Builder {
            mode,
            pages,
            next_table: ROOT_PFN + 1,
        }
    }

    fn entry(&self, pfn: u64, off: u64) -> u64 {
        let p = &self.pages[&pfn];
        let o = off as usize;
        match self.mode.entry_size() {
            4 => u64::from(u32::from_le_bytes(p[o..o + 4].try_into().unwrap())),
            _ => u64::from_le_bytes(p[o..o + 8].try_into().unwrap()),
        }
    }

    fn set_entry(&mut self, pfn: u64, off: u64, v: u64) {
        let size = self.mode.entry_size() as usize;
        let page = self.pages.get_mut(&pfn).unwrap();
        put(page, off as usize, &v.to_le_bytes()[..size]);
    }

    /// Maps `va` to `pfn` (4 KiB), creating tables as needed, and stores `contents` there.
    fn map(&mut self, va: u64, pfn: u64, contents: &[u8]) {
        let levels = self.mode.levels();
        let mut table = ROOT_PFN;
        for &(shift, mask) in &levels[..levels.len() - 1] {
            let off = ((va >> shift) & mask) * self.mode.entry_size();
            let e = self.entry(table, off);
            table = if e & 1 != 0 {
                (e & 0xF_FFFF_FFFF_F000) >> 12
            } else {
                let t = self.next_table;
                self.next_table += 1;
                self.pages.insert(t, vec![0; 0x1000]);
                // PAE PDPTEs have no writable bit: present only.
                let flags = if self.mode == Mode::Pae && shift == 30 {
                    1
                } else {
                    3
                };
                self.set_entry(table, off, (t << 12) | flags);
                t
            };
        }
        let (shift, mask) = levels[levels.len() - 1];
        self.set_entry(
            table,
            ((va >> shift) & mask) * self.mode.entry_size(),
            (pfn << 12) | 3,
        );
        let mut page = contents.to_vec();
        page.resize(0x1000, 0);
        self.pages.insert(pfn, page);
    }

    /// Header plus the pages as two runs (tables, data).
    fn build(&self, fill: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let tables: Vec<u64> = self
            .pages
            .keys()
            .copied()
            .filter(|p| *p < DATA_PFN_BASE)
            .collect();
        let data: Vec<u64> = self
            .pages
            .keys()
            .copied()
            .filter(|p| *p >= DATA_PFN_BASE)
            .collect();
        assert_eq!(
            tables,
            (ROOT_PFN..ROOT_PFN + tables.len() as u64).collect::<Vec<_>>()
        );
        let runs = [
            (ROOT_PFN, tables.len() as u64),
            (DATA_PFN_BASE, data.len() as u64),
        ];
        let pages = (tables.len() + data.len()) as u64;
        let mut f;
        if self.mode.ptr64() {
            f = b"PAGE".repeat(0x800);
            put(&mut f, 4, b"DU64");
            put(&mut f, 0x10, &((ROOT_PFN << 12) | 0x2).to_le_bytes()); // PCID bits
            put(&mut f, 0x30, &0x8664u32.to_le_bytes());
            put(&mut f, 0x88, &2u32.to_le_bytes());
            put(&mut f, 0x90, &pages.to_le_bytes());
            for (i, (base, count)) in runs.into_iter().enumerate() {
                put(&mut f, 0x98 + 16 * i, &base.to_le_bytes());
                put(&mut f, 0xA0 + 16 * i, &count.to_le_bytes());
            }
            f[0x348..0x348 + 0x4D0].fill(0);
            put(&mut f, 0xF98, &1u32.to_le_bytes());
        } else {
            f = b"PAGE".repeat(0x400);
            put(&mut f, 4, b"DUMP");
            put(&mut f, 0x10, &((ROOT_PFN << 12) as u32).to_le_bytes());
            put(&mut f, 0x20, &0x14Cu32.to_le_bytes());
            f[0x5C] = u8::from(self.mode == Mode::Pae);
            put(&mut f, 0x64, &2u32.to_le_bytes());
            put(&mut f, 0x68, &(pages as u32).to_le_bytes());
            for (i, (base, count)) in runs.into_iter().enumerate() {
                put(&mut f, 0x6C + 8 * i, &(base as u32).to_le_bytes());
                put(&mut f, 0x70 + 8 * i, &(count as u32).to_le_bytes());
            }
            f[0x320..0x320 + 0x2CC].fill(0);
            put(&mut f, 0xF88, &1u32.to_le_bytes());
        }
        put(&mut f, 0x8, &0xFu32.to_le_bytes());
        put(&mut f, 0xC, &19045u32.to_le_bytes());
        fill(&mut f);
        for pfn in tables.iter().chain(&data) {
            f.extend_from_slice(&self.pages[pfn]);
        }
        f
    }
}

/// Virtual addresses of the built dump's pieces.
struct Layout {
    head: u64,
    nt: u64,
    drv: u64,
    stack: u64,
}

const LAYOUT64: Layout = Layout {
    head: 0xFFFF_F800_0010_0000,
    nt: 0xFFFF_F800_0020_0000,
    drv: 0xFFFF_F800_0030_0000,
    stack: 0xFFFF_8000_0040_0F00,
};

const LAYOUT32: Layout = Layout {
    head: 0x8010_0000,
    nt: 0x8020_0000,
    drv: 0x8030_0000,
    stack: 0x8040_0F00,
};

/// A full dump: LDR list (ntoskrnl, foo.sys), foo.sys's image, a stack page; stop 0xD1 with P4
/// in foo.sys at +0x1234.
fn synthetic_full_dump_for(mode: Mode) -> Vec<u8> {
    let l = if mode.ptr64() { &LAYOUT64 } else { &LAYOUT32 };
    let ptr = |v: u64| -> Vec<u8> {
        if mode.ptr64() {
            v.to_le_bytes().to_vec()
        } else {
            (v as u32).to_le_bytes().to_vec()
        }
    };
    // LDR offsets: DllBase, SizeOfImage, FullDllName, BaseDllName, UNICODE_STRING.Buffer.
    let (dll, size_off, names, buf_off) = if mode.ptr64() {
        (0x30, 0x40, [0x48, 0x58], 8)
    } else {
        (0x18, 0x20, [0x24, 0x2C], 4)
    };
    let mut b = Builder::new(mode);
    let mut list = vec![0u8; 0x1000];
    put(&mut list, 0, &ptr(l.head + 0x100));
    for (i, (name, base, size)) in [
        ("ntoskrnl.exe", l.nt, 0x1000u32),
        ("foo.sys", l.drv, 0x3000),
    ]
    .into_iter()
    .enumerate()
    {
        let e = 0x100 + i * 0x200;
        let next = if i == 0 { l.head + 0x300 } else { l.head };
        put(&mut list, e, &ptr(next));
        put(&mut list, e + dll, &ptr(base));
        put(&mut list, e + size_off, &size.to_le_bytes());
        let units: Vec<u8> = name.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        put(&mut list, e + 0x100, &units);
        for field in names {
            put(&mut list, e + field, &(units.len() as u16).to_le_bytes());
            put(
                &mut list,
                e + field + buf_off,
                &ptr(l.head + e as u64 + 0x100),
            );
        }
    }
    b.map(l.head, DATA_PFN_BASE, &list);
    // Each stack value is a return address: a call instruction ends right before it (the
    // stack scan takes nothing else).
    let mut nt = pe::test_image::build_image(0x1111_1111, 0x1000, [10, 0, 19045, 1]);
    nt[0x800] = 0xE8;
    b.map(l.nt, DATA_PFN_BASE + 1, &nt[..0x1000]);
    let mut drv = pe::test_image::build_image(0x2222_2222, 0x3000, [1, 2, 3, 4]);
    drv[0x2340] = 0xE8;
    // Virtually contiguous, physically in reverse order: each page is translated on its own.
    for k in 0..3u64 {
        let off = (k * 0x1000) as usize;
        b.map(
            l.drv + k * 0x1000,
            DATA_PFN_BASE + 4 - k,
            &drv[off..off + 0x1000],
        );
    }
    let mut stack = vec![0u8; 0x1000];
    let step = if mode.ptr64() { 8 } else { 4 };
    put(&mut stack, 0xF00, &ptr(l.nt + 0x805));
    put(&mut stack, 0xF00 + step, &ptr(l.drv + 0x2345));
    b.map(l.stack & !0xFFF, DATA_PFN_BASE + 5, &stack);
    let p4 = l.drv + 0x1234;
    b.build(|f| {
        if mode.ptr64() {
            put(f, 0x20, &l.head.to_le_bytes());
            put(f, 0x38, &0xD1u32.to_le_bytes());
            put(f, 0x58, &p4.to_le_bytes());
            put(f, 0x348 + 0x98, &l.stack.to_le_bytes());
            put(f, 0x348 + 0xF8, &p4.to_le_bytes());
            put(f, 0x1050, &0x20u32.to_le_bytes());
        } else {
            put(f, 0x18, &(l.head as u32).to_le_bytes());
            put(f, 0x28, &0xD1u32.to_le_bytes());
            put(f, 0x38, &(p4 as u32).to_le_bytes());
            put(f, 0x320 + 0xC4, &(l.stack as u32).to_le_bytes());
            put(f, 0x320 + 0xB8, &(p4 as u32).to_le_bytes());
            put(f, 0x8A0, &0x20u32.to_le_bytes());
        }
    })
}

#[test]
fn synthetic_full_dumps_end_to_end() {
    for mode in [Mode::X64, Mode::Pae, Mode::NonPae] {
        let l = if mode.ptr64() { &LAYOUT64 } else { &LAYOUT32 };
        let data = synthetic_full_dump_for(mode);
        let dump = KernelDump::parse(&data).unwrap();
        let expected_paging = match mode {
            Mode::X64 => Paging::X64 { pml4: 0x10000 },
            Mode::Pae => Paging::Pae { pdpt: 0x10000 },
            Mode::NonPae => Paging::NonPae { pd: 0x10000 },
        };
        assert_eq!(dump.paging(), expected_paging);
        let report = crate::kernel::analyze_dump(&dump, &[], None, None).report;
        assert!(!report.partial, "{mode:?}: {:?}", report.missing);
        let names: Vec<&str> = report.drivers.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["ntoskrnl.exe", "foo.sys"], "{mode:?}");
        let foo = &report.drivers[1];
        assert_eq!(
            (foo.base, foo.size, foo.timestamp),
            (l.drv, 0x3000, Some(0x2222_2222))
        );
        assert_eq!(foo.file_version.as_deref(), Some("1.2.3.4"));
        assert_eq!(foo.codeview.as_ref().unwrap().pdb_name, "driver.pdb");
        assert!(foo.on_stack && report.drivers[0].on_stack, "{mode:?}");
        let c = report.caused_by.as_ref().unwrap();
        assert_eq!((c.driver.as_str(), c.offset), ("foo.sys", 0x1234));
        assert_eq!(c.file_version.as_deref(), Some("1.2.3.4"));
        assert!(
            report.attribution_rule.starts_with("frame 0 (foo+0x1234)"),
            "{}",
            report.attribution_rule
        );
        assert_eq!(report.stack.len(), 2);
        assert_eq!(report.stack[1].offset, 0x2345);
        assert_eq!(report.attributes[0].name, "DumpIsGeneratedOffline");
        // Cut inside the driver's pages: partial, names the run, still lists the modules.
        let report = analyze(&data[..data.len() - 0x1800]).unwrap();
        assert!(report.partial);
        assert!(
            report
                .missing
                .iter()
                .any(|m| m.to_string().contains("run 1")),
            "{:?}",
            report.missing
        );
        assert_eq!(report.drivers.len(), 2);
    }
}

/// Rewrites a 64-bit full dump (pages stored in ascending PFN order) as a summary (2) or bitmap
/// (5) dump: the run list becomes `PAGE`, a sub-header with the bitmap goes in at 0x2000.
fn to_bitmap_dump(full: &[u8], dump_type: u32) -> Vec<u8> {
    let mut out = full[..0x2000].to_vec();
    let runs: Vec<(u64, u64)> = (0..2)
        .map(|i| {
            let at = 0x98 + 16 * i;
            let base = u64::from_le_bytes(out[at..at + 8].try_into().unwrap());
            let count = u64::from_le_bytes(out[at + 8..at + 16].try_into().unwrap());
            (base, count)
        })
        .collect();
    put(&mut out, 0x88, b"PAGEPAGEPAGEPAGE");
    put(&mut out, 0xF98, &dump_type.to_le_bytes());
    let bits = runs.iter().map(|(b, c)| b + c).max().unwrap();
    let present: u64 = runs.iter().map(|r| r.1).sum();
    let mut sub = vec![0u8; 0x1000];
    put(&mut sub, 0, b"SDMPDUMP");
    let first_page = 0x3000u64;
    let bitmap_at = if dump_type == 2 {
        put(&mut sub, 0xC, &(first_page as u32).to_le_bytes());
        put(&mut sub, 0x10, &(bits as u32).to_le_bytes());
        put(&mut sub, 0x14, &(present as u32).to_le_bytes());
        0x28
    } else {
        put(&mut sub, 0x20, &first_page.to_le_bytes());
        put(&mut sub, 0x28, &present.to_le_bytes());
        put(&mut sub, 0x30, &bits.to_le_bytes());
        0x38
    };
    for (base, count) in runs {
        for pfn in base..base + count {
            sub[bitmap_at + (pfn / 8) as usize] |= 1 << (pfn % 8);
        }
    }
    out.extend_from_slice(&sub);
    out.extend_from_slice(&full[0x2000..]);
    out
}

#[test]
fn synthetic_summary_and_bitmap_dumps() {
    let full = synthetic_full_dump_for(Mode::X64);
    for dump_type in [2, 5, 6] {
        let data = to_bitmap_dump(&full, dump_type);
        let report = analyze(&data).unwrap();
        assert!(!report.partial, "type {dump_type}: {:?}", report.missing);
        assert_eq!(report.drivers.len(), 2);
        let c = report.caused_by.as_ref().unwrap();
        assert_eq!((c.driver.as_str(), c.offset), ("foo.sys", 0x1234));
        assert_eq!(c.file_version.as_deref(), Some("1.2.3.4"));
        let report = analyze(&data[..data.len() - 0x2800]).unwrap();
        assert!(report.partial);
        let missing = report
            .missing
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            missing.contains("0x3 pages beyond end of file"),
            "{missing}"
        );
    }
}

#[test]
fn synthetic_full_dumps_survive_cuts() {
    for mode in [Mode::X64, Mode::Pae, Mode::NonPae] {
        survives_cuts(&synthetic_full_dump_for(mode));
    }
}

#[test]
fn encrypted_and_bad_headers() {
    let mut data = synthetic_full_dump_for(Mode::X64);
    put(&mut data, 0x1050, &0x100u32.to_le_bytes());
    let report = analyze(&data).unwrap();
    assert!(report.partial);
    assert!(
        matches!(report.missing[0], Missing::Encrypted { .. }),
        "{:?}",
        report.missing
    );
    assert!(report.drivers.is_empty());
    assert!(matches!(
        analyze(b"PAGEDU6"),
        Err(KernelError::Truncated { .. })
    ));
    assert!(matches!(
        analyze(b"MDMP\x93\xa7\0\0"),
        Err(KernelError::BadSignature { .. })
    ));
    assert!(matches!(
        analyze(&data[..0x1800]),
        Err(KernelError::Truncated { .. })
    ));
}
