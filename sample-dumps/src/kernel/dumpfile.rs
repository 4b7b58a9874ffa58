//! Serialises a built [`System`] as a full dump (DumpType 1), a bitmap dump (DumpType 5, `FDMP`
//! sub-header at the end of the header) or a sparse full dump written straight to a file.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use super::header::{header32, header64, max_runs, HeaderInfo};
use super::phys::page_bytes;
use super::system::System;
use super::writer::{align_up, Buf, PAGE};
use super::GenError;

/// How the dump was written (header fields beyond the machine state).
#[derive(Debug, Clone, Default)]
pub(crate) struct DumpOpts {
    /// DumpType.
    pub(crate) dump_type: u32,
    /// Attributes (`None`: left `PAGE`).
    pub(crate) attributes: Option<u32>,
    /// SystemTime (FILETIME).
    pub(crate) system_time: u64,
    /// SystemUpTime (100 ns).
    pub(crate) uptime: u64,
    /// Written by an offline capture tool through KeInitializeCrashDumpHeader: no secondary
    /// data, writer status never set.
    pub(crate) offline: bool,
    /// PCID bits or'ed into DirectoryTableBase (x64).
    pub(crate) pcid: u64,
    /// ProductType (1 workstation, 3 server).
    pub(crate) product_type: u32,
    /// SuiteMask.
    pub(crate) suite_mask: u32,
    /// BootId.
    pub(crate) boot_id: Option<u32>,
    /// Comment.
    pub(crate) comment: Option<String>,
    /// MiniDumpFields override (triage dumps).
    pub(crate) minidump_fields: Option<u32>,
}

/// Header size for the machine's pointer width.
pub(crate) fn header_size(sys: &System) -> u64 {
    if sys.machine.ptr_width() == 4 {
        0x1000
    } else {
        0x2000
    }
}

/// The header fields for `sys` written the way `opts` says.
pub(crate) fn header_info(
    sys: &System,
    opts: &DumpOpts,
    with_runs: bool,
    required: u64,
) -> HeaderInfo {
    let w = sys.machine.ptr_width();
    HeaderInfo {
        major: 0xF,
        minor: sys.build,
        dtb: sys.machine.directory_table_base() | opts.pcid,
        pfn_database: sys.pfn_database,
        ps_loaded_module_list: sys.ps_loaded_module_list,
        ps_active_process_head: sys.ps_active_process_head,
        machine: match (sys.machine.paging, w) {
            (super::paging::Paging::Arm64, _) => 0xAA64,
            (_, 4) => 0x14C,
            _ => 0x8664,
        },
        processors: sys.processors,
        bugcheck: sys.bugcheck,
        params: sys.params,
        pae: sys.machine.paging == super::paging::Paging::X86Pae,
        kdbg: sys.kdbg_va,
        runs: with_runs.then(|| sys.machine.phys.runs().to_vec()),
        context: sys.context.clone(),
        exception: sys.exception.clone(),
        dump_type: opts.dump_type,
        required_space: required,
        system_time: opts.system_time,
        uptime: opts.uptime,
        minidump_fields: opts
            .minidump_fields
            .or(if opts.offline { Some(0xCFF) } else { None }),
        secondary_state: if opts.offline { None } else { Some(0) },
        product_type: opts.product_type,
        suite_mask: opts.suite_mask,
        writer_status: if opts.offline { None } else { Some(0) },
        attributes: opts.attributes,
        boot_id: opts.boot_id,
        comment: opts.comment.clone(),
    }
}

fn header_bytes(sys: &System, info: &HeaderInfo) -> Vec<u8> {
    if sys.machine.ptr_width() == 4 {
        header32(info)
    } else {
        header64(info)
    }
}

fn check_runs(sys: &System) -> Result<(), GenError> {
    if sys.machine.phys.runs().len() > max_runs(sys.machine.ptr_width()) {
        return Err(GenError::new("too many runs for the header"));
    }
    Ok(())
}

/// A full dump: header, then every page of every run in run order.
pub(crate) fn full_dump(sys: &System, opts: &DumpOpts) -> Result<Vec<u8>, GenError> {
    check_runs(sys)?;
    let hs = header_size(sys);
    let total = sys.machine.phys.total_pages();
    let required = hs + total * PAGE;
    let info = header_info(sys, opts, true, required);
    let mut out = header_bytes(sys, &info);
    out.reserve((total * PAGE) as usize);
    for run in sys.machine.phys.runs() {
        for pfn in run.base..run.base + run.count {
            out.extend_from_slice(&page_bytes(&sys.machine.phys, pfn));
        }
    }
    Ok(out)
}

/// A bitmap dump (DumpType 5): header with PhysicalMemoryBlock left `PAGE`, the `FDMP`
/// sub-header at 0x2000 (FirstPage 0x20, TotalPresentPages 0x28, Pages 0x30, bitmap 0x38,
/// LSB-first), and the present pages (those with content) in ascending PFN order.
pub(crate) fn bitmap_dump(sys: &System, opts: &DumpOpts) -> Result<Vec<u8>, GenError> {
    if sys.machine.ptr_width() != 8 {
        return Err(GenError::new("bitmap dumps are 64-bit here"));
    }
    let phys = &sys.machine.phys;
    let bits = phys
        .runs()
        .iter()
        .map(|r| r.base + r.count)
        .max()
        .unwrap_or(0);
    let bits = align_up(bits, 64);
    let present: Vec<u64> = phys.content_pfns().collect();
    let mut sub = Buf::new();
    sub.put(0, b"FDMPDUMP");
    let first_page = align_up(0x2000 + 0x38 + bits / 8, PAGE);
    sub.u64(0x20, first_page);
    sub.u64(0x28, present.len() as u64);
    sub.u64(0x30, bits);
    let mut bitmap = vec![0u8; (bits / 8) as usize];
    for pfn in &present {
        if let Some(byte) = bitmap.get_mut((pfn / 8) as usize) {
            *byte |= 1 << (pfn % 8);
        }
    }
    sub.put(0x38, &bitmap);
    let required = first_page + present.len() as u64 * PAGE;
    let info = header_info(sys, opts, false, required);
    let mut out = Buf::new();
    out.put(0, &header_bytes(sys, &info));
    out.put(0x2000, sub.as_slice());
    let mut bytes = out.into_vec();
    bytes.resize(first_page as usize, 0);
    for pfn in present {
        bytes.extend_from_slice(&page_bytes(phys, pfn));
    }
    Ok(bytes)
}

/// Writes a full dump of `sys` to `path` sparsely: the file gets its full length with
/// `set_len`, and only the header and the pages with content are written.
pub(crate) fn write_sparse(sys: &System, opts: &DumpOpts, path: &Path) -> std::io::Result<()> {
    check_runs(sys)?;
    let hs = header_size(sys);
    let total = sys.machine.phys.total_pages();
    let len = hs + total * PAGE;
    let info = header_info(sys, opts, true, len);
    let mut f = File::create(path)?;
    f.set_len(len)?;
    f.write_all(&header_bytes(sys, &info))?;
    let mut index = 0u64;
    for run in sys.machine.phys.runs() {
        for pfn in sys.machine.phys.content_pfns() {
            if pfn >= run.base && pfn < run.base + run.count {
                if let Some(page) = sys.machine.phys.page(pfn) {
                    f.seek(SeekFrom::Start(hs + (index + pfn - run.base) * PAGE))?;
                    f.write_all(page)?;
                }
            }
        }
        index += run.count;
    }
    f.flush()
}
