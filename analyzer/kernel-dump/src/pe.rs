//! PE image facts read from a module's mapped image in dump memory.
//!
//! A kernel module's timestamp, size, CodeView debug id and file version are not kept at stable
//! offsets in kernel structures, but the image's own headers are mapped at DllBase: DOS header
//! -> `PE\0\0` -> file and optional header -> debug directory (RSDS record) and resource
//! directory (RT_VERSION -> VS_FIXEDFILEINFO). Each piece is optional: pages of a module are
//! often missing from a dump, and what is readable is still reported.

use le_bytes::{slice, u16_at, u32_at, FileVersion};
use serde::Serialize;

use super::error::KernelError;
use super::virtual_memory::VirtualRead;

/// CodeView (RSDS) debug identifier of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeViewId {
    /// GUID as `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX`.
    pub guid: String,
    /// Age.
    pub age: u32,
    /// Symbol-store id: GUID without dashes followed by the age in hex, upper case.
    pub debug_id: String,
    /// PDB file name as recorded.
    pub pdb_name: String,
}

/// What the in-memory PE headers say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeInfo {
    /// FileHeader.Machine.
    pub machine: u16,
    /// FileHeader.TimeDateStamp.
    pub timestamp: u32,
    /// OptionalHeader.SizeOfImage.
    pub size_of_image: u32,
    /// OptionalHeader.CheckSum.
    pub checksum: u32,
    /// CodeView id, when the debug directory is readable.
    pub codeview: Option<CodeViewId>,
    /// File version `a.b.c.d` from VS_FIXEDFILEINFO, when the resource is readable.
    pub file_version: Option<String>,
}

const MAX_E_LFANEW: u32 = 0x1000;
const MAX_DEBUG_ENTRIES: u32 = 32;
const MAX_PDB_NAME: usize = 260;
const MAX_RESOURCE_ENTRIES: u64 = 512;
const IMAGE_DEBUG_TYPE_CODEVIEW: u32 = 2;
const RT_VERSION: u32 = 16;
const VS_FFI_SIGNATURE: u32 = 0xFEEF_04BD;

fn malformed(what: &'static str, va: u64, detail: String) -> KernelError {
    KernelError::Malformed {
        what,
        offset: va,
        detail,
    }
}

/// Reads the PE facts of the image mapped at `base`. Fails only when the DOS/NT headers are
/// unreadable or invalid; the debug id and version are `None` when their pages are missing.
pub fn read_pe_info(mem: &dyn VirtualRead, base: u64) -> Result<PeInfo, KernelError> {
    if mem.read_u16(base)? != 0x5A4D {
        return Err(malformed(
            "PE image (virtual)",
            base,
            "no MZ signature".into(),
        ));
    }
    let e_lfanew = mem.read_u32(base.wrapping_add(0x3C))?;
    if e_lfanew > MAX_E_LFANEW {
        return Err(malformed(
            "PE image (virtual)",
            base,
            format!("e_lfanew {e_lfanew:#x} out of range"),
        ));
    }
    let nt = base.wrapping_add(u64::from(e_lfanew));
    if mem.read_u32(nt)? != 0x0000_4550 {
        return Err(malformed(
            "PE image (virtual)",
            nt,
            "no PE signature".into(),
        ));
    }
    let machine = mem.read_u16(nt.wrapping_add(4))?;
    let timestamp = mem.read_u32(nt.wrapping_add(8))?;
    let opt = nt.wrapping_add(0x18);
    let magic = mem.read_u16(opt)?;
    let dirs = match magic {
        0x10B => opt.wrapping_add(0x60),
        0x20B => opt.wrapping_add(0x70),
        _ => {
            return Err(malformed(
                "PE optional header (virtual)",
                opt,
                format!("magic {magic:#x}"),
            ))
        }
    };
    let size_of_image = mem.read_u32(opt.wrapping_add(0x38))?;
    let checksum = mem.read_u32(opt.wrapping_add(0x40))?;
    let dir_count = mem.read_u32(dirs.wrapping_sub(4))?;
    let dir = |index: u32| -> Option<(u32, u32)> {
        if index >= dir_count {
            return None;
        }
        let at = dirs.wrapping_add(u64::from(index) * 8);
        let rva = mem.read_u32(at).ok()?;
        let size = mem.read_u32(at.wrapping_add(4)).ok()?;
        (rva != 0 && size != 0 && rva < size_of_image).then_some((rva, size))
    };
    let codeview = dir(6).and_then(|(rva, size)| read_codeview(mem, base, rva, size));
    let file_version = dir(2).and_then(|(rva, _)| read_file_version(mem, base, rva));
    Ok(PeInfo {
        machine,
        timestamp,
        size_of_image,
        checksum,
        codeview,
        file_version,
    })
}

/// The first CodeView RSDS record of the debug directory.
fn read_codeview(mem: &dyn VirtualRead, base: u64, rva: u32, size: u32) -> Option<CodeViewId> {
    let count = (size / 28).min(MAX_DEBUG_ENTRIES);
    for i in 0..count {
        let entry = base.wrapping_add(u64::from(rva) + u64::from(i) * 28);
        if mem.read_u32(entry.wrapping_add(0xC)).ok()? != IMAGE_DEBUG_TYPE_CODEVIEW {
            continue;
        }
        let data_size = mem.read_u32(entry.wrapping_add(0x10)).ok()?;
        let data_rva = mem.read_u32(entry.wrapping_add(0x14)).ok()?;
        if data_size < 24 || data_rva == 0 {
            return None;
        }
        let record = base.wrapping_add(u64::from(data_rva));
        let mut head = [0u8; 24];
        mem.read_virtual(record, &mut head).ok()?;
        if head.get(..4)? != b"RSDS" {
            return None;
        }
        let d1 = u32_at(&head, 4)?;
        let d2 = u16_at(&head, 8)?;
        let d3 = u16_at(&head, 10)?;
        let d4 = slice(&head, 12, 8)?;
        let age = u32_at(&head, 20)?;
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
        let guid = format!(
            "{d1:08X}-{d2:04X}-{d3:04X}-{}-{}",
            hex(d4.get(..2)?),
            hex(d4.get(2..)?)
        );
        let debug_id = format!("{}{age:X}", guid.replace('-', ""));
        let name_len = (data_size as usize - 24).min(MAX_PDB_NAME);
        let mut name = vec![0u8; name_len];
        // The name may straddle into a missing page: keep the GUID anyway.
        let pdb_name = match mem.read_virtual(record.wrapping_add(24), &mut name) {
            Ok(()) => {
                let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                String::from_utf8_lossy(name.get(..end)?).into_owned()
            }
            Err(_) => String::new(),
        };
        return Some(CodeViewId {
            guid,
            age,
            debug_id,
            pdb_name,
        });
    }
    None
}

/// Follows resource directory entry `id` (or the first entry when `id` is `None`) and returns
/// the offset (from the resource root) it points to and whether that is a sub-directory.
fn resource_entry(
    mem: &dyn VirtualRead,
    root: u64,
    dir_off: u32,
    id: Option<u32>,
) -> Option<(u32, bool)> {
    let dir = root.wrapping_add(u64::from(dir_off));
    let named = u64::from(mem.read_u16(dir.wrapping_add(0xC)).ok()?);
    let ids = u64::from(mem.read_u16(dir.wrapping_add(0xE)).ok()?);
    let total = named.saturating_add(ids).min(MAX_RESOURCE_ENTRIES);
    let start = if id.is_some() { named.min(total) } else { 0 };
    for i in start..total {
        let e = dir.wrapping_add(0x10 + i * 8);
        let name = mem.read_u32(e).ok()?;
        let target = mem.read_u32(e.wrapping_add(4)).ok()?;
        if id.map_or(true, |want| name == want) {
            return Some((target & 0x7FFF_FFFF, target & 0x8000_0000 != 0));
        }
    }
    None
}

/// The file version from RT_VERSION -> first name -> first language -> VS_FIXEDFILEINFO.
fn read_file_version(mem: &dyn VirtualRead, base: u64, rsrc_rva: u32) -> Option<String> {
    let root = base.wrapping_add(u64::from(rsrc_rva));
    let (names, is_dir) = resource_entry(mem, root, 0, Some(RT_VERSION))?;
    if !is_dir {
        return None;
    }
    let (langs, is_dir) = resource_entry(mem, root, names, None)?;
    if !is_dir {
        return None;
    }
    let (data_entry, is_dir) = resource_entry(mem, root, langs, None)?;
    if is_dir {
        return None;
    }
    let entry = root.wrapping_add(u64::from(data_entry));
    let data_rva = mem.read_u32(entry).ok()?;
    let size = mem.read_u32(entry.wrapping_add(4)).ok()?;
    if size < 0x5C {
        return None;
    }
    // VS_VERSIONINFO: 3 u16 + "VS_VERSION_INFO\0" (UTF-16), padded to 4: the fixed info
    // follows at 0x28. Search the aligned words near there for the signature.
    let mut buf = [0u8; 0x80];
    let info = base.wrapping_add(u64::from(data_rva));
    mem.read_virtual(info, &mut buf).ok()?;
    let word = |off: usize| u32_at(&buf, off);
    let sig_at = (0x20..=0x40)
        .step_by(4)
        .find(|&o| word(o) == Some(VS_FFI_SIGNATURE))?;
    let ms = word(sig_at + 8)?;
    let ls = word(sig_at + 12)?;
    Some(FileVersion::new(ms, ls).to_string())
}

/// A small PE32+ image for tests of this crate and of the analysis over it (feature
/// `test-support`).
#[cfg(any(test, feature = "test-support"))]
#[allow(clippy::indexing_slicing)]
pub mod test_image {
    use super::VS_FFI_SIGNATURE;

    fn put(b: &mut [u8], off: usize, v: &[u8]) {
        b[off..off + v.len()].copy_from_slice(v);
    }

    /// Builds a PE32+ image with a debug directory and a version resource.
    pub fn build_image(timestamp: u32, size: u32, version: [u16; 4]) -> Vec<u8> {
        let mut b = vec![0u8; 0x3000];
        put(&mut b, 0, b"MZ");
        put(&mut b, 0x3C, &0x80u32.to_le_bytes());
        put(&mut b, 0x80, b"PE\0\0");
        put(&mut b, 0x84, &0x8664u16.to_le_bytes());
        put(&mut b, 0x88, &timestamp.to_le_bytes());
        let opt = 0x98;
        put(&mut b, opt, &0x20Bu16.to_le_bytes());
        put(&mut b, opt + 0x38, &size.to_le_bytes());
        put(&mut b, opt + 0x40, &0x1234u32.to_le_bytes());
        put(&mut b, opt + 0x6C, &16u32.to_le_bytes());
        let dirs = opt + 0x70;
        put(&mut b, dirs + 2 * 8, &0x2000u32.to_le_bytes()); // resources
        put(&mut b, dirs + 2 * 8 + 4, &0x200u32.to_le_bytes());
        put(&mut b, dirs + 6 * 8, &0x1000u32.to_le_bytes()); // debug
        put(&mut b, dirs + 6 * 8 + 4, &28u32.to_le_bytes());
        // Debug entry -> RSDS at 0x1100.
        put(&mut b, 0x1000 + 0xC, &2u32.to_le_bytes());
        put(&mut b, 0x1000 + 0x10, &(24u32 + 11).to_le_bytes());
        put(&mut b, 0x1000 + 0x14, &0x1100u32.to_le_bytes());
        put(&mut b, 0x1100, b"RSDS");
        put(
            &mut b,
            0x1104,
            &[0x78, 0x56, 0x34, 0x12, 0xBC, 0x9A, 0xF0, 0xDE],
        );
        put(&mut b, 0x110C, &[1, 2, 3, 4, 5, 6, 7, 8]);
        put(&mut b, 0x1114, &3u32.to_le_bytes());
        put(&mut b, 0x1118, b"driver.pdb\0");
        // Resources: root dir with one id entry 16 -> dir@0x18 -> dir@0x30 -> data@0x48.
        let r = 0x2000;
        put(&mut b, r + 0xE, &1u16.to_le_bytes());
        put(&mut b, r + 0x10, &16u32.to_le_bytes());
        put(&mut b, r + 0x14, &(0x8000_0018u32).to_le_bytes());
        put(&mut b, r + 0x18 + 0xE, &1u16.to_le_bytes());
        put(&mut b, r + 0x18 + 0x10, &1u32.to_le_bytes());
        put(&mut b, r + 0x18 + 0x14, &(0x8000_0030u32).to_le_bytes());
        put(&mut b, r + 0x30 + 0xE, &1u16.to_le_bytes());
        put(&mut b, r + 0x30 + 0x10, &0x409u32.to_le_bytes());
        put(&mut b, r + 0x30 + 0x14, &0x48u32.to_le_bytes());
        put(&mut b, r + 0x48, &0x2100u32.to_le_bytes());
        put(&mut b, r + 0x48 + 4, &0x100u32.to_le_bytes());
        let v = 0x2100 + 0x28;
        put(&mut b, v, &VS_FFI_SIGNATURE.to_le_bytes());
        let ms = (u32::from(version[0]) << 16) | u32::from(version[1]);
        let ls = (u32::from(version[2]) << 16) | u32::from(version[3]);
        put(&mut b, v + 8, &ms.to_le_bytes());
        put(&mut b, v + 12, &ls.to_le_bytes());
        b
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A flat image at a fixed base.
    struct Image {
        base: u64,
        bytes: Vec<u8>,
    }

    impl VirtualRead for Image {
        fn read_virtual(&self, va: u64, buf: &mut [u8]) -> Result<(), KernelError> {
            let start = va
                .checked_sub(self.base)
                .ok_or(KernelError::VirtualNotInDump { va })? as usize;
            let src = self
                .bytes
                .get(start..start + buf.len())
                .ok_or(KernelError::VirtualNotInDump { va })?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    use super::test_image::build_image;

    #[test]
    fn reads_timestamp_debug_id_and_version() {
        let img = Image {
            base: 0xFFFF_F800_1000_0000,
            bytes: build_image(0x5F00_0001, 0x3000, [10, 0, 19041, 1202]),
        };
        let info = read_pe_info(&img, img.base).unwrap();
        assert_eq!(info.timestamp, 0x5F00_0001);
        assert_eq!(info.size_of_image, 0x3000);
        assert_eq!(info.machine, 0x8664);
        let cv = info.codeview.unwrap();
        assert_eq!(cv.guid, "12345678-9ABC-DEF0-0102-030405060708");
        assert_eq!(cv.debug_id, "123456789ABCDEF001020304050607083");
        assert_eq!(cv.pdb_name, "driver.pdb");
        assert_eq!(info.file_version.as_deref(), Some("10.0.19041.1202"));
    }

    #[test]
    fn missing_pages_leave_optional_parts_empty() {
        let mut bytes = build_image(1, 0x3000, [1, 2, 3, 4]);
        bytes.truncate(0x1000); // debug and resource pages not in the dump
        let img = Image {
            base: 0x1000_0000,
            bytes,
        };
        let info = read_pe_info(&img, img.base).unwrap();
        assert_eq!(info.timestamp, 1);
        assert!(info.codeview.is_none());
        assert!(info.file_version.is_none());
        let bad = Image {
            base: 0,
            bytes: vec![0; 0x100],
        };
        assert!(read_pe_info(&bad, 0).is_err());
    }
}
