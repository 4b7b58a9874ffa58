//! The full report path: the `minidump-processor` stack walk with optional Breakpad symbols.

use std::path::PathBuf;
use std::sync::Arc;

use minidump::MinidumpModuleList;
use minidump_unwind::{FrameSymbolizer, Symbolizer};
use signatures::{CerTuple, FaultLocation, FrameFacts, UserCrashFacts};

use super::details::{hex_address, FrameDetails, ThreadDetails};
use super::{checked, open_checked, read_facts, MinidumpFacts, MinidumpWarning};
use crate::error::Result;
use symbols::store::SymbolPath;
use symbols::{SharedSupplier, SymbolSource};

/// Frames a report keeps of its crashing thread unless asked for more
/// ([`crate::analyze::AnalyzeOptions::frames`]).
pub const REPORT_FRAMES: usize = 32;

/// Symbol sources for the stack walker. One instance serves a whole batch: the symbolizer
/// caches parsed symbol files and is safe to share between threads.
pub struct Symbols {
    symbolizer: Symbolizer,
    source: Arc<SymbolSource>,
}

impl Symbols {
    /// Breakpad symbol directories laid out as `<debug file>/<DEBUGID>/<name>.sym`; an empty
    /// list walks with CFI-less heuristics only.
    pub fn breakpad(dirs: Vec<PathBuf>) -> Symbols {
        Symbols::new(dirs, SymbolPath::default())
    }

    /// Breakpad directories first, then PDBs from the symbol path (folders and servers).
    pub fn new(dirs: Vec<PathBuf>, path: SymbolPath) -> Symbols {
        let source = Arc::new(SymbolSource::new(dirs, path));
        Symbols {
            symbolizer: Symbolizer::new(SharedSupplier(Arc::clone(&source))),
            source,
        }
    }

    /// Where symbols come from (also used for kernel modules, by CodeView id).
    pub fn source(&self) -> &SymbolSource {
        &self.source
    }
}

impl std::fmt::Debug for Symbols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbols")
            .field("source", &self.source)
            .finish()
    }
}

/// Frame 0 for one symbol lookup: only the function name is kept.
struct FaultFrame {
    instruction: u64,
    function: Option<String>,
}

impl FrameSymbolizer for FaultFrame {
    fn get_instruction(&self) -> u64 {
        self.instruction
    }
    fn set_function(&mut self, name: &str, _base: u64, _parameter_size: u32) {
        self.function = Some(name.to_owned());
    }
    fn set_source_file(&mut self, _file: &str, _line: u32, _base: u64) {}
}

/// The signature path's one symbol lookup: names the function at the fault address with the
/// same symbolizer the stack walk uses, so the failure bucket (which takes frame 0's function
/// when frame 0 is the fault address) is the one the full path gives. No stack walk; nothing
/// happens when no symbols are configured or the address lies in no module. `bytes` are those
/// [`checked`] returned.
pub fn name_fault_frame(bytes: &[u8], facts: &mut UserCrashFacts, symbols: &Symbols) {
    if !symbols.source.is_configured() {
        return;
    }
    let tuple = CerTuple::from_facts(facts);
    if tuple.fault_location == FaultLocation::NoException {
        return;
    }
    let address = tuple.fault_address;
    let Ok(dump) = open_checked(bytes) else {
        return;
    };
    let Ok(modules) = dump.get_stream::<MinidumpModuleList>() else {
        return;
    };
    let Some(module) = modules.module_at_address(address) else {
        return;
    };
    let mut frame = FaultFrame {
        instruction: address,
        function: None,
    };
    // A module without symbols leaves the name empty, as on the full path.
    let _ = futures_executor::block_on(symbols.symbolizer.fill_symbol(module, &mut frame));
    facts.fault_function = frame.function;
}

/// Opens the dump, extracts its facts, walks the crashing thread's stack and fills the frames.
///
/// A walk that fails leaves the signature intact (it does not need the walk) and adds a
/// warning: a partial report beats no report.
pub fn analyze_full(bytes: &[u8], symbols: &Symbols, frames: usize) -> Result<MinidumpFacts> {
    let (fixed, warnings) = checked(bytes)?;
    analyze_checked(&fixed, warnings, symbols, frames)
}

/// [`analyze_full`] over bytes [`checked`] returned, with its warnings.
pub fn analyze_checked(
    bytes: &[u8],
    warnings: Vec<MinidumpWarning>,
    symbols: &Symbols,
    frames: usize,
) -> Result<MinidumpFacts> {
    let dump = open_checked(bytes)?;
    let mut out = read_facts(&dump, warnings)?;
    super::mark_null_class_pointer(bytes, &mut out.facts);
    let walked = futures_executor::block_on(minidump_processor::process_minidump(
        &dump,
        &symbols.symbolizer,
    ));
    let state = match walked {
        Ok(state) => state,
        Err(e) => {
            out.warnings.push(MinidumpWarning::StackWalkFailed {
                error: e.to_string(),
            });
            return Ok(out);
        }
    };
    // The exception's thread; for a hang report the first thread, as WER does.
    let index = state.requesting_thread.unwrap_or(0);
    let Some(stack) = state.threads.get(index) else {
        out.warnings.push(MinidumpWarning::NoThreads);
        return Ok(out);
    };
    let bits = out
        .details
        .system
        .as_ref()
        .map_or(if out.facts.is_32bit { 32 } else { 64 }, |s| s.pointer_bits);
    out.facts.frames = stack
        .frames
        .iter()
        .map(|f| FrameFacts {
            instruction: f.instruction,
            function: f.function_name.clone(),
        })
        .collect();
    let frames = stack
        .frames
        .iter()
        .take(frames)
        .enumerate()
        .map(|(i, f)| {
            let base = f.module.as_ref().map(|m| m.raw.base_of_image);
            FrameDetails {
                index: i,
                instruction: hex_address(f.instruction, bits),
                module: f
                    .module
                    .as_ref()
                    .map(|m| signatures::facts::file_name_of(&m.name).to_owned()),
                module_offset: base.map(|b| format!("{:#x}", f.instruction.wrapping_sub(b))),
                function: f.function_name.clone(),
                function_offset: f
                    .function_base
                    .map(|b| format!("{:#x}", f.instruction.wrapping_sub(b))),
                file: f.source_file_name.clone(),
                line: f.source_line,
                trust: f.trust.as_str().to_owned(),
            }
        })
        .collect();
    out.details.crashing_thread = Some(ThreadDetails {
        id: stack.thread_id,
        index,
        name: stack.thread_name.clone(),
        frames,
        total_frames: stack.frames.len(),
    });
    Ok(out)
}
