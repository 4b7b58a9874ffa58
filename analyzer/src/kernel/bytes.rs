//! Bounds-checked little-endian reads over the dump bytes.
//!
//! Every read of file data goes through these helpers so that no offset taken from the file can
//! index out of bounds or overflow: they return `None` instead.

/// The `PAGE` fill pattern: a header field that still holds it was never written.
pub(crate) const UNSET32: u32 = 0x4547_4150;
/// Two `PAGE` patterns as one 64-bit field.
pub(crate) const UNSET64: u64 = 0x4547_4150_4547_4150;

/// `len` bytes at `offset`, if they are all inside `data`.
pub(crate) fn slice(data: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let len = usize::try_from(len).ok()?;
    let end = start.checked_add(len)?;
    data.get(start..end)
}

/// The fixed-size array at `offset`.
pub(crate) fn array<const N: usize>(data: &[u8], offset: u64) -> Option<[u8; N]> {
    let bytes = slice(data, offset, N as u64)?;
    <[u8; N]>::try_from(bytes).ok()
}

/// Byte at `offset`.
pub(crate) fn u8_at(data: &[u8], offset: u64) -> Option<u8> {
    array(data, offset).map(u8::from_le_bytes)
}

/// Little-endian u32 at `offset`.
pub(crate) fn u32_at(data: &[u8], offset: u64) -> Option<u32> {
    array(data, offset).map(u32::from_le_bytes)
}

/// Little-endian u64 at `offset`.
pub(crate) fn u64_at(data: &[u8], offset: u64) -> Option<u64> {
    array(data, offset).map(u64::from_le_bytes)
}

/// A pointer-sized value: u32 zero-extended when `ptr64` is false.
pub(crate) fn ptr_at(data: &[u8], offset: u64, ptr64: bool) -> Option<u64> {
    if ptr64 {
        u64_at(data, offset)
    } else {
        u32_at(data, offset).map(u64::from)
    }
}

/// `None` when a 32-bit field still holds the `PAGE` fill pattern.
pub(crate) fn set32(value: u32) -> Option<u32> {
    (value != UNSET32).then_some(value)
}

/// Decodes UTF-16LE bytes (an odd trailing byte is dropped), stopping at the first NUL.
pub(crate) fn utf16_lossy(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Decodes a NUL-terminated (or full-length) 8-bit string, replacing non-ASCII bytes.
pub(crate) fn ascii_lossy(bytes: &[u8]) -> String {
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
