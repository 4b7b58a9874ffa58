//! DUMP_HEADER32 (0x1000 bytes) and DUMP_HEADER64 (0x2000 bytes), pre-filled with `PAGE` the way
//! the kernel writer does, plus the CONTEXT and EXCEPTION_RECORD records they embed.

use super::phys::Run;
use super::writer::{Buf, PAGE_PATTERN};

/// Register values for a CONTEXT record.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Regs {
    /// Instruction pointer.
    pub(crate) ip: u64,
    /// Stack pointer.
    pub(crate) sp: u64,
    /// Frame pointer.
    pub(crate) bp: u64,
    /// Rax / Eax.
    pub(crate) ax: u64,
    /// Rcx / Ecx (first argument on x64).
    pub(crate) cx: u64,
    /// Rdx / Edx.
    pub(crate) dx: u64,
    /// Rbx / Ebx.
    pub(crate) bx: u64,
    /// R8 (x64 only).
    pub(crate) r8: u64,
    /// R9 (x64 only).
    pub(crate) r9: u64,
    /// LR (ARM64 only; x0 is `cx`, x29 is `bp`).
    pub(crate) lr: u64,
}

/// An ARM64 CONTEXT (0x390 bytes): ContextFlags 0, Cpsr 0x4, X0..X28 0x08.., Fp 0xF0, Lr 0xF8,
/// Sp 0x100, Pc 0x108.
pub(crate) fn context_arm64(r: &Regs) -> Vec<u8> {
    let mut b = Buf::zeroed(0x390);
    b.u32(0x00, 0x0040_0007); // CONTEXT_ARM64 | CONTROL | INTEGER | FLOATING_POINT
    b.u32(0x04, 0x6000_0005); // EL1h
    b.u64(0x08, r.cx);
    b.u64(0x10, r.dx);
    b.u64(0x18, r.r8);
    b.u64(0x20, r.r9);
    b.u64(0xF0, r.bp);
    b.u64(0xF8, r.lr);
    b.u64(0x100, r.sp);
    b.u64(0x108, r.ip);
    b.into_vec()
}

/// An x64 CONTEXT (0x4D0 bytes): ContextFlags 0x30, segments 0x38.., EFlags 0x44, Rax 0x78,
/// Rcx 0x80, Rdx 0x88, Rbx 0x90, Rsp 0x98, Rbp 0xA0, R8 0xB8, R9 0xC0, Rip 0xF8.
pub(crate) fn context_x64(r: &Regs) -> Vec<u8> {
    let mut b = Buf::zeroed(0x4D0);
    b.u32(0x30, 0x0010_000F);
    b.u32(0x34, 0x1F80);
    for (off, sel) in [
        (0x38, 0x10u16),
        (0x3A, 0x2B),
        (0x3C, 0x2B),
        (0x3E, 0x53),
        (0x40, 0x2B),
    ] {
        b.u16(off, sel);
    }
    b.u16(0x42, 0x18);
    b.u32(0x44, 0x0000_0282);
    b.u64(0x78, r.ax);
    b.u64(0x80, r.cx);
    b.u64(0x88, r.dx);
    b.u64(0x90, r.bx);
    b.u64(0x98, r.sp);
    b.u64(0xA0, r.bp);
    b.u64(0xB8, r.r8);
    b.u64(0xC0, r.r9);
    b.u64(0xF8, r.ip);
    b.u32(0x118, 0x1F80); // FltSave.MxCsr
    b.into_vec()
}

/// An x86 CONTEXT (0x2CC bytes): ContextFlags 0, segments 0x8C.., Edi 0x9C .. Eax 0xB0,
/// Ebp 0xB4, Eip 0xB8, SegCs 0xBC, EFlags 0xC0, Esp 0xC4, SegSs 0xC8.
pub(crate) fn context_x86(r: &Regs) -> Vec<u8> {
    let mut b = Buf::zeroed(0x2CC);
    b.u32(0x00, 0x0001_0007);
    b.u32(0x8C, 0);
    b.u32(0x90, 0x30);
    b.u32(0x94, 0x23);
    b.u32(0x98, 0x23);
    b.u32(0x9C, 0);
    b.u32(0xA0, 0);
    b.u32(0xA4, r.bx as u32);
    b.u32(0xA8, r.dx as u32);
    b.u32(0xAC, r.cx as u32);
    b.u32(0xB0, r.ax as u32);
    b.u32(0xB4, r.bp as u32);
    b.u32(0xB8, r.ip as u32);
    b.u32(0xBC, 0x08);
    b.u32(0xC0, 0x0000_0246);
    b.u32(0xC4, r.sp as u32);
    b.u32(0xC8, 0x10);
    b.into_vec()
}

/// An EXCEPTION_RECORD32/64 truncated after its last used parameter (the kernel leaves the rest
/// of the header's record as `PAGE`). x86: Code 0, Flags 4, Record 8, Address 0xC, Count 0x10,
/// Information 0x14; x64: Code 0, Flags 4, Record 8, Address 0x10, Count 0x18, Information 0x20.
pub(crate) fn exception_record(
    width: usize,
    code: u32,
    flags: u32,
    addr: u64,
    info: &[u64],
) -> Vec<u8> {
    let mut b = Buf::new();
    b.u32(0, code);
    b.u32(4, flags);
    if width == 4 {
        b.u32(8, 0);
        b.u32(0xC, addr as u32);
        b.u32(0x10, info.len() as u32);
        for (i, v) in info.iter().enumerate() {
            b.u32(0x14 + 4 * i, *v as u32);
        }
    } else {
        b.u64(8, 0);
        b.u64(0x10, addr);
        b.u32(0x18, info.len() as u32);
        b.u32(0x1C, 0);
        for (i, v) in info.iter().enumerate() {
            b.u64(0x20 + 8 * i, *v);
        }
    }
    b.into_vec()
}

/// Everything a dump header says. `None` fields stay `PAGE` (never written).
#[derive(Debug, Clone, Default)]
pub(crate) struct HeaderInfo {
    /// 0xF free build.
    pub(crate) major: u32,
    /// Build number.
    pub(crate) minor: u32,
    /// DirectoryTableBase (PCID bits included when wanted).
    pub(crate) dtb: u64,
    /// PfnDataBase.
    pub(crate) pfn_database: u64,
    /// PsLoadedModuleList.
    pub(crate) ps_loaded_module_list: u64,
    /// PsActiveProcessHead.
    pub(crate) ps_active_process_head: u64,
    /// MachineImageType.
    pub(crate) machine: u32,
    /// NumberProcessors.
    pub(crate) processors: u32,
    /// BugCheckCode.
    pub(crate) bugcheck: u32,
    /// BugCheckParameter1..4.
    pub(crate) params: [u64; 4],
    /// PaeEnabled (32-bit only).
    pub(crate) pae: bool,
    /// KdDebuggerDataBlock.
    pub(crate) kdbg: u64,
    /// PhysicalMemoryBlock (`None`: left `PAGE`, as in triage and bitmap dumps).
    pub(crate) runs: Option<Vec<Run>>,
    /// CONTEXT bytes.
    pub(crate) context: Vec<u8>,
    /// EXCEPTION_RECORD bytes (prefix).
    pub(crate) exception: Vec<u8>,
    /// DumpType.
    pub(crate) dump_type: u32,
    /// RequiredDumpSpace.
    pub(crate) required_space: u64,
    /// SystemTime (FILETIME).
    pub(crate) system_time: u64,
    /// SystemUpTime (100 ns).
    pub(crate) uptime: u64,
    /// MiniDumpFields.
    pub(crate) minidump_fields: Option<u32>,
    /// SecondaryDataState.
    pub(crate) secondary_state: Option<u32>,
    /// ProductType (1 workstation, 3 server).
    pub(crate) product_type: u32,
    /// SuiteMask.
    pub(crate) suite_mask: u32,
    /// WriterStatus.
    pub(crate) writer_status: Option<u32>,
    /// Attributes (DUMP_FILE_ATTRIBUTES).
    pub(crate) attributes: Option<u32>,
    /// BootId.
    pub(crate) boot_id: Option<u32>,
    /// Comment (ASCII).
    pub(crate) comment: Option<String>,
}

fn runs_total(runs: &[Run]) -> u64 {
    runs.iter().map(|r| r.count).sum()
}

/// DUMP_HEADER32: `PAGEDUMP`, 0x1000 bytes.
pub(crate) fn header32(h: &HeaderInfo) -> Vec<u8> {
    let mut b = Buf::filled(0x1000, PAGE_PATTERN);
    b.put(0, b"PAGEDUMP");
    b.u32(0x08, h.major);
    b.u32(0x0C, h.minor);
    b.u32(0x10, h.dtb as u32);
    b.u32(0x14, h.pfn_database as u32);
    b.u32(0x18, h.ps_loaded_module_list as u32);
    b.u32(0x1C, h.ps_active_process_head as u32);
    b.u32(0x20, h.machine);
    b.u32(0x24, h.processors);
    b.u32(0x28, h.bugcheck);
    for (i, p) in h.params.iter().enumerate() {
        b.u32(0x2C + 4 * i, *p as u32);
    }
    b.u8(0x5C, u8::from(h.pae));
    b.u8(0x5D, 0);
    b.u16(0x5E, 0);
    b.u32(0x60, h.kdbg as u32);
    if let Some(runs) = &h.runs {
        b.u32(0x64, runs.len() as u32);
        b.u32(0x68, runs_total(runs) as u32);
        for (i, r) in runs.iter().enumerate() {
            b.u32(0x6C + 8 * i, r.base as u32);
            b.u32(0x70 + 8 * i, r.count as u32);
        }
    }
    b.put(0x320, &h.context);
    b.put(0x7D0, &h.exception);
    if let Some(c) = &h.comment {
        b.put(0x820, &comment_bytes(c));
    }
    if let Some(a) = h.attributes {
        b.u32(0x8A0, a);
    }
    if let Some(id) = h.boot_id {
        b.u32(0x8A4, id);
    }
    b.u32(0xF88, h.dump_type);
    opt(&mut b, 0xF8C, h.minidump_fields);
    opt(&mut b, 0xF90, h.secondary_state);
    b.u32(0xF94, h.product_type);
    b.u32(0xF98, h.suite_mask);
    opt(&mut b, 0xF9C, h.writer_status);
    b.u64(0xFA0, h.required_space);
    b.u64(0xFB8, h.uptime);
    b.u64(0xFC0, h.system_time);
    b.into_vec()
}

/// DUMP_HEADER64: `PAGEDU64`, 0x2000 bytes.
pub(crate) fn header64(h: &HeaderInfo) -> Vec<u8> {
    let mut b = Buf::filled(0x2000, PAGE_PATTERN);
    b.put(0, b"PAGEDU64");
    b.u32(0x08, h.major);
    b.u32(0x0C, h.minor);
    b.u64(0x10, h.dtb);
    b.u64(0x18, h.pfn_database);
    b.u64(0x20, h.ps_loaded_module_list);
    b.u64(0x28, h.ps_active_process_head);
    b.u32(0x30, h.machine);
    b.u32(0x34, h.processors);
    b.u32(0x38, h.bugcheck);
    for (i, p) in h.params.iter().enumerate() {
        b.u64(0x40 + 8 * i, *p);
    }
    b.u64(0x80, h.kdbg);
    if let Some(runs) = &h.runs {
        b.u32(0x88, runs.len() as u32);
        b.u64(0x90, runs_total(runs));
        for (i, r) in runs.iter().enumerate() {
            b.u64(0x98 + 16 * i, r.base);
            b.u64(0xA0 + 16 * i, r.count);
        }
    }
    b.put(0x348, &h.context);
    b.put(0xF00, &h.exception);
    b.u32(0xF98, h.dump_type);
    b.u64(0xFA0, h.required_space);
    b.u64(0xFA8, h.system_time);
    if let Some(c) = &h.comment {
        b.put(0xFB0, &comment_bytes(c));
    }
    b.u64(0x1030, h.uptime);
    opt(&mut b, 0x1038, h.minidump_fields);
    opt(&mut b, 0x103C, h.secondary_state);
    b.u32(0x1040, h.product_type);
    b.u32(0x1044, h.suite_mask);
    opt(&mut b, 0x1048, h.writer_status);
    opt(&mut b, 0x1050, h.attributes);
    opt(&mut b, 0x1054, h.boot_id);
    b.into_vec()
}

fn opt(b: &mut Buf, off: usize, v: Option<u32>) {
    if let Some(v) = v {
        b.u32(off, v);
    }
}

fn comment_bytes(c: &str) -> Vec<u8> {
    let mut v: Vec<u8> = c.bytes().take(127).collect();
    v.resize(128, 0);
    v
}

/// Maximum number of runs a header can hold.
pub(crate) fn max_runs(width: usize) -> usize {
    if width == 4 {
        86
    } else {
        (0x348 - 0x98) / 16
    }
}
