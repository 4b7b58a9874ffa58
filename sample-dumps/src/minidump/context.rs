//! Thread CPU contexts (x86 `CONTEXT`, AMD64 `CONTEXT`) and the stack memory
//! that goes with them.
//!
//! Each thread gets a small captured stack whose contents form a frame chain a
//! stack walker can follow: on x86 an EBP chain (`[ebp] = caller ebp`,
//! `[ebp+4] = return address`); on x64 the first return address sits at `[rsp]`
//! (for stack-scanning walkers) and an RBP chain of the same shape
//! (`[rbp] = caller rbp`, `[rbp+8] = return address`) gives frame-pointer
//! walkers the same answer.

use super::Arch;
use crate::bytes::ByteWriter;

/// Size of the x86 `CONTEXT` record.
pub const X86_CONTEXT_SIZE: usize = 716;
/// Size of the AMD64 `CONTEXT` record.
pub const AMD64_CONTEXT_SIZE: usize = 1232;
/// `CONTEXT_i386 | CONTROL | INTEGER | SEGMENTS | FLOATING_POINT | DEBUG_REGISTERS | EXTENDED_REGISTERS`.
pub const X86_CONTEXT_FLAGS: u32 = 0x0001_003F;
/// `CONTEXT_AMD64` plus the same low "all" bits.
pub const AMD64_CONTEXT_FLAGS: u32 = 0x0010_003F;
/// Bytes of stack captured per thread.
pub const STACK_SIZE: u64 = 0x1000;
/// Offset of the stack pointer inside the captured region.
const SP_OFFSET: u64 = 0xE00;
/// Distance from the stack pointer to the first frame record.
const FIRST_FRAME_GAP: u64 = 0x20;
/// Distance between successive frame records.
const FRAME_STRIDE: u64 = 0x30;
/// Most frames that fit between the first frame record and the region's end.
const MAX_FRAMES: usize = ((STACK_SIZE - SP_OFFSET - FIRST_FRAME_GAP) / FRAME_STRIDE) as usize;
/// Default MXCSR (all exceptions masked).
const MXCSR_DEFAULT: u32 = 0x1F80;
/// x87 control word default (all exceptions masked, 64-bit precision).
const FPU_CONTROL_DEFAULT: u16 = 0x027F;
/// EFlags: IF | ZF | PF | RF-style bit pattern commonly seen in dumps.
const EFLAGS: u32 = 0x0001_0246;

/// Register state a context is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registers {
    /// Instruction pointer (eip / rip).
    pub ip: u64,
    /// Stack pointer (esp / rsp).
    pub sp: u64,
    /// Frame pointer (ebp / rbp).
    pub fp: u64,
    /// Value for ecx / rcx (e.g. the pointer the faulting instruction used).
    pub cx: u64,
    /// Value for eax / rax.
    pub ax: u64,
}

/// A laid-out stack: its bytes plus the sp/fp a context should use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// Lowest address of the captured region.
    pub start: u64,
    /// Captured bytes (`STACK_SIZE` long).
    pub bytes: Vec<u8>,
    /// Stack pointer of the innermost frame.
    pub sp: u64,
    /// Frame pointer of the innermost frame.
    pub fp: u64,
}

/// Lay out a stack at `start` whose frame chain returns, in order, to
/// `return_addresses` (innermost caller first; at most 10 are used).
pub fn build_stack(arch: Arch, start: u64, return_addresses: &[u64]) -> Stack {
    let return_addresses: Vec<u64> = return_addresses.iter().copied().take(MAX_FRAMES).collect();
    let ptr = arch.pointer_size();
    let sp = start + SP_OFFSET;
    let fp = sp + FIRST_FRAME_GAP;
    // Build the region as (offset, value) slots, then serialise in order.
    let mut slots: Vec<(u64, u64)> = Vec::new();
    if arch == Arch::Amd64 {
        if let Some(first) = return_addresses.first() {
            slots.push((SP_OFFSET, *first));
        }
    }
    let count = return_addresses.len() as u64;
    for (i, ret) in return_addresses.iter().enumerate() {
        let i = i as u64;
        let record = fp + i * FRAME_STRIDE;
        let next = if i + 1 < count {
            record + FRAME_STRIDE
        } else {
            0
        };
        slots.push((record - start, next));
        slots.push((record - start + ptr, *ret));
    }
    let mut w = ByteWriter::new();
    for (offset, value) in slots {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        if w.len() < offset {
            w.zeros(offset - w.len());
        }
        match arch {
            Arch::X86 => w.u32(value as u32),
            Arch::Amd64 => w.u64(value),
        };
    }
    let size = usize::try_from(STACK_SIZE).unwrap_or(0);
    if w.len() < size {
        w.zeros(size - w.len());
    }
    Stack {
        start,
        bytes: w.into_bytes(),
        sp,
        fp,
    }
}

/// Append a full CPU context for `arch` to `w`.
pub fn write_context(w: &mut ByteWriter, arch: Arch, regs: &Registers) {
    match arch {
        Arch::X86 => write_x86_context(w, regs),
        Arch::Amd64 => write_amd64_context(w, regs),
    }
}

/// x86 `CONTEXT` (716 bytes). Offsets:
/// 0x00 ContextFlags; 0x04 Dr0, 0x08 Dr1, 0x0C Dr2, 0x10 Dr3, 0x14 Dr6, 0x18 Dr7;
/// 0x1C FLOATING_SAVE_AREA (112: ControlWord, StatusWord, TagWord, ErrorOffset,
/// ErrorSelector, DataOffset, DataSelector as u32s, `RegisterArea[80]`,
/// Cr0NpxState); 0x8C SegGs, 0x90 SegFs, 0x94 SegEs, 0x98 SegDs; 0x9C Edi,
/// 0xA0 Esi, 0xA4 Ebx, 0xA8 Edx, 0xAC Ecx, 0xB0 Eax; 0xB4 Ebp, 0xB8 Eip,
/// 0xBC SegCs, 0xC0 EFlags, 0xC4 Esp, 0xC8 SegSs; 0xCC `ExtendedRegisters[512]`
/// (an FXSAVE image: MXCSR at +0x18).
fn write_x86_context(w: &mut ByteWriter, r: &Registers) {
    let start = w.len();
    w.u32(X86_CONTEXT_FLAGS); // 0x00 ContextFlags
    w.zeros(6 * 4); // 0x04..0x1C Dr0-Dr3, Dr6, Dr7
                    // 0x1C FLOATING_SAVE_AREA
    w.u32(u32::from(FPU_CONTROL_DEFAULT)); // ControlWord
    w.u32(0); // StatusWord
    w.u32(0xFFFF); // TagWord (all empty)
    w.zeros(4 * 4); // ErrorOffset, ErrorSelector, DataOffset, DataSelector
    w.zeros(80); // RegisterArea
    w.u32(0); // Cr0NpxState -> ends at 0x8C
    w.u32(0x2B); // 0x8C SegGs
    w.u32(0x53); // 0x90 SegFs
    w.u32(0x2B); // 0x94 SegEs
    w.u32(0x2B); // 0x98 SegDs
    w.u32(0); // 0x9C Edi
    w.u32(0); // 0xA0 Esi
    w.u32(0); // 0xA4 Ebx
    w.u32(0); // 0xA8 Edx
    w.u32(r.cx as u32); // 0xAC Ecx
    w.u32(r.ax as u32); // 0xB0 Eax
    w.u32(r.fp as u32); // 0xB4 Ebp
    w.u32(r.ip as u32); // 0xB8 Eip
    w.u32(0x23); // 0xBC SegCs
    w.u32(EFLAGS); // 0xC0 EFlags
    w.u32(r.sp as u32); // 0xC4 Esp
    w.u32(0x2B); // 0xC8 SegSs
                 // 0xCC ExtendedRegisters: FXSAVE layout, FCW at +0, MXCSR at +0x18.
    w.u16(FPU_CONTROL_DEFAULT);
    w.zeros(0x16);
    w.u32(MXCSR_DEFAULT);
    w.u32(0xFFFF); // +0x1C MXCSR_MASK
    w.zeros(512 - 0x20);
    debug_assert_eq!(w.len() - start, X86_CONTEXT_SIZE);
}

/// AMD64 `CONTEXT` (1232 bytes). Offsets:
/// 0x00..0x30 P1Home-P6Home; 0x30 ContextFlags; 0x34 MxCsr; 0x38 SegCs,
/// 0x3A SegDs, 0x3C SegEs, 0x3E SegFs, 0x40 SegGs, 0x42 SegSs (u16);
/// 0x44 EFlags; 0x48 Dr0, 0x50 Dr1, 0x58 Dr2, 0x60 Dr3, 0x68 Dr6, 0x70 Dr7;
/// 0x78 Rax, 0x80 Rcx, 0x88 Rdx, 0x90 Rbx, 0x98 Rsp, 0xA0 Rbp, 0xA8 Rsi,
/// 0xB0 Rdi, 0xB8..0xF8 R8-R15; 0xF8 Rip; 0x100 FltSave (XMM_SAVE_AREA32, 512,
/// MxCsr at +0x18); 0x300 `VectorRegister[26]` (M128A); 0x4A0 VectorControl;
/// 0x4A8 DebugControl; 0x4B0 LastBranchToRip; 0x4B8 LastBranchFromRip;
/// 0x4C0 LastExceptionToRip; 0x4C8 LastExceptionFromRip; ends at 0x4D0.
fn write_amd64_context(w: &mut ByteWriter, r: &Registers) {
    let start = w.len();
    w.zeros(6 * 8); // 0x00 P1Home..P6Home
    w.u32(AMD64_CONTEXT_FLAGS); // 0x30 ContextFlags
    w.u32(MXCSR_DEFAULT); // 0x34 MxCsr
    w.u16(0x33); // 0x38 SegCs
    w.u16(0x2B); // 0x3A SegDs
    w.u16(0x2B); // 0x3C SegEs
    w.u16(0x53); // 0x3E SegFs
    w.u16(0x2B); // 0x40 SegGs
    w.u16(0x2B); // 0x42 SegSs
    w.u32(EFLAGS); // 0x44 EFlags
    w.zeros(6 * 8); // 0x48..0x78 Dr0-Dr3, Dr6, Dr7
    w.u64(r.ax); // 0x78 Rax
    w.u64(r.cx); // 0x80 Rcx
    w.u64(0); // 0x88 Rdx
    w.u64(0); // 0x90 Rbx
    w.u64(r.sp); // 0x98 Rsp
    w.u64(r.fp); // 0xA0 Rbp
    w.u64(0); // 0xA8 Rsi
    w.u64(0); // 0xB0 Rdi
    w.zeros(8 * 8); // 0xB8..0xF8 R8-R15
    w.u64(r.ip); // 0xF8 Rip
                 // 0x100 FltSave (XMM_SAVE_AREA32).
    w.u16(FPU_CONTROL_DEFAULT); // +0x00 ControlWord
    w.zeros(0x16); // StatusWord .. DataSelector/Reserved
    w.u32(MXCSR_DEFAULT); // +0x18 MxCsr
    w.u32(0xFFFF); // +0x1C MxCsr_Mask
    w.zeros(512 - 0x20); // FloatRegisters, XmmRegisters, Reserved4
    w.zeros(26 * 16); // 0x300 VectorRegister[26]
    w.zeros(6 * 8); // 0x4A0 VectorControl .. LastExceptionFromRip
    debug_assert_eq!(w.len() - start, AMD64_CONTEXT_SIZE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_u32(b: &[u8], at: usize) -> Option<u32> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
    }

    fn read_u64(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }

    const REGS: Registers = Registers {
        ip: 0x7FFB_0001_ABCD,
        sp: 0x1000,
        fp: 0x1020,
        cx: 0xDEAD_BEEF,
        ax: 7,
    };

    #[test]
    fn amd64_context_fields_sit_at_their_offsets() {
        let mut w = ByteWriter::new();
        write_context(&mut w, Arch::Amd64, &REGS);
        let b = w.as_slice();
        assert_eq!(b.len(), AMD64_CONTEXT_SIZE);
        assert_eq!(read_u32(b, 0x30), Some(AMD64_CONTEXT_FLAGS));
        assert_eq!(read_u32(b, 0x34), Some(MXCSR_DEFAULT));
        assert_eq!(read_u32(b, 0x44), Some(EFLAGS));
        assert_eq!(read_u64(b, 0x78), Some(7));
        assert_eq!(read_u64(b, 0x80), Some(0xDEAD_BEEF));
        assert_eq!(read_u64(b, 0x98), Some(0x1000));
        assert_eq!(read_u64(b, 0xA0), Some(0x1020));
        assert_eq!(read_u64(b, 0xF8), Some(0x7FFB_0001_ABCD));
        assert_eq!(read_u32(b, 0x118), Some(MXCSR_DEFAULT));
    }

    #[test]
    fn x86_context_fields_sit_at_their_offsets() {
        let mut w = ByteWriter::new();
        write_context(&mut w, Arch::X86, &REGS);
        let b = w.as_slice();
        assert_eq!(b.len(), X86_CONTEXT_SIZE);
        assert_eq!(read_u32(b, 0x00), Some(X86_CONTEXT_FLAGS));
        assert_eq!(read_u32(b, 0xAC), Some(0xDEAD_BEEF));
        assert_eq!(read_u32(b, 0xB4), Some(0x1020));
        assert_eq!(read_u32(b, 0xB8), Some(0x0001_ABCD));
        assert_eq!(read_u32(b, 0xBC), Some(0x23));
        assert_eq!(read_u32(b, 0xC4), Some(0x1000));
        assert_eq!(read_u32(b, 0xCC + 0x18), Some(MXCSR_DEFAULT));
    }

    #[test]
    fn x86_stack_holds_an_ebp_chain() {
        let s = build_stack(Arch::X86, 0x0019_E000, &[0x0040_1A2B, 0x0040_1100]);
        assert_eq!(s.bytes.len(), 0x1000);
        assert_eq!(s.sp, 0x0019_EE00);
        let at = |addr: u64| read_u32(&s.bytes, (addr - s.start) as usize);
        assert_eq!(at(s.fp + 4), Some(0x0040_1A2B));
        let next = u64::from(at(s.fp).unwrap_or(0));
        assert_eq!(next, s.fp + FRAME_STRIDE);
        assert_eq!(at(next + 4), Some(0x0040_1100));
        assert_eq!(at(next), Some(0));
    }

    #[test]
    fn amd64_stack_has_return_at_rsp_and_an_rbp_chain() {
        let s = build_stack(
            Arch::Amd64,
            0x00D5_6F8F_E000,
            &[0x7FF6_1234_1A2B, 0x7FF6_1234_1100],
        );
        assert_eq!(s.bytes.len(), 0x1000);
        let at = |addr: u64| read_u64(&s.bytes, (addr - s.start) as usize);
        assert_eq!(at(s.sp), Some(0x7FF6_1234_1A2B));
        assert_eq!(at(s.fp + 8), Some(0x7FF6_1234_1A2B));
        let next = at(s.fp).unwrap_or(0);
        assert_eq!(next, s.fp + FRAME_STRIDE);
        assert_eq!(at(next + 8), Some(0x7FF6_1234_1100));
        assert_eq!(at(next), Some(0));
    }
}
