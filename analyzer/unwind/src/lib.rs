//! Stack unwinding over any memory, the way the debugger does it, with each frame marked by how
//! it was found (as minidump-processor marks trust).
//!
//! - **x64** ([`walk_x64`]): from a context, each frame is unwound with the unwind data of the
//!   image it is in: the `RUNTIME_FUNCTION` table of the exception directory, `UNWIND_INFO` and
//!   every `UWOP_*` code, chained entries, leaf functions (no entry: the return address is at
//!   the stack pointer), `UWOP_PUSH_MACHFRAME` (a trap or interrupt frame: the next frame is the
//!   interrupted code), and a function's epilog when the context stopped inside one.
//! - **x86** ([`walk_x86`]): frame data from symbols (`STACK WIN`: FPO records and frame-data
//!   programs, supplied by the caller as [`X86FrameData`]), then the EBP chain.
//! - **ARM64** ([`walk_arm64`]): `.pdata` entries with packed unwind data (the canonical
//!   frame) or `.xdata` unwind codes (every code but SVE allocations and trap frames), a leaf
//!   function's return address in LR, machine frames and CONTEXT records.
//! - Where unwinding cannot go on (an address outside every image, an image whose bytes are
//!   not available, data that leads nowhere), the stack is scanned for a return address into
//!   an image, preceded by a call instruction; those frames are [`Trust::Scan`].
//!
//! The caller supplies memory ([`Memory`]) and images ([`Images`]): in a kernel dump the stack
//! is dump memory and an image's bytes come from the dump or from an image store. Nothing here
//! panics on any input, and every walk is bounded ([`MAX_FRAMES`]).

mod arm64;
mod pe;
mod scan;
mod x64;
mod x86;

#[cfg(test)]
mod test_memory;
#[cfg(test)]
mod tests;

use serde::Serialize;

pub use arm64::{walk_arm64, Arm64Registers};
pub use pe::ExceptionDirectory;
pub use x64::{walk_x64, X64Registers};
pub use x86::{walk_x86, X86Callee, X86FrameData, X86Registers};

/// Most frames one walk produces.
pub const MAX_FRAMES: usize = 256;

/// Virtual memory the stack lives in.
pub trait Memory {
    /// Fills `buf` from `address`; false if any byte is unavailable.
    fn read(&self, address: u64, buf: &mut [u8]) -> bool;

    /// The little-endian u64 at `address`.
    fn u64_at(&self, address: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read(address, &mut b).then(|| u64::from_le_bytes(b))
    }

    /// The little-endian u32 at `address`.
    fn u32_at(&self, address: u64) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read(address, &mut b).then(|| u32::from_le_bytes(b))
    }
}

/// One loaded image as the unwinder sees it.
pub trait Image {
    /// Where it is loaded.
    fn base(&self) -> u64;
    /// Its size in memory (SizeOfImage).
    fn size(&self) -> u64;
    /// Fills `buf` from the image's relative virtual address `rva` (headers, unwind data,
    /// code); false if any byte is unavailable.
    fn read_rva(&self, rva: u64, buf: &mut [u8]) -> bool;
}

/// The loaded images, by address.
pub trait Images {
    /// The image containing `address`.
    fn image_at(&self, address: u64) -> Option<&dyn Image>;
}

/// How a frame was found, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// The context record itself (the first frame, or a `.cxr` / `.trap` record).
    Context,
    /// Unwound with unwind data: x64 `UNWIND_INFO` or ARM64 `.pdata`/`.xdata` from the image,
    /// x86 `STACK WIN` frame data from symbols.
    CallFrameInfo,
    /// Followed the frame-pointer chain (x86 EBP).
    FramePointer,
    /// Found by scanning the stack for a return address: a guess.
    Scan,
}

impl Trust {
    /// The word reports use.
    pub fn words(self) -> &'static str {
        match self {
            Trust::Context => "context",
            Trust::CallFrameInfo => "unwind data",
            Trust::FramePointer => "frame pointer",
            Trust::Scan => "stack scan",
        }
    }
}

/// One frame of a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// The instruction address (frame 0) or the return address.
    pub pc: u64,
    /// The stack pointer in this frame.
    pub sp: u64,
    /// How the frame was found.
    pub trust: Trust,
    /// `pc` is an interrupted instruction (the frame below was a trap or interrupt frame), not
    /// a return address.
    pub interrupted: bool,
}

impl Frame {
    /// A frame at `pc` and `sp`, found as `trust` says, not interrupted.
    pub fn new(pc: u64, sp: u64, trust: Trust) -> Frame {
        Frame {
            pc,
            sp,
            trust,
            interrupted: false,
        }
    }

    /// The address to look up symbols and unwind data for: a return address points after the
    /// call, which may be the first byte of the next function; an instruction address (the
    /// context's, an interrupted one) is itself.
    pub fn lookup_address(&self) -> u64 {
        if self.trust == Trust::Context || self.interrupted {
            self.pc
        } else {
            self.pc.wrapping_sub(1)
        }
    }
}
