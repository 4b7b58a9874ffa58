//! dumpsig's analyzer: everything that touches bytes and files.
//!
//! It maps each dump once ([`source::DumpSource`]), recognizes its format
//! ([`format::DumpFormat`]), extracts crash facts with the reader for that format (minidumps
//! through the `minidump` crate, kernel dumps through our own reader), hands the facts to the
//! pure `signatures` crate for the bucket keys, and renders reports as text or JSON Lines.
//! The `dumpsig` binary is a thin command-line layer over [`analyze`].

pub mod analyze;
pub mod batch;
pub mod bucket;
pub mod cab;
pub mod cab_report;
pub mod cli;
pub mod error;
pub mod format;
pub mod image_store;
pub mod inputs;
pub mod json_hex;
pub mod kernel;
pub mod kernel_signature;
pub mod kernel_symbols;
pub mod minidump;
pub mod owned_bytes;
pub mod regress;
pub mod report;
pub mod share;
pub mod share_scan;
pub mod source;
pub mod store;
pub mod symbols;
pub mod time;

pub use analyze::{analyze_path, analyze_source, AnalyzeOptions, Depth};
pub use error::{AnalyzeError, InputError};
pub use report::Report;
pub use source::DumpSource;
