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
    /// `sub rsp, <bytes>` (a multiple of 8).
    Alloc(u32),
    /// `mov [rsp + offset], <reg>` (offset a multiple of 8).
    SaveNonvol(u8, u32),
    /// `movaps [rsp + offset], xmm<n>` (offset a multiple of 16).
    SaveXmm128(u8, u32),
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
}

impl FunctionUnwind {
    /// Bytes between the stack pointer in the function's body and its return address.
    pub(crate) fn frame_size(&self) -> u64 {
        self.prolog
            .iter()
            .map(|op| match op {
                PrologOp::Push(_) => 8,
                PrologOp::Alloc(n) => u64::from(*n),
                _ => 0,
            })
            .sum()
    }
}

/// Length of each prolog instruction's encoding, as the code offsets count them.
fn op_len(op: &PrologOp) -> u8 {
    match op {
        PrologOp::Push(r) if *r < 8 => 1,
        PrologOp::Push(_) => 2,
        PrologOp::Alloc(n) if *n <= 128 => 4,
        PrologOp::Alloc(_) => 7,
        PrologOp::SaveNonvol(..) => 8,
        PrologOp::SaveXmm128(..) => 9,
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
            PrologOp::Alloc(n) => vec![code(1, 1), (n & 0xFFFF) as u16, (n >> 16) as u16],
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
        });
    }
    (per_op.into_iter().rev().flatten().collect(), offset)
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
    for (i, f) in functions.iter().enumerate() {
        let entry = (PDATA_OFF + 12 * i as u32) as usize;
        b.u32(entry, f.begin);
        b.u32(entry + 4, f.end);
        b.u32(entry + 8, rdata_rva + info);
        let (codes, prolog_size) = unwind_codes(&f.prolog);
        let at = info as usize;
        b.u8(at, 1); // version 1, no flags
        b.u8(at + 1, prolog_size);
        b.u8(at + 2, codes.len() as u8);
        b.u8(at + 3, 0); // no frame register
        for (k, c) in codes.iter().enumerate() {
            b.u16(at + 4 + 2 * k, *c);
        }
        // The code array is padded to an even count; the next UNWIND_INFO is 4-aligned.
        info += 4 + 2 * (codes.len() as u32).next_multiple_of(2);
    }
    (rdata_rva + PDATA_OFF, 12 * functions.len() as u32)
}

/// How many functions' unwind data fit in the `.rdata` page with these prologs.
pub(crate) fn fits(functions: &[FunctionUnwind]) -> bool {
    let infos: u32 = functions
        .iter()
        .map(|f| 4 + 2 * (unwind_codes(&f.prolog).0.len() as u32).next_multiple_of(2))
        .sum();
    PDATA_OFF + 12 * functions.len() as u32 <= UNWIND_OFF && UNWIND_OFF + infos <= RDATA_USED
}
