//! Kernel dumps as analyzer inputs: the reader's facts (`kernel_dump`) become a
//! [`KernelReport`] (modules, stack, the culprit), frames are named with symbols, and the facts
//! feed `signatures` for the bucket keys and known-issue verdicts.

mod build;
pub mod fault;
mod frame_data;
pub mod note;
mod power_irp;
pub mod report;
pub mod signature;
pub mod symbolize;
mod unwound;

#[cfg(test)]
mod synthetic_tests;
#[cfg(test)]
mod tests;

use kernel_dump::{KernelDump, KernelError};
use signatures::known_issues::{Rule, Verdict};
use symbols::{ImageStore, SymbolSource};

pub use report::KernelReport;
pub use signature::KernelSignature;
use symbolize::KernelSymbolizer;

/// A kernel dump analyzed: the report, the bucket keys, and the known-issue verdicts.
#[derive(Debug, Clone)]
pub struct KernelAnalysis {
    /// What the dump holds, with the culprit the signature chose.
    pub report: KernelReport,
    /// The bucket keys and how they were chosen.
    pub signature: KernelSignature,
    /// Known-issue verdicts.
    pub verdicts: Vec<Verdict>,
}

/// Analyzes a parsed dump: builds the report, names frames when `symbols` is configured,
/// computes the signature, and takes the report's culprit ("Caused by driver") from the same
/// selection that names the failure bucket's module, so the two cannot disagree.
pub fn analyze_dump(
    dump: &KernelDump<'_>,
    rules: &[Rule],
    images: Option<&ImageStore>,
    symbols: Option<&SymbolSource>,
) -> KernelAnalysis {
    // Kernel frames are named whenever symbols are configured, at either depth: the lookups
    // are per driver (a handful), and the failure bucket uses the names. x86 walks use the
    // same symbols' frame data.
    let mut symbolizer = symbols
        .filter(|s| s.is_configured())
        .map(KernelSymbolizer::new);
    let mut report = build::build_report(dump, images, symbolizer.as_mut());
    if let Some(symbolizer) = symbolizer.as_mut() {
        symbolizer.symbolize_report(&mut report);
    }
    let (mut signature, verdicts) =
        signature::kernel_signature(dump, &report, rules, images, symbolizer.as_mut());
    signature::name_culprit(&mut report, &signature.bucket.selection);
    if let Some(symbolizer) = symbolizer.as_mut() {
        let KernelReport {
            caused_by, drivers, ..
        } = &mut report;
        if let Some(caused_by) = caused_by.as_mut() {
            caused_by.symbol = symbolizer.resolve(drivers, caused_by.address);
        }
        signature.notes.extend(symbolizer.take_notes());
    }
    KernelAnalysis {
        report,
        signature,
        verdicts,
    }
}

/// Parses `bytes` as a kernel dump and builds its report (no rules, stores or symbols).
pub fn analyze(bytes: &[u8]) -> Result<KernelReport, KernelError> {
    Ok(analyze_dump(&KernelDump::parse(bytes)?, &[], None, None).report)
}
