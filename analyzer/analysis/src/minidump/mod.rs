//! User-mode minidumps: parsed with the `minidump` crate over the shared memory map.
//!
//! Two paths share one extraction of facts:
//! - [`quick::read_signature_facts`] reads only the fields of the system info, module list and
//!   exception streams the signature needs (no stack walk, no report): the fast path a batch
//!   uses to bucket thousands of dumps.
//! - [`stackwalk::analyze_full`] adds the `minidump-processor` stack walk and symbols for the
//!   report a person reads.

pub mod details;
pub mod instruction;
pub mod quick;
pub mod stackwalk;
mod validate;
pub mod warning;

pub use warning::MinidumpWarning;

use std::borrow::Cow;

use minidump::{
    Minidump, MinidumpException, MinidumpMiscInfo, MinidumpModuleList, MinidumpSystemInfo,
    MinidumpUnloadedModuleList, Module,
};
use signatures::{
    exception_codes::exception_name, CerTuple, ExceptionFacts, ModuleFacts, UserCrashFacts,
};

use crate::error::{AnalyzeError, Result};
use details::{
    hex_address, AccessDetails, ExceptionDetails, MinidumpDetails, ModuleDetails, ProcessDetails,
    SystemDetails, UnloadedModuleDetails, WerParameter,
};
use signatures::time::UtcTime;

/// Largest minidump analyzed around its damaged parts (a copy with them hidden).
pub const MAX_REPAIR_BYTES: u64 = 64 << 20;

/// A minidump opened over borrowed bytes.
pub type OpenMinidump<'a> = Minidump<'a, &'a [u8]>;

/// Checks every referenced range and count against the file: the bytes to open (a copy with
/// the damaged parts hidden when there are any) and a warning per damaged part. Fails only
/// when the header, the directory or the exception stream is unusable.
pub fn checked(bytes: &[u8]) -> Result<(Cow<'_, [u8]>, Vec<MinidumpWarning>)> {
    let damage = validate::check_extents(bytes)?;
    // The repair is a copy of the file: bounded, so a damaged full-memory dump cannot make
    // every worker hold gigabytes. Above the bound the damage is an error, as it was before.
    if let Some(first) = damage
        .first()
        .filter(|_| bytes.len() as u64 > MAX_REPAIR_BYTES)
    {
        return Err(AnalyzeError::Malformed {
            what: "minidump",
            offset: first.offset,
            reason: format!(
                "{} is damaged ({}) and the file is too large ({} bytes, over {MAX_REPAIR_BYTES}) to analyze without it",
                validate::stream_name(first.stream_type),
                first.problem,
                bytes.len()
            ),
        });
    }
    let fixed = validate::repaired(bytes, &damage);
    Ok((
        fixed,
        damage.into_iter().map(MinidumpWarning::from).collect(),
    ))
}

/// Sets [`UserCrashFacts::null_class_pointer`] from the dump's (checked) bytes, for a read or
/// write access violation at a small non-zero address: the one case it decides.
pub fn mark_null_class_pointer(bytes: &[u8], facts: &mut UserCrashFacts) {
    let Some((access, data)) = facts.exception.as_ref().and_then(ExceptionFacts::access) else {
        return;
    };
    let data = facts.pointer(data);
    if access == signatures::AccessKind::Execute || data == 0 || data >= 0x1_0000 {
        return;
    }
    let ip = CerTuple::from_facts(facts).fault_address;
    facts.null_class_pointer = instruction::null_base(bytes, ip) == Some(true);
}

/// Parses the header and directory of bytes [`checked`] returned.
pub fn open_checked(bytes: &[u8]) -> Result<OpenMinidump<'_>> {
    Minidump::read(bytes).map_err(|source| AnalyzeError::Minidump {
        context: "header",
        source,
    })
}

/// Reads an optional stream: absent is `Ok(None)`, present but unreadable is an error.
fn optional_stream<'a, S>(dump: &'a OpenMinidump<'a>, context: &'static str) -> Result<Option<S>>
where
    S: minidump::MinidumpStream<'a>,
{
    match dump.get_stream::<S>() {
        Ok(stream) => Ok(Some(stream)),
        Err(minidump::Error::StreamNotFound) => Ok(None),
        Err(source) => Err(AnalyzeError::Minidump { context, source }),
    }
}

/// Whether a dump of this `PlatformId` records the faulting data address in ExceptionAddress.
/// Windows writes the instruction there (VER_PLATFORM_WIN32s/WINDOWS/NT/CE are 0 to 3);
/// Breakpad and Crashpad give Linux, Android, macOS, iOS and the other non-Windows systems
/// ids from 0x8000 on (`MD_OS_*`), and record the address that faulted, as the signal's
/// `si_addr` says: the instruction is the context's IP.
pub(crate) fn exception_address_is_data(platform_id: u32) -> bool {
    platform_id >= 0x8000
}

/// A stream error as a warning.
fn unreadable(e: AnalyzeError) -> MinidumpWarning {
    match e {
        AnalyzeError::Minidump { context, source } => MinidumpWarning::UnreadableStream {
            stream: context,
            error: source.to_string(),
        },
        other => MinidumpWarning::UnreadableStream {
            stream: "stream",
            error: other.to_string(),
        },
    }
}

/// The facts the signature rules need, and the report details that come without a walk.
#[derive(Debug, Clone)]
pub struct MinidumpFacts {
    /// Input to the `signatures` crate (frames empty until a walk fills them).
    pub facts: UserCrashFacts,
    /// The report sections.
    pub details: MinidumpDetails,
    /// Damaged or missing parts that did not stop the analysis.
    pub warnings: Vec<MinidumpWarning>,
}

/// File version `a.b.c.d` from a module's VS_FIXEDFILEINFO, when its signature is valid.
fn module_version(module: &minidump::MinidumpModule) -> Option<String> {
    const VS_FFI_SIGNATURE: u32 = 0xFEEF_04BD;
    let v = &module.raw.version_info;
    (v.signature == VS_FFI_SIGNATURE)
        .then(|| le_bytes::FileVersion::new(v.file_version_hi, v.file_version_lo).to_string())
}

fn pointer_bits(system: Option<&MinidumpSystemInfo>, modules: &[ModuleFacts]) -> u32 {
    use minidump::system_info::Cpu;
    match system.map(|s| s.cpu) {
        Some(Cpu::X86 | Cpu::Arm | Cpu::Ppc | Cpu::Sparc | Cpu::Mips) => 32,
        Some(Cpu::X86_64 | Cpu::Arm64 | Cpu::Ppc64 | Cpu::Mips64) => 64,
        // No usable system info: a module above 4 GiB proves a 64-bit process.
        _ if modules
            .iter()
            .any(|m| m.base.saturating_add(m.size) > 1 << 32) =>
        {
            64
        }
        _ => 32,
    }
}

/// Extracts facts and details from an opened minidump without walking stacks; `warnings`
/// are those of [`checked`], to which the reading adds its own.
pub fn read_facts(
    dump: &OpenMinidump<'_>,
    mut warnings: Vec<MinidumpWarning>,
) -> Result<MinidumpFacts> {
    let system = optional_stream::<MinidumpSystemInfo>(dump, "system info stream")?;
    let misc = match optional_stream::<MinidumpMiscInfo>(dump, "misc info stream") {
        Ok(m) => m,
        Err(e) => {
            warnings.push(unreadable(e));
            None
        }
    };
    let module_list = optional_stream::<MinidumpModuleList>(dump, "module list stream")?;
    let unloaded =
        match optional_stream::<MinidumpUnloadedModuleList>(dump, "unloaded module list stream") {
            Ok(u) => u,
            Err(e) => {
                warnings.push(unreadable(e));
                None
            }
        };
    let exception = optional_stream::<MinidumpException>(dump, "exception stream")?;
    if module_list.is_none() && exception.is_none() {
        return Err(quick::nothing_to_bucket(&warnings));
    }
    if module_list.is_none() {
        warnings.push(MinidumpWarning::NoModuleList);
    }

    let loaded: Vec<&minidump::MinidumpModule> = module_list
        .as_ref()
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    let modules: Vec<ModuleFacts> = loaded
        .iter()
        .map(|m| ModuleFacts {
            path: m.name.clone(),
            base: m.raw.base_of_image,
            size: u64::from(m.raw.size_of_image),
            version: module_version(m),
            timestamp: m.raw.time_date_stamp,
        })
        .collect();
    let bits = pointer_bits(system.as_ref(), &modules);

    let exception_facts = exception.as_ref().map(|e| {
        let r = &e.raw.exception_record;
        let n = usize::try_from(r.number_parameters)
            .unwrap_or(usize::MAX)
            .min(r.exception_information.len());
        ExceptionFacts {
            code: r.exception_code,
            flags: r.exception_flags,
            address: r.exception_address,
            parameters: r.exception_information.iter().take(n).copied().collect(),
        }
    });
    let context_instruction = match (&exception, &system) {
        (Some(e), Some(s)) => e
            .context(s, misc.as_ref())
            .map(|c| c.get_instruction_pointer()),
        _ => None,
    };
    if exception.is_some() && context_instruction.is_none() {
        warnings.push(MinidumpWarning::NoExceptionContext);
    }

    let facts = UserCrashFacts {
        is_32bit: bits == 32,
        modules,
        exception: exception_facts,
        context_instruction,
        exception_address_is_data: system
            .as_ref()
            .is_some_and(|s| exception_address_is_data(s.raw.platform_id)),
        frames: Vec::new(),
        fault_function: None,
        null_class_pointer: false,
    };
    let tuple = CerTuple::from_facts(&facts);
    let details = MinidumpDetails {
        dump_time: (dump.header.time_date_stamp != 0)
            .then(|| UtcTime::from_unix(i64::from(dump.header.time_date_stamp))),
        system: system.as_ref().map(|s| system_details(s, bits)),
        process: process_details(&facts, misc.as_ref()),
        exception: exception
            .as_ref()
            .zip(facts.exception.as_ref())
            .map(|(e, f)| exception_details(e, f, &tuple, bits)),
        crashing_thread: None,
        modules: loaded
            .iter()
            .zip(&facts.modules)
            .map(|(m, f)| module_details(m, f, bits))
            .collect(),
        unloaded_modules: unloaded
            .as_ref()
            .map(|u| {
                u.iter()
                    .map(|m| UnloadedModuleDetails {
                        name: signatures::facts::file_name_of(&m.name).to_owned(),
                        path: m.name.clone(),
                        base: hex_address(m.raw.base_of_image, bits),
                        size: format!("{:#x}", m.raw.size_of_image),
                        timestamp: format!("{:08x}", m.raw.time_date_stamp),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        wer_parameters: tuple
            .wer_parameters()
            .iter()
            .enumerate()
            .map(|(i, (field, value))| WerParameter {
                name: format!("P{}", i + 1),
                field: (*field).to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
    };
    Ok(MinidumpFacts {
        facts,
        details,
        warnings,
    })
}

fn system_details(s: &MinidumpSystemInfo, bits: u32) -> SystemDetails {
    SystemDetails {
        os: format!("{:?}", s.os),
        os_version: format!(
            "{}.{}.{}",
            s.raw.major_version, s.raw.minor_version, s.raw.build_number
        ),
        csd_version: s
            .csd_version()
            .map(|c| c.into_owned())
            .filter(|c| !c.is_empty()),
        cpu: s.cpu.to_string(),
        cpu_info: s
            .cpu_info()
            .map(|c| c.into_owned())
            .filter(|c| !c.is_empty()),
        processor_count: u32::from(s.raw.number_of_processors),
        pointer_bits: bits,
    }
}

fn process_details(facts: &UserCrashFacts, misc: Option<&MinidumpMiscInfo>) -> ProcessDetails {
    let main = facts.main_module();
    ProcessDetails {
        name: main.map_or("", |m| m.file_name()).to_owned(),
        path: main.map(|m| m.path.clone()).unwrap_or_default(),
        version: main.and_then(|m| m.version.clone()),
        timestamp: format!("{:08x}", main.map_or(0, |m| m.timestamp)),
        pid: misc.and_then(|m| m.raw.process_id().copied()),
        create_time: misc
            .and_then(|m| m.raw.process_create_time().copied())
            .filter(|t| *t != 0)
            .map(|t| UtcTime::from_unix(i64::from(t))),
    }
}

fn exception_details(
    e: &MinidumpException,
    f: &ExceptionFacts,
    tuple: &CerTuple,
    bits: u32,
) -> ExceptionDetails {
    ExceptionDetails {
        code: format!("{:#010x}", f.code),
        name: exception_name(f.code).map(str::to_owned),
        flags: format!("{:#x}", f.flags),
        thread_id: e.thread_id,
        instruction_address: hex_address(tuple.fault_address, bits),
        instruction_source: tuple.fault_location,
        recorded_address: hex_address(f.address, bits),
        access: f.access().map(|(kind, address)| AccessDetails {
            kind,
            address: hex_address(address, bits),
        }),
        // A 32-bit process's parameters are 32-bit values; writers sign-extend them into the
        // 64-bit fields (0xffffffff80131522 is 0x80131522).
        parameters: f
            .parameters
            .iter()
            .map(|&p| format!("{:#x}", if bits == 32 { p & 0xFFFF_FFFF } else { p }))
            .collect(),
    }
}

fn module_details(m: &minidump::MinidumpModule, f: &ModuleFacts, bits: u32) -> ModuleDetails {
    ModuleDetails {
        name: f.file_name().to_owned(),
        path: f.path.clone(),
        base: hex_address(f.base, bits),
        size: format!("{:#x}", f.size),
        version: f.version.clone(),
        timestamp: format!("{:08x}", f.timestamp),
        debug_file: m
            .debug_file()
            .map(|d| d.into_owned())
            .filter(|d| !d.is_empty()),
        debug_id: m.debug_identifier().map(|d| d.breakpad().to_string()),
    }
}
