//! A context that stopped inside an epilog: the rest of the epilog is emulated instead of the
//! unwind codes, as the system unwinder does. The x64 ABI allows epilogs of one shape only,
//! which is what makes them recognizable from the code: an optional `add rsp, imm` or
//! `lea rsp, [frame register + disp]`, then `pop` of non-volatile registers, then `ret` or a
//! `jmp` out of the function (a tail call).

use super::types::{RuntimeFunction, Step, X64Registers, RSP};
use crate::{Image, Memory};

/// The code at `rva`: as many of the next 48 bytes as the image has.
fn code_at(image: &dyn Image, rva: u64) -> Vec<u8> {
    for len in [48usize, 24, 12, 6, 3, 1] {
        let mut buf = vec![0u8; len];
        if image.read_rva(rva, &mut buf) {
            return buf;
        }
    }
    Vec::new()
}

fn i32_at(code: &[u8], at: usize) -> Option<i64> {
    let b: [u8; 4] = code.get(at..at + 4)?.try_into().ok()?;
    Some(i64::from(i32::from_le_bytes(b)))
}

/// The stack adjustment an epilog starts with, if it starts with one: (new rsp, length).
fn adjustment(code: &[u8], regs: &X64Registers) -> Option<(u64, usize)> {
    match code {
        [0x48, 0x83, 0xC4, imm, ..] => {
            Some((regs.rsp().wrapping_add_signed(i64::from(*imm as i8)), 4))
        }
        [0x48, 0x81, 0xC4, ..] => Some((regs.rsp().wrapping_add_signed(i32_at(code, 3)?), 7)),
        [rex @ (0x48 | 0x49), 0x8D, modrm, ..] if (modrm >> 3) & 7 == 4 && modrm & 7 != 4 => {
            let base = (modrm & 7) | ((rex & 1) << 3);
            let (disp, len) = match modrm >> 6 {
                1 => (i64::from(*code.get(3)? as i8), 4),
                2 => (i32_at(code, 3)?, 7),
                _ => return None,
            };
            Some((regs.get(base).wrapping_add_signed(disp), len))
        }
        _ => None,
    }
}

/// Whether `code` starts with an instruction that ends an epilog.
fn is_exit(code: &[u8], rva: u64, function: RuntimeFunction) -> bool {
    let outside = |target: i64| {
        let target = (rva as i64).wrapping_add(target);
        target < i64::from(function.begin) || target >= i64::from(function.end)
    };
    match code {
        [0xC3, ..] | [0xF3, 0xC3, ..] | [0xC2, _, _, ..] => true,
        [0xE9, ..] => i32_at(code, 1).is_some_and(|rel| outside(5 + rel)),
        [0xEB, rel, ..] => outside(2 + i64::from(*rel as i8)),
        [0xFF, 0x25, ..] | [0x48, 0xFF, 0x25, ..] => true,
        _ => false,
    }
}

/// Unwinds a frame whose instruction pointer is inside an epilog; `None` when it is not.
pub(crate) fn unwind_epilog(
    regs: &mut X64Registers,
    memory: &dyn Memory,
    image: &dyn Image,
    function: RuntimeFunction,
) -> Option<Step> {
    let mut rva = regs.rip.checked_sub(image.base())?;
    let code = code_at(image, rva);
    let mut at = 0;
    let mut next = *regs;
    if let Some((rsp, len)) = adjustment(&code, regs) {
        next.gpr[RSP] = rsp;
        at += len;
        rva += len as u64;
    }
    loop {
        let rest = code.get(at..)?;
        let (reg, len) = match rest {
            [op @ 0x58..=0x5F, ..] => (op - 0x58, 1),
            [0x41, op @ 0x58..=0x5F, ..] => (op - 0x58 + 8, 2),
            _ => break,
        };
        let rsp = next.rsp();
        next.set(reg, memory.u64_at(rsp)?);
        next.gpr[RSP] = rsp.wrapping_add(8);
        at += len;
        rva += len as u64;
    }
    if !is_exit(code.get(at..)?, rva, function) {
        return None;
    }
    let rsp = next.rsp();
    next.rip = memory.u64_at(rsp)?;
    next.gpr[RSP] = rsp.wrapping_add(8);
    *regs = next;
    Some(Step {
        machine_frame: false,
    })
}
