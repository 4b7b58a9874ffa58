//! Bounds-checked little-endian reads: a field outside the slice is `None`, never a panic.

/// One byte at `off`.
pub fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

/// A little-endian u16 at `off`.
pub fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(array(b, off)?))
}

/// A little-endian u32 at `off`.
pub fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(array(b, off)?))
}

/// A little-endian u64 at `off`.
pub fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(array(b, off)?))
}

/// `N` bytes at `off`.
pub fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

/// Lowercase hex of up to `max` leading bytes, space-separated.
pub fn hex_prefix(b: &[u8], max: usize) -> String {
    b.iter()
        .take(max)
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
