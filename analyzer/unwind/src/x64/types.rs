//! The registers and records x64 unwinding passes between its steps.

/// The registers unwinding restores: the 16 general registers in the order unwind codes number
/// them (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15), and RIP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct X64Registers {
    /// RAX..R15 by unwind-code number.
    pub gpr: [u64; 16],
    /// The instruction pointer.
    pub rip: u64,
}

pub(crate) const RSP: usize = 4;

impl X64Registers {
    /// The stack pointer.
    pub fn rsp(&self) -> u64 {
        self.gpr[RSP]
    }

    pub(crate) fn set(&mut self, reg: u8, value: u64) {
        if let Some(slot) = self.gpr.get_mut(usize::from(reg)) {
            *slot = value;
        }
    }

    pub(crate) fn get(&self, reg: u8) -> u64 {
        self.gpr.get(usize::from(reg)).copied().unwrap_or(0)
    }
}

/// One `RUNTIME_FUNCTION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RuntimeFunction {
    pub(crate) begin: u32,
    pub(crate) end: u32,
    pub(crate) unwind: u32,
}

/// What one unwind step found.
pub(crate) struct Step {
    /// The frame was an interrupt or trap frame: the next frame is the interrupted code, on
    /// whatever stack it ran.
    pub(crate) machine_frame: bool,
}
