//! x86 frame data from symbols: each driver's Breakpad `STACK WIN` records (FPO records and
//! frame-data programs, converted from the PDB), evaluated by the symbol file's own walker over
//! dump memory, so an x86 walk goes through functions built without a frame pointer instead of
//! skipping their callers the way an EBP chain does.

use std::borrow::Cow;
use std::cell::RefCell;

use kernel_dump::modules::{LoadedModule, ModuleIndex};
use kernel_dump::pe::CodeViewId;
use minidump_common::traits::Module;
use minidump_unwind::{FrameWalker, SymbolFile};
use unwind::{Memory, X86Callee, X86FrameData, X86Registers};

use super::symbolize::KernelSymbolizer;

/// One module as the symbols' walker needs it.
struct SymbolModule {
    name: String,
    base: u64,
    size: u64,
    codeview: Option<CodeViewId>,
}

impl Module for SymbolModule {
    fn base_address(&self) -> u64 {
        self.base
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn code_file(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
    fn code_identifier(&self) -> Option<debugid::CodeId> {
        None
    }
    fn debug_file(&self) -> Option<Cow<'_, str>> {
        self.codeview
            .as_ref()
            .map(|c| Cow::Borrowed(c.pdb_name.as_str()))
    }
    fn debug_identifier(&self) -> Option<debugid::DebugId> {
        None
    }
    fn version(&self) -> Option<Cow<'_, str>> {
        None
    }
}

/// Frame data from the symbols of a dump's drivers (looked up once each, by the symbolizer
/// that also names the frames).
pub(crate) struct SymbolFrameData<'r, 's> {
    symbolizer: RefCell<&'r mut KernelSymbolizer<'s>>,
    modules: Vec<SymbolModule>,
    index: &'r ModuleIndex,
}

impl<'r, 's> SymbolFrameData<'r, 's> {
    /// Frame data for `modules` (with their CodeView records, from the dump or the image
    /// store), through `symbolizer`.
    pub(crate) fn new(
        symbolizer: &'r mut KernelSymbolizer<'s>,
        modules: &[LoadedModule],
        codeviews: Vec<Option<CodeViewId>>,
        index: &'r ModuleIndex,
    ) -> Self {
        SymbolFrameData {
            symbolizer: RefCell::new(symbolizer),
            modules: modules
                .iter()
                .zip(codeviews)
                .map(|(m, codeview)| SymbolModule {
                    name: m.name.clone(),
                    base: m.base,
                    size: m.size,
                    codeview,
                })
                .collect(),
            index,
        }
    }

    /// Runs `f` on the symbol file of the module holding `address`.
    fn with_symbols<T>(
        &self,
        address: u64,
        f: impl FnOnce(&SymbolModule, &SymbolFile) -> Option<T>,
    ) -> Option<T> {
        let module = self.modules.get(self.index.find(address)?)?;
        let codeview = module.codeview.as_ref()?;
        let mut symbolizer = self.symbolizer.try_borrow_mut().ok()?;
        let symbols = symbolizer.symbol_file(&module.name, codeview)?;
        f(module, symbols)
    }

    /// The bytes of parameters the function at `address` takes (0 when unknown).
    fn parameter_size(&self, address: u64) -> u32 {
        self.with_symbols(address, |module, symbols| {
            let rva = address.checked_sub(module.base)?;
            match symbols.functions.get(rva) {
                Some(function) => Some(function.parameter_size),
                None => symbols.find_nearest_public(rva).map(|p| p.parameter_size),
            }
        })
        .unwrap_or(0)
    }
}

impl X86FrameData for SymbolFrameData<'_, '_> {
    fn caller(&self, callee: &X86Callee, memory: &dyn Memory) -> Option<X86Registers> {
        let grand_callee_parameter_size = callee.called.map_or(0, |a| self.parameter_size(a));
        self.with_symbols(callee.lookup, |module, symbols| {
            let mut walker = Walker {
                instruction: callee.lookup,
                has_grand_callee: callee.called.is_some(),
                grand_callee_parameter_size,
                callee: callee.registers,
                caller: CallerRegisters::default(),
                memory,
            };
            symbols.walk_frame(module, &mut walker)?;
            let c = walker.caller;
            Some(X86Registers {
                eip: c.eip?,
                esp: c.esp?,
                ebp: c.ebp.unwrap_or(0),
                ebx: c.ebx,
                esi: c.esi,
                edi: c.edi,
            })
        })
    }
}

/// The caller's registers as the symbols' rules set them.
#[derive(Default)]
struct CallerRegisters {
    eip: Option<u32>,
    esp: Option<u32>,
    ebp: Option<u32>,
    ebx: Option<u32>,
    esi: Option<u32>,
    edi: Option<u32>,
}

impl CallerRegisters {
    fn slot(&mut self, name: &str) -> Option<&mut Option<u32>> {
        Some(match name {
            "eip" => &mut self.eip,
            "esp" => &mut self.esp,
            "ebp" => &mut self.ebp,
            "ebx" => &mut self.ebx,
            "esi" => &mut self.esi,
            "edi" => &mut self.edi,
            _ => return None,
        })
    }
}

/// One frame's evaluation: the callee's registers in, the caller's out, memory through the
/// dump.
struct Walker<'m> {
    instruction: u64,
    has_grand_callee: bool,
    grand_callee_parameter_size: u32,
    callee: X86Registers,
    caller: CallerRegisters,
    memory: &'m dyn Memory,
}

impl FrameWalker for Walker<'_> {
    fn get_instruction(&self) -> u64 {
        self.instruction
    }
    fn has_grand_callee(&self) -> bool {
        self.has_grand_callee
    }
    fn get_grand_callee_parameter_size(&self) -> u32 {
        self.grand_callee_parameter_size
    }
    fn get_register_at_address(&self, address: u64) -> Option<u64> {
        self.memory.u32_at(address).map(u64::from)
    }
    fn get_callee_register(&self, name: &str) -> Option<u64> {
        let r = &self.callee;
        match name.trim_start_matches('$') {
            "eip" => Some(r.eip),
            "esp" => Some(r.esp),
            "ebp" => Some(r.ebp),
            "ebx" => r.ebx,
            "esi" => r.esi,
            "edi" => r.edi,
            _ => None,
        }
        .map(u64::from)
    }
    fn set_caller_register(&mut self, name: &str, val: u64) -> Option<()> {
        // x86 registers: the rules compute in 32 bits.
        let value = u32::try_from(val & 0xFFFF_FFFF).ok()?;
        *self.caller.slot(name.trim_start_matches('$'))? = Some(value);
        Some(())
    }
    fn clear_caller_register(&mut self, name: &str) {
        if let Some(slot) = self.caller.slot(name.trim_start_matches('$')) {
            *slot = None;
        }
    }
    fn set_cfa(&mut self, val: u64) -> Option<()> {
        self.set_caller_register("esp", val)
    }
    fn set_ra(&mut self, val: u64) -> Option<()> {
        self.set_caller_register("eip", val)
    }
}
