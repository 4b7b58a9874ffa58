//! User-mode MINIDUMP (`MDMP`) files, laid out by hand.
//!
//! A [`DumpSpec`] describes a process (architecture, OS version, modules,
//! threads, optional exception); [`build`] turns it into the bytes of a
//! minidump. File layout produced by [`build`]:
//!
//! ```text
//! 0x00                MINIDUMP_HEADER (32 bytes)
//! 0x20                MINIDUMP_DIRECTORY[n] (12 bytes each)
//! 0x20 + 12n ...      SystemInfo, CSD string, MiscInfo, thread contexts,
//!                     exception context, stacks, module name strings,
//!                     ThreadList, ModuleList, UnloadedModuleList,
//!                     MemoryList, Exception
//! ```
//!
//! Every RVA is at least 4-byte aligned; contexts and stacks are 16-byte
//! aligned and streams start 8-byte aligned.

pub mod buckets;
pub mod context;
pub mod damage;
pub mod samples;
pub mod streams;

use crate::bytes::ByteWriter;
use crate::cer::{self, FaultSite, PointerWidth};
use context::{Registers, Stack};
use streams::{Location, StreamType};

/// `MDMP` as a little-endian u32.
pub const MINIDUMP_SIGNATURE: u32 = 0x504D_444D;
/// Low word of the header version (`MINIDUMP_VERSION`).
pub const MINIDUMP_VERSION: u32 = 0xA793;
/// Fixed header TimeDateStamp so output is reproducible.
pub const DUMP_TIMESTAMP: u32 = 0x5F5E_1000;
/// Size of `MINIDUMP_HEADER`.
const HEADER_SIZE: usize = 32;
/// Size of one `MINIDUMP_DIRECTORY` entry.
const DIRECTORY_ENTRY_SIZE: usize = 12;

/// Processor architecture of the dumped process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// 32-bit x86 (`PROCESSOR_ARCHITECTURE_INTEL`, 0).
    X86,
    /// x86-64 (`PROCESSOR_ARCHITECTURE_AMD64`, 9).
    Amd64,
}

impl Arch {
    /// Size of a pointer in bytes.
    pub fn pointer_size(self) -> u64 {
        match self {
            Arch::X86 => 4,
            Arch::Amd64 => 8,
        }
    }

    /// Pointer width as the CER signature sees it.
    pub fn pointer_width(self) -> PointerWidth {
        match self {
            Arch::X86 => PointerWidth::Bits32,
            Arch::Amd64 => PointerWidth::Bits64,
        }
    }
}

/// Windows version reported in SystemInfo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsVersion {
    /// MajorVersion (e.g. 10).
    pub major: u32,
    /// MinorVersion (e.g. 0).
    pub minor: u32,
    /// BuildNumber (e.g. 19045).
    pub build: u32,
}

/// A loaded module (one `MINIDUMP_MODULE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    /// Full path as stored in the module's name string.
    pub path: String,
    /// BaseOfImage.
    pub base: u64,
    /// SizeOfImage.
    pub size: u32,
    /// File version `a.b.c.d`; `None` writes a VS_FIXEDFILEINFO without signature.
    pub version: Option<[u16; 4]>,
    /// PE TimeDateStamp.
    pub timestamp: u32,
    /// PE CheckSum.
    pub checksum: u32,
    /// True for executables (VFT_APP), false for DLLs (VFT_DLL).
    pub is_exe: bool,
    /// The PDB its CodeView (RSDS) record names; `None` writes no CodeView record.
    pub pdb: Option<PdbSpec>,
}

/// The `RSDS` CodeView record of a module: the PDB's name, GUID and age.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdbSpec {
    /// PDB file name (`render.pdb`).
    pub name: String,
    /// The GUID as the record stores it (Data1..Data3 little-endian, Data4 in order).
    pub guid: [u8; 16],
    /// Age.
    pub age: u32,
}

impl PdbSpec {
    /// The Breakpad debug id: the GUID as printed (`%08X%04X%04X` then Data4) and the age in
    /// hex, the key of `<pdb>/<id>/<name>.sym` symbol folders.
    pub fn debug_id(&self) -> String {
        let [a0, a1, a2, a3, b0, b1, c0, c1, rest @ ..] = self.guid;
        let d1 = u32::from_le_bytes([a0, a1, a2, a3]);
        let d2 = u16::from_le_bytes([b0, b1]);
        let d3 = u16::from_le_bytes([c0, c1]);
        let d4: String = rest.iter().map(|b| format!("{b:02X}")).collect();
        format!("{d1:08X}{d2:04X}{d3:04X}{d4}{:X}", self.age)
    }
}

impl ModuleSpec {
    /// Whether `address` falls in `[base, base + size)`.
    pub fn contains(&self, address: u64) -> bool {
        address >= self.base && address - self.base < u64::from(self.size)
    }
}

/// An unloaded module (one `MINIDUMP_UNLOADED_MODULE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnloadedModuleSpec {
    /// Full path.
    pub path: String,
    /// BaseOfImage it used to have.
    pub base: u64,
    /// SizeOfImage.
    pub size: u32,
    /// PE TimeDateStamp.
    pub timestamp: u32,
    /// PE CheckSum.
    pub checksum: u32,
}

/// A thread: its registers and the return addresses its stack chains to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSpec {
    /// ThreadId.
    pub id: u32,
    /// Thread environment block address.
    pub teb: u64,
    /// Instruction pointer of frame 0.
    pub ip: u64,
    /// Value for ecx/rcx.
    pub cx: u64,
    /// Lowest address of the captured stack region.
    pub stack_start: u64,
    /// Return addresses, innermost caller first.
    pub return_addresses: Vec<u64>,
}

/// The exception record; its context is the crashing thread's context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionSpec {
    /// Id of the crashing thread (must be one of the threads).
    pub thread_id: u32,
    /// ExceptionCode, e.g. 0xC0000005.
    pub code: u32,
    /// ExceptionFlags.
    pub flags: u32,
    /// ExceptionAddress (may be 0, then the context's ip is the fault site).
    pub address: u64,
    /// ExceptionInformation (at most 15 are written).
    pub parameters: Vec<u64>,
}

/// Everything a generated minidump contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpSpec {
    /// Process architecture.
    pub arch: Arch,
    /// Reported Windows version.
    pub os: OsVersion,
    /// NumberOfProcessors.
    pub processors: u8,
    /// ProcessId for MiscInfo.
    pub process_id: u32,
    /// ProcessCreateTime for MiscInfo (seconds since 1970).
    pub process_create_time: u32,
    /// Loaded modules; the first one is the main executable.
    pub modules: Vec<ModuleSpec>,
    /// Unloaded modules.
    pub unloaded: Vec<UnloadedModuleSpec>,
    /// Threads, in ThreadList order.
    pub threads: Vec<ThreadSpec>,
    /// Exception; `None` for a hang dump (no Exception stream).
    pub exception: Option<ExceptionSpec>,
    /// More process memory for the memory list (start address, bytes): code around the
    /// faulting instruction, as WER and debuggers capture it.
    pub memory: Vec<(u64, Vec<u8>)>,
}

impl DumpSpec {
    /// The thread named by the exception, if there is an exception and the
    /// thread exists (only then is an Exception stream written).
    pub fn crashing_thread(&self) -> Option<&ThreadSpec> {
        let exc = self.exception.as_ref()?;
        self.threads.iter().find(|t| t.id == exc.thread_id)
    }

    /// The instruction address the CER signature is computed from:
    /// ExceptionAddress, or the crashing thread's ip when that is zero.
    pub fn fault_address(&self) -> Option<u64> {
        let exc = self.exception.as_ref()?;
        if exc.address != 0 {
            return Some(exc.address);
        }
        self.crashing_thread().map(|t| t.ip)
    }

    /// The CER subpath this dump is meant to produce (see [`crate::cer`]).
    pub fn expected_cer_subpath(&self) -> String {
        let (app_path, app_version) = self
            .modules
            .first()
            .map_or(("", None), |m| (m.path.as_str(), m.version));
        let site = match self.fault_address() {
            None if self.exception.is_none() => FaultSite::Hang,
            None => FaultSite::Unmapped { address: 0 },
            Some(address) => match self.modules.iter().find(|m| m.contains(address)) {
                Some(m) => FaultSite::InModule {
                    path: &m.path,
                    version: m.version,
                    offset: address - m.base,
                },
                None => FaultSite::Unmapped { address },
            },
        };
        cer::expected_subpath(app_path, app_version, &site, self.arch.pointer_width())
    }
}

/// A thread after layout: where its context and stack landed.
struct PlacedThread {
    context: Location,
    stack: Location,
    stack_start: u64,
}

fn registers(thread: &ThreadSpec, stack: &Stack) -> Registers {
    Registers {
        ip: thread.ip,
        sp: stack.sp,
        fp: stack.fp,
        cx: thread.cx,
        ax: 0,
    }
}

/// Lay out `spec` as a complete minidump file.
pub fn build(spec: &DumpSpec) -> Vec<u8> {
    build_with(spec, &[]).bytes
}

/// A built minidump and where its streams are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The file.
    pub bytes: Vec<u8>,
    /// `(stream type, rva, size)` of each directory entry, in directory order.
    pub streams: Vec<(u32, u32, u32)>,
}

impl Built {
    /// Rva and size of the stream of `kind`.
    pub fn stream(&self, kind: u32) -> Option<(u32, u32)> {
        self.streams
            .iter()
            .find(|(k, _, _)| *k == kind)
            .map(|&(_, rva, size)| (rva, size))
    }
}

/// [`build`] with `extra` streams (`(type, bytes)`) appended after the others, and the layout.
pub fn build_with(spec: &DumpSpec, extra: &[(u32, Vec<u8>)]) -> Built {
    let mut order = vec![StreamType::ThreadList, StreamType::ModuleList];
    order.push(StreamType::UnloadedModuleList);
    order.push(StreamType::MemoryList);
    if spec.crashing_thread().is_some() {
        order.push(StreamType::Exception);
    }
    order.push(StreamType::SystemInfo);
    order.push(StreamType::MiscInfo);

    let body_base = HEADER_SIZE + DIRECTORY_ENTRY_SIZE * (order.len() + extra.len());
    let mut w = ByteWriter::with_base(body_base);
    let mut entries: Vec<(StreamType, Location)> = Vec::new();

    // SystemInfo and the CSD string it points at (written right after it).
    w.align(8);
    let sysinfo_rva = w.rva();
    let csd_rva = sysinfo_rva + streams::SYSTEM_INFO_SIZE;
    streams::write_system_info(&mut w, spec, csd_rva);
    entries.push((StreamType::SystemInfo, Location::span(sysinfo_rva, &w)));
    streams::write_string(&mut w, "");

    w.align(8);
    let misc_rva = w.rva();
    streams::write_misc_info(&mut w, spec);
    entries.push((StreamType::MiscInfo, Location::span(misc_rva, &w)));

    // Thread contexts and stacks.
    let mut placed = Vec::new();
    let mut crash_regs = None;
    for thread in &spec.threads {
        let stack = context::build_stack(spec.arch, thread.stack_start, &thread.return_addresses);
        let regs = registers(thread, &stack);
        if spec.crashing_thread().map(|t| t.id) == Some(thread.id) {
            crash_regs = Some(regs);
        }
        w.align(16);
        let ctx_rva = w.rva();
        context::write_context(&mut w, spec.arch, &regs);
        let context = Location::span(ctx_rva, &w);
        w.align(16);
        let stack_rva = w.rva();
        w.bytes(&stack.bytes);
        placed.push(PlacedThread {
            context,
            stack: Location::span(stack_rva, &w),
            stack_start: stack.start,
        });
    }
    // The exception stream gets its own copy of the crashing context.
    let exception_context = crash_regs.map(|regs| {
        w.align(16);
        let rva = w.rva();
        context::write_context(&mut w, spec.arch, &regs);
        Location::span(rva, &w)
    });

    // Name strings.
    let module_names: Vec<u32> = spec
        .modules
        .iter()
        .map(|m| streams::write_string(&mut w, &m.path))
        .collect();
    let unloaded_names: Vec<u32> = spec
        .unloaded
        .iter()
        .map(|m| streams::write_string(&mut w, &m.path))
        .collect();

    // CodeView records.
    let cv_records: Vec<Location> = spec
        .modules
        .iter()
        .map(|m| match &m.pdb {
            Some(pdb) => {
                w.align(4);
                let rva = w.rva();
                w.bytes(b"RSDS").bytes(&pdb.guid).u32(pdb.age);
                w.bytes(pdb.name.as_bytes()).u8(0);
                Location::span(rva, &w)
            }
            None => Location::default(),
        })
        .collect();

    // List streams.
    w.align(8);
    let rva = w.rva();
    w.u32(spec.threads.len() as u32); // NumberOfThreads
    for (thread, place) in spec.threads.iter().zip(&placed) {
        streams::write_thread(
            &mut w,
            thread,
            place.stack_start,
            place.stack,
            place.context,
        );
    }
    entries.push((StreamType::ThreadList, Location::span(rva, &w)));

    w.align(8);
    let rva = w.rva();
    w.u32(spec.modules.len() as u32); // NumberOfModules
    for ((module, name_rva), cv) in spec.modules.iter().zip(&module_names).zip(&cv_records) {
        streams::write_module(&mut w, module, *name_rva, *cv);
    }
    entries.push((StreamType::ModuleList, Location::span(rva, &w)));

    w.align(8);
    let rva = w.rva();
    streams::write_unloaded_modules(&mut w, &spec.unloaded, &unloaded_names);
    entries.push((StreamType::UnloadedModuleList, Location::span(rva, &w)));

    let extra_memory: Vec<(u64, Location)> = spec
        .memory
        .iter()
        .map(|(start, bytes)| {
            w.align(16);
            let rva = w.rva();
            w.bytes(bytes);
            (*start, Location::span(rva, &w))
        })
        .collect();
    w.align(8);
    let rva = w.rva();
    w.u32((placed.len() + extra_memory.len()) as u32); // NumberOfMemoryRanges
    for place in &placed {
        streams::write_memory_descriptor(&mut w, place.stack_start, place.stack);
    }
    for (start, location) in &extra_memory {
        streams::write_memory_descriptor(&mut w, *start, *location);
    }
    entries.push((StreamType::MemoryList, Location::span(rva, &w)));

    if let (Some(exc), Some(ctx)) = (&spec.exception, exception_context) {
        w.align(8);
        let rva = w.rva();
        streams::write_exception(&mut w, exc, ctx);
        entries.push((StreamType::Exception, Location::span(rva, &w)));
    }

    let mut extra_entries = Vec::new();
    for (kind, data) in extra {
        w.align(8);
        let rva = w.rva();
        w.bytes(data);
        extra_entries.push((*kind, Location::span(rva, &w)));
    }

    // Header and directory, then the body.
    let mut streams = Vec::new();
    let mut out = ByteWriter::new();
    out.u32(MINIDUMP_SIGNATURE) // 0x00 Signature
        .u32(MINIDUMP_VERSION) // 0x04 Version (implementation word 0)
        .u32((order.len() + extra.len()) as u32) // 0x08 NumberOfStreams
        .u32(HEADER_SIZE as u32) // 0x0C StreamDirectoryRva
        .u32(0) // 0x10 CheckSum
        .u32(DUMP_TIMESTAMP) // 0x14 TimeDateStamp
        .u64(0); // 0x18 Flags (MiniDumpNormal)
    for kind in &order {
        let loc = entries
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(Location::default(), |(_, loc)| *loc);
        out.u32(*kind as u32).u32(loc.size).u32(loc.rva); // StreamType, DataSize, Rva
        streams.push((*kind as u32, loc.rva, loc.size));
    }
    for (kind, loc) in &extra_entries {
        out.u32(*kind).u32(loc.size).u32(loc.rva);
        streams.push((*kind, loc.rva, loc.size));
    }
    out.bytes(w.as_slice());
    Built {
        bytes: out.into_bytes(),
        streams,
    }
}
