//! Kernel dumps as analyzer inputs: the reader's facts (`kernel_dump`) become a
//! [`KernelReport`] (modules, stack, the culprit), frames are named with symbols, and the facts
//! feed `signatures` for the bucket keys and known-issue verdicts.

pub mod attribution;
mod build;
pub mod report;
pub mod signature;
pub mod symbols;

#[cfg(test)]
mod synthetic_tests;
#[cfg(test)]
mod tests;

use kernel_dump::{KernelDump, KernelError};
pub use report::KernelReport;

/// The report of a parsed dump.
pub fn report(dump: &KernelDump<'_>) -> KernelReport {
    build::build_report(dump)
}

/// Parses `bytes` as a kernel dump and builds its report.
pub fn analyze(bytes: &[u8]) -> Result<KernelReport, KernelError> {
    Ok(report(&KernelDump::parse(bytes)?))
}
