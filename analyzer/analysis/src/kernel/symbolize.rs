//! Symbols for kernel frames. A kernel dump carries no module list with debug ids the way a
//! minidump does, so each driver's symbol file is looked up by the CodeView record read from
//! its image in dump memory (PDB name and GUID+age, the key symbol servers use), through the
//! same [`SymbolSource`] as minidumps: Breakpad directories, then PDBs or Breakpad files from
//! the symbol path. Addresses then read `module!function+offset`, with file and line where the
//! symbols have line records.

use std::collections::HashMap;

use minidump_unwind::SymbolFile;

use crate::kernel::note::KernelNote;
use crate::kernel::report::{DriverRow, FrameSymbol};
use crate::kernel::KernelReport;
use kernel_dump::pe::CodeViewId;
use symbols::{debug_file_name, SymbolSource};

/// Resolves addresses of one dump's drivers, loading each driver's symbols at most once.
pub struct KernelSymbolizer<'s> {
    source: &'s SymbolSource,
    /// By `<pdb name>/<debug id>`; `None` once a lookup failed.
    files: HashMap<String, Option<SymbolFile>>,
    notes: Vec<KernelNote>,
}

impl<'s> KernelSymbolizer<'s> {
    /// A symbolizer over `source`.
    pub fn new(source: &'s SymbolSource) -> KernelSymbolizer<'s> {
        KernelSymbolizer {
            source,
            files: HashMap::new(),
            notes: Vec::new(),
        }
    }

    /// Whether symbols were found for any driver so far.
    pub fn any_loaded(&self) -> bool {
        self.files.values().any(Option::is_some)
    }

    /// Drivers whose symbols were not found, and the symbol source's own notes.
    pub fn take_notes(&mut self) -> Vec<KernelNote> {
        std::mem::take(&mut self.notes)
    }

    /// The symbol file of the driver `name` whose image names `codeview`, looked up once.
    pub fn symbol_file(&mut self, name: &str, codeview: &CodeViewId) -> Option<&SymbolFile> {
        let debug_file = debug_file_name(&codeview.pdb_name);
        let key = format!("{debug_file}/{}", codeview.debug_id);
        let KernelSymbolizer {
            source,
            files,
            notes,
        } = self;
        files
            .entry(key)
            .or_insert_with(|| {
                let lookup = source.symbol_file(debug_file, &codeview.debug_id);
                notes.extend(lookup.notes.into_iter().map(KernelNote::Store));
                let found = lookup.file;
                if found.is_none() {
                    notes.push(KernelNote::NoSymbols {
                        driver: name.to_owned(),
                        debug_file: debug_file.to_owned(),
                        debug_id: codeview.debug_id.clone(),
                    });
                }
                found
            })
            .as_ref()
    }

    /// The symbol for `address`, when it lies in a driver whose symbols can be found.
    pub fn resolve(&mut self, drivers: &[DriverRow], address: u64) -> Option<FrameSymbol> {
        let driver = drivers
            .iter()
            .find(|d| address >= d.base && address - d.base < d.size)?;
        let codeview = driver.codeview.as_ref()?;
        let symbols = self.symbol_file(&driver.name, codeview)?;
        let rva = address - driver.base;
        if let Some(function) = symbols.functions.get(rva) {
            let line = function.lines.get(rva);
            return Some(FrameSymbol {
                function: function.name.clone(),
                function_offset: rva.saturating_sub(function.address),
                file: line.and_then(|l| symbols.files.get(&l.file).cloned()),
                line: line.map(|l| l.line).filter(|&l| l > 0),
            });
        }
        let public = symbols.find_nearest_public(rva)?;
        Some(FrameSymbol {
            function: public.name.clone(),
            function_offset: rva.saturating_sub(public.address),
            file: None,
            line: None,
        })
    }

    /// Fills the symbols of the report's stack addresses and of the address the crash is
    /// attributed to.
    pub fn symbolize_report(&mut self, report: &mut KernelReport) {
        let drivers = std::mem::take(&mut report.drivers);
        for entry in &mut report.stack {
            entry.symbol = self.resolve(&drivers, entry.address);
        }
        if let Some(fault) = report.fault_record.as_mut() {
            for entry in &mut fault.stack {
                entry.symbol = self.resolve(&drivers, entry.address);
            }
        }
        if let Some(caused_by) = report.caused_by.as_mut() {
            caused_by.symbol = self.resolve(&drivers, caused_by.address);
        }
        report.drivers = drivers;
    }
}
