//! `KLDR_DATA_TABLE_ENTRY` records (x86 and x64 layouts) and the `PsLoadedModuleList` chain in
//! virtual memory, plus `KDDEBUGGER_DATA64`.

use super::paging::{Machine, Prot};
use super::writer::{utf16z, Buf};
use super::GenError;

/// A module as loaded: what goes into its loader entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// BaseDllName, e.g. `dump_diskdump.sys`.
    pub(crate) name: String,
    /// FullDllName, e.g. `\SystemRoot\System32\Drivers\dump_diskdump.sys`.
    pub(crate) path: String,
    /// DllBase.
    pub(crate) base: u64,
    /// SizeOfImage.
    pub(crate) size: u32,
    /// EntryPoint.
    pub(crate) entry: u64,
    /// PE checksum.
    pub(crate) checksum: u32,
    /// PE timestamp.
    pub(crate) timestamp: u32,
}

/// Size of the loader entry for a pointer width (x86 0x48, x64 0x88; x64 rounded to 0xA0 the
/// way the pool allocation is).
pub(crate) fn kldr_size(width: usize) -> usize {
    if width == 4 {
        0x48
    } else {
        0xA0
    }
}

/// Links and name buffers of one loader entry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct EntryPtrs {
    /// InLoadOrderLinks.Flink.
    pub(crate) flink: u64,
    /// InLoadOrderLinks.Blink.
    pub(crate) blink: u64,
    /// FullDllName.Buffer.
    pub(crate) full_buf: u64,
}

/// Serialises a KLDR_DATA_TABLE_ENTRY (x86: DllBase 0x18, SizeOfImage 0x20, FullDllName 0x24,
/// BaseDllName 0x2C, CheckSum 0x40, TimeDateStamp 0x44; x64: 0x30, 0x40, 0x48, 0x58, 0x78, 0x80).
pub(crate) fn kldr_entry(width: usize, m: &Loaded, p: EntryPtrs) -> Vec<u8> {
    let mut b = Buf::zeroed(kldr_size(width));
    let full_len = (m.path.encode_utf16().count() * 2) as u16;
    let base_len = (m.name.encode_utf16().count() * 2) as u16;
    let base_buf = p.full_buf + u64::from(full_len - base_len.min(full_len));
    let w = width;
    b.ptr(0, w, p.flink);
    b.ptr(w, w, p.blink);
    let (dll, fullname, basename, flags, checksum, stamp) = if w == 4 {
        (
            0x18usize, 0x24usize, 0x2Cusize, 0x34usize, 0x40usize, 0x44usize,
        )
    } else {
        (0x30, 0x48, 0x58, 0x68, 0x78, 0x80)
    };
    b.ptr(dll, w, m.base);
    b.ptr(dll + w, w, m.entry);
    b.u32(dll + 2 * w, m.size);
    for (off, len, buf) in [
        (fullname, full_len, p.full_buf),
        (basename, base_len, base_buf),
    ] {
        b.u16(off, len);
        b.u16(off + 2, len + 2);
        b.ptr(off + w, w, buf);
    }
    b.u32(flags, 0x4910_4000);
    b.u16(flags + 4, 1);
    b.u32(checksum, m.checksum);
    b.u32(stamp, m.timestamp);
    b.into_vec()
}

/// Stride between loader entries in the simulated pool (entry, then the FullDllName buffer).
fn stride(width: usize) -> u64 {
    if width == 4 {
        0x100
    } else {
        0x1A0
    }
}

/// Writes the list head at `head` and one entry per module from `area` on (mapping the pool
/// pages as needed). Returns the entry addresses.
pub(crate) fn write_module_list(
    m: &mut Machine,
    head: u64,
    area: u64,
    mods: &[Loaded],
) -> Result<Vec<u64>, GenError> {
    let w = m.ptr_width();
    let step = stride(w);
    let hdr = if w == 4 { 8 } else { 0x10 };
    let entries: Vec<u64> = (0..mods.len() as u64)
        .map(|i| area + i * step + hdr)
        .collect();
    m.ensure(area, step * mods.len() as u64, Prot::Data, false)?;
    for (i, md) in mods.iter().enumerate() {
        let at = entries.get(i).copied().unwrap_or(head);
        let flink = entries.get(i + 1).copied().unwrap_or(head);
        let blink = if i == 0 {
            head
        } else {
            entries.get(i - 1).copied().unwrap_or(head)
        };
        let full_buf = at + kldr_size(w) as u64;
        // Pool header with the loader's tag before the entry.
        let mut ph = Buf::zeroed(hdr as usize);
        ph.put(4, b"MmLd");
        m.write(at - hdr, ph.as_slice())?;
        let e = kldr_entry(
            w,
            md,
            EntryPtrs {
                flink,
                blink,
                full_buf,
            },
        );
        m.write(at, &e)?;
        m.write(full_buf, &utf16z(&md.path))?;
    }
    let first = entries.first().copied().unwrap_or(head);
    let last = entries.last().copied().unwrap_or(head);
    m.write_ptr(head, first)?;
    m.write_ptr(head + w as u64, last)?;
    Ok(entries)
}

/// Fields of `KDDEBUGGER_DATA64` the generator fills (x86 pointers are sign-extended).
#[derive(Debug, Clone, Default)]
pub(crate) struct Kdbg {
    /// Size field (0x340 on Windows 7, 0x380 on Windows 10).
    pub(crate) size: u32,
    /// Address of the KdpDebuggerDataListHead the block is linked into.
    pub(crate) list_head: u64,
    /// KernBase.
    pub(crate) kern_base: u64,
    /// BreakpointWithStatus.
    pub(crate) breakpoint: u64,
    /// PaeEnabled.
    pub(crate) pae: bool,
    /// PsLoadedModuleList.
    pub(crate) ps_loaded_module_list: u64,
    /// PsActiveProcessHead.
    pub(crate) ps_active_process_head: u64,
    /// KiBugCheckData.
    pub(crate) ki_bugcheck_data: u64,
    /// KiProcessorBlock (0 when the sample has no KPRCB).
    pub(crate) ki_processor_block: u64,
    /// MmVerifierData (0 when the sample leaves it out).
    pub(crate) mm_verifier_data: u64,
    /// MmPfnDatabase (address of the variable).
    pub(crate) mm_pfn_database: u64,
    /// NtBuildLab (address of the string).
    pub(crate) nt_build_lab: u64,
    /// CmNtCSDVersion (address of the variable).
    pub(crate) cm_nt_csd_version: u64,
}

/// Sign-extends a 32-bit kernel pointer the way KDDEBUGGER_DATA64 stores x86 pointers.
pub(crate) fn sign_extend(v: u64, width: usize) -> u64 {
    if width == 4 && v & 0x8000_0000 != 0 {
        v | 0xFFFF_FFFF_0000_0000
    } else {
        v
    }
}

/// Serialises KDDEBUGGER_DATA64 (OwnerTag `KDBG` at 0x10, KernBase 0x18, PsLoadedModuleList
/// 0x48, PsActiveProcessHead 0x50, KiBugCheckData 0x88, MmPfnDatabase 0xC0, NtBuildLab 0x208,
/// CmNtCSDVersion 0x268).
pub(crate) fn kdbg_bytes(k: &Kdbg, width: usize) -> Vec<u8> {
    let mut b = Buf::zeroed(k.size as usize);
    let s = |v: u64| sign_extend(v, width);
    b.u64(0x00, s(k.list_head));
    b.u64(0x08, s(k.list_head));
    b.put(0x10, b"KDBG");
    b.u32(0x14, k.size);
    b.u64(0x18, s(k.kern_base));
    b.u64(0x20, s(k.breakpoint));
    b.u16(0x36, u16::from(k.pae));
    b.u64(0x48, s(k.ps_loaded_module_list));
    b.u64(0x50, s(k.ps_active_process_head));
    b.u64(0x88, s(k.ki_bugcheck_data));
    b.u64(0xC0, s(k.mm_pfn_database));
    b.u64(0x208, s(k.nt_build_lab));
    b.u64(0x218, s(k.ki_processor_block));
    b.u64(0x248, s(k.mm_verifier_data));
    b.u64(0x268, s(k.cm_nt_csd_version));
    b.into_vec()
}
