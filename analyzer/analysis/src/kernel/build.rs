//! Turns a parsed [`KernelDump`] into a [`KernelReport`].
//!
//! Gathers the module list (triage driver list, or the `PsLoadedModuleList` walk), scans the
//! stack for addresses inside modules (the saved stack of a triage dump, or up to 64 KiB from
//! the context SP through virtual memory), and collects everything that could not be read into
//! `missing`. Which driver caused the crash is decided once, by `signatures`
//! ([`super::signature::name_culprit`]).

use super::report::{
    bugcheck_name, crash_time, nt_version, BugCheck, DriverRow, KernelReport, OsInfo, StackAddress,
    UnloadedRow,
};
use kernel_dump::header::{describe_attributes, dump_type_name, machine_name, Width};
use kernel_dump::modules::{scan_stack, walk_module_list, LoadedModule, ModuleIndex, StackHit};
use kernel_dump::physical::PAGE_SIZE;
use kernel_dump::triage::KdDebuggerData;
use kernel_dump::{KernelDump, Missing};
use signatures::stop_codes::explain;
use unwind::{Frame, Trust, X86FrameData};

use super::frame_data::SymbolFrameData;
use super::symbolize::KernelSymbolizer;

/// Most stack bytes read through virtual memory.
const MAX_STACK_BYTES: u64 = 64 * 1024;
/// Most stack addresses listed in the report.
const MAX_STACK_ROWS: usize = 32;
/// Bytes of a KDBG block read through virtual memory.
const KDBG_BYTES: usize = 0x340;

/// The module list and the kernel's KDBG facts.
fn gather_modules(
    dump: &KernelDump<'_>,
    missing: &mut Vec<Missing>,
) -> (Vec<LoadedModule>, Option<KdDebuggerData>) {
    let mem = dump.memory();
    let header = dump.header();
    if let Some(t) = dump.triage() {
        let mut modules: Vec<LoadedModule> =
            t.drivers.iter().map(LoadedModule::from_triage).collect();
        for m in &mut modules {
            m.enrich(&mem);
        }
        return (modules, t.kdbg.clone());
    }
    if !dump.physical().has_pages() {
        return (Vec::new(), None);
    }
    let mut block = vec![0u8; KDBG_BYTES];
    let kdbg = dump
        .read_virtual(header.kd_debugger_data_block, &mut block)
        .ok()
        .and_then(|()| KdDebuggerData::parse(&block, header.width));
    let head = match header.ps_loaded_module_list {
        0 | 0x4547_4150 | 0x4547_4150_4547_4150 => {
            kdbg.as_ref().map_or(0, |k| k.ps_loaded_module_list)
        }
        h => h,
    };
    if head == 0 {
        missing.push(Missing::ModuleListHead);
        return (Vec::new(), kdbg);
    }
    let (mut modules, err) = walk_module_list(&mem, head, header.width);
    if let Some(e) = err {
        missing.push(Missing::ModuleListWalk {
            head,
            entries: modules.len(),
            error: e,
        });
    }
    for m in &mut modules {
        m.enrich(&mem);
    }
    (modules, kdbg)
}

/// The stack to scan: (VA of its first byte, bytes, where to start scanning).
fn stack_bytes(dump: &KernelDump<'_>, missing: &mut Vec<Missing>) -> Option<(u64, Vec<u8>, u64)> {
    let sp = dump.context().map(|c| c.sp);
    if let Some(t) = dump.triage() {
        // Scan the saved stack from SP (when SP is inside it), at most 64 KiB.
        let (va, bytes) = t.stack?;
        let from = sp
            .filter(|&sp| sp >= va && sp - va < bytes.len() as u64)
            .unwrap_or(va);
        let end = (from - va).saturating_add(MAX_STACK_BYTES);
        let kept = bytes.get(..end.min(bytes.len() as u64) as usize)?;
        return Some((va, kept.to_vec(), from));
    }
    let sp = sp?;
    if !dump.physical().has_pages() {
        return None;
    }
    // Read page by page from SP until a page is unreadable or 64 KiB are in.
    let mut out = Vec::new();
    let mut va = sp;
    while (out.len() as u64) < MAX_STACK_BYTES {
        let chunk = (PAGE_SIZE - va % PAGE_SIZE).min(MAX_STACK_BYTES - out.len() as u64);
        let mut buf = vec![0u8; chunk as usize];
        match dump.read_virtual(va, &mut buf) {
            Ok(()) => out.extend_from_slice(&buf),
            Err(e) => {
                if out.is_empty() {
                    missing.push(Missing::Stack { sp, error: e });
                }
                break;
            }
        }
        match va.checked_add(chunk) {
            Some(next) => va = next,
            None => break,
        }
    }
    (!out.is_empty()).then_some((sp, out, sp))
}

/// The walked frames after the context's (which is the crash address), as stack rows in
/// modules: where each address was read from the stack, and how the frame was found.
fn walked_hits(frames: &[Frame], index: &ModuleIndex, ptr64: bool) -> Vec<(StackHit, Trust)> {
    let width = if ptr64 { 8 } else { 4 };
    frames
        .iter()
        .skip(1)
        .filter_map(|f| {
            let module = index.find(f.lookup_address())?;
            // A return address was read just below the caller's stack pointer; an interrupted
            // instruction's address came from a machine frame.
            let slot = if f.interrupted {
                f.sp
            } else {
                f.sp.wrapping_sub(width)
            };
            Some((
                StackHit {
                    stack_address: slot,
                    value: f.pc,
                    module,
                },
                f.trust,
            ))
        })
        .collect()
}

/// Whether the header's exception record is the bug check's own stand-in rather than an
/// exception that happened: the kernel writes a non-continuable STATUS_BREAKPOINT without
/// parameters at the bug check call when there was no exception.
fn is_bugcheck_breakpoint(e: &kernel_dump::ExceptionRecord) -> bool {
    e.code == 0x8000_0003 && e.number_parameters == 0 && e.information.is_empty()
}

/// The CodeView record (PDB name and id) of a module's image. A small dump lacks the image's
/// debug directory: the image store's copy of the same build (fetched anyway to unwind through
/// it) names its symbols.
pub(crate) fn module_codeview(
    m: &LoadedModule,
    store: Option<&symbols::image_store::ImageStore>,
) -> Option<kernel_dump::pe::CodeViewId> {
    m.codeview.clone().or_else(|| {
        let file = store?.image_file(&m.name, m.timestamp?, m.size)?;
        kernel_dump::pe_file::PeFile::parse(&file)
            .and_then(|pe| pe.info())
            .ok()?
            .codeview
    })
}

/// Builds the report.
pub(crate) fn build_report(
    dump: &KernelDump<'_>,
    store: Option<&symbols::image_store::ImageStore>,
    symbolizer: Option<&mut KernelSymbolizer<'_>>,
) -> KernelReport {
    let header = dump.header();
    let ptr64 = header.width == Width::Bits64;
    let mut missing = dump.missing();
    let (modules, kdbg) = gather_modules(dump, &mut missing);
    let index = ModuleIndex::new(&modules);
    // The stack as the debugger builds it: unwound where the images' unwind data is in the
    // dump (or the image store), scanned (and marked so) where not. Without a walkable context
    // (another machine type), the old scan of the saved stack.
    let codeviews: Vec<_> = modules.iter().map(|m| module_codeview(m, store)).collect();
    // x86 functions built without a frame pointer are walked through with the symbols' frame
    // data (x64 needs none: its unwind data is in the images).
    let frame_data = symbolizer
        .filter(|_| !ptr64)
        .map(|s| SymbolFrameData::new(s, &modules, codeviews.clone(), &index));
    let frame_data = frame_data.as_ref().map(|f| f as &dyn X86FrameData);
    let hits: Vec<(StackHit, Trust)> =
        match super::unwound::walk(dump, &modules, &index, store, frame_data) {
            Some(frames) => walked_hits(&frames, &index, ptr64),
            None => stack_bytes(dump, &mut missing)
                .map(|(va, bytes, from)| {
                    scan_stack(&bytes, va, from, ptr64, &index)
                        .into_iter()
                        .map(|hit| (hit, Trust::Scan))
                        .collect()
                })
                .unwrap_or_default(),
        };
    let mut on_stack = vec![false; modules.len()];
    for (h, _) in &hits {
        if let Some(flag) = on_stack.get_mut(h.module) {
            *flag = true;
        }
    }
    // The culprit is not decided here: `signature::name_culprit` fills it from the one
    // selection that also names the failure bucket's module.
    let crash_address = explain(header.bugcheck_code, header.bugcheck_parameters)
        .named_address
        .or(dump.context().map(|c| c.pc));
    let stack = hits
        .iter()
        .filter_map(|(h, trust)| {
            let m = modules.get(h.module)?;
            Some(StackAddress {
                stack_address: h.stack_address,
                address: h.value,
                module: m.name.clone(),
                offset: h.value.wrapping_sub(m.base),
                trust: *trust,
                symbol: None,
            })
        })
        .take(MAX_STACK_ROWS)
        .collect();
    let drivers = modules
        .iter()
        .zip(on_stack)
        .zip(codeviews)
        .map(|((m, on_stack), codeview)| DriverRow {
            name: m.name.clone(),
            path: m.path.clone(),
            base: m.base,
            size: m.size,
            timestamp: m.timestamp,
            file_version: m.file_version.clone(),
            codeview,
            on_stack,
        })
        .collect();
    let unloaded_drivers = dump
        .triage()
        .map(|t| {
            t.unloaded
                .iter()
                .map(|u| UnloadedRow {
                    name: u.name.clone(),
                    start: u.start,
                    end: u.end,
                })
                .collect()
        })
        .unwrap_or_default();
    KernelReport {
        dump_type: header.dump_type,
        dump_type_name: dump_type_name(header.dump_type),
        header_width: if ptr64 { "64-bit" } else { "32-bit" },
        partial: !missing.is_empty(),
        crash_time: crash_time(header.system_time),
        // A header that keeps the `PAGE` filler (or zero) recorded no up time.
        uptime_seconds: (header.system_up_time != kernel_dump::UNSET64
            && header.system_up_time != 0)
            .then_some(header.system_up_time / 10_000_000),
        bugcheck: BugCheck {
            code: header.bugcheck_code,
            name: bugcheck_name(header.bugcheck_code),
            parameters: header.bugcheck_parameters,
        },
        caused_by: None,
        attribution_rule: String::new(),
        crash_address,
        architecture: machine_name(header.machine_image_type),
        processors: header.number_processors,
        os: OsInfo {
            major_version: header.major_version,
            minor_version: header.minor_version,
            build_kind: if header.major_version == 0xC {
                "checked"
            } else {
                "free"
            },
            nt_version: nt_version(header.minor_version),
            build: header.minor_version,
            product_type: header.product_type,
        },
        process: kernel_dump::process::current_process(dump, kdbg.as_ref()),
        verifier_level: kernel_dump::process::verifier_level(dump, kdbg.as_ref()),
        kernel_base: kdbg.as_ref().map(|k| k.kern_base),
        context: dump.context().cloned(),
        exception: dump.exception().cloned(),
        exception_is_bugcheck_breakpoint: dump.exception().is_some_and(is_bugcheck_breakpoint),
        stack,
        fault_record: super::fault::fault_record(dump, &modules, &index, store, frame_data),
        drivers,
        unloaded_drivers,
        attributes_raw: header.attributes,
        attributes: header
            .attributes
            .map(describe_attributes)
            .unwrap_or_default(),
        missing,
    }
}
