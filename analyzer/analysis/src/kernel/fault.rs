//! The faulting code's own stack, from the context record or trap frame a stop code names
//! (what `.cxr` and `.trap` show in the debugger): 0x7E and 0x1000007E P4 and 0x3B P3 point at
//! a CONTEXT, 0x8E and 0x1000008E P3 and 0x139 P2 at a KTRAP_FRAME. The bug check's own stack
//! runs through the exception dispatcher; this one starts at the instruction that faulted, so
//! the culprit is taken from it first.

use kernel_dump::context::{
    Context, MACHINE_X64, MACHINE_X86, X64_CONTEXT_LEN, X64_TRAP_FRAME_LEN, X86_CONTEXT_LEN,
};
use kernel_dump::modules::{LoadedModule, ModuleIndex};
use kernel_dump::KernelDump;
use signatures::stop_codes::base_code;
use unwind::Trust;

use super::report::{FaultRecord, RecordKind, StackAddress};

/// Frames kept of the faulting code's stack.
const MAX_FAULT_FRAMES: usize = 32;

/// The record `code` names: (parameter index, 0-based; kind).
pub fn record_of(code: u32) -> Option<(usize, RecordKind)> {
    match base_code(code) {
        0x7E => Some((3, RecordKind::ContextRecord)),
        0x3B => Some((2, RecordKind::ContextRecord)),
        0x8E => Some((2, RecordKind::TrapFrame)),
        0x139 => Some((1, RecordKind::TrapFrame)),
        _ => None,
    }
}

/// Whether the record's stack names the culprit ahead of the bug check's own stack: for
/// exceptions the kernel did not handle (0x7E, 0x3B, 0x8E) the debugger blames the faulting
/// code (`AV_EvilDriver!unknown_function` for a 0x7E). Not for 0x139: its trap frame is where
/// `__fastfail` was called, and the published `0x139_3_CORRUPT_LIST_ENTRY_nt!KiFastFailDispatch`
/// names the bug check's own stack; the trap frame's stack is still shown.
pub fn leads_culprit(code: u32) -> bool {
    matches!(base_code(code), 0x7E | 0x3B | 0x8E)
}

/// Reads the record the stop code names and walks the stack from it; `None` when the code names
/// none, the record is not in the dump, or it holds no usable instruction pointer.
pub(crate) fn fault_record(
    dump: &KernelDump<'_>,
    modules: &[LoadedModule],
    index: &ModuleIndex,
    store: Option<&symbols::image_store::ImageStore>,
    frame_data: Option<&dyn unwind::X86FrameData>,
) -> Option<FaultRecord> {
    let header = dump.header();
    let (parameter, kind) = record_of(header.bugcheck_code)?;
    let address = *header.bugcheck_parameters.get(parameter)?;
    let machine = header.machine_image_type;
    let len = match (kind, machine) {
        (RecordKind::ContextRecord, MACHINE_X64) => X64_CONTEXT_LEN,
        (RecordKind::ContextRecord, MACHINE_X86) => X86_CONTEXT_LEN,
        (RecordKind::TrapFrame, MACHINE_X64) => X64_TRAP_FRAME_LEN,
        _ => return None,
    };
    let mut bytes = vec![0u8; len];
    dump.read_virtual(address, &mut bytes).ok()?;
    let context = match kind {
        RecordKind::ContextRecord => Context::parse(&bytes, 0, machine)?,
        RecordKind::TrapFrame => Context::from_trap_frame(&bytes, machine)?,
    };
    if context.pc == 0 {
        return None;
    }
    let frames = super::unwound::walk_context(dump, modules, index, &context, store, frame_data)?;
    let width = if machine == MACHINE_X64 { 8 } else { 4 };
    // The record was saved on the same stack, above the frames that faulted: what lies past it
    // is the dispatcher's stack (the bug check's own frames, the record's copies of the
    // faulting address), which the main stack already shows.
    let end = (address > context.sp).then_some(address);
    let stack = frames
        .iter()
        .enumerate()
        .take_while(|(_, f)| end.map_or(true, |end| f.sp < end))
        .filter_map(|(i, f)| {
            let m = modules.get(index.find(f.lookup_address())?)?;
            let slot = if i == 0 || f.interrupted {
                f.sp
            } else {
                f.sp.wrapping_sub(width)
            };
            Some(StackAddress {
                stack_address: slot,
                address: f.pc,
                module: m.name.clone(),
                offset: f.pc.wrapping_sub(m.base),
                trust: if i == 0 { Trust::Context } else { f.trust },
                symbol: None,
            })
        })
        .take(MAX_FAULT_FRAMES)
        .collect();
    Some(FaultRecord {
        kind,
        parameter: parameter + 1,
        address,
        context,
        stack,
    })
}
