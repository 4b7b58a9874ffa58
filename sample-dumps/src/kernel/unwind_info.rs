//! x64 exception-directory data for generated images: a `RUNTIME_FUNCTION` per function and
//! its `UNWIND_INFO`, written from the layout in the PE/COFF specification ("The .pdata
//! Section", "Unwind data") with this module's own writer, so the analyzer's unwinder is checked
//! against an independent encoding.
//!
//! A function's prolog is described as the instructions it runs, in order: pushes of
//! non-volatile registers (`UWOP_PUSH_NONVOL`), one stack allocation (`UWOP_ALLOC_SMALL` up to
//! 128 bytes, `UWOP_ALLOC_LARGE` with a 16-bit or a 32-bit size above), then saves of
//! registers into the allocated area (`UWOP_SAVE_NONVOL`, `UWOP_SAVE_NONVOL_FAR`,
//! `UWOP_SAVE_XMM128`), which do not move the stack pointer.

use super::writer::Buf;

/// Where the `.pdata` entries start in the `.rdata` page, and where the `UNWIND_INFO`s start.
pub(crate) const PDATA_OFF: u32 = 0x180;
const UNWIND_OFF: u32 = 0x280;
/// The `.rdata` page ends the unwind data here (the section's declared size).
pub(crate) const RDATA_USED: u32 = 0x400;

/// One prolog instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrologOp {
    /// `push <reg>` (register number 0..15, rax = 0).
    Push(u8),
    /// `sub rsp, <bytes>` (a multiple of 8), described with the smallest form that holds it.
    Alloc(u32),
    /// `sub rsp, <bytes>` described with the 32-bit unscaled form of `UWOP_ALLOC_LARGE` (info
    /// 1), which compilers use above 512 KiB and which holds any size.
    AllocLarge32(u32),
    /// `mov [rsp + offset], <reg>` (offset a multiple of 8).
    SaveNonvol(u8, u32),
    /// `movaps [rsp + offset], xmm<n>` (offset a multiple of 16).
    SaveXmm128(u8, u32),
    /// `mov [rsp + offset], <reg>` described with the 32-bit unscaled form
    /// (`UWOP_SAVE_NONVOL_FAR`), as compilers write it for large frames.
    SaveNonvolFar(u8, u32),
    /// `movaps [rsp + offset], xmm<n>` in the 32-bit form (`UWOP_SAVE_XMM128_FAR`).
    SaveXmm128Far(u8, u32),
    /// `lea <reg>, [rsp + offset]` (offset a multiple of 16, at most 240): the frame register
    /// (`UWOP_SET_FPREG`); a function may move RSP later (`alloca`), the unwinder uses it.
    SetFpReg(u8, u32),
    /// The processor pushed a machine frame (SS, RSP, EFLAGS, CS, RIP, and an error code when
    /// `true`) before the handler ran (`UWOP_PUSH_MACHFRAME`, first in the prolog): the next
    /// frame is the interrupted code, at the RIP and RSP it holds.
    PushMachFrame(bool),
}

/// A function with unwind data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionUnwind {
    /// RVA of the first instruction.
    pub(crate) begin: u32,
    /// RVA past the last instruction.
    pub(crate) end: u32,
    /// The prolog, in execution order.
    pub(crate) prolog: Vec<PrologOp>,
    /// Where a second `RUNTIME_FUNCTION` starts, covering the rest of the function with chained
    /// unwind info (`UNW_FLAG_CHAININFO`, no codes of its own) that points at the first entry,
    /// as compilers describe a function's separated parts.
    pub(crate) chain_at: Option<u32>,
}

impl FunctionUnwind {
    /// Bytes between the stack pointer in the function's body and its return address.
    pub(crate) fn frame_size(&self) -> u64 {
        self.prolog
            .iter()
            .map(|op| match op {
                PrologOp::Push(_) => 8,
                PrologOp::Alloc(n) | PrologOp::AllocLarge32(n) => u64::from(*n),
                // Up to the frame's RIP, which stands where a return address would.
                PrologOp::PushMachFrame(true) => 8,
                _ => 0,
            })
            .sum()
    }

    /// Whether the function is an interrupt or trap handler (a machine frame above its frame).
    pub(crate) fn machine_frame(&self) -> bool {
        self.prolog
            .iter()
            .any(|op| matches!(op, PrologOp::PushMachFrame(_)))
    }
}

/// Length of each prolog instruction's encoding, as the code offsets count them.
fn op_len(op: &PrologOp) -> u8 {
    match op {
        PrologOp::Push(r) if *r < 8 => 1,
        PrologOp::Push(_) => 2,
        PrologOp::Alloc(n) if *n <= 128 => 4,
        PrologOp::Alloc(_) | PrologOp::AllocLarge32(_) => 7,
        PrologOp::SaveNonvol(..) | PrologOp::SaveNonvolFar(..) => 8,
        PrologOp::SaveXmm128(..) | PrologOp::SaveXmm128Far(..) => 9,
        PrologOp::SetFpReg(..) => 5,
        PrologOp::PushMachFrame(_) => 0,
    }
}

/// The unwind codes of a prolog (last instruction first, as the format wants) and the prolog's
/// size.
fn unwind_codes(prolog: &[PrologOp]) -> (Vec<u16>, u8) {
    let mut offset = 0u8;
    let mut per_op: Vec<Vec<u16>> = Vec::new();
    for op in prolog {
        offset += op_len(op);
        let code = |unwind_op: u16, info: u16| u16::from(offset) | (unwind_op << 8) | (info << 12);
        per_op.push(match *op {
            PrologOp::Push(r) => vec![code(0, u16::from(r))],
            PrologOp::Alloc(n) if n <= 128 => vec![code(2, (n / 8 - 1) as u16)],
            PrologOp::Alloc(n) if n / 8 <= 0xFFFF => vec![code(1, 0), (n / 8) as u16],
            PrologOp::Alloc(n) | PrologOp::AllocLarge32(n) => {
                vec![code(1, 1), (n & 0xFFFF) as u16, (n >> 16) as u16]
            }
            PrologOp::SaveNonvol(r, off) if off / 8 <= 0xFFFF => {
                vec![code(4, u16::from(r)), (off / 8) as u16]
            }
            PrologOp::SaveNonvol(r, off) => {
                vec![
                    code(5, u16::from(r)),
                    (off & 0xFFFF) as u16,
                    (off >> 16) as u16,
                ]
            }
            PrologOp::SaveXmm128(x, off) => vec![code(8, u16::from(x)), (off / 16) as u16],
            PrologOp::SaveNonvolFar(r, off) => {
                vec![
                    code(5, u16::from(r)),
                    (off & 0xFFFF) as u16,
                    (off >> 16) as u16,
                ]
            }
            PrologOp::SaveXmm128Far(x, off) => {
                vec![
                    code(9, u16::from(x)),
                    (off & 0xFFFF) as u16,
                    (off >> 16) as u16,
                ]
            }
            PrologOp::SetFpReg(..) => vec![code(3, 0)],
            PrologOp::PushMachFrame(error_code) => vec![code(10, u16::from(error_code))],
        });
    }
    (per_op.into_iter().rev().flatten().collect(), offset)
}

/// The frame register byte of `UNWIND_INFO` (register, offset / 16), from a `SetFpReg`.
fn frame_register(prolog: &[PrologOp]) -> u8 {
    prolog
        .iter()
        .find_map(|op| match *op {
            PrologOp::SetFpReg(r, off) => Some(r | ((off / 16) as u8) << 4),
            _ => None,
        })
        .unwrap_or(0)
}

/// Bytes of one function's `UNWIND_INFO` (and of its chained one).
fn info_len(f: &FunctionUnwind) -> u32 {
    let own = 4 + 2 * (unwind_codes(&f.prolog).0.len() as u32).next_multiple_of(2);
    own + if f.chain_at.is_some() { 4 + 12 } else { 0 }
}

/// `.pdata` entries of `functions`: one, or two for a function with a chained part.
pub(crate) fn entries(functions: &[FunctionUnwind]) -> u32 {
    functions
        .iter()
        .map(|f| if f.chain_at.is_some() { 2 } else { 1 })
        .sum()
}

/// Writes the `.pdata` entries and `UNWIND_INFO`s of `functions` into the `.rdata` page `b`
/// (whose RVA is `rdata_rva`); returns the exception directory's (RVA, size). Functions must
/// be sorted by address; the caller keeps them to what fits in [`RDATA_USED`].
pub(crate) fn write_unwind(
    b: &mut Buf,
    rdata_rva: u32,
    functions: &[FunctionUnwind],
) -> (u32, u32) {
    let mut info = UNWIND_OFF;
    let mut entry = PDATA_OFF as usize;
    for f in functions {
        let own_end = f.chain_at.unwrap_or(f.end);
        b.u32(entry, f.begin);
        b.u32(entry + 4, own_end);
        b.u32(entry + 8, rdata_rva + info);
        let primary_info = rdata_rva + info;
        entry += 12;
        let (codes, prolog_size) = unwind_codes(&f.prolog);
        let at = info as usize;
        b.u8(at, 1); // version 1, no flags
        b.u8(at + 1, prolog_size);
        b.u8(at + 2, codes.len() as u8);
        b.u8(at + 3, frame_register(&f.prolog));
        for (k, c) in codes.iter().enumerate() {
            b.u16(at + 4 + 2 * k, *c);
        }
        // The code array is padded to an even count; the next UNWIND_INFO is 4-aligned.
        info += 4 + 2 * (codes.len() as u32).next_multiple_of(2);
        if let Some(split) = f.chain_at {
            // The rest of the function: chained info, no codes, then the primary entry.
            b.u32(entry, split);
            b.u32(entry + 4, f.end);
            b.u32(entry + 8, rdata_rva + info);
            entry += 12;
            let at = info as usize;
            b.u8(at, 1 | (0x4 << 3)); // version 1, UNW_FLAG_CHAININFO
            b.u32(at + 4, f.begin);
            b.u32(at + 8, own_end);
            b.u32(at + 12, primary_info);
            info += 16;
        }
    }
    (rdata_rva + PDATA_OFF, 12 * entries(functions))
}

/// How many functions' unwind data fit in the `.rdata` page with these prologs.
pub(crate) fn fits(functions: &[FunctionUnwind]) -> bool {
    let infos: u32 = functions.iter().map(info_len).sum();
    PDATA_OFF + 12 * entries(functions) <= UNWIND_OFF && UNWIND_OFF + infos <= RDATA_USED
}
