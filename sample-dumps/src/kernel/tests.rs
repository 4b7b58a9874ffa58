//! Unit tests: determinism, header fields at their offsets, run list / bitmap / triage sizes
//! consistent with the file, and a small file-based walker (independent of the generator's own
//! translation code) over page tables, the module list and version resources.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use std::collections::BTreeMap;

fn u16_at(d: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(d[o..o + 2].try_into().unwrap())
}
fn u32_at(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap())
}
fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

fn samples() -> Vec<KernelSample> {
    try_kernel_samples().expect("samples build")
}

fn sample(name: &str) -> KernelSample {
    samples().into_iter().find(|s| s.file_name == name).unwrap()
}

/// A minimal reader of full and bitmap dumps over the file bytes.
struct Reader<'a> {
    d: &'a [u8],
    is64: bool,
    pae: bool,
    dtb: u64,
    pfn: BTreeMap<u64, usize>,
}

impl<'a> Reader<'a> {
    fn new(d: &'a [u8]) -> Self {
        let is64 = &d[4..8] == b"DU64";
        let (dtb, pae) = if is64 {
            (u64_at(d, 0x10), false)
        } else {
            (u64::from(u32_at(d, 0x10)), d[0x5C] == 1)
        };
        let mut pfn = BTreeMap::new();
        let dump_type = u32_at(d, if is64 { 0xF98 } else { 0xF88 });
        if dump_type == 1 {
            let hs = if is64 { 0x2000 } else { 0x1000 };
            let mut k = 0usize;
            let n = u32_at(d, if is64 { 0x88 } else { 0x64 }) as usize;
            for i in 0..n {
                let (b, c) = if is64 {
                    (u64_at(d, 0x98 + 16 * i), u64_at(d, 0xA0 + 16 * i))
                } else {
                    (
                        u64::from(u32_at(d, 0x6C + 8 * i)),
                        u64::from(u32_at(d, 0x70 + 8 * i)),
                    )
                };
                for p in b..b + c {
                    pfn.insert(p, hs + k * 0x1000);
                    k += 1;
                }
            }
        } else if dump_type == 5 {
            let first = u64_at(d, 0x2020) as usize;
            let bits = u64_at(d, 0x2030);
            let mut k = 0;
            for p in 0..bits {
                if d[0x2038 + (p / 8) as usize] >> (p % 8) & 1 == 1 {
                    pfn.insert(p, first + k * 0x1000);
                    k += 1;
                }
            }
        }
        Self {
            d,
            is64,
            pae,
            dtb,
            pfn,
        }
    }

    fn phys(&self, pa: u64, n: usize) -> Option<&[u8]> {
        let off = *self.pfn.get(&(pa >> 12))? + (pa & 0xFFF) as usize;
        self.d.get(off..off + n)
    }

    fn entry(&self, pa: u64, w: usize) -> Option<u64> {
        let b = self.phys(pa, w)?;
        Some(if w == 8 {
            u64_at(b, 0)
        } else {
            u64::from(u32_at(b, 0))
        })
    }

    fn v2p(&self, va: u64) -> Option<u64> {
        let valid = |e: u64, leaf: bool| e & 1 == 1 || (leaf && e & 0x800 != 0 && e & 0x400 == 0);
        if self.is64 {
            let mut t = self.dtb & !0xFFF;
            for sh in [39u32, 30, 21, 12] {
                let e = self.entry(t + ((va >> sh) & 0x1FF) * 8, 8)?;
                if !valid(e, sh == 12) {
                    return None;
                }
                let m = e & 0x000F_FFFF_FFFF_F000;
                if (sh == 30 || sh == 21) && e & 0x80 != 0 {
                    return Some((m & !((1u64 << sh) - 1)) | (va & ((1u64 << sh) - 1)));
                }
                t = m;
            }
            Some(t | (va & 0xFFF))
        } else if self.pae {
            let e = self.entry((self.dtb & !0x1F) + ((va >> 30) & 3) * 8, 8)?;
            let pde = self.entry((e & 0xF_FFFF_F000) + ((va >> 21) & 0x1FF) * 8, 8)?;
            if pde & 0x80 != 0 {
                return Some((pde & 0xF_FFE0_0000) | (va & 0x1F_FFFF));
            }
            let pte = self.entry((pde & 0xF_FFFF_F000) + ((va >> 12) & 0x1FF) * 8, 8)?;
            valid(pte, true).then_some((pte & 0xF_FFFF_F000) | (va & 0xFFF))
        } else {
            let pde = self.entry((self.dtb & !0xFFF) + ((va >> 22) & 0x3FF) * 4, 4)?;
            if pde & 0x80 != 0 {
                return Some((pde & 0xFFC0_0000) | (va & 0x3F_FFFF));
            }
            let pte = self.entry((pde & 0xFFFF_F000) + ((va >> 12) & 0x3FF) * 4, 4)?;
            valid(pte, true).then_some((pte & 0xFFFF_F000) | (va & 0xFFF))
        }
    }

    fn read(&self, va: u64, n: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < n {
            let cur = va + out.len() as u64;
            let k = (0x1000 - (cur & 0xFFF) as usize).min(n - out.len());
            out.extend_from_slice(self.phys(self.v2p(cur)?, k)?);
        }
        Some(out)
    }

    fn ptr(&self, va: u64) -> Option<u64> {
        let w = if self.is64 { 8 } else { 4 };
        let b = self.read(va, w)?;
        Some(if w == 8 {
            u64_at(&b, 0)
        } else {
            u64::from(u32_at(&b, 0))
        })
    }

    /// (BaseDllName, DllBase, SizeOfImage) in list order.
    fn modules(&self) -> Vec<(String, u64, u32)> {
        let head = if self.is64 {
            u64_at(self.d, 0x20)
        } else {
            u64::from(u32_at(self.d, 0x18))
        };
        let (dll, size, name) = if self.is64 {
            (0x30, 0x40, 0x58)
        } else {
            (0x18, 0x20, 0x2C)
        };
        let mut out = Vec::new();
        let mut cur = self.ptr(head).unwrap();
        while cur != head && out.len() < 64 {
            let e = self.read(cur, 0x70).unwrap();
            let buf = if self.is64 {
                u64_at(&e, name + 8)
            } else {
                u64::from(u32_at(&e, name + 4))
            };
            let len = u16_at(&e, name) as usize;
            let units: Vec<u16> = self
                .read(buf, len)
                .unwrap()
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            let base = if self.is64 {
                u64_at(&e, dll)
            } else {
                u64::from(u32_at(&e, dll))
            };
            out.push((String::from_utf16(&units).unwrap(), base, u32_at(&e, size)));
            cur = self.ptr(cur).unwrap();
        }
        out
    }

    /// File version from the image's RT_VERSION resource.
    fn version(&self, base: u64) -> Option<[u16; 4]> {
        let h = self.read(base, 0x400)?;
        let lfanew = u32_at(&h, 0x3C) as usize;
        let oh = lfanew + 0x18;
        let dirs = oh + if u16_at(&h, oh) == 0x20B { 0x70 } else { 0x60 };
        let rsrc = u64::from(u32_at(&h, dirs + 16));
        let next = |off: u64| -> Option<u64> {
            let e = self.read(base + rsrc + off + 16, 8)?;
            Some(u64::from(u32_at(&e, 4) & 0x7FFF_FFFF))
        };
        let data = next(next(next(0)?)?)?;
        let de = self.read(base + rsrc + data, 8)?;
        let vi = self.read(base + u64::from(u32_at(&de, 0)), u32_at(&de, 4) as usize)?;
        assert_eq!(u32_at(&vi, 40), 0xFEEF_04BD);
        let (ms, ls) = (u32_at(&vi, 48), u32_at(&vi, 52));
        Some([(ms >> 16) as u16, ms as u16, (ls >> 16) as u16, ls as u16])
    }
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(samples(), samples());
    assert_eq!(kernel_samples().len(), 11);
}

#[test]
fn header_fields_at_their_offsets() {
    for s in samples() {
        let d = &s.bytes;
        let e = &s.expected;
        assert_eq!(&d[0..4], b"PAGE", "{}", s.file_name);
        if e.is_64bit {
            assert_eq!(&d[4..8], b"DU64");
            assert_eq!(u32_at(d, 0x8), 0xF);
            assert_eq!(u32_at(d, 0x30), 0x8664);
            assert_eq!(u32_at(d, 0x38), e.bug_check);
            for i in 0..4 {
                assert_eq!(u64_at(d, 0x40 + 8 * i), e.params[i]);
            }
            assert_eq!(u32_at(d, 0xF98), e.dump_type);
            assert_eq!(u32_at(d, 0x1050), e.attributes);
            assert_eq!(u32_at(d, 0xF00), 0x8000_0003);
            assert_eq!(
                u64_at(d, 0xF10),
                u64_at(d, 0x348 + 0xF8),
                "exception at Rip"
            );
        } else {
            assert_eq!(&d[4..8], b"DUMP");
            assert_eq!(u32_at(d, 0x20), 0x14C);
            assert_eq!(u32_at(d, 0x28), e.bug_check);
            for i in 0..4 {
                assert_eq!(u64::from(u32_at(d, 0x2C + 4 * i)), e.params[i]);
            }
            assert_eq!(u32_at(d, 0xF88), e.dump_type);
            assert_eq!(u32_at(d, 0x8A0), e.attributes);
            assert_eq!(
                u32_at(d, 0x7DC),
                u32_at(d, 0x320 + 0xB8),
                "exception at Eip"
            );
        }
    }
    let off = sample("x86-offline-full.dmp");
    assert_eq!(off.expected.attributes, 0x20);
    assert_eq!(
        u32_at(&off.bytes, 0xF90),
        ATTRIBUTES_UNSET,
        "no secondary data"
    );
    assert_eq!(sample("x86-pae-full.dmp").bytes[0x5C], 1);
    assert_eq!(u32_at(&sample("x86-pae-full.dmp").bytes, 0x10) & 0x1F, 0);
}

#[test]
fn sizes_match_runs_bitmap_and_triage() {
    for s in samples() {
        let d = &s.bytes;
        let hs = if s.expected.is_64bit {
            0x2000u64
        } else {
            0x1000
        };
        let required = u64_at(d, 0xFA0);
        match s.expected.dump_type {
            1 => {
                let r = Reader::new(d);
                let pages = if s.expected.is_64bit {
                    u64_at(d, 0x90)
                } else {
                    u64::from(u32_at(d, 0x68))
                };
                assert_eq!(pages as usize, r.pfn.len(), "{}", s.file_name);
                assert!(
                    r.pfn.len() > 1
                        && r.pfn
                            .keys()
                            .zip(r.pfn.keys().skip(1))
                            .any(|(a, b)| b - a > 1)
                );
                assert_eq!(required, hs + pages * 0x1000);
                if s.file_name.contains("truncated") {
                    assert!((d.len() as u64) < required && d.len() as u64 > hs);
                } else {
                    assert_eq!(d.len() as u64, required, "{}", s.file_name);
                }
            }
            5 => {
                assert_eq!(&d[0x2000..0x2008], b"FDMPDUMP");
                assert_eq!(u32_at(d, 0x88), ATTRIBUTES_UNSET, "runs left PAGE");
                let bits = u64_at(d, 0x2030) as usize;
                let set: u32 = d[0x2038..0x2038 + bits / 8]
                    .iter()
                    .map(|b| b.count_ones())
                    .sum();
                assert_eq!(u64::from(set), u64_at(d, 0x2028));
                assert_eq!(u64_at(d, 0x2020) + u64::from(set) * 0x1000, d.len() as u64);
                assert_eq!(required, d.len() as u64);
            }
            4 => {
                assert_eq!(u32_at(d, 0x2004) as usize, d.len());
                let valid = u32_at(d, 0x2008) as usize;
                assert_eq!(&d[valid..valid + 4], b"TRGD");
                let (list, count, pool) = (u32_at(d, 0x2030), u32_at(d, 0x2034), u32_at(d, 0x2038));
                let win10 = s.file_name == "x64-triage.dmp";
                assert_eq!(count, 7, "{}", s.file_name);
                assert_eq!(pool, list + 0x90 * count);
                let name = u32_at(d, list as usize) as usize;
                let len = u32_at(d, name) as usize;
                let units: Vec<u16> = d[name + 4..name + 4 + 2 * len]
                    .chunks(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                assert!(String::from_utf16(&units)
                    .unwrap()
                    .eq_ignore_ascii_case("\\SystemRoot\\system32\\ntoskrnl.exe"));
                let nt_base = if win10 {
                    0xFFFF_F807_5B00_0000
                } else {
                    0xFFFF_F800_0285_F000
                };
                assert_eq!(u64_at(d, list as usize + 0x38), nt_base);
                let top = u64_at(d, 0x2048);
                assert_eq!(top, u64_at(d, 0x348 + 0x98), "TopOfStack = Rsp");
                assert_eq!(u32_at(d, 0x1038), triage::TRIAGE_FIELDS);
            }
            t => panic!("unexpected dump type {t}"),
        }
    }
}

#[test]
fn module_lists_walk_and_name_the_faulting_module() {
    for s in samples() {
        if s.expected.dump_type == 4 {
            continue;
        }
        let r = Reader::new(&s.bytes);
        let mods = r.modules();
        assert_eq!(
            mods.first().map(|m| m.0.as_str()),
            Some("ntoskrnl.exe"),
            "{}",
            s.file_name
        );
        for needed in [
            "hal.dll",
            "storport.sys",
            "crashdmp.sys",
            "dump_diskdump.sys",
            "storvsc.sys",
            "dump_storvsc.sys",
        ] {
            assert!(
                mods.iter().any(|m| m.0 == needed),
                "{} lacks {needed}",
                s.file_name
            );
        }
        for (_, base, size) in &mods {
            let h = r.read(*base, 0x200).unwrap();
            assert_eq!(&h[..2], b"MZ");
            let lfanew = u32_at(&h, 0x3C) as usize;
            assert_eq!(u32_at(&h, lfanew + 0x18 + 0x38), *size);
            assert!(r.version(*base).is_some());
        }
        if s.expected.bug_check != 0x124 {
            let m = mods
                .iter()
                .find(|m| m.0 == s.expected.faulting_module)
                .unwrap();
            let key = s
                .expected
                .params
                .iter()
                .find(|p| **p == m.1 + s.expected.faulting_offset);
            assert!(key.is_some(), "{}", s.file_name);
        }
    }
}

#[test]
fn seed_pair_differs_only_in_diskdump_version() {
    let a = sample("win7-d1-dumpstack-16385.dmp");
    let b = sample("win7-d1-dumpstack-20882.dmp");
    for (s, want) in [(&a, [6, 1, 7600, 16385]), (&b, [6, 1, 7600, 20882])] {
        let r = Reader::new(&s.bytes);
        let dd = r
            .modules()
            .into_iter()
            .find(|m| m.0 == "dump_diskdump.sys")
            .unwrap();
        assert_eq!(r.version(dd.1), Some(want));
        assert_eq!(u32_at(&s.bytes, 0x1050), 1, "HiberCrash");
        assert_eq!(u32_at(&s.bytes, 0xC), 7600);
    }
    assert_eq!(a.expected.params, b.expected.params);
}

#[test]
fn whea_record_is_at_p2() {
    let s = sample("x64-whea-124.dmp");
    let r = Reader::new(&s.bytes);
    let rec = r.read(s.expected.params[1], 128).unwrap();
    assert_eq!(&rec[..4], b"CPER");
    assert_eq!(u32_at(&rec, 6), 0xFFFF_FFFF);
    assert_eq!(u16_at(&rec, 10), 3);
    let len = u32_at(&rec, 20) as usize;
    let full = r.read(s.expected.params[1], len).unwrap();
    assert_eq!(full.len(), 128 + 3 * 72 + 192 + 128 + 272);
    assert!(
        (s.expected.params[1] & 0xFFF) as usize + len > 0x1000,
        "crosses a page"
    );
}

#[test]
fn sparse_dump_has_full_length() {
    let dir = std::env::temp_dir().join(format!("dumpsig-kernel-sparse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("s.dmp");
    sparse_full_dump(&p, 64 << 20).unwrap();
    let d = std::fs::read(&p).unwrap();
    assert_eq!(d.len() as u64, u64_at(&d, 0xFA0));
    let r = Reader::new(&d);
    assert!(r.modules().iter().any(|m| m.0 == "dump_diskdump.sys"));
    assert!(sparse_full_dump(&p, 1 << 20).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
