//! Where dumpsig finds what a dump does not carry: symbols and binaries.
//!
//! - [`store`]: symbol paths in the debuggers' syntax (`srv*CACHE*URL;DIR`), folders and HTTP
//!   symbol servers looked up by `<name>/<ID>/<name>`, a cache on disk shared by processes, and
//!   remembered misses.
//! - [`source`]: Breakpad symbol directories plus PDBs from a symbol path, converted in memory
//!   ([`pdb_breakpad`]) for the stack walker and for naming kernel frames.
//! - [`image_store`]: driver binaries by `<name>/<TIMESTAMP><SIZE>/<name>`, for the file
//!   versions and images a small dump lacks.

pub mod image_store;
pub mod note;
pub mod pdb_breakpad;
pub mod source;
pub mod store;

pub use image_store::{ImageStore, StoredVersion};
pub use note::StoreNote;
pub use source::{debug_file_name, SharedSupplier, SymbolLookup, SymbolSource};
pub use store::{StoreClient, SymbolPath};
