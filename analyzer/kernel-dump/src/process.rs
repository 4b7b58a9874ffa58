//! The process and thread that were running when the system stopped, and the IRQL.
//!
//! A small (triage) dump carries copies of the current EPROCESS and ETHREAD; a full or kernel
//! dump has them in memory, reached from the crashing processor's KPRCB (`KiProcessorBlock` in
//! the KDBG block): `KPRCB.CurrentThread`, then the thread's `ApcState.Process`. The fields'
//! offsets change with the Windows build: they are data (`data/struct-offsets.txt`, with their
//! public sources), looked up by architecture and the header's build number.

use std::sync::OnceLock;

use serde::Serialize;

use crate::bytes::{slice, u32_at, u64_at};
use crate::header::Width;
use crate::triage::KdDebuggerData;
use crate::virtual_memory::VirtualRead;
use crate::KernelDump;

const TABLE_TEXT: &str = include_str!("../data/struct-offsets.txt");

/// Offsets of one architecture and build range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructOffsets {
    /// `x64`, `x86` or `arm64`.
    pub arch: &'static str,
    /// First and last build the row covers.
    pub builds: (u32, u32),
    /// EPROCESS.UniqueProcessId.
    pub pid: u64,
    /// EPROCESS.ImageFileName.
    pub name: u64,
    /// ETHREAD.Cid, in the order tried.
    pub cid: Vec<u64>,
    /// KTHREAD.ApcState.Process.
    pub apc_process: u64,
    /// KPRCB.CurrentThread.
    pub current_thread: u64,
    /// The KPRCB's offset inside the KPCR.
    pub prcb_in_pcr: u64,
    /// KPCR.Irql.
    pub irql: u64,
}

fn hex(text: &str) -> Option<u64> {
    u64::from_str_radix(text.trim().strip_prefix("0x")?, 16).ok()
}

fn parse_row(line: &'static str) -> Option<StructOffsets> {
    let mut parts = line.split('|');
    let mut head = parts.next()?.split_whitespace();
    let arch = head.next()?;
    let builds = (head.next()?.parse().ok()?, head.next()?.parse().ok()?);
    let mut f = parts.next()?.split_whitespace();
    Some(StructOffsets {
        arch,
        builds,
        pid: hex(f.next()?)?,
        name: hex(f.next()?)?,
        cid: f.next()?.split(',').map(hex).collect::<Option<Vec<_>>>()?,
        apc_process: hex(f.next()?)?,
        current_thread: hex(f.next()?)?,
        prcb_in_pcr: hex(f.next()?)?,
        irql: hex(f.next()?)?,
    })
}

/// Every row of the table (a row that does not parse is a test failure, not a runtime one).
pub fn offsets_table() -> &'static [StructOffsets] {
    static TABLE: OnceLock<Vec<StructOffsets>> = OnceLock::new();
    TABLE.get_or_init(|| {
        TABLE_TEXT
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(parse_row)
            .collect()
    })
}

/// The row for `arch` and `build`, if the table has one.
pub fn offsets_for(arch: &str, build: u32) -> Option<&'static StructOffsets> {
    offsets_table()
        .iter()
        .find(|o| o.arch == arch && (o.builds.0..=o.builds.1).contains(&build))
}

/// The process and thread running when the system stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentProcess {
    /// `EPROCESS.ImageFileName` (at most 15 characters, as the kernel keeps it).
    pub name: String,
    /// The process id.
    pub pid: u64,
    /// The thread id, when the thread's structure was readable.
    pub thread_id: Option<u64>,
    /// The IRQL of the crashing processor, when its KPCR was readable.
    pub irql: Option<u8>,
    /// Where it was read: `triage copy` or `memory`.
    pub source: &'static str,
}

/// The image file name: 15 bytes, up to the first NUL, printable ASCII only.
fn image_name(bytes: &[u8]) -> Option<String> {
    let name: String = bytes
        .iter()
        .take(15)
        .take_while(|b| **b != 0)
        .map(|&b| char::from(b))
        .collect();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_graphic() || c == ' ')).then_some(name)
}

fn arch_of(dump: &KernelDump<'_>) -> Option<&'static str> {
    match dump.header().machine_image_type {
        crate::context::MACHINE_X64 => Some("x64"),
        crate::context::MACHINE_X86 => Some("x86"),
        crate::context::MACHINE_ARM64 => Some("arm64"),
        _ => None,
    }
}

/// Reads a pointer-sized value from `bytes` at `offset`.
fn ptr_in(bytes: &[u8], offset: u64, width: Width) -> Option<u64> {
    match width {
        Width::Bits64 => u64_at(bytes, offset),
        Width::Bits32 => u32_at(bytes, offset).map(u64::from),
    }
}

/// The thread id from an ETHREAD's bytes: the first `Cid` layout whose UniqueProcess is `pid`.
fn thread_id(ethread: &[u8], o: &StructOffsets, pid: u64, width: Width) -> Option<u64> {
    let step = if width == Width::Bits64 { 8 } else { 4 };
    o.cid.iter().find_map(|&cid| {
        (ptr_in(ethread, cid, width)? == pid)
            .then(|| ptr_in(ethread, cid + step, width))
            .flatten()
    })
}

/// The current process and thread of the dump, where it holds them; `kdbg` is the dump's
/// debugger data block (its `KiProcessorBlock` leads to the processors in a full dump).
pub fn current_process(
    dump: &KernelDump<'_>,
    kdbg: Option<&KdDebuggerData>,
) -> Option<CurrentProcess> {
    let header = dump.header();
    let o = offsets_for(arch_of(dump)?, header.minor_version)?;
    let width = header.width;
    if let Some(t) = dump.triage() {
        let data = dump.data();
        let process = slice(data, u64::from(t.header.process_offset), o.name + 16)?;
        let pid = ptr_in(process, o.pid, width)?;
        let name = image_name(slice(process, o.name, 15)?)?;
        let thread_id = slice(
            data,
            u64::from(t.header.thread_offset),
            o.cid.iter().max()? + 16,
        )
        .and_then(|thread| thread_id(thread, o, pid, width));
        return Some(CurrentProcess {
            name,
            pid,
            thread_id,
            irql: None,
            source: "triage copy",
        });
    }
    from_memory(dump, o, kdbg?)
}

/// The image name (`EPROCESS.ImageFileName`) of the process whose EPROCESS is at `eprocess`,
/// read through dump memory: the process a 0xEF names in P1.
pub fn process_name_at(dump: &KernelDump<'_>, eprocess: u64) -> Option<String> {
    let header = dump.header();
    let o = offsets_for(arch_of(dump)?, header.minor_version)?;
    let mut name = [0u8; 15];
    dump.memory()
        .read_virtual(eprocess.checked_add(o.name)?, &mut name)
        .ok()?;
    image_name(&name)
}

/// The Driver Verifier flags in effect (`MM_DRIVER_VERIFIER_DATA.Level`, through the debugger
/// data block's `MmVerifierData`), where the dump holds them; 0 means the verifier was off.
pub fn verifier_level(dump: &KernelDump<'_>, kdbg: Option<&KdDebuggerData>) -> Option<u32> {
    let address = kdbg?.mm_verifier_data;
    if address == 0 {
        return None;
    }
    dump.memory().read_u32(address).ok()
}

/// Through memory: the KPRCB of the processor whose saved context is the header's, its current
/// thread, and the process whose address space that thread is in.
fn from_memory(
    dump: &KernelDump<'_>,
    o: &StructOffsets,
    kdbg: &KdDebuggerData,
) -> Option<CurrentProcess> {
    let header = dump.header();
    let width = header.width;
    let mem = dump.memory();
    let ptr = |va: u64| -> Option<u64> {
        match width {
            Width::Bits64 => mem.read_u64(va).ok(),
            Width::Bits32 => mem.read_u32(va).ok().map(u64::from),
        }
    };
    let block = kdbg.ki_processor_block;
    let step = if width == Width::Bits64 { 8 } else { 4 };
    let processors = u64::from(header.number_processors.clamp(1, 256));
    // The first processor whose KPRCB is readable. With one processor it is the one that
    // crashed; with several the header does not say which (a full dump's context is a copy
    // of that processor's, but matching it is left for later), so the report says "memory,
    // processor 0" by its source.
    let prcb = (0..processors)
        .filter_map(|i| ptr(block.checked_add(i * step)?))
        .find(|&prcb| prcb != 0)?;
    let thread = ptr(prcb.checked_add(o.current_thread)?)?;
    let process = ptr(thread.checked_add(o.apc_process)?)?;
    let pid = ptr(process.checked_add(o.pid)?)?;
    let mut name = [0u8; 15];
    mem.read_virtual(process.checked_add(o.name)?, &mut name)
        .ok()?;
    let name = image_name(&name)?;
    let span = o.cid.iter().max()? + 16;
    let mut ethread = vec![0u8; usize::try_from(span).ok()?];
    let thread_id = mem
        .read_virtual(thread, &mut ethread)
        .ok()
        .and_then(|()| thread_id(&ethread, o, pid, width));
    let irql = prcb.checked_sub(o.prcb_in_pcr).and_then(|pcr| {
        let mut b = [0u8; 1];
        mem.read_virtual(pcr.checked_add(o.irql)?, &mut b)
            .ok()
            .map(|()| u8::from_le_bytes(b))
    });
    Some(CurrentProcess {
        name,
        pid,
        thread_id,
        irql,
        source: "memory",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_of_the_table_parses() {
        let rows = TABLE_TEXT
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(offsets_table().len(), rows);
        assert_eq!(offsets_for("x64", 19044).map(|o| o.name), Some(0x5a8));
        assert_eq!(offsets_for("x64", 7601).map(|o| o.cid.len()), Some(2));
        assert!(offsets_for("x64", 1).is_none());
    }

    #[test]
    fn image_names_stop_at_nul_and_at_fifteen() {
        assert_eq!(image_name(b"System\0\0\0").as_deref(), Some("System"));
        assert_eq!(
            image_name(b"averyveryverylongname.exe").as_deref(),
            Some("averyveryverylo")
        );
        assert_eq!(image_name(b"\0System"), None);
        assert_eq!(image_name(b"\x01\x02"), None);
    }
}
