//! dumpsig's analysis: one input to one report, and the batches, shares and comparisons built
//! from reports.
//!
//! An input path becomes a [`source::DumpSource`] (mapped or read once), its format is sniffed
//! ([`format::DumpFormat`]), and the reader for that format extracts crash facts: minidumps
//! through the `minidump` crates ([`minidump`]), kernel dumps through `kernel_dump`
//! ([`kernel`]), report CABs through `cab` ([`cab_report`]). The facts go to the pure
//! `signatures` crate for the three bucket keys; the result is a [`Report`], rendered as text,
//! JSON Lines, CSV or HTML ([`report`]). [`batch`] runs many inputs in parallel with results in
//! input order; [`bucket`] files reports into a CER share (`cer_share`), [`scan`] checks a
//! share, and [`regress`] compares two runs.

pub mod analyze;
pub mod batch;
pub mod bucket;
pub mod cab_report;
pub mod error;
pub mod format;
pub mod inputs;
pub mod kernel;
pub mod minidump;
pub mod regress;
pub mod report;
pub mod scan;
pub mod shard;
pub mod share_page;
pub mod source;

pub use analyze::{analyze_path, analyze_source, AnalyzeOptions, Depth};
pub use error::{AnalyzeError, InputError};
pub use report::Report;
pub use source::DumpSource;
