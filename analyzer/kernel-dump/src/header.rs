//! `DUMP_HEADER32` / `DUMP_HEADER64`: the fixed header every kernel dump starts with.
//!
//! The two layouts differ in field widths and offsets (spec `kernel-dumps.md` sections 2 and 3),
//! so both are read into one width-independent [`DumpHeader`]. Fields the writer never filled
//! still hold the `PAGE` pattern and are returned as `None`.

use serde::Serialize;

use super::bytes::{ascii_lossy, set32, slice, u32_at, u64_at, u8_at, UNSET32};
use super::error::KernelError;

/// Pointer width of the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Width {
    /// `PAGEDUMP`: 32-bit header of 0x1000 bytes.
    Bits32,
    /// `PAGEDU64`: 64-bit header of 0x2000 bytes.
    Bits64,
}

/// One run of the physical memory descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PhysicalRun {
    /// First page frame number.
    pub base_page: u64,
    /// Number of pages.
    pub page_count: u64,
}

/// `PHYSICAL_MEMORY_DESCRIPTOR` from the header (full dumps).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhysicalMemoryDescriptor {
    /// NumberOfRuns as written.
    pub number_of_runs: u32,
    /// NumberOfPages as written.
    pub number_of_pages: u64,
    /// The runs that fit into the header (at most 86 / 43).
    pub runs: Vec<PhysicalRun>,
}

/// The header fields, width-independent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DumpHeader {
    /// 32- or 64-bit layout.
    pub width: Width,
    /// 0x1000 or 0x2000.
    pub header_size: u64,
    /// 0xF free build, 0xC checked build.
    pub major_version: u32,
    /// NT build number.
    pub minor_version: u32,
    /// CR3 / TTBR as written (may carry PCID bits).
    pub directory_table_base: u64,
    /// `MmPfnDatabase`.
    pub pfn_database: u64,
    /// VA of `PsLoadedModuleList`.
    pub ps_loaded_module_list: u64,
    /// VA of `PsActiveProcessHead`.
    pub ps_active_process_head: u64,
    /// IMAGE_FILE_MACHINE_* value.
    pub machine_image_type: u32,
    /// Number of processors.
    pub number_processors: u32,
    /// Stop code.
    pub bugcheck_code: u32,
    /// The four stop-code parameters (32-bit values zero-extended).
    pub bugcheck_parameters: [u64; 4],
    /// x86 only: PAE paging in use.
    pub pae_enabled: bool,
    /// KdSecondaryVersion.
    pub kd_secondary_version: u8,
    /// VA of the KDDEBUGGER_DATA64 block.
    pub kd_debugger_data_block: u64,
    /// Run list; `None` when the field reads `PAGE` (triage, bitmap dumps).
    pub physical_memory: Option<PhysicalMemoryDescriptor>,
    /// File offset of the context record inside the header.
    pub context_offset: u64,
    /// Size of the context area inside the header.
    pub context_size: u64,
    /// File offset of the exception record inside the header.
    pub exception_offset: u64,
    /// DumpType (1 full, 2 summary, 4 triage, 5/6 bitmap, 8/9/0xA debugger-written).
    pub dump_type: u32,
    /// MiniDumpFields (triage flags).
    pub mini_dump_fields: Option<u32>,
    /// SecondaryDataState.
    pub secondary_data_state: Option<u32>,
    /// ProductType.
    pub product_type: Option<u32>,
    /// SuiteMask.
    pub suite_mask: Option<u32>,
    /// WriterStatus.
    pub writer_status: Option<u32>,
    /// RequiredDumpSpace in bytes.
    pub required_dump_space: u64,
    /// Uptime in 100 ns units.
    pub system_up_time: u64,
    /// Crash time as FILETIME.
    pub system_time: u64,
    /// Comment, when written.
    pub comment: Option<String>,
    /// DUMP_FILE_ATTRIBUTES, when written.
    pub attributes: Option<u32>,
    /// BootId, when written.
    pub boot_id: Option<u32>,
}

/// Offsets that differ between the two layouts.
struct Layout {
    width: Width,
    header_size: u64,
    ptr64: bool,
    dump_type: u64,
    mini_dump_fields: u64,
    secondary_data_state: u64,
    product_type: u64,
    suite_mask: u64,
    writer_status: u64,
    required_dump_space: u64,
    system_up_time: u64,
    system_time: u64,
    comment: u64,
    attributes: u64,
    boot_id: u64,
    context: u64,
    context_size: u64,
    exception: u64,
    kd_secondary_version: u64,
}

const LAYOUT32: Layout = Layout {
    width: Width::Bits32,
    header_size: 0x1000,
    ptr64: false,
    dump_type: 0xF88,
    mini_dump_fields: 0xF8C,
    secondary_data_state: 0xF90,
    product_type: 0xF94,
    suite_mask: 0xF98,
    writer_status: 0xF9C,
    required_dump_space: 0xFA0,
    system_up_time: 0xFB8,
    system_time: 0xFC0,
    comment: 0x820,
    attributes: 0x8A0,
    boot_id: 0x8A4,
    context: 0x320,
    context_size: 1200,
    exception: 0x7D0,
    kd_secondary_version: 0x5D,
};

const LAYOUT64: Layout = Layout {
    width: Width::Bits64,
    header_size: 0x2000,
    ptr64: true,
    dump_type: 0xF98,
    mini_dump_fields: 0x1038,
    secondary_data_state: 0x103C,
    product_type: 0x1040,
    suite_mask: 0x1044,
    writer_status: 0x1048,
    required_dump_space: 0xFA0,
    system_up_time: 0x1030,
    system_time: 0xFA8,
    comment: 0xFB0,
    attributes: 0x1050,
    boot_id: 0x1054,
    context: 0x348,
    context_size: 3000,
    exception: 0xF00,
    kd_secondary_version: 0x104D,
};

/// `PAGE` as the first four bytes.
const SIG_PAGE: u32 = 0x4547_4150;
/// `DUMP` as ValidDump (32-bit).
const VALID_DUMP32: u32 = 0x504D_5544;
/// `DU64` as ValidDump (64-bit).
const VALID_DUMP64: u32 = 0x3436_5544;

impl DumpHeader {
    /// Parses the header at the start of `data`. Fails only when the signature is wrong or the
    /// header itself is cut short.
    pub fn parse(data: &[u8]) -> Result<DumpHeader, KernelError> {
        let file_len = data.len() as u64;
        let (sig, valid) = match (u32_at(data, 0), u32_at(data, 4)) {
            (Some(s), Some(v)) => (s, v),
            _ => return Err(KernelError::truncated("dump signature", 0, 8, file_len)),
        };
        let layout = match (sig, valid) {
            (SIG_PAGE, VALID_DUMP32) => &LAYOUT32,
            (SIG_PAGE, VALID_DUMP64) => &LAYOUT64,
            _ => {
                return Err(KernelError::BadSignature {
                    found: u64::from(sig) | (u64::from(valid) << 32),
                })
            }
        };
        if file_len < layout.header_size {
            return Err(KernelError::truncated(
                "dump header",
                0,
                layout.header_size,
                file_len,
            ));
        }
        // The whole header is in the file from here on: the reads below cannot fail, the
        // `unwrap_or` defaults are never taken.
        let r32 = |off: u64| u32_at(data, off).unwrap_or(UNSET32);
        let r64 = |off: u64| u64_at(data, off).unwrap_or(0);
        let ptr = |off32: u64, off64: u64| {
            if layout.ptr64 {
                r64(off64)
            } else {
                u64::from(r32(off32))
            }
        };
        let bugcheck_parameters = if layout.ptr64 {
            [r64(0x40), r64(0x48), r64(0x50), r64(0x58)]
        } else {
            [0x2C, 0x30, 0x34, 0x38].map(|o| u64::from(r32(o)))
        };
        let header = DumpHeader {
            width: layout.width,
            header_size: layout.header_size,
            major_version: r32(0x8),
            minor_version: r32(0xC),
            directory_table_base: ptr(0x10, 0x10),
            pfn_database: ptr(0x14, 0x18),
            ps_loaded_module_list: ptr(0x18, 0x20),
            ps_active_process_head: ptr(0x1C, 0x28),
            machine_image_type: r32(if layout.ptr64 { 0x30 } else { 0x20 }),
            number_processors: r32(if layout.ptr64 { 0x34 } else { 0x24 }),
            bugcheck_code: r32(if layout.ptr64 { 0x38 } else { 0x28 }),
            bugcheck_parameters,
            pae_enabled: !layout.ptr64 && u8_at(data, 0x5C).unwrap_or(0) != 0,
            kd_secondary_version: u8_at(data, layout.kd_secondary_version).unwrap_or(0),
            kd_debugger_data_block: ptr(0x60, 0x80),
            physical_memory: parse_descriptor(data, layout),
            context_offset: layout.context,
            context_size: layout.context_size,
            exception_offset: layout.exception,
            dump_type: r32(layout.dump_type),
            mini_dump_fields: set32(r32(layout.mini_dump_fields)),
            secondary_data_state: set32(r32(layout.secondary_data_state)),
            product_type: set32(r32(layout.product_type)),
            suite_mask: set32(r32(layout.suite_mask)),
            writer_status: set32(r32(layout.writer_status)),
            required_dump_space: r64(layout.required_dump_space),
            system_up_time: r64(layout.system_up_time),
            system_time: r64(layout.system_time),
            comment: slice(data, layout.comment, 128)
                .map(ascii_lossy)
                .filter(|c| !c.is_empty() && !c.starts_with("PAGEPAGE")),
            attributes: set32(r32(layout.attributes)),
            boot_id: set32(r32(layout.boot_id)),
        };
        Ok(header)
    }

    /// DirectoryTableBase with the PCID / flag bits (11:0) cleared.
    pub fn dtb(&self) -> u64 {
        self.directory_table_base & !0xFFF
    }
}

/// Reads the run list; `None` when it was never written.
fn parse_descriptor(data: &[u8], layout: &Layout) -> Option<PhysicalMemoryDescriptor> {
    let (runs_off, pages, first_run, stride, capacity) = if layout.ptr64 {
        // Runs end where the context record begins.
        (
            0x88u64,
            u64_at(data, 0x90)?,
            0x98u64,
            16u64,
            (0x348 - 0x98) / 16,
        )
    } else {
        (
            0x64,
            u64::from(u32_at(data, 0x68)?),
            0x6C,
            8,
            (0x320 - 0x6C) / 8,
        )
    };
    let number_of_runs = u32_at(data, runs_off)?;
    if number_of_runs == UNSET32 {
        return None;
    }
    let count = u64::from(number_of_runs).min(capacity);
    let mut runs = Vec::new();
    for i in 0..count {
        let off = first_run + i * stride;
        let (base_page, page_count) = if layout.ptr64 {
            (u64_at(data, off)?, u64_at(data, off + 8)?)
        } else {
            (
                u64::from(u32_at(data, off)?),
                u64::from(u32_at(data, off + 4)?),
            )
        };
        runs.push(PhysicalRun {
            base_page,
            page_count,
        });
    }
    Some(PhysicalMemoryDescriptor {
        number_of_runs,
        number_of_pages: pages,
        runs,
    })
}

/// One DUMP_FILE_ATTRIBUTES bit in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeNote {
    /// The bit.
    pub flag: u32,
    /// Its SDK name.
    pub name: &'static str,
    /// What it means for the analysis.
    pub meaning: &'static str,
}

/// The DUMP_FILE_ATTRIBUTES bits, their names and what each implies.
const ATTRIBUTES: [(u32, &str, &str); 10] = [
    (0x1, "HiberCrash", "crashed while hibernating: the system was writing its hibernation file, so the stop usually comes from the dump/storage path (e.g. a Storport miniport) rather than normal operation"),
    (0x2, "DumpDevicePowerOff", "the dump device was powered off at the crash and had to be powered on to write the dump"),
    (0x4, "InsufficientDumpfileSize", "the dump file was too small for everything the writer wanted to save: expect missing pages"),
    (0x8, "KernelGeneratedTriageDump", "a triage dump generated by the kernel itself (for example from a live dump), not by a bug check"),
    (0x10, "LiveDumpGeneratedDump", "a live dump: the system kept running, so there was no real crash, the stop code is a live-dump reason, and memory may be inconsistent because pages changed while they were copied"),
    (0x20, "DumpIsGeneratedOffline", "generated offline through KeInitializeCrashDumpHeader by a memory capture tool: a full dump only, with no secondary dump data from callbacks, and possibly incomplete when captured early in boot"),
    (0x40, "FilterDumpFile", "a filtered dump: the writer left some pages out on purpose"),
    (0x80, "EarlyBootCrash", "crashed early in boot: kernel structures such as the module list may not be initialised yet"),
    (0x100, "EncryptedDumpData", "the page data is encrypted: it cannot be analyzed without the key, only the header is used"),
    (0x200, "DecryptedDump", "decrypted from an encrypted dump"),
];

/// The attribute bit meaning "page data encrypted".
pub const ATTRIBUTE_ENCRYPTED: u32 = 0x100;

/// Describes every set bit of a DUMP_FILE_ATTRIBUTES value in words; unknown bits are named by value.
pub fn describe_attributes(attributes: u32) -> Vec<AttributeNote> {
    let mut notes = Vec::new();
    for bit in 0..32 {
        let flag = 1u32 << bit;
        if attributes & flag == 0 {
            continue;
        }
        let (name, meaning) = ATTRIBUTES
            .iter()
            .find(|(f, _, _)| *f == flag)
            .map(|(_, n, m)| (*n, *m))
            .unwrap_or(("Unknown", "an attribute bit this reader does not know"));
        notes.push(AttributeNote {
            flag,
            name,
            meaning,
        });
    }
    notes
}

/// Name of a DumpType value.
pub fn dump_type_name(dump_type: u32) -> &'static str {
    match dump_type {
        1 => "full memory dump",
        2 => "kernel memory dump (summary)",
        3 => "header only",
        4 => "small memory dump (triage)",
        5 => "bitmap full memory dump",
        6 => "bitmap kernel memory dump",
        8 => "kernel memory dump (debugger-written)",
        9 => "kernel and user memory dump (debugger-written)",
        0xA => "complete memory dump (debugger-written)",
        _ => "unknown dump type",
    }
}

/// Name of an IMAGE_FILE_MACHINE value.
pub fn machine_name(machine: u32) -> &'static str {
    match machine {
        0x14C => "x86",
        0x8664 => "x64",
        0xAA64 => "ARM64",
        0x200 => "IA-64",
        0x1C4 => "ARM",
        _ => "unknown",
    }
}
