//! x86: frame data from symbols first, then the EBP chain, then a scan.
//!
//! A function compiled with frame-pointer omission (FPO) keeps no `push ebp; mov ebp, esp`
//! frame: following the EBP chain through it skips its caller. The PDB records how such
//! functions lay out their frames (the FPO stream, and frame-data programs), which Breakpad
//! symbol files carry as `STACK WIN` records; the caller supplies them ([`X86FrameData`]).
//! Where they are missing, a frame built with `push ebp; mov ebp, esp` keeps the caller's EBP
//! at [EBP] and the return address at [EBP + 4]; where that chain breaks too (a damaged stack),
//! the stack is scanned.

use crate::{scan, Frame, Images, Memory, Trust, MAX_FRAMES};

/// The x86 registers a frame's unwinding reads and restores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct X86Registers {
    /// Instruction pointer.
    pub eip: u32,
    /// Stack pointer.
    pub esp: u32,
    /// Frame pointer.
    pub ebp: u32,
    /// Callee-saved registers frame-data programs may restore (`None`: not known).
    pub ebx: Option<u32>,
    /// As `ebx`.
    pub esi: Option<u32>,
    /// As `ebx`.
    pub edi: Option<u32>,
}

/// One x86 frame as frame data sees it.
#[derive(Debug, Clone, Copy)]
pub struct X86Callee {
    /// The address to look frame data up for: the instruction, or the return address minus
    /// one (see [`Frame::lookup_address`]).
    pub lookup: u64,
    /// The frame's registers.
    pub registers: X86Registers,
    /// The lookup address of the frame this one called (`None` for the first frame), whose
    /// parameters lie on this frame's stack.
    pub called: Option<u64>,
}

/// Frame data for x86 functions, from symbols (Breakpad `STACK WIN` records).
pub trait X86FrameData {
    /// The caller's registers of `callee`, or `None` where there is no record for its
    /// function or the record does not evaluate over `memory`.
    fn caller(&self, callee: &X86Callee, memory: &dyn Memory) -> Option<X86Registers>;
}

/// Walks an x86 stack from `start`, with `frame_data` where symbols supply it.
pub fn walk_x86(
    start: X86Registers,
    memory: &dyn Memory,
    images: &dyn Images,
    frame_data: Option<&dyn X86FrameData>,
) -> Vec<Frame> {
    let mut frames = vec![Frame::new(
        u64::from(start.eip),
        u64::from(start.esp),
        Trust::Context,
    )];
    let mut regs = start;
    let mut called = None;
    while frames.len() < MAX_FRAMES {
        let Some(last) = frames.last().copied() else {
            break;
        };
        let callee = X86Callee {
            lookup: last.lookup_address(),
            registers: regs,
            called,
        };
        let Some((caller, trust)) = from_frame_data(&callee, memory, images, frame_data)
            .map(|c| (c, Trust::CallFrameInfo))
            .or_else(|| from_ebp_chain(&regs, memory, images).map(|c| (c, Trust::FramePointer)))
            .or_else(|| from_scan(&last, memory, images).map(|c| (c, Trust::Scan)))
        else {
            break;
        };
        frames.push(Frame::new(
            u64::from(caller.eip),
            u64::from(caller.esp),
            trust,
        ));
        called = Some(callee.lookup);
        regs = caller;
    }
    frames
}

/// The caller by the symbols' frame data, if it leads up the stack into an image.
fn from_frame_data(
    callee: &X86Callee,
    memory: &dyn Memory,
    images: &dyn Images,
    frame_data: Option<&dyn X86FrameData>,
) -> Option<X86Registers> {
    let caller = frame_data?.caller(callee, memory)?;
    (caller.esp > callee.registers.esp
        && caller.eip != 0
        && images.image_at(u64::from(caller.eip)).is_some())
    .then_some(caller)
}

/// The caller by the EBP chain: [EBP] is the caller's EBP, [EBP + 4] the return address.
fn from_ebp_chain(
    regs: &X86Registers,
    memory: &dyn Memory,
    images: &dyn Images,
) -> Option<X86Registers> {
    let ebp = u64::from(regs.ebp);
    if ebp == 0 || regs.ebp < regs.esp {
        return None;
    }
    let next_ebp = memory.u32_at(ebp)?;
    let ret = memory.u32_at(ebp.checked_add(4)?)?;
    if ret == 0 || images.image_at(u64::from(ret)).is_none() {
        return None;
    }
    Some(X86Registers {
        eip: ret,
        esp: regs.ebp.checked_add(8)?,
        // The chain must climb the stack; otherwise it ends here.
        ebp: if next_ebp > regs.ebp { next_ebp } else { 0 },
        ..X86Registers::default()
    })
}

/// The caller by scanning above the last frame for a return address after a call.
fn from_scan(last: &Frame, memory: &dyn Memory, images: &dyn Images) -> Option<X86Registers> {
    let (pc, slot) = scan::find_return(memory, images, last.sp, 4)?;
    // A frame found by scanning has no known EBP: try the chain from the slot below, where
    // `push ebp` would have left the caller's.
    let ebp = memory.u32_at(slot.wrapping_sub(4)).unwrap_or(0);
    Some(X86Registers {
        eip: u32::try_from(pc).ok()?,
        esp: u32::try_from(slot + 4).ok()?,
        ebp: if u64::from(ebp) > slot { ebp } else { 0 },
        ..X86Registers::default()
    })
}
