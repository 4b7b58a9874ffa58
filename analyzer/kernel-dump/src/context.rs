//! CPU context (x86, x64, ARM64) and exception records.
//!
//! The context says where the crashing processor was: PC, stack pointer and frame pointer drive
//! the stack scan and the fallback attribution. Only the registers a report shows are decoded.

use serde::Serialize;

use super::bytes::{slice, u32_at, u64_at};

/// Machine types this reader decodes contexts for.
pub const MACHINE_X86: u32 = 0x14C;
/// x64.
pub const MACHINE_X64: u32 = 0x8664;
/// ARM64.
pub const MACHINE_ARM64: u32 = 0xAA64;

/// A decoded CPU context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Context {
    /// `x86`, `x64` or `ARM64`.
    pub arch: &'static str,
    /// Program counter (Eip / Rip / Pc).
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub pc: u64,
    /// Stack pointer (Esp / Rsp / Sp).
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub sp: u64,
    /// Frame pointer (Ebp / Rbp / Fp).
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub fp: u64,
    /// ContextFlags.
    pub flags: u32,
    /// Named registers in display order.
    #[serde(serialize_with = "le_bytes::hex::hex_registers")]
    pub registers: Vec<(&'static str, u64)>,
}

const X86_REGS: [(&str, u64); 12] = [
    ("eax", 0xB0),
    ("ebx", 0xA4),
    ("ecx", 0xAC),
    ("edx", 0xA8),
    ("esi", 0xA0),
    ("edi", 0x9C),
    ("ebp", 0xB4),
    ("esp", 0xC4),
    ("eip", 0xB8),
    ("cs", 0xBC),
    ("eflags", 0xC0),
    ("ss", 0xC8),
];

const X64_REGS: [(&str, u64); 17] = [
    ("rax", 0x78),
    ("rbx", 0x90),
    ("rcx", 0x80),
    ("rdx", 0x88),
    ("rsi", 0xA8),
    ("rdi", 0xB0),
    ("rbp", 0xA0),
    ("rsp", 0x98),
    ("r8", 0xB8),
    ("r9", 0xC0),
    ("r10", 0xC8),
    ("r11", 0xD0),
    ("r12", 0xD8),
    ("r13", 0xE0),
    ("r14", 0xE8),
    ("r15", 0xF0),
    ("rip", 0xF8),
];

/// x64 KTRAP_FRAME: the registers it saves and their offsets (the volatile ones on entry, the
/// frame pointer, and the machine frame the processor pushed).
const X64_TRAP_REGS: [(&str, u64); 13] = [
    ("rax", 0x30),
    ("rcx", 0x38),
    ("rdx", 0x40),
    ("r8", 0x48),
    ("r9", 0x50),
    ("r10", 0x58),
    ("r11", 0x60),
    ("rbx", 0x140),
    ("rdi", 0x148),
    ("rsi", 0x150),
    ("rbp", 0x158),
    ("rip", 0x168),
    ("rsp", 0x180),
];

/// Bytes of an x64 KTRAP_FRAME.
pub const X64_TRAP_FRAME_LEN: usize = 0x190;
/// Bytes of an x64 CONTEXT.
pub const X64_CONTEXT_LEN: usize = 0x4D0;
/// Bytes of an x86 CONTEXT.
pub const X86_CONTEXT_LEN: usize = 0x2CC;

impl Context {
    /// Decodes an x64 KTRAP_FRAME (what `.trap` shows): the registers it saved, the interrupted
    /// instruction and stack pointer. `None` for another machine or too few bytes.
    pub fn from_trap_frame(frame: &[u8], machine: u32) -> Option<Context> {
        if machine != MACHINE_X64 {
            return None;
        }
        let mut registers = Vec::new();
        for (name, off) in X64_TRAP_REGS {
            registers.push((name, u64_at(frame, off)?));
        }
        registers.push(("eflags", u64::from(u32_at(frame, 0x178)?)));
        Some(Context {
            arch: "x64",
            pc: u64_at(frame, 0x168)?,
            sp: u64_at(frame, 0x180)?,
            fp: u64_at(frame, 0x158)?,
            flags: 0,
            registers,
        })
    }

    /// Decodes the context of `machine` at file offset `offset`; `None` for an unknown machine
    /// or a context that does not fit in the file.
    pub fn parse(data: &[u8], offset: u64, machine: u32) -> Option<Context> {
        match machine {
            MACHINE_X86 => {
                let ctx = slice(data, offset, 0x2CC)?;
                let mut registers = Vec::new();
                for (name, off) in X86_REGS {
                    registers.push((name, u64::from(u32_at(ctx, off)?)));
                }
                Some(Context {
                    arch: "x86",
                    pc: u64::from(u32_at(ctx, 0xB8)?),
                    sp: u64::from(u32_at(ctx, 0xC4)?),
                    fp: u64::from(u32_at(ctx, 0xB4)?),
                    flags: u32_at(ctx, 0)?,
                    registers,
                })
            }
            MACHINE_X64 => {
                let ctx = slice(data, offset, 0x4D0)?;
                let mut registers = Vec::new();
                for (name, off) in X64_REGS {
                    registers.push((name, u64_at(ctx, off)?));
                }
                registers.push(("eflags", u64::from(u32_at(ctx, 0x44)?)));
                Some(Context {
                    arch: "x64",
                    pc: u64_at(ctx, 0xF8)?,
                    sp: u64_at(ctx, 0x98)?,
                    fp: u64_at(ctx, 0xA0)?,
                    flags: u32_at(ctx, 0x30)?,
                    registers,
                })
            }
            MACHINE_ARM64 => {
                let ctx = slice(data, offset, 0x390)?;
                let mut registers = Vec::new();
                const NAMES: [&str; 29] = [
                    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
                    "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22",
                    "x23", "x24", "x25", "x26", "x27", "x28",
                ];
                for (i, name) in (0u64..).zip(NAMES) {
                    registers.push((name, u64_at(ctx, 0x08 + 8 * i)?));
                }
                let fp = u64_at(ctx, 0xF0)?;
                let sp = u64_at(ctx, 0x100)?;
                let pc = u64_at(ctx, 0x108)?;
                registers.push(("fp", fp));
                registers.push(("lr", u64_at(ctx, 0xF8)?));
                registers.push(("sp", sp));
                registers.push(("pc", pc));
                registers.push(("cpsr", u64::from(u32_at(ctx, 0x4)?)));
                Some(Context {
                    arch: "ARM64",
                    pc,
                    sp,
                    fp,
                    flags: u32_at(ctx, 0)?,
                    registers,
                })
            }
            _ => None,
        }
    }
}

/// An EXCEPTION_RECORD32 / EXCEPTION_RECORD64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionRecord {
    /// ExceptionCode.
    #[serde(serialize_with = "le_bytes::hex::hex_u32")]
    pub code: u32,
    /// ExceptionFlags.
    pub flags: u32,
    /// Nested ExceptionRecord pointer.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub record: u64,
    /// ExceptionAddress.
    #[serde(serialize_with = "le_bytes::hex::hex")]
    pub address: u64,
    /// NumberParameters as written.
    pub number_parameters: u32,
    /// ExceptionInformation, at most 15 entries.
    #[serde(serialize_with = "le_bytes::hex::hex_vec")]
    pub information: Vec<u64>,
}

impl ExceptionRecord {
    /// Decodes the record at file offset `offset`; `None` when it does not fit in the file.
    pub fn parse(data: &[u8], offset: u64, ptr64: bool) -> Option<ExceptionRecord> {
        let rec = slice(data, offset, if ptr64 { 0x98 } else { 0x50 })?;
        let code = u32_at(rec, 0)?;
        let flags = u32_at(rec, 4)?;
        let (record, address, number_parameters, info_off, stride) = if ptr64 {
            (
                u64_at(rec, 8)?,
                u64_at(rec, 0x10)?,
                u32_at(rec, 0x18)?,
                0x20u64,
                8u64,
            )
        } else {
            let r = u64::from(u32_at(rec, 8)?);
            let a = u64::from(u32_at(rec, 0xC)?);
            (r, a, u32_at(rec, 0x10)?, 0x14, 4)
        };
        let mut information = Vec::new();
        for i in 0..u64::from(number_parameters.min(15)) {
            let off = info_off + i * stride;
            let v = if ptr64 {
                u64_at(rec, off)?
            } else {
                u64::from(u32_at(rec, off)?)
            };
            information.push(v);
        }
        Some(ExceptionRecord {
            code,
            flags,
            record,
            address,
            number_parameters,
            information,
        })
    }
}
