//! ARM64 exception-directory data for generated images: 8-byte `.pdata` entries with either
//! packed unwind data or the RVA of an `.xdata` record, written from Microsoft's "ARM64
//! exception handling" description with this module's own encoder (the analyzer's decoder is
//! checked against it). Also the frame layout each function's prolog leaves, so stacks can be
//! laid out the way the unwind data says.

use super::writer::Buf;

/// Where the `.pdata` entries start in the `.rdata` page, and where `.xdata` records start
/// (the same places the x64 writer uses).
const PDATA_OFF: u32 = super::unwind_info::PDATA_OFF;
const XDATA_OFF: u32 = 0x280;
const RDATA_USED: u32 = super::unwind_info::RDATA_USED;

/// One prolog instruction of a function described by `.xdata` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arm64Prolog {
    /// `stp x29, lr, [sp, #-n]!`
    SaveFpLrX(u32),
    /// `stp x29, lr, [sp, #off]`
    SaveFpLr(u32),
    /// `stp x19, x20, [sp, #-n]!`
    SaveR19R20X(u32),
    /// `stp x<reg>, x<reg+1>, [sp, #off]`
    SaveRegPair(u8, u32),
    /// The pair after the previous save, 16 bytes further (`save_next`).
    SaveNext,
    /// `sub sp, sp, #n` (n < 512: `alloc_s`; else `alloc_m`)
    Alloc(u32),
    /// `mov x29, sp`
    SetFp,
    /// `add x29, sp, #n`
    AddFp(u32),
}

/// How a function's frame is described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Arm64Frame {
    /// Packed unwind data of a chained frame (CR 3): `reg_i` registers from x19 saved at the
    /// top, x29 and LR at the bottom with x29 pointing there; `size` bytes in all.
    Packed { reg_i: u32, size: u32 },
    /// `.xdata` codes for this prolog (in execution order).
    Codes(Vec<Arm64Prolog>),
}

/// A function with ARM64 unwind data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arm64Function {
    /// RVA of the first instruction.
    pub(crate) begin: u32,
    /// Length in bytes.
    pub(crate) length: u32,
    /// Its frame.
    pub(crate) frame: Arm64Frame,
}

/// Where a function's body keeps things, relative to its stack pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arm64Layout {
    /// Bytes from the body's SP to the caller's SP.
    pub(crate) size: u64,
    /// Where the return address (LR) is saved.
    pub(crate) lr: Option<u64>,
    /// Where the caller's x29 is saved.
    pub(crate) fp: Option<u64>,
    /// x29 in the body, as SP + this (when the function sets it).
    pub(crate) x29: Option<u64>,
}

impl Arm64Function {
    /// The frame the prolog leaves.
    pub(crate) fn layout(&self) -> Arm64Layout {
        match &self.frame {
            Arm64Frame::Packed { size, .. } => Arm64Layout {
                size: u64::from(*size),
                lr: Some(8),
                fp: Some(0),
                x29: Some(0),
            },
            Arm64Frame::Codes(prolog) => {
                // Offsets below the caller's SP, simulated instruction by instruction.
                let mut sp = 0i64;
                let (mut lr, mut fp, mut x29) = (None, None, None);
                for op in prolog {
                    match *op {
                        Arm64Prolog::SaveFpLrX(n) => {
                            sp -= i64::from(n);
                            (fp, lr) = (Some(sp), Some(sp + 8));
                        }
                        Arm64Prolog::SaveFpLr(off) => {
                            let at = sp + i64::from(off);
                            (fp, lr) = (Some(at), Some(at + 8));
                        }
                        Arm64Prolog::SaveR19R20X(n) => sp -= i64::from(n),
                        Arm64Prolog::SaveRegPair(..) | Arm64Prolog::SaveNext => {}
                        Arm64Prolog::Alloc(n) => sp -= i64::from(n),
                        Arm64Prolog::SetFp => x29 = Some(sp),
                        Arm64Prolog::AddFp(n) => x29 = Some(sp + i64::from(n)),
                    }
                }
                let rel = |at: i64| u64::try_from(at - sp).unwrap_or(0);
                Arm64Layout {
                    size: rel(0),
                    lr: lr.map(rel),
                    fp: fp.map(rel),
                    x29: x29.map(rel),
                }
            }
        }
    }
}

/// The unwind codes of a prolog, last instruction first, ending with `end`.
fn codes(prolog: &[Arm64Prolog]) -> Vec<u8> {
    let two = |word: u32| vec![(word >> 8) as u8, word as u8];
    let mut per_op: Vec<Vec<u8>> = Vec::new();
    for op in prolog {
        per_op.push(match *op {
            Arm64Prolog::SaveFpLrX(n) => vec![0x80 | (n / 8 - 1) as u8],
            Arm64Prolog::SaveFpLr(off) => vec![0x40 | (off / 8) as u8],
            Arm64Prolog::SaveR19R20X(n) => vec![0x20 | (n / 8) as u8],
            Arm64Prolog::SaveRegPair(reg, off) => {
                two(0xC800 | ((u32::from(reg) - 19) << 6) | (off / 8))
            }
            Arm64Prolog::SaveNext => vec![0xE6],
            Arm64Prolog::Alloc(n) if n < 512 => vec![(n / 16) as u8],
            Arm64Prolog::Alloc(n) => two(0xC000 | (n / 16)),
            Arm64Prolog::SetFp => vec![0xE1],
            Arm64Prolog::AddFp(n) => vec![0xE2, (n / 8) as u8],
        });
    }
    let mut out: Vec<u8> = per_op.into_iter().rev().flatten().collect();
    out.push(0xE4);
    out
}

/// The `.xdata` record of a prolog: one header word (a single epilog described by the codes
/// from index 0, so no epilog scopes) and the codes padded with `end` to whole words.
fn xdata(length: u32, prolog: &[Arm64Prolog]) -> Vec<u8> {
    let mut c = codes(prolog);
    let words = c.len().div_ceil(4) as u32;
    c.resize(4 * words as usize, 0xE4);
    let header = (length / 4) | (1 << 21) | (words << 27);
    let mut out = header.to_le_bytes().to_vec();
    out.extend_from_slice(&c);
    out
}

/// Packed unwind data (flag 1) of a chained frame.
fn packed(length: u32, reg_i: u32, size: u32) -> u32 {
    1 | ((length / 4) << 2) | (reg_i << 16) | (3 << 21) | ((size / 16) << 23)
}

/// Writes the `.pdata` entries and `.xdata` records of `functions` into the `.rdata` page `b`
/// (whose RVA is `rdata_rva`); returns the exception directory's (RVA, size). Functions must
/// be sorted by address and fit (see [`arm64_fits`]).
pub(crate) fn write_arm64_unwind(
    b: &mut Buf,
    rdata_rva: u32,
    functions: &[Arm64Function],
) -> (u32, u32) {
    let mut at = XDATA_OFF;
    for (i, f) in functions.iter().enumerate() {
        let entry = (PDATA_OFF + 8 * i as u32) as usize;
        b.u32(entry, f.begin);
        match &f.frame {
            Arm64Frame::Packed { reg_i, size } => b.u32(entry + 4, packed(f.length, *reg_i, *size)),
            Arm64Frame::Codes(prolog) => {
                let record = xdata(f.length, prolog);
                b.u32(entry + 4, rdata_rva + at);
                b.put(at as usize, &record);
                at += record.len() as u32;
            }
        }
    }
    (rdata_rva + PDATA_OFF, 8 * functions.len() as u32)
}

/// Whether the unwind data of `functions` fits in the `.rdata` page.
pub(crate) fn arm64_fits(functions: &[Arm64Function]) -> bool {
    let records: usize = functions
        .iter()
        .map(|f| match &f.frame {
            Arm64Frame::Packed { .. } => 0,
            Arm64Frame::Codes(p) => 4 + codes(p).len().next_multiple_of(4),
        })
        .sum();
    PDATA_OFF + 8 * functions.len() as u32 <= XDATA_OFF
        && XDATA_OFF as usize + records <= RDATA_USED as usize
}
