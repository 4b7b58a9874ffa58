//! The exception directory of a PE image, read through [`Image::read_rva`].

use crate::Image;

/// Most `RUNTIME_FUNCTION` entries believed: a directory claiming more is damaged (the largest
/// kernel images have tens of thousands).
const MAX_ENTRIES: u64 = 1 << 20;

/// Where an image's `RUNTIME_FUNCTION` table is (data directory 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExceptionDirectory {
    /// RVA of the first entry.
    pub rva: u64,
    /// Number of entries.
    pub entries: u64,
}

fn u16_at(image: &dyn Image, rva: u64) -> Option<u16> {
    let mut b = [0u8; 2];
    image.read_rva(rva, &mut b).then(|| u16::from_le_bytes(b))
}

pub(crate) fn u32_at(image: &dyn Image, rva: u64) -> Option<u32> {
    let mut b = [0u8; 4];
    image.read_rva(rva, &mut b).then(|| u32::from_le_bytes(b))
}

impl ExceptionDirectory {
    /// Reads the PE headers at RVA 0; `None` when they are unreadable or there is no table.
    /// x64 entries (12 bytes).
    pub fn of(image: &dyn Image) -> Option<ExceptionDirectory> {
        Self::of_entries(image, 12)
    }

    /// As [`ExceptionDirectory::of`], for entries of `entry_size` bytes (ARM64's are 8).
    pub fn of_entries(image: &dyn Image, entry_size: u64) -> Option<ExceptionDirectory> {
        if u16_at(image, 0)? != 0x5A4D {
            return None; // "MZ"
        }
        let nt = u64::from(u32_at(image, 0x3C)?);
        if u32_at(image, nt)? != 0x0000_4550 {
            return None; // "PE\0\0"
        }
        let optional = nt + 24;
        let (count_at, dirs_at) = match u16_at(image, optional)? {
            0x20B => (optional + 108, optional + 112),
            0x10B => (optional + 92, optional + 96),
            _ => return None,
        };
        if u32_at(image, count_at)? <= 3 {
            return None;
        }
        let rva = u64::from(u32_at(image, dirs_at + 3 * 8)?);
        let size = u64::from(u32_at(image, dirs_at + 3 * 8 + 4)?);
        let entries = size / entry_size.max(1);
        (rva != 0 && entries > 0 && entries <= MAX_ENTRIES && rva < image.size())
            .then_some(ExceptionDirectory { rva, entries })
    }
}
