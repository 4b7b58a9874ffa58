//! The one layer through which dumpsig reads file data.
//!
//! Every reader (kernel dumps, minidumps, CABs, PE images, PDBs, CPER records) takes offsets
//! and counts from the file it reads, so every read must be checked: these functions return
//! `None` (or, through [`Reader`], an [`OutOfBounds`] error naming the field and its offset)
//! instead of indexing out of bounds or overflowing. Offsets may be given as `usize`, `u64`, `u32`
//! or a literal ([`Offset`]); all arithmetic on them is checked.
//!
//! Also here: the decoders of the strings file formats embed ([`utf16_lossy`],
//! [`ascii_lossy`], [`cstr_at`]) and the one formatter of Windows file versions
//! ([`FileVersion`]).

#[cfg(feature = "serde")]
pub mod hex;
mod reader;
mod version;

pub use reader::{OutOfBounds, Reader};
pub use version::FileVersion;

/// An offset or a length read from a file: converted to `usize` with a check, so a value that
/// does not fit the address space is a failed read rather than a truncation.
pub trait Offset: Copy {
    /// The value as `usize`, if it fits.
    fn to_usize(self) -> Option<usize>;
}

impl Offset for usize {
    fn to_usize(self) -> Option<usize> {
        Some(self)
    }
}

impl Offset for u64 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}

impl Offset for u32 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}

/// For literals (`u32_at(data, 0x18)` infers `i32`); a negative value fails the read.
impl Offset for i32 {
    fn to_usize(self) -> Option<usize> {
        usize::try_from(self).ok()
    }
}

/// `len` bytes at `offset`, if they all lie inside `data`.
pub fn slice(data: &[u8], offset: impl Offset, len: impl Offset) -> Option<&[u8]> {
    let start = offset.to_usize()?;
    let end = start.checked_add(len.to_usize()?)?;
    data.get(start..end)
}

/// The bytes from `offset` to the end of `data`.
pub fn tail(data: &[u8], offset: impl Offset) -> Option<&[u8]> {
    data.get(offset.to_usize()?..)
}

/// The `N` bytes at `offset` as an array.
pub fn array<const N: usize>(data: &[u8], offset: impl Offset) -> Option<[u8; N]> {
    slice(data, offset, N)?.try_into().ok()
}

/// The byte at `offset`.
pub fn u8_at(data: &[u8], offset: impl Offset) -> Option<u8> {
    data.get(offset.to_usize()?).copied()
}

/// The little-endian `u16` at `offset`.
pub fn u16_at(data: &[u8], offset: impl Offset) -> Option<u16> {
    array(data, offset).map(u16::from_le_bytes)
}

/// The little-endian `u32` at `offset`.
pub fn u32_at(data: &[u8], offset: impl Offset) -> Option<u32> {
    array(data, offset).map(u32::from_le_bytes)
}

/// The little-endian `u64` at `offset`.
pub fn u64_at(data: &[u8], offset: impl Offset) -> Option<u64> {
    array(data, offset).map(u64::from_le_bytes)
}

/// A pointer-sized value at `offset`: a `u64`, or a `u32` zero-extended when `ptr64` is false.
pub fn ptr_at(data: &[u8], offset: impl Offset, ptr64: bool) -> Option<u64> {
    if ptr64 {
        u64_at(data, offset)
    } else {
        u32_at(data, offset).map(u64::from)
    }
}

/// The little-endian `u32` at `offset` as a `usize` (a count or an offset to follow).
pub fn usize_at(data: &[u8], offset: impl Offset) -> Option<usize> {
    u32_at(data, offset)?.to_usize()
}

/// The NUL-terminated byte string at `offset`, without its NUL; `None` when no NUL follows.
pub fn cstr_at(data: &[u8], offset: impl Offset) -> Option<&[u8]> {
    let rest = tail(data, offset)?;
    rest.get(..rest.iter().position(|&c| c == 0)?)
}

/// Decodes UTF-16LE bytes (an odd trailing byte is dropped), stopping at the first NUL.
pub fn utf16_lossy(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(u16::from_le_bytes)
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Decodes a NUL-terminated (or full-length) 8-bit string, replacing every byte that is not
/// printable ASCII with `?`.
pub fn ascii_lossy(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

/// Lowercase hex of up to `max` leading bytes, space-separated (for error messages).
pub fn hex_prefix(data: &[u8], max: usize) -> String {
    data.iter()
        .take(max)
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_refuses_outside() {
        let d = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16_at(&d, 0usize), Some(0x0201));
        assert_eq!(u32_at(&d, 1u64), Some(0x0504_0302));
        assert_eq!(u64_at(&d, 1u32), Some(0x0908_0706_0504_0302));
        assert_eq!(u64_at(&d, 2usize), None);
        assert_eq!(u8_at(&d, 9usize), None);
        assert_eq!(slice(&d, usize::MAX, 2usize), None);
        assert_eq!(slice(&d, 2u64, u64::MAX), None);
        assert_eq!(ptr_at(&d, 0usize, false), Some(0x0403_0201));
    }

    #[test]
    fn strings() {
        assert_eq!(cstr_at(b"ab\0cd", 0usize), Some(&b"ab"[..]));
        assert_eq!(cstr_at(b"ab\0cd", 3usize), None);
        assert_eq!(utf16_lossy(&[b'h', 0, b'i', 0, 0, 0, b'x', 0]), "hi");
        assert_eq!(utf16_lossy(&[b'h', 0, b'i']), "h");
        assert_eq!(ascii_lossy(b"a\x01b\0c"), "a?b");
        assert_eq!(hex_prefix(&[0xab, 1, 2], 2), "ab 01");
    }
}
