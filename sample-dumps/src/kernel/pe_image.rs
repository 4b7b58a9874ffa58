//! The in-memory pages of a loaded kernel image: the PE header page (MZ, PE, file header,
//! PE32/PE32+ optional header, section table), the `.rdata` page with the debug directory and its
//! CodeView RSDS record, and the `.rsrc` page with RT_VERSION -> VS_VERSIONINFO.

use super::writer::{align_up, utf16z, Buf, Guid, PAGE};

/// Everything the generator needs to lay out one image.
#[derive(Debug, Clone)]
pub(crate) struct ImageSpec {
    /// `true` for PE32+ (x64), `false` for PE32 (x86).
    pub(crate) pe64: bool,
    /// Load address (DllBase).
    pub(crate) base: u64,
    /// SizeOfImage (multiple of 0x1000, at least 0x6000).
    pub(crate) size: u32,
    /// Link timestamp.
    pub(crate) timestamp: u32,
    /// PE checksum.
    pub(crate) checksum: u32,
    /// PDB file name in the RSDS record.
    pub(crate) pdb_name: String,
    /// PDB GUID.
    pub(crate) pdb_guid: Guid,
    /// PDB age.
    pub(crate) pdb_age: u32,
    /// File version a.b.c.d.
    pub(crate) version: [u16; 4],
    /// Branch label after the version in the FileVersion string, e.g. `win7_rtm.090713-1255`.
    pub(crate) version_label: String,
    /// VS_FIXEDFILEINFO file type (1 application, 3 driver, 2 DLL).
    pub(crate) file_type: u32,
    /// CompanyName.
    pub(crate) company: String,
    /// FileDescription.
    pub(crate) description: String,
    /// OriginalFilename (diskdump.sys for dump_diskdump.sys).
    pub(crate) original_name: String,
    /// ProductName.
    pub(crate) product: String,
    /// x64 functions with unwind data (`.pdata` in the `.rdata` page), sorted by address.
    pub(crate) unwind: Vec<super::unwind_info::FunctionUnwind>,
    /// An ARM64 image (machine 0xAA64), with these functions' unwind data (`.pdata` and
    /// `.xdata` in the `.rdata` page), sorted by address.
    pub(crate) arm64: Option<Vec<super::arm64_unwind::Arm64Function>>,
}

/// Section RVAs derived from SizeOfImage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// `.text` start.
    pub(crate) text: u32,
    /// `.rdata` start (one page: debug directory + RSDS at its start).
    pub(crate) rdata: u32,
    /// `.data` start.
    pub(crate) data: u32,
    /// `.rsrc` start (one page).
    pub(crate) rsrc: u32,
    /// `.reloc` start (last page).
    pub(crate) reloc: u32,
}

/// One section header's values.
#[derive(Debug, Clone, Copy)]
struct SectionSpec {
    name: &'static [u8],
    rva: u32,
    vsize: u32,
    raw_offset: u32,
    raw_size: u32,
    characteristics: u32,
}

/// Offset of the debug directory inside `.rdata`.
const DEBUG_DIR_OFF: u32 = 0x40;
/// Offset of the RSDS record inside `.rdata`.
const RSDS_OFF: u32 = 0x70;
/// Offset of VS_VERSIONINFO inside `.rsrc`.
const VERSION_OFF: u32 = 0x58;

impl ImageSpec {
    /// The section layout: `.text` from 0x1000 to 5/8 of the image (at most SizeOfImage -
    /// 0x4000), then `.rdata`, `.data`,
    /// `.rsrc` and `.reloc` (each `.rdata`/`.rsrc`/`.reloc` one page).
    pub(crate) fn layout(&self) -> Layout {
        let size = u64::from(self.size.max(0x6000));
        let rdata = align_up(size * 5 / 8, PAGE)
            .min(size - 4 * PAGE)
            .max(0x2000) as u32;
        let reloc = (size - PAGE) as u32;
        let rsrc = reloc - PAGE as u32;
        Layout {
            text: 0x1000,
            rdata,
            data: rdata + PAGE as u32,
            rsrc,
            reloc,
        }
    }

    fn version_string(&self) -> String {
        let [a, b, c, d] = self.version;
        if self.version_label.is_empty() {
            format!("{a}.{b}.{c}.{d}")
        } else {
            format!("{a}.{b}.{c}.{d} ({})", self.version_label)
        }
    }

    /// The PE header page (RVA 0).
    pub(crate) fn header_page(&self) -> Vec<u8> {
        let l = self.layout();
        let mut b = Buf::zeroed(PAGE as usize);
        // DOS header and stub.
        b.put(0, b"MZ");
        b.u16(0x02, 0x90);
        b.u16(0x04, 3);
        b.u16(0x08, 4);
        b.u16(0x0C, 0xFFFF);
        b.u16(0x10, 0xB8);
        b.u16(0x18, 0x40);
        let lfanew: usize = if self.pe64 { 0xE8 } else { 0xD8 };
        b.u32(0x3C, lfanew as u32);
        b.put(
            0x40,
            &[0x0E, 0x1F, 0xBA, 0x0E, 0x00, 0xB4, 0x09, 0xCD, 0x21],
        );
        b.put(0x49, &[0xB8, 0x01, 0x4C, 0xCD, 0x21]);
        b.put(0x4E, b"This program cannot be run in DOS mode.\r\r\n$");
        // PE signature and IMAGE_FILE_HEADER.
        b.put(lfanew, b"PE\0\0");
        let fh = lfanew + 4;
        b.u16(
            fh,
            match (self.arm64.is_some(), self.pe64) {
                (true, _) => 0xAA64,
                (false, true) => 0x8664,
                (false, false) => 0x14C,
            },
        );
        b.u16(fh + 2, 5);
        b.u32(fh + 4, self.timestamp);
        let opt_size: usize = if self.pe64 { 0xF0 } else { 0xE0 };
        b.u16(fh + 16, opt_size as u16);
        b.u16(fh + 18, if self.pe64 { 0x0022 } else { 0x0102 });
        // Optional header.
        let oh = fh + 20;
        let text_size = l.rdata - l.text;
        b.u16(oh, if self.pe64 { 0x20B } else { 0x10B });
        b.u8(oh + 2, 9);
        b.u32(oh + 4, text_size.saturating_sub(0x200));
        b.u32(oh + 8, self.size.saturating_sub(l.rdata));
        b.u32(oh + 0x10, l.text + 0x140);
        b.u32(oh + 0x14, l.text);
        let (win_major, win_minor) = if self.version[0] >= 10 {
            (10, 0)
        } else {
            (self.version[0], self.version[1])
        };
        if self.pe64 {
            b.u64(oh + 0x18, self.base);
        } else {
            b.u32(oh + 0x18, l.rdata);
            b.u32(oh + 0x1C, self.base as u32);
        }
        b.u32(oh + 0x20, PAGE as u32);
        b.u32(oh + 0x24, 0x200);
        for field in [0x28usize, 0x2C, 0x30] {
            b.u16(oh + field, win_major);
            b.u16(oh + field + 2, win_minor);
        }
        b.u32(oh + 0x38, self.size);
        b.u32(oh + 0x3C, 0x400);
        b.u32(oh + 0x40, self.checksum);
        b.u16(oh + 0x44, 1); // IMAGE_SUBSYSTEM_NATIVE
        b.u16(oh + 0x46, 0x0160); // DYNAMIC_BASE | NX_COMPAT | HIGH_ENTROPY_VA
        let dirs = if self.pe64 {
            b.u64(oh + 0x48, 0x40000);
            b.u64(oh + 0x50, 0x1000);
            b.u64(oh + 0x58, 0x100000);
            b.u64(oh + 0x60, 0x1000);
            b.u32(oh + 0x6C, 16);
            oh + 0x70
        } else {
            b.u32(oh + 0x48, 0x40000);
            b.u32(oh + 0x4C, 0x1000);
            b.u32(oh + 0x50, 0x100000);
            b.u32(oh + 0x54, 0x1000);
            b.u32(oh + 0x5C, 16);
            oh + 0x60
        };
        let rsrc_len = self.rsrc_page().len() as u32;
        let dir = |i: usize| dirs + 8 * i;
        b.u32(dir(2), l.rsrc);
        b.u32(dir(2) + 4, rsrc_len);
        b.u32(dir(5), l.reloc);
        b.u32(dir(5) + 4, 0x0C);
        if let Some(functions) = self.arm64.as_ref().filter(|f| !f.is_empty()) {
            b.u32(dir(3), l.rdata + super::unwind_info::PDATA_OFF);
            b.u32(dir(3) + 4, 8 * functions.len() as u32);
        } else if self.pe64 && !self.unwind.is_empty() {
            b.u32(dir(3), l.rdata + super::unwind_info::PDATA_OFF);
            b.u32(dir(3) + 4, 12 * super::unwind_info::entries(&self.unwind));
        }
        b.u32(dir(6), l.rdata + DEBUG_DIR_OFF);
        b.u32(dir(6) + 4, 28);
        // Section table.
        for (i, sec) in self.sections().iter().enumerate() {
            let sh = oh + opt_size + 40 * i;
            b.put(sh, sec.name);
            b.u32(sh + 8, sec.vsize);
            b.u32(sh + 12, sec.rva);
            b.u32(sh + 16, sec.raw_size);
            b.u32(sh + 20, sec.raw_offset);
            b.u32(sh + 36, sec.characteristics);
        }
        b.into_vec()
    }

    /// The five sections: placement in memory and in the file (back to back from 0x400,
    /// each rounded up to FileAlignment 0x200).
    fn sections(&self) -> [SectionSpec; 5] {
        let l = self.layout();
        let text_size = l.rdata - l.text;
        let rsrc_len = self.rsrc_page().len() as u32;
        let table: [(&'static [u8], u32, u32, u32); 5] = [
            (
                b".text",
                l.text,
                text_size.saturating_sub(0x1C0),
                0x6800_0020,
            ),
            (b".rdata", l.rdata, 0x400, 0x4800_0040),
            (
                b".data",
                l.data,
                (l.rsrc - l.data).saturating_sub(0x300).max(0x100),
                0xC800_0040,
            ),
            (b".rsrc", l.rsrc, rsrc_len, 0x4000_0040),
            (b".reloc", l.reloc, 0x0C, 0x4200_0040),
        ];
        let mut raw = 0x400u32;
        table.map(|(name, rva, vsize, characteristics)| {
            let raw_size = align_up(u64::from(vsize), 0x200) as u32;
            let sec = SectionSpec {
                name,
                rva,
                vsize,
                raw_offset: raw,
                raw_size,
                characteristics,
            };
            raw += raw_size;
            sec
        })
    }

    /// The image as a file on disk (what a symbol store holds): the headers, then each
    /// section's raw data at its PointerToRawData. `.text` and `.data` are filler bytes; the
    /// debug directory, RSDS record and version resource are those of the loaded image.
    pub(crate) fn file_image(&self) -> Vec<u8> {
        let header = self.header_page();
        let secs = self.sections();
        let end = secs.last().map_or(0x400, |s| s.raw_offset + s.raw_size) as usize;
        let mut b = Buf::zeroed(end);
        b.put(0, header.get(..0x400).unwrap_or(&header));
        let rdata = self.rdata_page();
        let rsrc = self.rsrc_page();
        for sec in &secs {
            let at = sec.raw_offset as usize;
            let len = sec.raw_size as usize;
            let content: Vec<u8> = match sec.name {
                b".rdata" => rdata.iter().copied().take(len).collect(),
                b".rsrc" => rsrc.clone(),
                b".reloc" => {
                    // One empty base-relocation block: page RVA, block size.
                    let mut r = Buf::zeroed(0x0C);
                    r.u32(0, sec.rva);
                    r.u32(4, 0x0C);
                    r.into_vec()
                }
                // `int 3` filler, as linkers pad code.
                b".text" => vec![0xCC; len],
                _ => Vec::new(),
            };
            b.put(at, &content);
        }
        b.into_vec()
    }

    /// File offset that `.rdata` starts at (sections are laid out back to back from 0x400).
    fn rdata_file_offset(&self) -> u32 {
        let [_, rdata, ..] = self.sections();
        rdata.raw_offset
    }

    /// The first `.rdata` page: the debug directory (one CODEVIEW entry) and the RSDS record.
    pub(crate) fn rdata_page(&self) -> Vec<u8> {
        let l = self.layout();
        let mut b = Buf::zeroed(PAGE as usize);
        let mut rsds = Buf::new();
        rsds.put(0, b"RSDS");
        rsds.put(4, &self.pdb_guid.to_bytes());
        rsds.u32(20, self.pdb_age);
        rsds.put(24, self.pdb_name.as_bytes());
        rsds.u8(24 + self.pdb_name.len(), 0);
        let d = DEBUG_DIR_OFF as usize;
        b.u32(d + 4, self.timestamp);
        b.u32(d + 12, 2); // IMAGE_DEBUG_TYPE_CODEVIEW
        b.u32(d + 16, rsds.len() as u32);
        b.u32(d + 20, l.rdata + RSDS_OFF);
        b.u32(d + 24, self.rdata_file_offset() + RSDS_OFF);
        b.put(RSDS_OFF as usize, rsds.as_slice());
        if let Some(functions) = &self.arm64 {
            super::arm64_unwind::write_arm64_unwind(&mut b, l.rdata, functions);
        } else if self.pe64 && !self.unwind.is_empty() {
            super::unwind_info::write_unwind(&mut b, l.rdata, &self.unwind);
        }
        b.into_vec()
    }

    /// The `.rsrc` content: a three-level resource directory (RT_VERSION / 1 / 0x409) and the
    /// VS_VERSIONINFO it points at (RVA-based OffsetToData, as in images).
    pub(crate) fn rsrc_page(&self) -> Vec<u8> {
        let l = self.layout();
        let vi = self.version_info();
        let mut b = Buf::new();
        // Root: one ID entry, RT_VERSION (16) -> subdirectory at 0x18.
        b.u16(0x0E, 1);
        b.u32(0x10, 16);
        b.u32(0x14, 0x8000_0000 | 0x18);
        // Name level: ID 1 -> subdirectory at 0x30.
        b.u16(0x18 + 0x0E, 1);
        b.u32(0x18 + 0x10, 1);
        b.u32(0x18 + 0x14, 0x8000_0000 | 0x30);
        // Language level: 0x409 -> data entry at 0x48.
        b.u16(0x30 + 0x0E, 1);
        b.u32(0x30 + 0x10, 0x409);
        b.u32(0x30 + 0x14, 0x48);
        // IMAGE_RESOURCE_DATA_ENTRY.
        b.u32(0x48, l.rsrc + VERSION_OFF);
        b.u32(0x4C, vi.len() as u32);
        b.put(VERSION_OFF as usize, &vi);
        b.align(8);
        b.into_vec()
    }

    /// VS_VERSIONINFO with VS_FIXEDFILEINFO, a StringFileInfo (040904B0) and VarFileInfo.
    pub(crate) fn version_info(&self) -> Vec<u8> {
        let [a, bb, c, d] = self.version;
        let ms = (u32::from(a) << 16) | u32::from(bb);
        let ls = (u32::from(c) << 16) | u32::from(d);
        let mut fixed = Buf::new();
        fixed.u32(0, 0xFEEF_04BD);
        fixed.u32(4, 0x0001_0000);
        fixed.u32(8, ms);
        fixed.u32(12, ls);
        fixed.u32(16, ms);
        fixed.u32(20, ls);
        fixed.u32(24, 0x3F);
        fixed.u32(28, 0);
        fixed.u32(32, 0x0004_0004); // VOS_NT_WINDOWS32
        fixed.u32(36, self.file_type);
        fixed.u32(40, if self.file_type == 3 { 7 } else { 0 }); // VFT2_DRV_SYSTEM
        fixed.u32(44, 0);
        fixed.u32(48, 0);
        let ver = self.version_string();
        let product_ver = format!("{a}.{bb}.{c}.{d}");
        let copyright = format!(
            "\u{a9} {}. All rights reserved.",
            self.company.trim_end_matches('.')
        );
        let strings = [
            ("CompanyName", self.company.as_str()),
            ("FileDescription", self.description.as_str()),
            ("FileVersion", ver.as_str()),
            ("InternalName", self.original_name.as_str()),
            ("LegalCopyright", copyright.as_str()),
            ("OriginalFilename", self.original_name.as_str()),
            ("ProductName", self.product.as_str()),
            ("ProductVersion", product_ver.as_str()),
        ];
        let children: Vec<Vec<u8>> = strings
            .iter()
            .map(|(k, v)| {
                let units = v.encode_utf16().count() as u16 + 1;
                block(k, &utf16z(v), units, 1, &[])
            })
            .collect();
        let table = block("040904B0", &[], 0, 1, &children);
        let sfi = block("StringFileInfo", &[], 0, 1, &[table]);
        let var = block("Translation", &[0x09, 0x04, 0xB0, 0x04], 4, 0, &[]);
        let vfi = block("VarFileInfo", &[], 0, 1, &[var]);
        block("VS_VERSION_INFO", fixed.as_slice(), 52, 0, &[sfi, vfi])
    }
}

/// One version-resource block: wLength, wValueLength, wType, szKey, padding, Value, padding,
/// children (each 4-aligned). wLength excludes trailing padding.
fn block(key: &str, value: &[u8], value_len: u16, kind: u16, children: &[Vec<u8>]) -> Vec<u8> {
    let mut b = Buf::new();
    b.u16(2, value_len);
    b.u16(4, kind);
    b.put(6, &utf16z(key));
    b.align(4);
    if !value.is_empty() {
        b.append(value);
    }
    for child in children {
        b.align(4);
        b.append(child);
    }
    let len = b.len() as u16;
    b.u16(0, len);
    b.into_vec()
}
