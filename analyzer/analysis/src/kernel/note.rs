//! [`KernelNote`]: what deriving a kernel dump's keys ran into, as values, shown in the words
//! of `Display` (the JSON lists them as sentences).

use std::fmt;

use kernel_dump::KernelError;
use symbols::StoreNote;

/// One thing the kernel analysis could not do, or did from elsewhere than the dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelNote {
    /// A symbol or image store lookup's note.
    Store(StoreNote),
    /// A version a rule needs came from the image store.
    VersionFromStore {
        /// The module as loaded.
        module: String,
        /// The version found.
        version: String,
        /// Where.
        source: String,
    },
    /// The WHEA error record P2 points to is not readable.
    WheaUnreadable {
        /// P2.
        address: u64,
        /// Why.
        error: KernelError,
    },
    /// Only the WHEA record's header is readable.
    WheaHeaderOnly {
        /// P2.
        address: u64,
        /// Bytes the record declares.
        wanted: usize,
        /// Why the rest is not readable.
        error: KernelError,
    },
    /// No symbols were found for a driver.
    NoSymbols {
        /// The driver.
        driver: String,
        /// Its PDB name.
        debug_file: String,
        /// Its debug id.
        debug_id: String,
    },
}

impl fmt::Display for KernelNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelNote::Store(note) => note.fmt(f),
            KernelNote::VersionFromStore {
                module,
                version,
                source,
            } => write!(f, "{module}: version {version} from {source}"),
            KernelNote::WheaUnreadable { address, error } => write!(
                f,
                "the WHEA error record at P2 {address:#x} is not readable: {error}"
            ),
            KernelNote::WheaHeaderOnly {
                address,
                wanted,
                error,
            } => write!(
                f,
                "only the header of the WHEA record at {address:#x} is readable ({wanted} bytes wanted): {error}"
            ),
            KernelNote::NoSymbols {
                driver,
                debug_file,
                debug_id,
            } => write!(f, "no symbols for {driver} ({debug_file} {debug_id})"),
        }
    }
}

/// Written as its words.
impl serde::Serialize for KernelNote {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
