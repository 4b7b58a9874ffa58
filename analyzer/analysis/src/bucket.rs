//! `dumpsig bucket`: files analyzed dumps into a CER share.
//!
//! Dumps are analyzed in parallel; filing happens in input order on the calling thread, so
//! which reports a per-bucket limit lets in is the same on every run. A raw dump is packed into
//! an MSZIP CAB as WER would; a CAB input is copied as it is. Report files are named after the
//! SHA-256 of the input, so a second run over the same inputs changes nothing.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::analyze::{analyze_input, analyze_path_keeping, AnalyzeOptions};
use crate::batch::{run_batch, BatchOptions};
use crate::format::InputKind;
use crate::inputs::Input;
use crate::report::{Report, SCHEMA_VERSION};
use crate::source::DumpSource;
use cab::DosDateTime;
use cer_share::{
    BucketPath, CerShare, CrashTime, FileOutcome, ReportSource, ReportToFile, ShareWriter,
    StatusOutcome,
};
use signatures::time::UtcTime;

/// What happened to one input.
#[derive(Debug, Clone, Serialize)]
pub struct BucketRecord {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The input.
    pub path: String,
    /// `minidump`, `kernel`, `cab`.
    pub kind: Option<InputKind>,
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

/// The crash time a report records, when it records one: the kernel header's SystemTime, or
/// a raw minidump's header TimeDateStamp (Unix seconds at offset 20; read from the bytes
/// because the signature path keeps no minidump details).
fn crash_time(report: &Report, bytes: &[u8]) -> Option<UtcTime> {
    if let Some(k) = &report.kernel {
        return k.crash_time;
    }
    if report.kind == Some(InputKind::Minidump) {
        let seconds = i64::from(le_bytes::u32_at(bytes, 20)?);
        return (seconds != 0).then(|| UtcTime::from_unix(seconds));
    }
    None
}

/// `(year, month, day, hour, minute, second)` in the widths the share and CAB formats take;
/// `None` for years they cannot hold.
fn calendar(time: UtcTime) -> Option<(u16, u8, u8, u8, u8, u8)> {
    let (y, mo, d, h, mi, s) = time.parts();
    Some((
        u16::try_from(y).ok()?,
        u8::try_from(mo).ok()?,
        u8::try_from(d).ok()?,
        u8::try_from(h).ok()?,
        u8::try_from(mi).ok()?,
        u8::try_from(s).ok()?,
    ))
}

/// Reports filed together under one lock and journal (see [`ShareWriter`]).
const GROUP_SIZE: usize = 1024;
/// A group that has waited this long is filed when the next input arrives, even when not
/// full, so slow inputs still reach the share (and the output) promptly.
const GROUP_WAIT: Duration = Duration::from_secs(1);
/// A group is filed once its dumps hold this many bytes (small dumps are read into memory).
/// At most two groups are held (see [`bucket_all`]), so dumps read into memory take about
/// 64 MiB at most, however large the batch.
const GROUP_BYTES: u64 = 32 << 20;

/// What filing an analyzed input needs, computed on the worker thread that analyzed it: the
/// dump mapped, its content hash, where it goes and what the logs say about it.
struct Prepared {
    source: DumpSource,
    content_id: String,
    bucket: BucketPath,
    crash: Option<CrashTime>,
    member: String,
    modified: DosDateTime,
    is_cab: bool,
    mtime: Option<SystemTime>,
    machine: Option<String>,
    user: Option<String>,
}

impl Prepared {
    fn request(&self) -> ReportToFile<'_> {
        let bytes = self.source.bytes();
        // A CAB is copied as it is; a raw dump is packed into an MSZIP CAB as WER would, and
        // only if the share wants its report file.
        let report = if self.is_cab {
            ReportSource::Bytes(bytes)
        } else {
            ReportSource::PackDump {
                member: &self.member,
                dump: bytes,
                modified: self.modified,
            }
        };
        ReportToFile {
            bucket: self.bucket.clone(),
            content_id: &self.content_id,
            report: Some(report),
            failure_bucket: None,
            crash_time: self.crash,
            file_mtime: self.mtime.or(Some(SystemTime::UNIX_EPOCH)),
            machine: self.machine.as_deref(),
            user: self.user.as_deref(),
        }
    }
}

/// Prepares one analyzed input for filing. `Err` carries the message for the record.
fn prepare(
    path: &Path,
    source: Option<DumpSource>,
    report: &Report,
    filing: &FilingOptions,
) -> Result<Prepared, String> {
    // Mapped, not read: a report can be a multi-GiB kernel dump.
    let source = match source {
        Some(source) => source,
        None => DumpSource::open(path).map_err(|e| e.to_string())?,
    };
    let bytes = source.bytes();
    let content_id = format!("{:x}", Sha256::digest(bytes));
    if source.truncated() {
        return Err(source.shortened_error().to_string());
    }
    // Kernel crashes share the one `blue` bucket; application crashes file by their tuple.
    let bucket = match (&report.signature, &report.kernel) {
        (Some(tuple), _) => BucketPath::App(tuple.subpath_components()),
        (None, Some(_)) => BucketPath::Blue,
        _ => return Err("no CER subpath to file under".to_owned()),
    };
    let time = crash_time(report, bytes).and_then(calendar);
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
    let member = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dump.dmp".to_owned());
    let machine = wer_identity(report, &["ComputerName", "MachineName"])
        .or_else(|| filing.machine.clone())
        .and_then(|m| log_item(&m, 15));
    let user = wer_identity(report, &["UserName", "User"])
        .or_else(|| filing.user.clone())
        .and_then(|u| log_item(&u, 256));
    Ok(Prepared {
        content_id,
        bucket,
        crash,
        member,
        modified,
        is_cab: report.kind == Some(InputKind::Cab),
        mtime: source.modified(),
        machine,
        user,
        source,
    })
}

/// The status.txt `--create-status` would write for a report that matches a known issue (a
/// verdict other than `not-applicable`), taken from the report on the worker thread.
struct KnownIssueStatus {
    bucket: BucketPath,
    failure_bucket: String,
    /// `known issue <rule>: <reference>`, control characters removed.
    response: String,
}

impl KnownIssueStatus {
    fn from_report(report: &Report) -> Option<KnownIssueStatus> {
        use signatures::known_issues::VerdictKind;
        let verdict = report
            .known_issues
            .iter()
            .find(|v| v.verdict != VerdictKind::NotApplicable)?;
        let bucket = match &report.signature {
            Some(tuple) => BucketPath::App(tuple.subpath_components()),
            None => BucketPath::Blue,
        };
        let reference = verdict
            .references
            .first()
            .map_or(verdict.title.as_str(), String::as_str);
        let response: String = format!("known issue {}: {reference}", verdict.rule_id)
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        Some(KnownIssueStatus {
            bucket,
            failure_bucket: report.failure_bucket.clone()?,
            response,
        })
    }

    /// Writes status.txt under the bucket's BucketID (`known_id`: the one filing gave the
    /// report; otherwise looked up, or registered, through `writer`), naming the issue and its
    /// reference in `Response=`; the record's `status` text.
    fn write(
        &self,
        share: &CerShare,
        writer: &mut ShareWriter<'_>,
        known_id: Option<u64>,
    ) -> String {
        let outcome = known_id
            .map_or_else(|| writer.bucket_id(&self.failure_bucket), Ok)
            .and_then(|id| share.create_status(&self.bucket, id, &self.response));
        match outcome {
            Ok(StatusOutcome::Created) => "created".to_owned(),
            Ok(StatusOutcome::AlreadyExists) => "already_exists".to_owned(),
            Ok(StatusOutcome::SharedBucket) => "shared_bucket".to_owned(),
            Err(e) => format!("not written: {e}"),
        }
    }
}

/// One analyzed input waiting for its group to be filed. The report itself is not kept: its
/// record and what filing needs are taken out on the worker thread, so the filing thread,
/// which every group waits for, does not copy or free it. Boxed where it is made: a group of
/// 1,024 inline entries (672 bytes each, ~0.7 MiB) was copied as it grew and faulted in anew
/// for every group.
struct Pending {
    /// The record, without the outcome and status filing adds.
    record: BucketRecord,
    /// What `--create-status` would write, when the report matches a known issue.
    status: Option<KnownIssueStatus>,
    prepared: Option<Result<Prepared, String>>,
}

/// Files groups into the share and keeps the totals.
struct Filer<'s, 'f> {
    writer: ShareWriter<'s>,
    share: &'s CerShare,
    filing: &'f FilingOptions,
    summary: BucketSummary,
}

impl Filer<'_, '_> {
    /// Files one group; the records come back in input order.
    #[allow(
        clippy::vec_box,
        reason = "boxed to move a pointer, not ~670 bytes (see Pending)"
    )]
    fn flush(&mut self, pending: Vec<Box<Pending>>) -> Vec<BucketRecord> {
        let mut records = Vec::with_capacity(pending.len());
        let requests: Vec<ReportToFile<'_>> = pending
            .iter()
            .filter_map(|p| match &p.prepared {
                Some(Ok(prepared)) => {
                    let mut request = prepared.request();
                    request.failure_bucket = p.record.failure_bucket.as_deref();
                    Some(request)
                }
                _ => None,
            })
            .collect();
        let mut outcomes = match self.writer.file_group(&requests) {
            Ok(outcomes) => outcomes
                .into_iter()
                .map(|o| o.map_err(|e| format!("cannot file into the share: {e}")))
                .collect::<Vec<_>>(),
            Err(e) => requests
                .iter()
                .map(|_| Err(format!("cannot file into the share: {e}")))
                .collect(),
        }
        .into_iter();
        drop(requests);
        for item in pending {
            let Pending {
                mut record,
                status,
                prepared,
            } = *item;
            match prepared {
                Some(Ok(_)) => match outcomes.next() {
                    Some(Ok(outcome)) => record.outcome = Some(outcome),
                    Some(Err(e)) => record.error = Some(e),
                    None => record.error = Some("no filing outcome".to_owned()),
                },
                Some(Err(e)) => record.error = Some(e),
                None => {}
            }
            if self.filing.create_status && record.outcome.is_some() {
                let known_id = match &record.outcome {
                    Some(FileOutcome::Filed { bucket_id, .. })
                    | Some(FileOutcome::CountedOnly { bucket_id, .. }) => *bucket_id,
                    _ => None,
                };
                record.status = status.map(|s| s.write(self.share, &mut self.writer, known_id));
                if record.status.as_deref() == Some("created") {
                    self.summary.status_created += 1;
                }
            }
            let summary = &mut self.summary;
            match (&record.error, &record.outcome) {
                (Some(_), _) => summary.failed += 1,
                (None, Some(FileOutcome::Filed { .. })) => summary.filed += 1,
                (None, Some(FileOutcome::CountedOnly { .. })) => summary.counted_only += 1,
                (None, Some(FileOutcome::AlreadyFiled { .. })) => summary.already_filed += 1,
                (None, Some(FileOutcome::Discarded { .. })) => summary.discarded += 1,
                (None, None) => {}
            }
            records.push(record);
        }
        records
    }
}

/// The analyzed inputs collected for the next group, and when to file them.
#[derive(Default)]
#[allow(
    clippy::vec_box,
    reason = "boxed to move a pointer, not ~670 bytes (see Pending)"
)]
struct Group {
    items: Vec<Box<Pending>>,
    bytes: u64,
    oldest: Option<Instant>,
}

impl Group {
    /// Adds an input; true when the group should be filed now.
    fn push(&mut self, item: Box<Pending>) -> bool {
        self.oldest.get_or_insert_with(Instant::now);
        if let Some(Ok(prepared)) = &item.prepared {
            self.bytes += prepared.source.len();
        }
        self.items.push(item);
        self.items.len() >= GROUP_SIZE
            || self.bytes >= GROUP_BYTES
            || self.oldest.is_some_and(|t| t.elapsed() >= GROUP_WAIT)
    }

    #[allow(
        clippy::vec_box,
        reason = "boxed to move a pointer, not ~670 bytes (see Pending)"
    )]
    fn take(&mut self) -> Vec<Box<Pending>> {
        std::mem::take(self).items
    }
}

/// Analyzes the inputs as a batch and files them into `share` in input order, in groups
/// (one lock, journal and write of each touched file per group), handing every record to
/// `sink`. The decisions are the ones filing one by one in input order would make.
///
/// With more than one job, a group is filed on a thread of its own while the workers analyze
/// the next ones (at most two groups are held: one being filed, one being collected); with one
/// job everything runs on the calling thread.
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
    // Decided once: the writer, the choice below and the batch all use it.
    let batch = &batch.resolved();
    let mut filer = Filer {
        writer: ShareWriter::new(share, batch.jobs()),
        share,
        filing,
        summary: BucketSummary::default(),
    };
    let work = |input: &Input| {
        let (report, source) = match input {
            Input::File(path) => analyze_path_keeping(path, options),
            Input::Unreadable(..) => (analyze_input(input, options), None),
        };
        let prepared = report
            .error
            .is_none()
            .then(|| prepare(input.path(), source, &report, filing));
        let status = filing
            .create_status
            .then(|| KnownIssueStatus::from_report(&report))
            .flatten();
        let record = BucketRecord {
            schema_version: SCHEMA_VERSION,
            path: report.path,
            kind: report.kind,
            cer_subpath: report.cer_subpath,
            failure_bucket: report.failure_bucket,
            outcome: None,
            status: None,
            error: report.error,
        };
        Box::new(Pending {
            record,
            status,
            prepared,
        })
    };
    let mut group = Group::default();
    if batch.jobs() <= 1 {
        run_batch(inputs, batch, work, |_, item| {
            if group.push(item) {
                filer.flush(group.take()).iter().for_each(&mut sink);
            }
        })?;
        filer.flush(group.take()).iter().for_each(&mut sink);
        return Ok(filer.summary);
    }
    std::thread::scope(|scope| {
        // The next group is handed over when the filer is free: the workers go on with the
        // inputs already handed to them (a window of about a group) while it files, and at
        // most two groups are in memory. (A queue of one more group held a third group's
        // dumps and faulted in ~15% more memory on the workers, for no gain in time.)
        let (group_tx, group_rx) = mpsc::sync_channel::<Vec<Box<Pending>>>(0);
        let (record_tx, record_rx) = mpsc::channel::<BucketRecord>();
        let filing_thread = scope.spawn(move || {
            for items in group_rx {
                for record in filer.flush(items) {
                    if record_tx.send(record).is_err() {
                        break;
                    }
                }
            }
            filer.summary
        });
        let ran = run_batch(inputs, batch, work, |_, item| {
            if group.push(item) {
                let _ = group_tx.send(group.take());
            }
            record_rx.try_iter().for_each(|r| sink(&r));
        });
        let _ = group_tx.send(group.take());
        drop(group_tx);
        record_rx.iter().for_each(|r| sink(&r));
        let summary = filing_thread.join().map_err(|_| {
            crate::error::AnalyzeError::Internal("the filing thread panicked".to_owned())
        })?;
        ran.map(|()| summary)
    })
}
