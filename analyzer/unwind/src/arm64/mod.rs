//! ARM64 unwinding with the image's `.pdata` ("ARM64 exception handling"): 8-byte
//! `RUNTIME_FUNCTION` entries (function start RVA, then either packed unwind data or the RVA of
//! an `.xdata` record with unwind codes).
//!
//! Packed data describes a canonical frame: the integer registers from x19 (and LR for CR 1)
//! and the FP registers at the top, the locals below, and for chained frames (CR 2, 3) x29 and
//! LR at the bottom with x29 pointing at them. `.xdata` codes are undone one by one, in the
//! order they are listed. A frame whose PC lies in a prolog (the context's frame) undoes only
//! the instructions of an `.xdata` prolog that ran; packed prologs and epilogs are taken as
//! complete (the frames a walk meets are at call sites, in function bodies).

mod codes;

use crate::pe::{u32_at, ExceptionDirectory};
use crate::{Frame, Image, Images, Memory, Trust, MAX_FRAMES};
use codes::{decode, resolve_save_next, Op, Packed};

/// The registers ARM64 unwinding restores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arm64Registers {
    /// x0..x30 (x29 is the frame pointer, x30 the link register).
    pub x: [u64; 31],
    /// The stack pointer.
    pub sp: u64,
    /// The program counter.
    pub pc: u64,
}

const FP: usize = 29;
const LR: usize = 30;
/// ARM64 CONTEXT: X0 at 0x08 (x0..x28, then Fp 0xF0, Lr 0xF8), Sp 0x100, Pc 0x108.
const CONTEXT_X0: u64 = 0x08;
const CONTEXT_SP: u64 = 0x100;
const CONTEXT_PC: u64 = 0x108;

impl Arm64Registers {
    fn set(&mut self, reg: u8, value: u64) {
        if let Some(slot) = self.x.get_mut(usize::from(reg)) {
            *slot = value;
        }
    }
}

/// A return address with pointer authentication bits removed: the upper bits become copies of
/// bit 55 (all ones in the kernel half), as the processor's `xpaci` would leave them.
fn strip_pac(value: u64) -> u64 {
    if value & (1 << 55) != 0 {
        value | 0xFFFF_0000_0000_0000
    } else {
        value & 0x0000_FFFF_FFFF_FFFF
    }
}

/// How one function's frame is described.
enum Unwind {
    Packed(Packed),
    /// The codes, the function's length, and how many of the codes are its prolog.
    Codes(Vec<Op>, u64),
}

/// The `.pdata` entry covering `rva`: (function start, its unwind description).
fn find_function(image: &dyn Image, dir: ExceptionDirectory, rva: u64) -> Option<(u64, Unwind)> {
    let (mut low, mut high) = (0u64, dir.entries);
    let mut found = None;
    while low < high {
        let mid = low + (high - low) / 2;
        let begin = u64::from(u32_at(image, dir.rva + mid * 8)?);
        if rva < begin {
            high = mid;
        } else {
            found = Some(mid);
            low = mid + 1;
        }
    }
    let entry = dir.rva + found? * 8;
    let begin = u64::from(u32_at(image, entry)?);
    let word = u32_at(image, entry + 4)?;
    let unwind = match word & 3 {
        0 => read_xdata(image, u64::from(word))?,
        1 | 2 => Unwind::Packed(Packed::from_word(word)),
        _ => return None,
    };
    let length = match &unwind {
        Unwind::Packed(p) => p.length,
        Unwind::Codes(_, length) => *length,
    };
    (rva < begin.checked_add(length)?).then_some((begin, unwind))
}

/// Most unwind-code bytes an `.xdata` record can hold (255 extended code words).
const MAX_CODE_BYTES: u64 = 255 * 4;

fn read_xdata(image: &dyn Image, rva: u64) -> Option<Unwind> {
    let w0 = u32_at(image, rva)?;
    let length = u64::from(w0 & 0x3_FFFF) * 4;
    let single_epilog = (w0 >> 21) & 1 == 1;
    let (mut epilogs, mut words) = (u64::from((w0 >> 22) & 0x1F), u64::from(w0 >> 27));
    let mut at = rva + 4;
    if epilogs == 0 && words == 0 {
        let w1 = u32_at(image, at)?;
        epilogs = u64::from(w1 & 0xFFFF);
        words = u64::from((w1 >> 16) & 0xFF);
        at += 4;
    }
    if !single_epilog {
        at += 4 * epilogs; // the epilog scopes: not needed for body frames
    }
    let len = (words * 4).min(MAX_CODE_BYTES);
    let mut bytes = vec![0u8; usize::try_from(len).ok()?];
    if !image.read_rva(at, &mut bytes) {
        return None;
    }
    let mut ops = decode(&bytes);
    resolve_save_next(&mut ops);
    Some(Unwind::Codes(ops, length))
}

/// Undoes the canonical frame of packed data.
fn unwind_packed(regs: &mut Arm64Registers, memory: &dyn Memory, p: &Packed) -> Option<()> {
    let bottom = if p.cr >= 2 { regs.x[FP] } else { regs.sp };
    let caller_sp = bottom.checked_add(p.frame_size)?;
    let saves = caller_sp.checked_sub(p.save_size())?;
    for i in 0..p.reg_i {
        regs.set(19 + i as u8, memory.u64_at(saves.wrapping_add(8 * i))?);
    }
    match p.cr {
        1 => regs.x[LR] = memory.u64_at(saves.wrapping_add(8 * p.reg_i))?,
        2 | 3 => {
            regs.x[FP] = memory.u64_at(bottom)?;
            regs.x[LR] = memory.u64_at(bottom.wrapping_add(8))?;
        }
        _ => {} // LR was never saved: it still holds the return address
    }
    regs.sp = caller_sp;
    regs.pc = strip_pac(regs.x[LR]);
    Some(())
}

/// Undoes `ops` (from `skip` on). `Some(true)` when the frame was a machine frame or a
/// context (the next frame is interrupted code).
fn unwind_codes(
    regs: &mut Arm64Registers,
    memory: &dyn Memory,
    ops: &[Op],
    skip: usize,
) -> Option<bool> {
    for op in ops.iter().skip(skip) {
        let sp = regs.sp;
        // Addresses wrap rather than overflow: a wrapped address reads nothing, or values the
        // checks after the step refuse; it never panics.
        let at = |offset: u64| sp.wrapping_add(offset);
        match *op {
            Op::Alloc(n) => regs.sp = sp.checked_add(n)?,
            Op::SaveInt {
                reg,
                pair,
                offset,
                post,
            } => {
                regs.set(reg, memory.u64_at(at(offset))?);
                if pair {
                    regs.set(
                        reg.saturating_add(1),
                        memory.u64_at(at(offset).wrapping_add(8))?,
                    );
                }
                regs.sp = sp.checked_add(post)?;
            }
            Op::SaveLrPair { reg, offset } => {
                regs.set(reg, memory.u64_at(at(offset))?);
                regs.x[LR] = memory.u64_at(at(offset).wrapping_add(8))?;
            }
            Op::SaveFpLr { offset, post } => {
                regs.x[FP] = memory.u64_at(at(offset))?;
                regs.x[LR] = memory.u64_at(at(offset).wrapping_add(8))?;
                regs.sp = sp.checked_add(post)?;
            }
            Op::SaveFloat { post, .. } => regs.sp = sp.checked_add(post)?,
            Op::SetFp => regs.sp = regs.x[FP],
            Op::AddFp(n) => regs.sp = regs.x[FP].checked_sub(n)?,
            Op::Nop => {}
            Op::End => break,
            Op::MachineFrame => {
                regs.pc = memory.u64_at(at(8))?;
                regs.sp = memory.u64_at(sp)?;
                return Some(true);
            }
            Op::Context => {
                for (i, slot) in regs.x.iter_mut().enumerate() {
                    *slot = memory.u64_at(at(CONTEXT_X0 + 8 * i as u64))?;
                }
                regs.pc = memory.u64_at(at(CONTEXT_PC))?;
                regs.sp = memory.u64_at(at(CONTEXT_SP))?;
                return Some(true);
            }
            Op::SaveNext | Op::Unsupported => return None,
        }
    }
    regs.pc = strip_pac(regs.x[LR]);
    Some(false)
}

/// One step: `Some(interrupted)` when the frame was unwound with the image's data.
fn unwind_frame(
    regs: &mut Arm64Registers,
    memory: &dyn Memory,
    image: &dyn Image,
    lookup: u64,
    first: bool,
) -> Option<bool> {
    let dir = ExceptionDirectory::of_entries(image, 8)?;
    let rva = lookup.checked_sub(image.base())?;
    let Some((begin, unwind)) = find_function(image, dir, rva) else {
        // No entry: a leaf function, which keeps its return address in LR. Only the
        // context's own frame can be one (LR is not known further up).
        if !first {
            return None;
        }
        regs.pc = strip_pac(regs.x[LR]);
        return Some(false);
    };
    match unwind {
        Unwind::Packed(p) => unwind_packed(regs, memory, &p).map(|()| false),
        Unwind::Codes(ops, _) => {
            // Each code undoes one prolog instruction; in the context's frame, only those
            // that ran (the prolog's instructions are listed last first).
            let prolog = ops.iter().take_while(|op| **op != Op::End).count() as u64;
            let ran = (rva - begin) / 4;
            let skip = if first && ran < prolog {
                prolog - ran
            } else {
                0
            };
            unwind_codes(regs, memory, &ops, usize::try_from(skip).ok()?)
        }
    }
}

/// Walks an ARM64 stack from `start`.
pub fn walk_arm64(start: Arm64Registers, memory: &dyn Memory, images: &dyn Images) -> Vec<Frame> {
    let mut regs = start;
    let mut frames = vec![Frame::new(regs.pc, regs.sp, Trust::Context)];
    while frames.len() < MAX_FRAMES {
        let Some(last) = frames.last().copied() else {
            break;
        };
        let first = last.trust == Trust::Context || last.interrupted;
        let before = regs;
        let lookup = last.lookup_address();
        let unwound = images
            .image_at(lookup)
            .and_then(|image| unwind_frame(&mut regs, memory, image, lookup, first));
        let sound = unwound.filter(|interrupted| {
            regs.pc != 0 && (*interrupted || regs.sp > before.sp || (first && regs.sp == before.sp))
        });
        if let Some(interrupted) = sound {
            if regs.pc == before.pc && regs.sp == before.sp {
                break; // a leaf whose LR points at itself: nothing more to learn
            }
            frames.push(Frame {
                pc: regs.pc,
                sp: regs.sp,
                trust: Trust::CallFrameInfo,
                interrupted,
            });
            if images.image_at(regs.pc).is_none() {
                break; // out of the images: user mode, or the end of the stack
            }
            continue;
        }
        regs = before;
        match crate::scan::find_return_arm64(memory, images, last.sp) {
            Some((pc, slot)) => {
                regs.pc = pc;
                regs.sp = slot.wrapping_add(8);
                frames.push(Frame::new(pc, regs.sp, Trust::Scan));
            }
            None => break,
        }
    }
    frames
}

#[cfg(test)]
mod tests;
