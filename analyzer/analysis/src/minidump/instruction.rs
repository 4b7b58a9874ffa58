//! Was the faulting access made through a NULL base register? The debugger's
//! `NULL_CLASS_PTR_READ/WRITE` (a member of an object reached through a NULL pointer) against
//! `NULL_POINTER_*` (an absolute small address): the faulting instruction's memory operand and
//! the exception context's registers tell them apart.
//!
//! Read straight from the minidump's bytes, the same way on both paths: the exception stream's
//! context, the system info's architecture, and the code bytes at the instruction pointer from
//! the memory list. Only the memory-operand form of x86 and x64 instructions is decoded
//! (prefixes, REX, the one- and two-byte opcode maps' ModRM and SIB); anything else is
//! "not known", which keeps `NULL_POINTER_*`.

use le_bytes::{slice, u16_at, u32_at, u64_at};

/// Most bytes of one x86 instruction.
const MAX_INSTRUCTION: u64 = 15;

/// The base register of a memory operand, as x86 numbers them (rax 0 ... r15 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// `[base + ...]`.
    Base(u8),
    /// An absolute or RIP-relative address: no base register.
    NoBase,
}

/// Whether a one-byte opcode is followed by a ModRM byte (x86 and x64; `C4`/`C5` are VEX in
/// 64-bit code and not decoded).
fn one_byte_has_modrm(op: u8, x64: bool) -> Option<bool> {
    Some(match op {
        0x00..=0x3F => op & 0x07 < 4,
        0x62 | 0x63 | 0x69 | 0x6B => true,
        0x80..=0x8F => true,
        0xC0 | 0xC1 | 0xC6 | 0xC7 | 0xD0..=0xD3 | 0xD8..=0xDF | 0xF6 | 0xF7 | 0xFE | 0xFF => true,
        0xC4 | 0xC5 if x64 => return None,
        0xC4 | 0xC5 => true,
        _ => false,
    })
}

/// Whether a `0F xx` opcode is followed by a ModRM byte.
fn two_byte_has_modrm(op: u8) -> bool {
    !matches!(
        op,
        0x05..=0x09 | 0x0B | 0x30..=0x37 | 0x77 | 0x80..=0x8F | 0xA0..=0xA2 | 0xA8..=0xAA | 0xC8..=0xCF
    )
}

/// The memory operand of the instruction in `code`, if it has one that can be decoded.
pub fn memory_operand(code: &[u8], x64: bool) -> Option<Operand> {
    let mut at = 0usize;
    while matches!(
        code.get(at)?,
        0x66 | 0x67 | 0xF0 | 0xF2 | 0xF3 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65
    ) {
        at += 1;
    }
    let mut rex_b = 0u8;
    if x64 && (0x40..=0x4F).contains(code.get(at)?) {
        rex_b = (code.get(at)? & 1) << 3;
        at += 1;
    }
    let op = *code.get(at)?;
    at += 1;
    let has_modrm = if op == 0x0F {
        let op2 = *code.get(at)?;
        at += 1;
        if op2 == 0x38 || op2 == 0x3A {
            at += 1; // three-byte maps: all take ModRM
            true
        } else {
            two_byte_has_modrm(op2)
        }
    } else {
        one_byte_has_modrm(op, x64)?
    };
    if !has_modrm {
        return None;
    }
    let modrm = *code.get(at)?;
    let (mode, rm) = (modrm >> 6, modrm & 7);
    match (mode, rm) {
        (3, _) => None, // a register operand
        (_, 4) => {
            let sib = *code.get(at + 1)?;
            let base = sib & 7;
            if base == 5 && mode == 0 {
                Some(Operand::NoBase)
            } else {
                Some(Operand::Base(base | rex_b))
            }
        }
        (0, 5) => Some(Operand::NoBase), // disp32, or RIP-relative in 64-bit code
        (_, rm) => Some(Operand::Base(rm | rex_b)),
    }
}

/// Offsets of the general registers in the x86 and AMD64 CONTEXT, in x86 register order.
const X86_REGS: [u64; 8] = [0xB0, 0xAC, 0xA8, 0xA4, 0xC4, 0xB4, 0xA0, 0x9C];
const AMD64_REGS: [u64; 16] = [
    0x78, 0x80, 0x88, 0x90, 0x98, 0xA0, 0xA8, 0xB0, 0xB8, 0xC0, 0xC8, 0xD0, 0xD8, 0xE0, 0xE8, 0xF0,
];

/// A stream's `(rva, size)` from the directory.
fn stream(bytes: &[u8], kind: u32) -> Option<(u64, u64)> {
    let count = u64::from(u32_at(bytes, 8)?);
    let dir = u64::from(u32_at(bytes, 12)?);
    (0..count.min(bytes.len() as u64 / 12)).find_map(|i| {
        let e = dir + i * 12;
        (u32_at(bytes, e)? == kind)
            .then(|| {
                Some((
                    u64::from(u32_at(bytes, e + 8)?),
                    u64::from(u32_at(bytes, e + 4)?),
                ))
            })
            .flatten()
    })
}

/// `len` bytes of process memory at `address`, from the memory list or the memory64 list.
fn memory(bytes: &[u8], address: u64, len: u64) -> Option<&[u8]> {
    if let Some((rva, _)) = stream(bytes, 5) {
        let count = u64::from(u32_at(bytes, rva)?);
        for i in 0..count.min(bytes.len() as u64 / 16) {
            let d = rva + 4 + i * 16;
            let (start, size, at) = (
                u64_at(bytes, d)?,
                u32_at(bytes, d + 8)?,
                u32_at(bytes, d + 12)?,
            );
            if let Some(off) = address.checked_sub(start).filter(|&o| o < u64::from(size)) {
                let n = len.min(u64::from(size) - off);
                return slice(bytes, u64::from(at) + off, n);
            }
        }
    }
    if let Some((rva, _)) = stream(bytes, 9) {
        let count = u64_at(bytes, rva)?;
        let mut at = u64_at(bytes, rva + 8)?;
        for i in 0..count.min(bytes.len() as u64 / 16) {
            let d = rva + 16 + i * 16;
            let (start, size) = (u64_at(bytes, d)?, u64_at(bytes, d + 8)?);
            if let Some(off) = address.checked_sub(start).filter(|&o| o < size) {
                return slice(bytes, at.checked_add(off)?, len.min(size - off));
            }
            at = at.checked_add(size)?;
        }
    }
    None
}

/// Whether the access at `ip` went through a base register holding NULL, in the dump `bytes`
/// (already checked). `None` when the code, the context or the instruction is not known.
pub fn null_base(bytes: &[u8], ip: u64) -> Option<bool> {
    let (sys, _) = stream(bytes, 7)?;
    let x64 = match u16_at(bytes, sys)? {
        0 => false,
        9 => true,
        _ => return None,
    };
    let (exception, _) = stream(bytes, 6)?;
    let context = u64::from(u32_at(bytes, exception + 0xA4)?);
    let code = memory(bytes, ip, MAX_INSTRUCTION)?;
    let Operand::Base(reg) = memory_operand(code, x64)? else {
        return Some(false);
    };
    let value = if x64 {
        u64_at(bytes, context + *AMD64_REGS.get(usize::from(reg))?)?
    } else {
        u64::from(u32_at(bytes, context + *X86_REGS.get(usize::from(reg))?)?)
    };
    Some(value == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_memory_operands() {
        // mov [rcx+0x10], eax
        assert_eq!(
            memory_operand(&[0x89, 0x41, 0x10], true),
            Some(Operand::Base(1))
        );
        // mov eax, [r9+0x8] (REX.B)
        assert_eq!(
            memory_operand(&[0x41, 0x8B, 0x41, 0x08], true),
            Some(Operand::Base(9))
        );
        // mov dword [0x45], 1: absolute
        assert_eq!(
            memory_operand(&[0xC7, 0x05, 0x45, 0, 0, 0, 1, 0, 0, 0], false),
            Some(Operand::NoBase)
        );
        // mov eax, [esp+ebx*4+8]: SIB with base esp
        assert_eq!(
            memory_operand(&[0x8B, 0x44, 0x9C, 0x08], false),
            Some(Operand::Base(4))
        );
        // movzx eax, byte [rdx+1]
        assert_eq!(
            memory_operand(&[0x0F, 0xB6, 0x42, 0x01], true),
            Some(Operand::Base(2))
        );
        // mov eax, ecx: registers only; ret: no operand
        assert_eq!(memory_operand(&[0x89, 0xC8], false), None);
        assert_eq!(memory_operand(&[0xC3], false), None);
        assert_eq!(memory_operand(&[], false), None);
    }
}
