//! The reads of this crate go through `le_bytes`, the workspace's one bounds-checked layer; what
//! is kernel-dump specific here is the `PAGE` filler the header is pre-filled with.

pub(crate) use le_bytes::{ascii_lossy, ptr_at, slice, u32_at, u64_at, u8_at, utf16_lossy};

/// The `PAGE` fill pattern: a header field that still holds it was never written.
pub const UNSET32: u32 = 0x4547_4150;
/// Two `PAGE` patterns as one 64-bit field.
pub const UNSET64: u64 = 0x4547_4150_4547_4150;

/// `None` when a 32-bit field still holds the `PAGE` fill pattern.
pub fn set32(value: u32) -> Option<u32> {
    (value != UNSET32).then_some(value)
}
