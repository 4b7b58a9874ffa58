//! Encoders for the individual minidump structures and streams.
//!
//! Each function appends one structure to a [`ByteWriter`], field by field,
//! with the field's offset inside the structure noted in a comment.

use super::{DumpSpec, ExceptionSpec, ModuleSpec, ThreadSpec, UnloadedModuleSpec};
use crate::bytes::ByteWriter;

/// Size of `MINIDUMP_SYSTEM_INFO`.
pub const SYSTEM_INFO_SIZE: u32 = 56;
/// Size of `MINIDUMP_MISC_INFO` (the original, flags-1 only version).
pub const MISC_INFO_SIZE: u32 = 24;
/// Size of `MINIDUMP_THREAD`.
pub const THREAD_SIZE: u32 = 48;
/// Size of `MINIDUMP_MODULE`.
pub const MODULE_SIZE: u32 = 108;
/// Size of `MINIDUMP_UNLOADED_MODULE_LIST` (the header).
pub const UNLOADED_HEADER_SIZE: u32 = 12;
/// Size of `MINIDUMP_UNLOADED_MODULE`.
pub const UNLOADED_ENTRY_SIZE: u32 = 24;
/// Size of the exception stream (`MINIDUMP_EXCEPTION_STREAM`).
pub const EXCEPTION_STREAM_SIZE: u32 = 168;
/// `VS_FIXEDFILEINFO.dwSignature`.
pub const VS_FFI_SIGNATURE: u32 = 0xFEEF_04BD;
/// `VS_FIXEDFILEINFO.dwStrucVersion`.
pub const VS_FFI_STRUCVERSION: u32 = 0x0001_0000;
/// `MINIDUMP_MISC1_PROCESS_ID`.
const MISC1_PROCESS_ID: u32 = 0x1;
/// `MINIDUMP_MISC1_PROCESS_TIMES`.
const MISC1_PROCESS_TIMES: u32 = 0x2;
/// Most ExceptionInformation entries a record holds.
const EXCEPTION_MAXIMUM_PARAMETERS: usize = 15;

/// Stream type numbers (`MINIDUMP_STREAM_TYPE`) used by the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum StreamType {
    /// `ThreadListStream`.
    ThreadList = 3,
    /// `ModuleListStream`.
    ModuleList = 4,
    /// `MemoryListStream`.
    MemoryList = 5,
    /// `ExceptionStream`.
    Exception = 6,
    /// `SystemInfoStream`.
    SystemInfo = 7,
    /// `UnloadedModuleListStream`.
    UnloadedModuleList = 14,
    /// `MiscInfoStream`.
    MiscInfo = 15,
}

/// `MINIDUMP_LOCATION_DESCRIPTOR`: `{ DataSize u32, Rva u32 }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location {
    /// DataSize.
    pub size: u32,
    /// Rva.
    pub rva: u32,
}

impl Location {
    /// The span from `start` to the writer's current position.
    pub fn span(start: u32, w: &ByteWriter) -> Self {
        Location {
            size: w.rva().saturating_sub(start),
            rva: start,
        }
    }

    /// Append as a location descriptor: DataSize then Rva.
    pub fn write(self, w: &mut ByteWriter) {
        w.u32(self.size).u32(self.rva);
    }
}

/// Append a 4-byte aligned `MINIDUMP_STRING` and return its RVA:
/// `+0 Length` (bytes, excluding the terminator), `+4 Buffer` (UTF-16LE), NUL.
pub fn write_string(w: &mut ByteWriter, s: &str) -> u32 {
    w.align(4);
    let rva = w.rva();
    let byte_len = s.encode_utf16().count() * 2;
    w.u32(byte_len as u32).utf16(s).u16(0);
    rva
}

/// `MINIDUMP_SYSTEM_INFO` (56 bytes):
/// 0x00 ProcessorArchitecture u16, 0x02 ProcessorLevel u16,
/// 0x04 ProcessorRevision u16, 0x06 NumberOfProcessors u8, 0x07 ProductType u8,
/// 0x08 MajorVersion, 0x0C MinorVersion, 0x10 BuildNumber, 0x14 PlatformId,
/// 0x18 CSDVersionRva, 0x1C SuiteMask u16, 0x1E Reserved2 u16,
/// 0x20 CPU_INFORMATION (24: X86CpuInfo `VendorId[3]`, VersionInformation,
/// FeatureInformation, AMDExtendedCpuFeatures).
pub fn write_system_info(w: &mut ByteWriter, spec: &DumpSpec, csd_rva: u32) {
    let arch: u16 = match spec.arch {
        super::Arch::X86 => 0,
        super::Arch::Amd64 => 9,
    };
    w.u16(arch); // 0x00 ProcessorArchitecture
    w.u16(6); // 0x02 ProcessorLevel (family 6)
    w.u16(0x9E0A); // 0x04 ProcessorRevision (model 0x9E, stepping 0xA)
    w.u8(spec.processors); // 0x06 NumberOfProcessors
    w.u8(1); // 0x07 ProductType (VER_NT_WORKSTATION)
    w.u32(spec.os.major); // 0x08 MajorVersion
    w.u32(spec.os.minor); // 0x0C MinorVersion
    w.u32(spec.os.build); // 0x10 BuildNumber
    w.u32(2); // 0x14 PlatformId (VER_PLATFORM_WIN32_NT)
    w.u32(csd_rva); // 0x18 CSDVersionRva
    w.u16(0x0100); // 0x1C SuiteMask (VER_SUITE_SINGLEUSERTS)
    w.u16(0); // 0x1E Reserved2
    w.bytes(b"GenuineIntel"); // 0x20 VendorId[3]
    w.u32(0x0009_06EA); // 0x2C VersionInformation (CPUID 1 EAX)
    w.u32(0xBFEB_FBFF); // 0x30 FeatureInformation (CPUID 1 EDX)
    w.u32(0); // 0x34 AMDExtendedCpuFeatures
}

/// `MINIDUMP_MISC_INFO` (24 bytes): 0x00 SizeOfInfo, 0x04 Flags1,
/// 0x08 ProcessId, 0x0C ProcessCreateTime, 0x10 ProcessUserTime,
/// 0x14 ProcessKernelTime.
pub fn write_misc_info(w: &mut ByteWriter, spec: &DumpSpec) {
    w.u32(MISC_INFO_SIZE); // 0x00 SizeOfInfo
    w.u32(MISC1_PROCESS_ID | MISC1_PROCESS_TIMES); // 0x04 Flags1
    w.u32(spec.process_id); // 0x08 ProcessId
    w.u32(spec.process_create_time); // 0x0C ProcessCreateTime
    w.u32(1); // 0x10 ProcessUserTime (seconds)
    w.u32(0); // 0x14 ProcessKernelTime
}

/// `MINIDUMP_MEMORY_DESCRIPTOR` (16 bytes): 0x00 StartOfMemoryRange u64,
/// 0x08 Memory (location descriptor).
pub fn write_memory_descriptor(w: &mut ByteWriter, start: u64, memory: Location) {
    w.u64(start);
    memory.write(w);
}

/// `MINIDUMP_THREAD` (48 bytes): 0x00 ThreadId, 0x04 SuspendCount,
/// 0x08 PriorityClass, 0x0C Priority, 0x10 Teb u64, 0x18 Stack (memory
/// descriptor), 0x28 ThreadContext (location descriptor).
pub fn write_thread(
    w: &mut ByteWriter,
    thread: &ThreadSpec,
    stack_start: u64,
    stack: Location,
    context: Location,
) {
    w.u32(thread.id); // 0x00 ThreadId
    w.u32(0); // 0x04 SuspendCount
    w.u32(0x20); // 0x08 PriorityClass (NORMAL_PRIORITY_CLASS)
    w.u32(0); // 0x0C Priority
    w.u64(thread.teb); // 0x10 Teb
    write_memory_descriptor(w, stack_start, stack); // 0x18 Stack
    context.write(w); // 0x28 ThreadContext
}

/// Pack `a.b.c.d` into the (MS, LS) pair of VS_FIXEDFILEINFO.
fn version_words(v: [u16; 4]) -> (u32, u32) {
    let [a, b, c, d] = v.map(u32::from);
    ((a << 16) | b, (c << 16) | d)
}

/// `VS_FIXEDFILEINFO` (52 bytes, 13 u32s): dwSignature, dwStrucVersion,
/// dwFileVersionMS, dwFileVersionLS, dwProductVersionMS, dwProductVersionLS,
/// dwFileFlagsMask, dwFileFlags, dwFileOS, dwFileType, dwFileSubtype,
/// dwFileDateMS, dwFileDateLS. A module without version writes all zeros.
fn write_fixed_file_info(w: &mut ByteWriter, module: &ModuleSpec) {
    let Some(version) = module.version else {
        w.zeros(52);
        return;
    };
    let (ms, ls) = version_words(version);
    w.u32(VS_FFI_SIGNATURE); // +0x00 dwSignature
    w.u32(VS_FFI_STRUCVERSION); // +0x04 dwStrucVersion
    w.u32(ms); // +0x08 dwFileVersionMS
    w.u32(ls); // +0x0C dwFileVersionLS
    w.u32(ms); // +0x10 dwProductVersionMS
    w.u32(ls); // +0x14 dwProductVersionLS
    w.u32(0x3F); // +0x18 dwFileFlagsMask (VS_FFI_FILEFLAGSMASK)
    w.u32(0); // +0x1C dwFileFlags
    w.u32(0x0004_0004); // +0x20 dwFileOS (VOS_NT_WINDOWS32)
    w.u32(if module.is_exe { 1 } else { 2 }); // +0x24 dwFileType (VFT_APP / VFT_DLL)
    w.u32(0); // +0x28 dwFileSubtype
    w.u32(0); // +0x2C dwFileDateMS
    w.u32(0); // +0x30 dwFileDateLS
}

/// `MINIDUMP_MODULE` (108 bytes): 0x00 BaseOfImage u64, 0x08 SizeOfImage,
/// 0x0C CheckSum, 0x10 TimeDateStamp, 0x14 ModuleNameRva,
/// 0x18 VersionInfo (VS_FIXEDFILEINFO, 52), 0x4C CvRecord (location),
/// 0x54 MiscRecord (location), 0x5C Reserved0 u64, 0x64 Reserved1 u64.
pub fn write_module(w: &mut ByteWriter, module: &ModuleSpec, name_rva: u32, cv: Location) {
    w.u64(module.base); // 0x00 BaseOfImage
    w.u32(module.size); // 0x08 SizeOfImage
    w.u32(module.checksum); // 0x0C CheckSum
    w.u32(module.timestamp); // 0x10 TimeDateStamp
    w.u32(name_rva); // 0x14 ModuleNameRva
    write_fixed_file_info(w, module); // 0x18 VersionInfo
    cv.write(w); // 0x4C CvRecord (RSDS, or none)
    Location::default().write(w); // 0x54 MiscRecord (none)
    w.u64(0); // 0x5C Reserved0
    w.u64(0); // 0x64 Reserved1
}

/// `MINIDUMP_UNLOADED_MODULE_LIST` header (0x00 SizeOfHeader, 0x04 SizeOfEntry,
/// 0x08 NumberOfEntries) followed by `MINIDUMP_UNLOADED_MODULE` entries
/// (24 bytes: 0x00 BaseOfImage u64, 0x08 SizeOfImage, 0x0C CheckSum,
/// 0x10 TimeDateStamp, 0x14 ModuleNameRva).
pub fn write_unloaded_modules(w: &mut ByteWriter, modules: &[UnloadedModuleSpec], names: &[u32]) {
    w.u32(UNLOADED_HEADER_SIZE); // 0x00 SizeOfHeader
    w.u32(UNLOADED_ENTRY_SIZE); // 0x04 SizeOfEntry
    w.u32(modules.len().min(names.len()) as u32); // 0x08 NumberOfEntries
    for (module, name_rva) in modules.iter().zip(names) {
        w.u64(module.base); // 0x00 BaseOfImage
        w.u32(module.size); // 0x08 SizeOfImage
        w.u32(module.checksum); // 0x0C CheckSum
        w.u32(module.timestamp); // 0x10 TimeDateStamp
        w.u32(*name_rva); // 0x14 ModuleNameRva
    }
}

/// `MINIDUMP_EXCEPTION_STREAM` (168 bytes): 0x00 ThreadId, 0x04 __alignment,
/// 0x08 MINIDUMP_EXCEPTION (152: +0x00 ExceptionCode, +0x04 ExceptionFlags,
/// +0x08 ExceptionRecord u64, +0x10 ExceptionAddress u64,
/// +0x18 NumberParameters, +0x1C __unusedAlignment,
/// +0x20 `ExceptionInformation[15]` u64), 0xA0 ThreadContext (location).
pub fn write_exception(w: &mut ByteWriter, exc: &ExceptionSpec, context: Location) {
    let params: Vec<u64> = exc
        .parameters
        .iter()
        .copied()
        .take(EXCEPTION_MAXIMUM_PARAMETERS)
        .collect();
    w.u32(exc.thread_id); // 0x00 ThreadId
    w.u32(0); // 0x04 __alignment
    w.u32(exc.code); // 0x08 ExceptionCode
    w.u32(exc.flags); // 0x0C ExceptionFlags
    w.u64(0); // 0x10 ExceptionRecord (no nested record)
    w.u64(exc.address); // 0x18 ExceptionAddress
    w.u32(params.len() as u32); // 0x20 NumberParameters
    w.u32(0); // 0x24 __unusedAlignment
    for i in 0..EXCEPTION_MAXIMUM_PARAMETERS {
        w.u64(params.get(i).copied().unwrap_or(0)); // 0x28 ExceptionInformation[i]
    }
    context.write(w); // 0xA0 ThreadContext
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minidump_string_has_byte_length_and_terminator() {
        let mut w = ByteWriter::with_base(2);
        let rva = write_string(&mut w, "Aé");
        assert_eq!(rva, 4);
        assert_eq!(w.as_slice(), &[0, 0, 4, 0, 0, 0, 0x41, 0, 0xe9, 0, 0, 0]);
    }

    #[test]
    fn fixed_size_structures_have_their_documented_sizes() {
        let module = ModuleSpec {
            path: "m.dll".into(),
            base: 0x1000_0000,
            size: 0x1000,
            version: Some([2, 7, 1828, 18]),
            timestamp: 1,
            checksum: 2,
            is_exe: false,
            pdb: None,
        };
        let mut w = ByteWriter::new();
        write_module(&mut w, &module, 0x40, Location::default());
        assert_eq!(w.len(), MODULE_SIZE as usize);
        // dwFileVersionMS / LS at 0x18 + 8 / + 12.
        assert_eq!(
            w.as_slice().get(0x20..0x28),
            Some(&[7, 0, 2, 0, 18, 0, 0x24, 0x07][..])
        );

        let thread = ThreadSpec {
            id: 1,
            teb: 0,
            ip: 0,
            cx: 0,
            stack_start: 0,
            return_addresses: vec![],
        };
        let mut w = ByteWriter::new();
        write_thread(&mut w, &thread, 0, Location::default(), Location::default());
        assert_eq!(w.len(), THREAD_SIZE as usize);

        let exc = ExceptionSpec {
            thread_id: 1,
            code: 0xC000_0005,
            flags: 0,
            address: 0x1000_1234,
            parameters: vec![1; 20],
        };
        let mut w = ByteWriter::new();
        write_exception(
            &mut w,
            &exc,
            Location {
                size: 716,
                rva: 0x100,
            },
        );
        assert_eq!(w.len(), EXCEPTION_STREAM_SIZE as usize);
        assert_eq!(w.as_slice().get(0x20..0x24), Some(&[15, 0, 0, 0][..]));

        let mut w = ByteWriter::new();
        let unloaded = UnloadedModuleSpec {
            path: "u.dll".into(),
            base: 0,
            size: 0,
            timestamp: 0,
            checksum: 0,
        };
        write_unloaded_modules(&mut w, &[unloaded], &[0x10]);
        assert_eq!(
            w.len(),
            (UNLOADED_HEADER_SIZE + UNLOADED_ENTRY_SIZE) as usize
        );
    }
}
