//! `dumpsig bucket`: files analyzed dumps into a CER share.
//!
//! Dumps are analyzed in parallel; filing happens in input order on the calling thread, so
//! which reports a per-bucket limit lets in is the same on every run. A raw dump is packed into
//! an MSZIP CAB as WER would; a CAB input is copied as it is. Report files are named after the
//! SHA-256 of the input, so a second run over the same inputs changes nothing.

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::analyze::{analyze_all, AnalyzeOptions};
use crate::batch::BatchOptions;
use crate::cab::writer::{write_cabinet, CabInput, WriteCompression};
use crate::cab::DosDateTime;
use crate::inputs::Input;
use crate::report::{Report, SCHEMA_VERSION};
use crate::share::{
    BucketPath, CerShare, CrashTime, FileOutcome, ReportSource, ReportToFile, StatusOutcome,
};

/// What happened to one input.
#[derive(Debug, Clone, Serialize)]
pub struct BucketRecord {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The input.
    pub path: String,
    /// `minidump`, `kernel`, `cab`.
    pub kind: Option<&'static str>,
    /// Where it was filed.
    pub cer_subpath: Option<String>,
    /// Its failure bucket.
    pub failure_bucket: Option<String>,
    /// The share's answer (`filed`, `counted_only`, `already_filed`, `discarded`).
    pub outcome: Option<FileOutcome>,
    /// A status.txt written for a known issue (`--create-status`): `created`,
    /// `already_exists`, `shared_bucket`, or why it could not be written.
    pub status: Option<String>,
    /// Why the input could not be analyzed or filed.
    pub error: Option<String>,
}

/// Totals of a `bucket` run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BucketSummary {
    /// Report files copied into the share.
    pub filed: usize,
    /// Hits counted without a report file (over the per-bucket limit, iData false).
    pub counted_only: usize,
    /// Inputs already in the share (nothing written).
    pub already_filed: usize,
    /// Inputs discarded because a path would exceed 260 characters.
    pub discarded: usize,
    /// Inputs that could not be analyzed or filed.
    pub failed: usize,
    /// status.txt files created for known issues.
    pub status_created: usize,
}

/// How inputs are filed beyond what the share's policy says.
#[derive(Debug, Clone, Default)]
pub struct FilingOptions {
    /// Create a status.txt (`Bucket=`, `Response=` with the issue's reference) for a bucket
    /// whose report matches a known issue, where none exists.
    pub create_status: bool,
    /// Machine name for the logs when the report does not name one.
    pub machine: Option<String>,
    /// User name for the logs when the report does not name one.
    pub user: Option<String>,
}

/// A log item: control characters dropped, at most `max` characters; `None` when empty.
fn log_item(text: &str, max: usize) -> Option<String> {
    let clean: String = text.chars().filter(|c| !c.is_control()).take(max).collect();
    let clean = clean.trim().to_owned();
    (!clean.is_empty()).then_some(clean)
}

/// A machine or user name the report itself carries: WER metadata leaves named like
/// `…/ComputerName`, `…/MachineName`, `…/UserName` (present in some WER versions'
/// WERInternalMetadata.xml).
fn wer_identity(report: &Report, names: &[&str]) -> Option<String> {
    let wer = report.cab.as_ref()?.wer.as_ref()?;
    wer.other.iter().find_map(|(key, value)| {
        let leaf = key.rsplit('/').next().unwrap_or(key);
        names
            .iter()
            .any(|n| leaf.eq_ignore_ascii_case(n))
            .then(|| value.clone())
    })
}

/// Calendar parts `(year, month, day, hour, minute, second)` of a crash time, UTC.
type TimeParts = (u16, u8, u8, u8, u8, u8);

/// `YYYY-MM-DDTHH:MM:SS…` to its parts.
fn parse_rfc3339(text: &str) -> Option<TimeParts> {
    let num = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<u16>().ok());
    Some((
        num(0..4)?,
        u8::try_from(num(5..7)?).ok()?,
        u8::try_from(num(8..10)?).ok()?,
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(14..16)?).ok()?,
        u8::try_from(num(17..19)?).ok()?,
    ))
}

/// The crash time a report records, when it records one: the kernel header's SystemTime, or
/// a raw minidump's header TimeDateStamp (Unix seconds at offset 20).
fn crash_time(report: &Report, bytes: &[u8]) -> Option<TimeParts> {
    if let Some(k) = &report.kernel {
        return parse_rfc3339(k.crash_time.as_deref()?);
    }
    if report.kind == Some("minidump") {
        let raw: [u8; 4] = bytes.get(20..24)?.try_into().ok()?;
        let seconds = i64::from(u32::from_le_bytes(raw));
        if seconds == 0 {
            return None;
        }
        return parse_rfc3339(&crate::time::rfc3339_from_unix(seconds));
    }
    None
}

/// Files one analyzed input. `Err` carries the message for the record.
fn file_one(
    share: &CerShare,
    path: &Path,
    report: &Report,
    filing: &FilingOptions,
) -> Result<FileOutcome, String> {
    // Mapped, not read: a report can be a multi-GiB kernel dump.
    let source = crate::source::DumpSource::open(path).map_err(|e| e.to_string())?;
    let bytes = source.bytes();
    let content_id = format!("{:x}", Sha256::digest(bytes));
    let bucket = match (&report.signature, report.cer_subpath.as_deref()) {
        (Some(tuple), _) => BucketPath::App(tuple.subpath_components()),
        (None, Some("blue")) => BucketPath::Blue,
        _ => return Err("no CER subpath to file under".to_owned()),
    };
    let time = crash_time(report, bytes);
    let crash = time.and_then(|(y, mo, d, h, mi, sec)| CrashTime::new(y, mo, d, h, mi, sec));
    // The packed member carries the crash time; 1980-01-01 (the DOS epoch) when unknown.
    let (year, month, day, hour, minute, second) = time.unwrap_or((1980, 1, 1, 0, 0, 0));
    let modified = DosDateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    };
    let packed;
    let report_bytes: &[u8] = if report.kind == Some("cab") {
        bytes
    } else {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dump.dmp".to_owned());
        let input = CabInput {
            name: &name,
            data: bytes,
            modified,
        };
        packed = write_cabinet(&[input], WriteCompression::MsZip)
            .map_err(|e| format!("cannot pack into a CAB: {e}"))?;
        &packed
    };
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let machine = wer_identity(report, &["ComputerName", "MachineName"])
        .or_else(|| filing.machine.clone())
        .and_then(|m| log_item(&m, 15));
    let user = wer_identity(report, &["UserName", "User"])
        .or_else(|| filing.user.clone())
        .and_then(|u| log_item(&u, 256));
    let request = ReportToFile {
        bucket,
        content_id: &content_id,
        report: Some(ReportSource::Bytes(report_bytes)),
        failure_bucket: report.failure_bucket.as_deref(),
        crash_time: crash,
        file_mtime: mtime.or(Some(SystemTime::UNIX_EPOCH)),
        machine: machine.as_deref(),
        user: user.as_deref(),
    };
    share
        .file(&request)
        .map_err(|e| format!("cannot file into the share: {e}"))
}

/// Writes status.txt for the first known issue the report matches (a verdict other than
/// `not-applicable`), naming the issue and its reference in `Response=`.
fn status_for_known_issue(share: &CerShare, report: &Report) -> Option<String> {
    use signatures::known_issues::VerdictKind;
    let verdict = report
        .known_issues
        .iter()
        .find(|v| v.verdict != VerdictKind::NotApplicable)?;
    let bucket = match &report.signature {
        Some(tuple) => BucketPath::App(tuple.subpath_components()),
        None => BucketPath::Blue,
    };
    let failure = report.failure_bucket.as_deref()?;
    let outcome = share.bucket_id(failure).and_then(|id| {
        let reference = verdict
            .references
            .first()
            .map_or(verdict.title.as_str(), String::as_str);
        let response: String = format!("known issue {}: {reference}", verdict.rule_id)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        share.create_status(&bucket, id, &response)
    });
    Some(match outcome {
        Ok(StatusOutcome::Created) => "created".to_owned(),
        Ok(StatusOutcome::AlreadyExists) => "already_exists".to_owned(),
        Ok(StatusOutcome::SharedBucket) => "shared_bucket".to_owned(),
        Err(e) => format!("not written: {e}"),
    })
}

/// Analyzes the inputs as a batch and files each into `share` in input order, handing
/// every record to `sink`.
pub fn bucket_all<I, F>(
    share: &CerShare,
    inputs: I,
    options: &AnalyzeOptions,
    batch: &BatchOptions,
    filing: &FilingOptions,
    mut sink: F,
) -> crate::error::Result<BucketSummary>
where
    I: IntoIterator<Item = Input>,
    F: FnMut(&BucketRecord),
{
    let mut summary = BucketSummary::default();
    analyze_all(inputs, options, batch, |path, report| {
        let mut record = BucketRecord {
            schema_version: SCHEMA_VERSION,
            path: report.path.clone(),
            kind: report.kind,
            cer_subpath: report.cer_subpath.clone(),
            failure_bucket: report.failure_bucket.clone(),
            outcome: None,
            status: None,
            error: report.error.clone(),
        };
        if record.error.is_none() {
            match file_one(share, path, &report, filing) {
                Ok(outcome) => record.outcome = Some(outcome),
                Err(e) => record.error = Some(e),
            }
        }
        if filing.create_status && record.outcome.is_some() {
            record.status = status_for_known_issue(share, &report);
            if record.status.as_deref() == Some("created") {
                summary.status_created += 1;
            }
        }
        match (&record.error, &record.outcome) {
            (Some(_), _) => summary.failed += 1,
            (None, Some(FileOutcome::Filed { .. })) => summary.filed += 1,
            (None, Some(FileOutcome::CountedOnly { .. })) => summary.counted_only += 1,
            (None, Some(FileOutcome::AlreadyFiled { .. })) => summary.already_filed += 1,
            (None, Some(FileOutcome::Discarded { .. })) => summary.discarded += 1,
            (None, None) => {}
        }
        sink(&record);
    })?;
    Ok(summary)
}
