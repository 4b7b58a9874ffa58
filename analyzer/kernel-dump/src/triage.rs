//! Triage (small memory) dumps: `TRIAGE_DUMP32` / `TRIAGE_DUMP64` after the header.
//!
//! A triage dump has no page tables. It carries a driver list with names in a string pool,
//! unloaded drivers, the crashing thread's stack, a data page, data blocks and a copy of the
//! KDBG block, each at an absolute file offset. Every count is checked against the file before
//! it drives a loop; what lies beyond the end of the file goes to `missing`. The saved memory
//! regions are exposed as a [`VirtualRead`] ([`TriageMemory`]).

use serde::Serialize;

use super::bytes::{ptr_at, slice, u32_at, u64_at, utf16_lossy};
use super::error::KernelError;
use super::header::{DumpHeader, Width};
use super::missing::Missing;
use super::virtual_memory::VirtualRead;

/// The offsets and sizes of the triage header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TriageHeader {
    /// ServicePackBuild.
    pub service_pack_build: u32,
    /// SizeOfDump.
    pub size_of_dump: u32,
    /// ValidOffset (points at `TRGD`).
    pub valid_offset: u32,
    /// ContextOffset.
    pub context_offset: u32,
    /// PrcbOffset (the KPRCB copy).
    pub prcb_offset: u32,
    /// ProcessOffset (the EPROCESS copy).
    pub process_offset: u32,
    /// ThreadOffset (the ETHREAD copy).
    pub thread_offset: u32,
    /// ExceptionOffset.
    pub exception_offset: u32,
    /// UnloadedDriversOffset.
    pub unloaded_drivers_offset: u32,
    /// CallStackOffset.
    pub call_stack_offset: u32,
    /// SizeOfCallStack.
    pub size_of_call_stack: u32,
    /// DriverListOffset.
    pub driver_list_offset: u32,
    /// DriverCount.
    pub driver_count: u32,
    /// StringPoolOffset.
    pub string_pool_offset: u32,
    /// StringPoolSize.
    pub string_pool_size: u32,
    /// BrokenDriverOffset.
    pub broken_driver_offset: u32,
    /// TopOfStack (VA of the saved stack's lowest byte).
    pub top_of_stack: u64,
    /// DataPageAddress.
    pub data_page_address: u64,
    /// DataPageOffset.
    pub data_page_offset: u32,
    /// DataPageSize.
    pub data_page_size: u32,
    /// DebuggerDataOffset.
    pub debugger_data_offset: u32,
    /// DebuggerDataSize.
    pub debugger_data_size: u32,
    /// DataBlocksOffset.
    pub data_blocks_offset: u32,
    /// DataBlocksCount.
    pub data_blocks_count: u32,
}

/// One entry of the triage driver list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriageDriver {
    /// Name from the string pool (full path as stored).
    pub name: String,
    /// DllBase.
    pub base: u64,
    /// SizeOfImage.
    pub size: u64,
    /// CheckSum.
    pub checksum: u32,
    /// TimeDateStamp.
    pub timestamp: u32,
}

/// An unloaded driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnloadedDriver {
    /// Name (at most 12 characters are kept by the kernel).
    pub name: String,
    /// Start address.
    pub start: u64,
    /// End address.
    pub end: u64,
}

/// The fields of KDDEBUGGER_DATA64 the analysis uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KdDebuggerData {
    /// Size of the block.
    pub size: u32,
    /// KernBase.
    pub kern_base: u64,
    /// PsLoadedModuleList.
    pub ps_loaded_module_list: u64,
    /// PsActiveProcessHead.
    pub ps_active_process_head: u64,
    /// MmPfnDatabase.
    pub mm_pfn_database: u64,
    /// MmUnloadedDrivers.
    pub mm_unloaded_drivers: u64,
    /// KiProcessorBlock (the array of KPRCB pointers, one per processor).
    pub ki_processor_block: u64,
    /// MmVerifierData: the address of MM_DRIVER_VERIFIER_DATA, whose first field (`Level`)
    /// holds the Driver Verifier flags in effect (0 when the verifier is off).
    pub mm_verifier_data: u64,
}

impl KdDebuggerData {
    /// Decodes a plain-text KDBG block; `None` without the `KDBG` tag at 0x10.
    pub fn parse(block: &[u8], width: Width) -> Option<KdDebuggerData> {
        if slice(block, 0x10, 4)? != b"KDBG" {
            return None;
        }
        // x86 pointers are sign-extended: keep the low 32 bits.
        let p = |off: u64| {
            u64_at(block, off).map(|v| {
                if width == Width::Bits32 {
                    v & 0xFFFF_FFFF
                } else {
                    v
                }
            })
        };
        Some(KdDebuggerData {
            size: u32_at(block, 0x14)?,
            kern_base: p(0x18)?,
            ps_loaded_module_list: p(0x48)?,
            ps_active_process_head: p(0x50)?,
            mm_pfn_database: p(0xC0).unwrap_or(0),
            mm_unloaded_drivers: p(0x220).unwrap_or(0),
            ki_processor_block: p(0x218).unwrap_or(0),
            mm_verifier_data: p(0x248).unwrap_or(0),
        })
    }
}

/// A virtual range saved in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Region {
    va: u64,
    offset: u64,
    size: u64,
}

/// The memory a triage dump carries, addressable by VA.
#[derive(Debug, Clone)]
pub struct TriageMemory<'a> {
    data: &'a [u8],
    /// Sorted by `va`.
    regions: Vec<Region>,
}

impl VirtualRead for TriageMemory<'_> {
    fn read_virtual(&self, va: u64, buf: &mut [u8]) -> Result<(), KernelError> {
        let mut done = 0usize;
        // Each iteration copies at least one byte: bounded by buf.len().
        while done < buf.len() {
            let addr = va
                .checked_add(done as u64)
                .ok_or(KernelError::VirtualNotInDump { va })?;
            let pos = self.regions.partition_point(|r| r.va <= addr);
            let region = pos
                .checked_sub(1)
                .and_then(|i| self.regions.get(i))
                .filter(|r| addr - r.va < r.size)
                .ok_or(KernelError::VirtualNotInDump { va: addr })?;
            let skip = addr - region.va;
            let n = (region.size - skip).min((buf.len() - done) as u64);
            let src = slice(self.data, region.offset + skip, n)
                .ok_or(KernelError::VirtualNotInDump { va: addr })?;
            let dst = buf
                .get_mut(done..done + src.len())
                .ok_or(KernelError::VirtualNotInDump { va: addr })?;
            dst.copy_from_slice(src);
            done += src.len();
        }
        Ok(())
    }
}

/// A parsed triage dump.
#[derive(Debug, Clone)]
pub struct TriageDump<'a> {
    /// The triage header.
    pub header: TriageHeader,
    /// Loaded drivers.
    pub drivers: Vec<TriageDriver>,
    /// Unloaded drivers.
    pub unloaded: Vec<UnloadedDriver>,
    /// The KDBG copy.
    pub kdbg: Option<KdDebuggerData>,
    /// Saved memory (stack, data page, data blocks, KDBG copy).
    pub memory: TriageMemory<'a>,
    /// The saved stack as (VA, bytes), clipped to the file.
    pub stack: Option<(u64, &'a [u8])>,
    /// What is missing.
    pub missing: Vec<Missing>,
}

const FIELD_STACK: u32 = 0x20;
const FIELD_DRIVER_LIST: u32 = 0x40;
const FIELD_DATAPAGE: u32 = 0x200;
const FIELD_DEBUGGER_DATA: u32 = 0x400;
const FIELD_DATA_BLOCKS: u32 = 0x800;
const MAX_NAME_UNITS: u64 = 1024;
const MAX_UNLOADED: u64 = 1024;

impl<'a> TriageDump<'a> {
    /// Parses the triage part of a dump whose header says DumpType 4.
    pub fn parse(data: &'a [u8], header: &DumpHeader) -> Result<TriageDump<'a>, KernelError> {
        let file_len = data.len() as u64;
        let base = header.header_size;
        let b64 = header.width == Width::Bits64;
        let size = if b64 { 0x80 } else { 0x68 };
        let raw = slice(data, base, size)
            .ok_or_else(|| KernelError::truncated("triage header", base, size, file_len))?;
        let r = |off: u64| u32_at(raw, off).unwrap_or(0);
        let (top, dpa, rest) = if b64 {
            (
                u64_at(raw, 0x48).unwrap_or(0),
                u64_at(raw, 0x60).unwrap_or(0),
                0x68,
            )
        } else {
            (u64::from(r(0x48)), u64::from(r(0x4C)), 0x50)
        };
        let th = TriageHeader {
            service_pack_build: r(0x0),
            size_of_dump: r(0x4),
            valid_offset: r(0x8),
            context_offset: r(0xC),
            prcb_offset: r(0x1C),
            process_offset: r(0x20),
            thread_offset: r(0x24),
            exception_offset: r(0x10),
            unloaded_drivers_offset: r(0x18),
            call_stack_offset: r(0x28),
            size_of_call_stack: r(0x2C),
            driver_list_offset: r(0x30),
            driver_count: r(0x34),
            string_pool_offset: r(0x38),
            string_pool_size: r(0x3C),
            broken_driver_offset: r(0x40),
            top_of_stack: top,
            data_page_address: dpa,
            data_page_offset: r(rest),
            data_page_size: r(rest + 4),
            debugger_data_offset: r(rest + 8),
            debugger_data_size: r(rest + 0xC),
            data_blocks_offset: r(rest + 0x10),
            data_blocks_count: r(rest + 0x14),
        };
        let fields = header.mini_dump_fields;
        let wanted = |flag: u32, offset: u32| offset != 0 && fields.is_none_or_has(flag);
        let mut missing = Vec::new();
        if u64::from(th.size_of_dump) > file_len {
            missing.push(Missing::TriageTruncated {
                size_of_dump: th.size_of_dump,
                file_len,
            });
        }
        if slice(data, u64::from(th.valid_offset), 4) != Some(b"TRGD".as_slice()) {
            missing.push(Missing::TriageEndMarker {
                valid_offset: th.valid_offset,
            });
        }
        let drivers = if wanted(FIELD_DRIVER_LIST, th.driver_list_offset) {
            parse_drivers(data, &th, b64, &mut missing)
        } else {
            Vec::new()
        };
        let unloaded = if th.unloaded_drivers_offset != 0 {
            parse_unloaded(
                data,
                u64::from(th.unloaded_drivers_offset),
                b64,
                &mut missing,
            )
        } else {
            Vec::new()
        };
        let mut regions = Vec::new();
        // Adds a saved range clipped to the file; returns how many bytes are beyond the end.
        let mut add = |va: u64, offset: u64, size: u64| -> u64 {
            let kept = file_len.saturating_sub(offset).min(size);
            if kept > 0 && va.checked_add(kept).is_some() {
                regions.push(Region {
                    va,
                    offset,
                    size: kept,
                });
            }
            size - kept
        };
        let mut stack = None;
        if wanted(FIELD_STACK, th.call_stack_offset) {
            let (va, off, size) = (
                th.top_of_stack,
                u64::from(th.call_stack_offset),
                u64::from(th.size_of_call_stack),
            );
            note(
                &mut missing,
                "saved stack",
                va,
                off,
                size,
                add(va, off, size),
            );
            stack = slice(data, off, size.min(file_len.saturating_sub(off))).map(|s| (va, s));
        }
        if wanted(FIELD_DATAPAGE, th.data_page_offset) {
            let (va, off, size) = (
                th.data_page_address,
                u64::from(th.data_page_offset),
                u64::from(th.data_page_size),
            );
            note(&mut missing, "data page", va, off, size, add(va, off, size));
        }
        let mut kdbg = None;
        if wanted(FIELD_DEBUGGER_DATA, th.debugger_data_offset) {
            let (va, off, size) = (
                header.kd_debugger_data_block,
                u64::from(th.debugger_data_offset),
                u64::from(th.debugger_data_size),
            );
            note(&mut missing, "KDBG copy", va, off, size, add(va, off, size));
            kdbg = slice(data, off, size.min(file_len.saturating_sub(off)))
                .and_then(|b| KdDebuggerData::parse(b, header.width));
        }
        if wanted(FIELD_DATA_BLOCKS, th.data_blocks_offset) {
            let mut blocks_missing = Vec::new();
            let blocks = data_blocks(data, &th, b64, &mut blocks_missing);
            let (mut cut, mut lost_bytes) = (0u64, 0u64);
            for (va, off, size) in blocks {
                let lost = add(va, off, size);
                if lost > 0 {
                    cut += 1;
                    lost_bytes = lost_bytes.saturating_add(lost);
                }
            }
            if cut > 0 {
                blocks_missing.push(Missing::DataBlocks {
                    count: cut,
                    bytes: lost_bytes,
                });
            }
            missing.extend(blocks_missing);
        }
        regions.sort_by_key(|r| r.va);
        let memory = TriageMemory { data, regions };
        Ok(TriageDump {
            header: th,
            drivers,
            unloaded,
            kdbg,
            memory,
            stack,
            missing,
        })
    }
}

/// Records a saved range of which `lost` bytes are beyond the end of the file.
fn note(
    missing: &mut Vec<Missing>,
    what: &'static str,
    va: u64,
    offset: u64,
    size: u64,
    lost: u64,
) {
    if lost > 0 {
        missing.push(Missing::TriageRegion {
            what,
            va,
            lost,
            size,
            offset,
        });
    }
}

/// `MiniDumpFields` may be unset (`None`): then every part with an offset is read.
trait FieldsExt {
    fn is_none_or_has(&self, flag: u32) -> bool;
}

impl FieldsExt for Option<u32> {
    fn is_none_or_has(&self, flag: u32) -> bool {
        self.map_or(true, |f| f & flag != 0)
    }
}

/// Reads a DUMP_STRING (u32 length in UTF-16 units, then the units).
fn dump_string(data: &[u8], offset: u64) -> Option<String> {
    let units = u64::from(u32_at(data, offset)?).min(MAX_NAME_UNITS);
    let bytes = slice(data, offset.checked_add(4)?, units * 2)?;
    Some(utf16_lossy(bytes))
}

fn parse_drivers(
    data: &[u8],
    th: &TriageHeader,
    b64: bool,
    missing: &mut Vec<Missing>,
) -> Vec<TriageDriver> {
    let (stride, dll_base, size_of_image, checksum, timestamp) = if b64 {
        (0x90u64, 0x38u64, 0x48u64, 0x80u64, 0x88u64)
    } else {
        (0x4C, 0x1C, 0x24, 0x44, 0x48)
    };
    let start = u64::from(th.driver_list_offset);
    let fit = (data.len() as u64).saturating_sub(start) / stride;
    let count = u64::from(th.driver_count);
    if count > fit {
        missing.push(Missing::DriverList {
            start,
            lost: count - fit,
            count,
        });
    }
    let mut drivers = Vec::new();
    let mut unnamed = 0u64;
    for i in 0..count.min(fit) {
        let e = start + i * stride;
        let name_off = u64::from(u32_at(data, e).unwrap_or(0));
        let name = dump_string(data, name_off).unwrap_or_else(|| {
            unnamed += 1;
            format!("<driver {i}: name unreadable>")
        });
        drivers.push(TriageDriver {
            name,
            base: ptr_at(data, e + dll_base, b64).unwrap_or(0),
            size: u64::from(u32_at(data, e + size_of_image).unwrap_or(0)),
            checksum: u32_at(data, e + checksum).unwrap_or(0),
            timestamp: u32_at(data, e + timestamp).unwrap_or(0),
        });
    }
    if unnamed > 0 {
        missing.push(Missing::DriverNames {
            unnamed,
            pool: th.string_pool_offset,
        });
    }
    drivers
}

fn parse_unloaded(
    data: &[u8],
    start: u64,
    b64: bool,
    missing: &mut Vec<Missing>,
) -> Vec<UnloadedDriver> {
    // 64-bit: u64 count, 0x38-byte entries; 32-bit: u32 count, 0x28-byte entries.
    let (count, first, stride, name_at, start_at, end_at) = if b64 {
        (
            u64_at(data, start),
            start + 8,
            0x38u64,
            0x10u64,
            0x28u64,
            0x30u64,
        )
    } else {
        (
            u32_at(data, start).map(u64::from),
            start + 4,
            0x28,
            0x8,
            0x20,
            0x24,
        )
    };
    let Some(count) = count else {
        missing.push(Missing::UnloadedList { start });
        return Vec::new();
    };
    let fit = (data.len() as u64).saturating_sub(first) / stride;
    if count > fit.min(MAX_UNLOADED) {
        missing.push(Missing::UnloadedListShort {
            start,
            count,
            readable: fit.min(MAX_UNLOADED),
        });
    }
    let mut out = Vec::new();
    for i in 0..count.min(fit).min(MAX_UNLOADED) {
        let e = first + i * stride;
        let len = u64::from(u32_at(data, e).map_or(0, |v| v & 0xFFFF)).min(24);
        out.push(UnloadedDriver {
            name: slice(data, e + name_at, len)
                .map(utf16_lossy)
                .unwrap_or_default(),
            start: ptr_at(data, e + start_at, b64).unwrap_or(0),
            end: ptr_at(data, e + end_at, b64).unwrap_or(0),
        });
    }
    out
}

/// The data blocks table: (VA, file offset, size) per entry.
fn data_blocks(
    data: &[u8],
    th: &TriageHeader,
    b64: bool,
    missing: &mut Vec<Missing>,
) -> Vec<(u64, u64, u64)> {
    let start = u64::from(th.data_blocks_offset);
    let count = u64::from(th.data_blocks_count);
    let file_len = data.len() as u64;
    let read = |stride: u64| -> Vec<(u64, u64, u64)> {
        let fit = file_len.saturating_sub(start) / stride;
        (0..count.min(fit))
            .map(|i| {
                let e = start + i * stride;
                let va = ptr_at(data, e, b64).unwrap_or(0);
                let o = if b64 { 8 } else { 4 };
                let off = u64::from(u32_at(data, e + o).unwrap_or(0));
                let size = u64::from(u32_at(data, e + o + 4).unwrap_or(0));
                (va, off, size)
            })
            .collect()
    };
    let inside = |v: &[(u64, u64, u64)]| v.iter().all(|&(_, o, s)| o.saturating_add(s) <= file_len);
    // 32-bit entries are 12 bytes in one source and 16 in another: keep the one that fits.
    let blocks = if b64 {
        read(16)
    } else {
        let twelve = read(12);
        if inside(&twelve) {
            twelve
        } else {
            read(16)
        }
    };
    if (blocks.len() as u64) < count {
        missing.push(Missing::DataBlockTable {
            start,
            lost: count - blocks.len() as u64,
            count,
        });
    }
    blocks
}
