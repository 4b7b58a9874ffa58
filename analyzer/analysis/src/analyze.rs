//! Analysis of one input, and of many in parallel with output in input order.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use signatures::{CerTuple, CrashState, FailureBucket};

use crate::batch::{run_batch, BatchOptions};
use crate::error::{AnalyzeError, Result};
use crate::format::DumpFormat;
use crate::inputs::Input;
use crate::minidump::{self, stackwalk::Symbols};
use crate::report::Report;
use crate::source::{DumpSource, READ_LIMIT};

/// How much work to do per dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Only what the keys need: no stack walk; with symbols, one lookup names the faulting
    /// function for the failure bucket.
    Signature,
    /// The full report: stack walk, symbols, crash state.
    Full,
}

/// Options shared by every input of a run.
#[derive(Debug)]
pub struct AnalyzeOptions {
    /// Signature only, or the full report.
    pub depth: Depth,
    /// Symbol sources for the full report.
    pub symbols: Symbols,
    /// Known-issue rules evaluated for every dump (the built-in ones plus the user's).
    pub rules: Vec<signatures::known_issues::Rule>,
    /// Image stores for versions a dump does not carry (`--image-store`); `None` when none
    /// was given.
    pub image_store: Option<symbols::image_store::ImageStore>,
    /// Frames of the crashing thread a minidump report keeps (the JSON lists them all).
    pub frames: usize,
    /// Dumps up to this size are read into memory, larger ones mapped: [`READ_LIMIT`] in a
    /// batch, [`crate::source::READ_LIMIT_ALONE`] in a process that analyzes one file.
    pub read_limit: u64,
}

impl Default for AnalyzeOptions {
    fn default() -> AnalyzeOptions {
        AnalyzeOptions {
            depth: Depth::Full,
            symbols: Symbols::breakpad(Vec::new()),
            rules: signatures::known_issues::builtin_rules().to_vec(),
            image_store: None,
            frames: minidump::stackwalk::REPORT_FRAMES,
            read_limit: READ_LIMIT,
        }
    }
}

/// Known-issue verdicts for a user-mode crash: the exception code, the faulting module of the
/// CER tuple, the loaded modules with their VS_FIXEDFILEINFO versions.
fn user_verdicts(
    facts: &signatures::UserCrashFacts,
    tuple: &CerTuple,
    os_version: Option<String>,
    rules: &[signatures::known_issues::Rule],
) -> Vec<signatures::known_issues::Verdict> {
    use signatures::known_issues::{evaluate, IssueFacts, IssueModule};
    let issue = IssueFacts {
        code: facts.exception.as_ref().map_or(0, |e| e.code),
        faulting_module: (tuple.mod_name != "unknown").then(|| tuple.mod_name.clone()),
        modules: facts
            .modules
            .iter()
            .map(|m| IssueModule {
                name: m.file_name().to_owned(),
                version: m.version.clone(),
                timestamp: m.timestamp,
                size: m.size,
                version_source: None,
            })
            .collect(),
        os_build_line: os_version,
        attributes: 0,
    };
    evaluate(rules, &issue)
}

/// Analyzes bytes that are already open.
pub fn analyze_source(source: &DumpSource, options: &AnalyzeOptions) -> Result<Report> {
    let bytes = source.bytes();
    let format = DumpFormat::sniff(bytes).ok_or_else(|| match bytes {
        [b'P', b'K', 3, 4, ..] | [b'P', b'K', 5, 6, ..] => AnalyzeError::Archive("a ZIP archive"),
        [0x1F, 0x8B, ..] => AnalyzeError::Archive("a gzip stream"),
        [b'7', b'z', 0xBC, 0xAF, ..] => AnalyzeError::Archive("a 7-Zip archive"),
        _ => AnalyzeError::Unrecognized {
            magic: bytes.iter().take(8).copied().collect(),
        },
    })?;
    let path = source.path().display().to_string();
    match format {
        DumpFormat::Minidump => {
            // Checked once (damaged parts hidden in a copy); every step below reads `fixed`.
            let (fixed, damage) = minidump::checked(bytes)?;
            let (facts, details, warnings) = match options.depth {
                Depth::Signature => {
                    let (mut facts, warnings) = minidump::quick::read_checked(&fixed, damage)?;
                    minidump::stackwalk::name_fault_frame(&fixed, &mut facts, &options.symbols);
                    (facts, None, warnings)
                }
                Depth::Full => {
                    let mut full = minidump::stackwalk::analyze_checked(
                        &fixed,
                        damage,
                        &options.symbols,
                        options.frames,
                    )?;
                    let fault = CerTuple::from_facts(&full.facts).fault_address;
                    if full.facts.frames.first().map(|f| f.instruction) != Some(fault) {
                        // No walk (a damaged thread list), or one that started elsewhere (an
                        // unreadable exception context): the bucket still names the faulting
                        // function, as the signature path does.
                        minidump::stackwalk::name_fault_frame(
                            &fixed,
                            &mut full.facts,
                            &options.symbols,
                        );
                    }
                    (full.facts, Some(full.details), full.warnings)
                }
            };
            let tuple = CerTuple::from_facts(&facts);
            let bucket = FailureBucket::for_user(&facts, &tuple);
            let state = details.is_some().then(|| CrashState::for_user(&facts));
            let os_version = details
                .as_ref()
                .and_then(|d| d.system.as_ref())
                .map(|s| s.os_version.clone());
            let verdicts = user_verdicts(&facts, &tuple, os_version, &options.rules);
            let mut report = Report::user_mode(path, source.len(), tuple, bucket, state, details);
            report.known_issues = verdicts;
            report.warnings = warnings;
            Ok(report)
        }
        DumpFormat::Kernel32 | DumpFormat::Kernel64 => {
            let dump = kernel_dump::KernelDump::parse(bytes)?;
            let analysis = crate::kernel::analyze_dump(
                &dump,
                &options.rules,
                options.image_store.as_ref(),
                Some(options.symbols.source()),
            );
            Ok(Report::kernel(
                path,
                source.len(),
                analysis.report,
                analysis.signature,
                analysis.verdicts,
            ))
        }
        DumpFormat::Cab => {
            // The dump inside is analyzed like any input; the CAB adds its members and WER
            // metadata around the dump's report.
            let cab = crate::cab_report::open_report_cab(source)?;
            let report = analyze_source(&cab.inner, options).map_err(|e| AnalyzeError::InCab {
                member: cab.member.clone(),
                source: Box::new(e),
            })?;
            Ok(cab.into_report(report, source))
        }
    }
}

/// Analyzes one file. Never fails: a problem becomes a report whose `error` says what it is,
/// and a panic inside a parser is contained to this input.
pub fn analyze_path(path: &Path, options: &AnalyzeOptions) -> Report {
    analyze_path_keeping(path, options).0
}

/// [`analyze_path`], also handing back the mapped file (when it could be opened) for a
/// caller that needs its bytes after the analysis, so the file is opened and mapped once.
pub fn analyze_path_keeping(path: &Path, options: &AnalyzeOptions) -> (Report, Option<DumpSource>) {
    let name = path.display().to_string();
    let source = match DumpSource::open_reading_up_to(path, options.read_limit) {
        Ok(s) => s,
        Err(e) => {
            let size = std::fs::metadata(path).ok().map(|m| m.len());
            return (Report::failed(name, None, size, e.to_string()), None);
        }
    };
    let report = analyze_opened(name, &source, options);
    (report, Some(source))
}

fn analyze_opened(name: String, source: &DumpSource, options: &AnalyzeOptions) -> Report {
    let kind = DumpFormat::sniff(source.bytes()).map(DumpFormat::kind);
    let result = catch_unwind(AssertUnwindSafe(|| analyze_source(source, options)));
    if source.truncated() {
        let error = source.shortened_error();
        return Report::failed(name, kind, Some(source.len()), error.to_string());
    }
    match result {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => Report::failed(name, kind, Some(source.len()), e.to_string()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_owned());
            Report::failed(
                name,
                kind,
                Some(source.len()),
                AnalyzeError::Internal(what).to_string(),
            )
        }
    }
}

/// Analyzes every input on the batch's threads and hands each input with its report to
/// `sink` in input order (see [`crate::batch`] for the ordering and memory bound). An
/// unreadable directory becomes a failed report in its place.
pub fn analyze_all<I, F>(
    inputs: I,
    options: &AnalyzeOptions,
    batch: &BatchOptions,
    mut sink: F,
) -> Result<()>
where
    I: IntoIterator<Item = Input>,
    F: FnMut(&Path, Report),
{
    run_batch(
        inputs,
        batch,
        |input| analyze_input(input, options),
        |input, report| sink(input.path(), report),
    )
}

/// As [`analyze_all`], with `render` (which turns a report into what the sink needs: its
/// output line or text) run on the worker threads beside the analysis, so the thread handing
/// results on in order only writes. A report takes about as long to serialize as a small dump
/// takes to analyze, and serializing in the sink held a batch to 1.4x on two cores; the report
/// itself is dropped on its worker too (moving a whole report through the ordering queue and
/// freeing its parts on another thread cost the sink a tenth of a batch's time).
pub fn analyze_all_rendered<I, R, T, F>(
    inputs: I,
    options: &AnalyzeOptions,
    batch: &BatchOptions,
    render: R,
    mut sink: F,
) -> Result<()>
where
    I: IntoIterator<Item = Input>,
    R: Fn(Report) -> T + Sync,
    T: Send,
    F: FnMut(&Path, T),
{
    run_batch(
        inputs,
        batch,
        |input| render(analyze_input(input, options)),
        |input, rendered| sink(input.path(), rendered),
    )
}

/// The report of one discovered input: its analysis, or why its directory entry could not
/// be read.
pub fn analyze_input(input: &Input, options: &AnalyzeOptions) -> Report {
    match input {
        Input::File(path) => analyze_path(path, options),
        Input::Unreadable(path, why) => {
            Report::failed(path.display().to_string(), None, None, why.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A dump shortened by another process while a batch worker analyzes it: an error for that
    /// input (not a SIGBUS that kills the batch), and the other inputs are analyzed.
    #[test]
    fn a_dump_shortened_during_its_analysis_fails_alone() {
        let dir = std::env::temp_dir().join(format!("dumpsig-shorten-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let paths: Vec<PathBuf> = (0..4).map(|i| dir.join(format!("full-{i}.dmp"))).collect();
        for path in &paths {
            sample_dumps::kernel::sparse_full_dump(path, 64 << 20).unwrap();
        }
        let victim = paths[1].clone();
        let size = std::fs::metadata(&victim).unwrap().len();
        let options = AnalyzeOptions::default();
        let batch = BatchOptions {
            jobs: Some(2),
            ..BatchOptions::default()
        };
        let mut reports = Vec::new();
        run_batch(
            paths.iter().cloned().map(Input::File),
            &batch,
            |input| {
                let path = input.path().to_owned();
                let source = DumpSource::open(&path).unwrap();
                if path == victim {
                    // Mapped, not yet read past its header: cut everything after it.
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .unwrap()
                        .set_len(8192)
                        .unwrap();
                }
                analyze_opened(path.display().to_string(), &source, &options)
            },
            |input, report| reports.push((input.path().to_owned(), report)),
        )
        .unwrap();
        assert_eq!(reports.len(), 4);
        for (path, report) in &reports {
            if *path == victim {
                let error = report.error.as_deref().unwrap_or_default();
                assert!(
                    error.starts_with(&format!(
                        "the file was shortened while it was read (it was {size} bytes when opened, \
                         8192 now)"
                    )),
                    "{error}"
                );
            } else {
                assert_eq!(report.error, None, "{}", path.display());
                assert!(report.failure_bucket.is_some());
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
