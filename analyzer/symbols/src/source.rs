//! Symbols for stack walks: Breakpad symbol directories, and PDBs from a symbol path (folders
//! and symbol servers) converted in memory to the Breakpad form the walker reads.
//!
//! One [`SymbolSource`] serves a batch. Lookups are by the module's debug file and debug id
//! (`crash.pdb/3249D99D0C4049318610F4E4FB0B69361/crash.pdb`), the key symbol servers use; the
//! store layer ([`crate::store`]) caches what servers send and remembers what they lack.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use minidump::Module;
use minidump_unwind::{
    FileError, FileKind, LocateSymbolsResult, SymbolError, SymbolFile, SymbolSupplier,
};

use crate::note::StoreNote;
use crate::pdb_breakpad;
use crate::store::{StoreClient, SymbolPath};

/// PDB files start with this (MSF 7.0, every PDB since VC 7).
const MSF7_MAGIC: &[u8] = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0";

/// The file name of a debug file path recorded by a Windows or Unix toolchain.
pub fn debug_file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Symbol text for one module, converted once per process however many threads ask, with the
/// notes of its lookup: every report that uses the module gets the same notes, whichever
/// asked first.
type Converted = Arc<OnceLock<(Option<String>, Vec<StoreNote>)>>;

/// A symbol file looked up for one module, and what the lookup ran into.
#[derive(Debug, Default)]
pub struct SymbolLookup {
    /// The symbols, when found and readable.
    pub file: Option<SymbolFile>,
    /// Problems met (a corrupt file, an unreachable server); the same for every lookup of
    /// the module in a process.
    pub notes: Vec<StoreNote>,
}

/// Breakpad directories first, then the symbol path's PDBs.
pub struct SymbolSource {
    breakpad_dirs: Vec<PathBuf>,
    store: Option<StoreClient>,
    converted: Mutex<BTreeMap<String, Converted>>,
    /// Breakpad files that could not be parsed, by path.
    unreadable: Mutex<BTreeMap<String, StoreNote>>,
}

impl std::fmt::Debug for SymbolSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymbolSource")
            .field("breakpad_dirs", &self.breakpad_dirs)
            .field("store", &self.store)
            .finish()
    }
}

impl SymbolSource {
    /// Searches `breakpad_dirs` (`<debug file>/<DEBUGID>/<name>.sym`), then `path`.
    pub fn new(breakpad_dirs: Vec<PathBuf>, path: SymbolPath) -> SymbolSource {
        SymbolSource {
            breakpad_dirs,
            store: (!path.is_empty()).then(|| StoreClient::new(path)),
            converted: Mutex::new(BTreeMap::new()),
            unreadable: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether any Breakpad directory or symbol path was given (without, every lookup misses).
    pub fn is_configured(&self) -> bool {
        !self.breakpad_dirs.is_empty() || self.store.is_some()
    }

    /// The symbol path searched for PDBs, if any.
    pub fn symbol_path(&self) -> Option<&SymbolPath> {
        self.store.as_ref().map(StoreClient::path)
    }

    /// Every note of the lookups made so far, in the order of their keys: the same set
    /// whichever thread looked first (for a run's closing summary).
    pub fn lookup_notes(&self) -> Vec<StoreNote> {
        let mut notes: Vec<StoreNote> = self
            .unreadable
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        if let Ok(map) = self.converted.lock() {
            for slot in map.values() {
                if let Some((_, found)) = slot.get() {
                    for note in found {
                        // One unreachable server is one note, however many modules it missed.
                        if !notes.contains(note) {
                            notes.push(note.clone());
                        }
                    }
                }
            }
        }
        notes
    }

    /// Breakpad text for `debug_file` / `debug_id` from the symbol path, converted from the
    /// PDB (`None` when no store has it), and the notes of the lookup.
    pub fn pdb_symbols(
        &self,
        debug_file: &str,
        debug_id: &str,
    ) -> (Option<String>, Vec<StoreNote>) {
        let Some(store) = self.store.as_ref() else {
            return (None, Vec::new());
        };
        let name = debug_file_name(debug_file).to_owned();
        // Keyed by the name as fetched: a case-sensitive store may answer differently for
        // another spelling, and the answer must not depend on which dump asked first.
        let key = format!("{name}/{debug_id}");
        let slot = match self.converted.lock() {
            Ok(mut map) => Arc::clone(map.entry(key).or_default()),
            Err(_) => Arc::new(OnceLock::new()),
        };
        slot.get_or_init(|| {
            // Stores hold PDBs, and some (Sentry's, Mozilla's) Breakpad text under the PDB's
            // name; either is accepted when it is the wanted build.
            let accept = |bytes: &[u8]| {
                if bytes.starts_with(MSF7_MAGIC) {
                    Ok(())
                } else if bytes.starts_with(b"MODULE ") {
                    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
                    let line = String::from_utf8_lossy(first);
                    match line.split_whitespace().nth(3) {
                        Some(id) if id.eq_ignore_ascii_case(debug_id) => Ok(()),
                        other => Err(format!(
                            "Breakpad symbols for id {}, wanted {debug_id}",
                            other.unwrap_or("?")
                        )),
                    }
                } else {
                    Err("neither an MSF 7.0 PDB nor Breakpad symbol text".to_owned())
                }
            };
            let lookup = store.fetch(&name, debug_id, &accept);
            let mut notes = lookup.notes;
            let Some(found) = lookup.found else {
                return (None, notes);
            };
            if found.bytes.starts_with(b"MODULE ") {
                return (
                    Some(String::from_utf8_lossy(&found.bytes).into_owned()),
                    notes,
                );
            }
            match pdb_breakpad::pdb_to_breakpad(&found.bytes, &name, "unknown") {
                Ok(text) => (Some(text), notes),
                Err(e) => {
                    notes.push(StoreNote::NotConverted {
                        location: found.source.clone(),
                        error: e.to_string(),
                    });
                    (None, notes)
                }
            }
        })
        .clone()
    }

    fn breakpad_file(&self, debug_file: &str, debug_id: &str) -> Option<PathBuf> {
        let name = debug_file_name(debug_file);
        let stem = name
            .strip_suffix(".pdb")
            .or_else(|| name.strip_suffix(".PDB"))
            .unwrap_or(name);
        self.breakpad_dirs
            .iter()
            .map(|d| d.join(name).join(debug_id).join(format!("{stem}.sym")))
            .find(|p| p.is_file())
    }

    /// The symbol file for a module known by debug file and id (kernel modules, whose ids
    /// come from the CodeView record of the image in dump memory).
    pub fn symbol_file(&self, debug_file: &str, debug_id: &str) -> SymbolLookup {
        let mut notes = Vec::new();
        if let Some(path) = self.breakpad_file(debug_file, debug_id) {
            match SymbolFile::from_file(&path) {
                Ok(file) => {
                    return SymbolLookup {
                        file: Some(file),
                        notes,
                    }
                }
                Err(e) => {
                    let note = StoreNote::Unreadable {
                        location: path.display().to_string(),
                        error: e.to_string(),
                    };
                    if let Ok(mut m) = self.unreadable.lock() {
                        m.insert(path.display().to_string(), note.clone());
                    }
                    notes.push(note);
                }
            }
        }
        let (text, pdb_notes) = self.pdb_symbols(debug_file, debug_id);
        notes.extend(pdb_notes);
        SymbolLookup {
            file: text.and_then(|t| SymbolFile::from_bytes(t.as_bytes()).ok()),
            notes,
        }
    }
}

/// The module's debug file and breakpad-form debug id.
fn module_key(module: &(dyn Module + Sync)) -> Option<(String, String)> {
    let file = module.debug_file()?.into_owned();
    let id = module.debug_identifier()?.breakpad().to_string();
    (!file.is_empty()).then_some((file, id))
}

/// Lets the stack walker use a shared [`SymbolSource`].
pub struct SharedSupplier(pub Arc<SymbolSource>);

#[async_trait]
impl SymbolSupplier for SharedSupplier {
    async fn locate_symbols(
        &self,
        module: &(dyn Module + Sync),
    ) -> Result<LocateSymbolsResult, SymbolError> {
        let (file, id) = module_key(module).ok_or(SymbolError::MissingDebugFileOrId)?;
        // The stack walker has no place for notes: a minidump report names no symbol
        // problems (a kernel report does, through `symbol_file`).
        let symbols = self
            .0
            .symbol_file(&file, &id)
            .file
            .ok_or(SymbolError::NotFound)?;
        Ok(LocateSymbolsResult {
            symbols,
            extra_debug_info: None,
        })
    }

    async fn locate_file(
        &self,
        module: &(dyn Module + Sync),
        file_kind: FileKind,
    ) -> Result<PathBuf, FileError> {
        // Only Breakpad files exist as files; PDBs are converted in memory.
        let (file, id) = module_key(module).ok_or(FileError::NotFound)?;
        match file_kind {
            FileKind::BreakpadSym => self.0.breakpad_file(&file, &id).ok_or(FileError::NotFound),
            _ => Err(FileError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_file_names_from_either_separator() {
        assert_eq!(
            debug_file_name(r"C:\projects\Release\crash.pdb"),
            "crash.pdb"
        );
        assert_eq!(debug_file_name("/build/out/libfoo.so"), "libfoo.so");
        assert_eq!(debug_file_name("plain.pdb"), "plain.pdb");
    }
}
