//! The last resort: scanning the stack for a return address.
//!
//! A slot counts when its value is inside an image and, where the image's code is readable,
//! the bytes before it are a call instruction (a return address follows a call; a pointer to
//! data or to a function's start usually does not). Frames found so are [`crate::Trust::Scan`].

use crate::{Image, Images, Memory};

/// Slots looked at before giving up.
const MAX_SLOTS: u64 = 2048;

/// Whether the instruction before `address` in `image` is a call; `true` when the code is not
/// available to check.
fn follows_call(image: &dyn Image, address: u64) -> bool {
    let Some(rva) = address.checked_sub(image.base()) else {
        return false;
    };
    let Some(start) = rva.checked_sub(7) else {
        return false;
    };
    let mut before = [0u8; 7];
    if !image.read_rva(start, &mut before) {
        return true;
    }
    let at = |back: usize| before.get(7 - back).copied().unwrap_or(0);
    at(5) == 0xE8 // call rel32
        || (at(6) == 0xFF && at(5) == 0x15) // call [rip+disp32] / [disp32]
        || (at(7) == 0x48 && at(6) == 0xFF && at(5) == 0x15)
        || (at(2) == 0xFF && (0xD0..=0xD7).contains(&at(1))) // call reg
        || (at(3) == 0x41 && at(2) == 0xFF && (0xD0..=0xD7).contains(&at(1)))
        || (at(3) == 0xFF && (0x50..=0x57).contains(&at(2))) // call [reg+disp8]
        || (at(4) == 0x41 && at(3) == 0xFF && (0x50..=0x57).contains(&at(2)))
        || (at(6) == 0xFF && (0x90..=0x97).contains(&at(5))) // call [reg+disp32]
        || (at(3) == 0xFF && at(2) == 0x14) // call [sib]
        || (at(4) == 0xFF && at(3) == 0x54) // call [sib+disp8]
}

/// The first slot at or above `from` (stepping `width` bytes) holding a return address into an
/// image: (the address, the slot).
pub(crate) fn find_return(
    memory: &dyn Memory,
    images: &dyn Images,
    from: u64,
    width: u64,
) -> Option<(u64, u64)> {
    let mut slot = from.checked_add(width - 1)? / width * width;
    for _ in 0..MAX_SLOTS {
        let value = if width == 8 {
            memory.u64_at(slot)?
        } else {
            u64::from(memory.u32_at(slot)?)
        };
        if let Some(image) = images.image_at(value) {
            if value != image.base() && follows_call(image, value) {
                return Some((value, slot));
            }
        }
        slot = slot.checked_add(width)?;
    }
    None
}

/// Whether the instruction before `address` is an ARM64 call (`bl`, `blr`, or an
/// authenticated `blraa`/`blrab`); `true` when the code is not available to check.
fn follows_arm64_call(image: &dyn Image, address: u64) -> bool {
    let Some(rva) = address
        .checked_sub(image.base())
        .and_then(|r| r.checked_sub(4))
    else {
        return false;
    };
    let mut before = [0u8; 4];
    if !image.read_rva(rva, &mut before) {
        return true;
    }
    let insn = u32::from_le_bytes(before);
    insn & 0xFC00_0000 == 0x9400_0000 // bl imm26
        || insn & 0xFFFF_FC1F == 0xD63F_0000 // blr xN
        || insn & 0xFEFF_F800 == 0xD63F_0800 // blraa / blrab / blraaz / blrabz
}

/// As [`find_return`] for ARM64: 8-byte slots whose value follows a call instruction.
pub(crate) fn find_return_arm64(
    memory: &dyn Memory,
    images: &dyn Images,
    from: u64,
) -> Option<(u64, u64)> {
    let mut slot = from.checked_add(7)? / 8 * 8;
    for _ in 0..MAX_SLOTS {
        let value = memory.u64_at(slot)?;
        if let Some(image) = images.image_at(value) {
            if value != image.base() && value % 4 == 0 && follows_arm64_call(image, value) {
                return Some((value, slot));
            }
        }
        slot = slot.checked_add(8)?;
    }
    None
}
