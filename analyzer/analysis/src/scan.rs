//! `dumpsig scan`: reads an existing CER share, analyzes every report file in it, and lists
//! what is wrong: report files whose dump disagrees with the folder it sits in, damaged
//! count.txt and log lines, and counts that disagree with the report files present.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::analyze::{analyze_all, AnalyzeOptions};
use crate::batch::BatchOptions;
use crate::inputs::Input;
use cer_share::{scan, ShareError, ShareScan};

/// One report file whose dump's own signature is not the folder's.
#[derive(Debug, Clone, Serialize)]
pub struct Misfiled {
    /// The report file.
    pub report: PathBuf,
    /// The folder's subpath.
    pub folder: String,
    /// The dump's own subpath, or `null` when it could not be analyzed.
    pub dump: Option<String>,
    /// The analysis error, when there was one.
    pub error: Option<String>,
}

/// A scanned share: the share module's reading plus the analysis of every report file.
#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    /// The share as read.
    pub share: ShareScan,
    /// Report files analyzed.
    pub reports_analyzed: usize,
    /// Report files whose dump does not belong where it sits (or cannot be analyzed).
    pub misfiled: Vec<Misfiled>,
    /// Every problem in one line each, for people and for the exit status.
    pub problems: Vec<String>,
}

/// A log's damaged lines: the examples the reader kept, and how many more there are.
fn log_problems(log: &cer_share::LogSummary, problems: &mut Vec<String>) {
    let path = log.path.display();
    problems.extend(log.damaged.iter().map(|i| format!("{path}: {i}")));
    let more = log.damaged_lines.saturating_sub(log.damaged.len());
    if more > 0 {
        problems.push(format!("{path}: {more} more damaged lines not shown"));
    }
}

/// Scans `root` and analyzes its report files as a batch.
pub fn scan_share(
    root: &Path,
    options: &AnalyzeOptions,
    batch: &BatchOptions,
) -> Result<ScanResult, ShareError> {
    let share = scan(root)?;
    let mut problems = Vec::new();
    let mut reports: Vec<(PathBuf, String)> = Vec::new();
    for b in &share.buckets {
        reports.extend(b.reports.iter().map(|r| (r.clone(), b.subpath.clone())));
        problems.extend(
            b.inconsistencies
                .iter()
                .map(|i| format!("{}: {i}", b.subpath)),
        );
        if let Some(count) = &b.count {
            problems.extend(count.issues.iter().map(|i| match &b.count_file {
                Some(file) => format!("{}: {i}", file.display()),
                None => format!("{}: count.txt: {i}", b.subpath),
            }));
        }
        if let Some(log) = &b.hits_log {
            log_problems(log, &mut problems);
        }
    }
    if let Some(log) = &share.crash_log {
        log_problems(log, &mut problems);
    }
    // Links (never followed), FIFOs and files the layout has no place for.
    problems.extend(
        share
            .strays
            .iter()
            .map(|st| format!("{}: {}", st.path.display(), st.reason)),
    );
    if share.pending_journal {
        problems.push(
            "an interrupted filing is pending (the next `dumpsig bucket` completes it)".to_owned(),
        );
    }
    let inputs = reports.iter().map(|(p, _)| Input::File(p.clone()));
    let mut misfiled = Vec::new();
    let mut index = 0;
    let run = analyze_all(inputs, options, batch, |_, report| {
        if let Some((path, folder)) = reports.get(index) {
            let belongs =
                report.error.is_none() && report.cer_subpath.as_deref() == Some(folder.as_str());
            if !belongs {
                misfiled.push(Misfiled {
                    report: path.clone(),
                    folder: folder.clone(),
                    dump: report.cer_subpath.clone(),
                    error: report.error.clone(),
                });
            }
        }
        index += 1;
    });
    if let Err(e) = run {
        problems.push(format!("analysis stopped: {e}"));
    }
    for m in &misfiled {
        problems.push(match (&m.dump, &m.error) {
            (_, Some(e)) => format!("{}: cannot analyze the report: {e}", m.report.display()),
            (Some(d), None) => format!(
                "{}: its dump belongs in {d}, not in {}",
                m.report.display(),
                m.folder
            ),
            (None, None) => format!("{}: the dump has no CER subpath", m.report.display()),
        });
    }
    Ok(ScanResult {
        share,
        reports_analyzed: reports.len(),
        misfiled,
        problems,
    })
}
