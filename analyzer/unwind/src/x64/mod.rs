//! x64 unwinding with the exception directory's unwind data (the x64 ABI's "x64 exception
//! handling": `RUNTIME_FUNCTION`, `UNWIND_INFO`, `UNWIND_CODE`).

mod epilog;
mod types;

pub use types::X64Registers;

use crate::pe::{u32_at, ExceptionDirectory};
use crate::{scan, Frame, Image, Images, Memory, Trust, MAX_FRAMES};
use types::{RuntimeFunction, Step, RSP};

fn read_function(image: &dyn Image, rva: u64) -> Option<RuntimeFunction> {
    Some(RuntimeFunction {
        begin: u32_at(image, rva)?,
        end: u32_at(image, rva + 4)?,
        unwind: u32_at(image, rva + 8)?,
    })
}

/// The entry covering `rva`, by binary search of the sorted table.
fn find_function(image: &dyn Image, dir: ExceptionDirectory, rva: u32) -> Option<RuntimeFunction> {
    let (mut low, mut high) = (0u64, dir.entries);
    while low < high {
        let mid = low + (high - low) / 2;
        let entry = read_function(image, dir.rva + mid * 12)?;
        if rva < entry.begin {
            high = mid;
        } else if rva >= entry.end {
            low = mid + 1;
        } else {
            // Bit 0 of the unwind RVA marks an entry that points at another entry.
            if entry.unwind & 1 == 1 {
                let target = read_function(image, u64::from(entry.unwind & !1))?;
                return Some(RuntimeFunction {
                    begin: entry.begin,
                    end: entry.end,
                    ..target
                });
            }
            return Some(entry);
        }
    }
    None
}

const UNW_FLAG_CHAININFO: u8 = 0x4;

const UWOP_PUSH_NONVOL: u8 = 0;
const UWOP_ALLOC_LARGE: u8 = 1;
const UWOP_ALLOC_SMALL: u8 = 2;
const UWOP_SET_FPREG: u8 = 3;
const UWOP_SAVE_NONVOL: u8 = 4;
const UWOP_SAVE_NONVOL_FAR: u8 = 5;
/// Version 2: an epilog description; version 1: `UWOP_SAVE_XMM` (obsolete).
const UWOP_EPILOG_OR_SAVE_XMM: u8 = 6;
/// Version 2: spare; version 1: `UWOP_SAVE_XMM_FAR` (obsolete).
const UWOP_SPARE_OR_SAVE_XMM_FAR: u8 = 7;
const UWOP_SAVE_XMM128: u8 = 8;
const UWOP_SAVE_XMM128_FAR: u8 = 9;
const UWOP_PUSH_MACHFRAME: u8 = 10;

/// A decoded `UNWIND_INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UnwindInfo {
    version: u8,
    flags: u8,
    prolog_size: u8,
    frame_register: u8,
    frame_offset: u8,
    /// The unwind code slots, two bytes each.
    slots: Vec<[u8; 2]>,
    chained: Option<RuntimeFunction>,
}

fn read_unwind_info(image: &dyn Image, rva: u64) -> Option<UnwindInfo> {
    let mut head = [0u8; 4];
    if !image.read_rva(rva, &mut head) {
        return None;
    }
    let [version_flags, prolog_size, count, frame] = head;
    let (version, flags) = (version_flags & 0x7, version_flags >> 3);
    if !(1..=2).contains(&version) {
        return None;
    }
    let mut codes = vec![0u8; usize::from(count) * 2];
    if !image.read_rva(rva + 4, &mut codes) {
        return None;
    }
    let slots = codes
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .collect();
    // The chained entry follows the codes, padded to an even number of slots.
    let padded = (u64::from(count) + u64::from(count & 1)) * 2;
    let chained = if flags & UNW_FLAG_CHAININFO != 0 {
        Some(read_function(image, rva + 4 + padded)?)
    } else {
        None
    };
    Some(UnwindInfo {
        version,
        flags,
        prolog_size,
        frame_register: frame & 0xF,
        frame_offset: frame >> 4,
        slots,
        chained,
    })
}

/// Slots taken by a code.
fn code_slots(op: u8, info: u8, version: u8) -> Option<usize> {
    Some(match op {
        UWOP_PUSH_NONVOL | UWOP_ALLOC_SMALL | UWOP_SET_FPREG | UWOP_PUSH_MACHFRAME => 1,
        UWOP_ALLOC_LARGE if info == 0 => 2,
        UWOP_ALLOC_LARGE if info == 1 => 3,
        UWOP_SAVE_NONVOL | UWOP_SAVE_XMM128 => 2,
        UWOP_SAVE_NONVOL_FAR | UWOP_SAVE_XMM128_FAR => 3,
        UWOP_EPILOG_OR_SAVE_XMM => 2,
        UWOP_SPARE_OR_SAVE_XMM_FAR if version == 1 => 3,
        UWOP_SPARE_OR_SAVE_XMM_FAR => 3,
        _ => return None,
    })
}

fn slot_u16(slots: &[[u8; 2]], i: usize) -> Option<u64> {
    slots.get(i).map(|s| u64::from(u16::from_le_bytes(*s)))
}

fn slot_u32(slots: &[[u8; 2]], i: usize) -> Option<u64> {
    Some(slot_u16(slots, i)? | (slot_u16(slots, i + 1)? << 16))
}

/// Applies the codes of one `UNWIND_INFO`; `prolog_offset` is how far into the prolog the
/// function got (`u32::MAX` when past it).
fn apply_codes(
    regs: &mut X64Registers,
    memory: &dyn Memory,
    info: &UnwindInfo,
    prolog_offset: u32,
) -> Option<bool> {
    let slots = &info.slots;
    // The frame register is the base only once the prolog has set it.
    let fp_set = info.frame_register != 0
        && slots
            .iter()
            .any(|s| s[1] & 0xF == UWOP_SET_FPREG && u32::from(s[0]) <= prolog_offset);
    let frame = if fp_set {
        regs.get(info.frame_register)
            .wrapping_sub(u64::from(info.frame_offset) * 16)
    } else {
        regs.rsp()
    };
    let mut machine_frame = false;
    let mut i = 0;
    while let Some(slot) = slots.get(i) {
        let (offset, op, op_info) = (slot[0], slot[1] & 0xF, slot[1] >> 4);
        let size = code_slots(op, op_info, info.version)?;
        if prolog_offset < u32::from(offset) {
            i += size;
            continue; // not executed yet
        }
        let rsp = regs.rsp();
        match op {
            UWOP_PUSH_NONVOL => {
                regs.set(op_info, memory.u64_at(rsp)?);
                regs.gpr[RSP] = rsp.wrapping_add(8);
            }
            UWOP_ALLOC_LARGE => {
                let size = if op_info == 0 {
                    slot_u16(slots, i + 1)? * 8
                } else {
                    slot_u32(slots, i + 1)?
                };
                regs.gpr[RSP] = rsp.wrapping_add(size);
            }
            UWOP_ALLOC_SMALL => {
                regs.gpr[RSP] = rsp.wrapping_add(u64::from(op_info) * 8 + 8);
            }
            UWOP_SET_FPREG => regs.gpr[RSP] = frame,
            UWOP_SAVE_NONVOL => {
                let at = frame.wrapping_add(slot_u16(slots, i + 1)? * 8);
                regs.set(op_info, memory.u64_at(at)?);
            }
            UWOP_SAVE_NONVOL_FAR => {
                let at = frame.wrapping_add(slot_u32(slots, i + 1)?);
                regs.set(op_info, memory.u64_at(at)?);
            }
            // XMM registers are not tracked; epilog descriptions and spare codes change
            // nothing when unwinding from the body.
            UWOP_SAVE_XMM128
            | UWOP_SAVE_XMM128_FAR
            | UWOP_EPILOG_OR_SAVE_XMM
            | UWOP_SPARE_OR_SAVE_XMM_FAR => {}
            UWOP_PUSH_MACHFRAME => {
                // With an error code pushed (info 1) the frame starts one slot higher.
                let base = rsp.wrapping_add(if op_info == 1 { 8 } else { 0 });
                regs.rip = memory.u64_at(base)?;
                regs.gpr[RSP] = memory.u64_at(base.wrapping_add(24))?;
                machine_frame = true;
            }
            _ => return None,
        }
        i += size;
    }
    Some(machine_frame)
}

/// Unwinds one frame in place. `first` is the frame the context describes (it may be in a
/// prolog or an epilog); callers' frames are at return addresses, past their prologs.
pub(crate) fn unwind_frame(
    regs: &mut X64Registers,
    memory: &dyn Memory,
    image: &dyn Image,
    first: bool,
) -> Option<Step> {
    let pc = if first {
        regs.rip
    } else {
        regs.rip.wrapping_sub(1)
    };
    let rva = u32::try_from(pc.checked_sub(image.base())?).ok()?;
    // Without a readable exception directory nothing can be said (the image's headers are
    // not in the dump): the caller scans. With one, an address no entry covers is a leaf.
    let dir = ExceptionDirectory::of(image)?;
    let Some(function) = find_function(image, dir, rva) else {
        // A leaf function: no frame, the return address is at the stack pointer.
        let rsp = regs.rsp();
        regs.rip = memory.u64_at(rsp)?;
        regs.gpr[RSP] = rsp.wrapping_add(8);
        return Some(Step {
            machine_frame: false,
        });
    };
    if first {
        if let Some(step) = epilog::unwind_epilog(regs, memory, image, function) {
            return Some(step);
        }
    }
    let mut prolog_offset = if first {
        rva.wrapping_sub(function.begin)
    } else {
        u32::MAX
    };
    let mut entry = function;
    let mut machine_frame = false;
    for _ in 0..32 {
        let info = read_unwind_info(image, u64::from(entry.unwind))?;
        if prolog_offset >= u32::from(info.prolog_size) {
            prolog_offset = u32::MAX;
        }
        machine_frame |= apply_codes(regs, memory, &info, prolog_offset)?;
        match info.chained {
            // A chained entry describes the rest of the prolog, always fully executed.
            Some(next) if info.flags & UNW_FLAG_CHAININFO != 0 => {
                entry = next;
                prolog_offset = u32::MAX;
            }
            _ => {
                if !machine_frame {
                    let rsp = regs.rsp();
                    regs.rip = memory.u64_at(rsp)?;
                    regs.gpr[RSP] = rsp.wrapping_add(8);
                }
                return Some(Step { machine_frame });
            }
        }
    }
    None // a chain that does not end
}

/// Walks the stack from `start` (the context's registers): frame 0 is the context, each next
/// frame is unwound with the unwind data of the image its address is in, and a stack scan
/// takes over where that is impossible. The walk ends at address 0, at an unwound return
/// address outside every image (for a kernel stack: user mode), or after [`MAX_FRAMES`].
pub fn walk_x64(start: X64Registers, memory: &dyn Memory, images: &dyn Images) -> Vec<Frame> {
    let mut regs = start;
    let mut frames = vec![Frame::new(regs.rip, regs.rsp(), Trust::Context)];
    while frames.len() < MAX_FRAMES {
        let Some(last) = frames.last().copied() else {
            break;
        };
        // The context's frame and an interrupted one may stop in a prolog or an epilog.
        let first = last.trust == Trust::Context || last.interrupted;
        let before = regs;
        let unwound = images
            .image_at(last.lookup_address())
            .and_then(|image| unwind_frame(&mut regs, memory, image, first));
        let sound = unwound
            .filter(|step| regs.rip != 0 && (step.machine_frame || regs.rsp() > before.rsp()));
        if let Some(step) = sound {
            frames.push(Frame {
                pc: regs.rip,
                sp: regs.rsp(),
                trust: Trust::CallFrameInfo,
                interrupted: step.machine_frame,
            });
            if images.image_at(regs.rip).is_none()
                && images.image_at(regs.rip.wrapping_sub(1)).is_none()
            {
                break; // out of the images: user mode, or the end of the stack
            }
            continue;
        }
        regs = before;
        match scan::find_return(memory, images, last.sp, 8) {
            Some((pc, slot)) => {
                regs.rip = pc;
                regs.gpr[RSP] = slot.wrapping_add(8);
                frames.push(Frame::new(pc, regs.rsp(), Trust::Scan));
            }
            None => break,
        }
    }
    frames
}
