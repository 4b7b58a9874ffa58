//! The CER file share: filing analyzed reports into it ([`CerShare::file`]) and reading one
//! back ([`scan`]), following [MS-CER] 2.2 and 3.1.7 and the decisions of `cer-share.md`.
//!
//! The share is the one artefact other tools (and Windows' own CER clients) read, so every byte
//! of the protocol files is fixed here: count.txt, hits.log and crash.log are written in exactly
//! one form, in Windows-1252, with CRLF. Everything dumpsig needs beyond the protocol lives in
//! files of its own at the root (`dumpsig-*`), never inside the CER folders.
//!
//! # Decisions where the protocol is silent
//!
//! - **Inputs are checked, not repaired.** Bucket components arrive sanitized (rule 1, done by
//!   the `signatures` crate); [`CerShare::file`] re-checks each one and rejects anything that is
//!   empty, `.`/`..`, non-ASCII, holds a prohibited character, ends in a dot or space, or names a
//!   device. Report files are named `<content id>.cab` from the dump's content hash (rule 11).
//! - **260 characters** (rule 2) are counted on the Windows form of the absolute root
//!   ([`windows_root`]) joined with `\cabs\<subpath>\<report>`, `...\hits.log`,
//!   `\status\...\status.txt` and `\counts\...\count.txt`; the report path only counts when a
//!   report file is supplied. A longer path discards the report: nothing is written.
//! - **A second run over the same inputs changes no byte.** Each counted hit is recorded as
//!   (content id, subpath) in `dumpsig-seen\`; a hit already recorded, or whose report file is
//!   already in the bucket folder, is [`FileOutcome::AlreadyFiled`] and touches nothing, whether
//!   or not a report was copied the first time. The same dump filed under another subpath (say,
//!   after an analyzer fix) is a new hit there.
//! - **Time** is the crash time from the dump, else the dump file's modification time, else now;
//!   all UTC (rule 12).
//! - **iData and Bucket come from status.txt only**: policy.txt's grammar has neither, so
//!   there they are reported as not honoured. A `Bucket=` in status.txt replaces the subpath in
//!   crash.log; the registry's BucketIDs reach crash.log only through a status.txt written by
//!   [`CerShare::create_status`].
//! - **policy.txt is read once**, when the share is opened (following FileTreeRoot); status.txt
//!   is read on every filing.
//!
//! # Concurrency and crash safety
//!
//! One exclusive advisory lock per share (`dumpsig.lock`, `flock`/`LockFileEx` through `fs4`)
//! is held for the whole of a filing. One per share rather than per bucket because every filing
//! also appends to share-wide files (crash.log, the registry, the seen shards), which would need
//! a share lock anyway, and two lock levels invite ordering bugs; a filing under the lock is a
//! handful of small writes (the rare report copy included), far cheaper than the analysis that
//! precedes it. Writers that ignore the lock (a Windows CER client on the same share) are not
//! serialized with us; nothing here can change that.
//!
//! Every change of a filing goes through a redo journal (`dumpsig-journal.json`). The report
//! is first copied to `<name>.dumpsig-tmp` and fsynced; the journal is written whole (temp +
//! fsync + rename); then its actions run in this order: count.txt (temp + fsync + rename),
//! report rename, seen record, hits.log, crash.log, registry, kernel index; last, the journal
//! is deleted. A writer killed at any instant therefore leaves every file parseable (each is
//! renamed into place whole or appended by one write), and since count.txt is updated *before*
//! the report appears, `Cabs Gathered` is never below the number of report files (the same
//! state as a report an administrator deleted, which [`scan`] accepts). The next writer to take
//! the lock, or [`CerShare::repair`], completes the interrupted filing from the journal, byte
//! for byte as if it had not been interrupted; [`scan`] reports a pending journal. `repair`
//! also removes orphaned temp files and raises a count.txt that is missing, unreadable or below
//! the report files present (damage only a foreign writer or a person can cause).
//!
//! Many filings at once go through a [`ShareWriter`] (what `dumpsig bucket` does): a group
//! of reports is decided in order under one lock, exactly as one-by-one filings would be, and
//! carried out by one journal, one write of each count.txt and one append to each log; a
//! raw dump is packed into its CAB only when its report file is actually copied.
//!
//! Advisory locks hold between processes on one machine and, where the file system forwards
//! them (SMB byte-range locks on Windows; NFS and CIFS mounts on Linux depending on mount
//! options), between machines.

mod appends;
mod config;
mod error;
mod flush;
mod group;
mod index;
mod index_cache;
mod jail;
mod journal;
mod lines;
mod paths;
mod scan;
mod seen;
mod text;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_group;
#[cfg(test)]
mod tests_jail;
#[cfg(test)]
mod tests_read;
#[cfg(test)]
mod tests_safety;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use cab::writer::{write_cabinet, CabInput, WriteCompression};

pub use config::{
    effective, parse_config, ConfigFile, ConfigKind, Effective, Settings,
    DEFAULT_CRASHES_PER_BUCKET,
};
pub use error::ShareError;
pub use group::ShareWriter;
pub use index::{parse_blue_index, parse_registry, BlueIndexEntry, RegistryEntry};
pub use journal::Durability;
pub use lines::MAX_EXAMPLES;
pub use paths::{check_component, windows_root, BucketPath, MAX_PATH_CHARS};
pub use scan::{
    parse_log, scan, BucketScan, CountRewrite, LogSummary, RepairReport, ShareScan, Stray,
};
pub use text::{
    decode_ansi, encode_ansi, parse_count, parse_log_line, CountRead, Counts, CrashTime, LineIssue,
    LogEntry, LogKind,
};

use config::read_config;
use error::io_err;
use journal::{recover, write_atomic, ShareLock};
use paths::{longest_path, BucketFiles};

/// `FileTreeRoot` redirects followed at most (MS-CER 2.2.4).
pub const MAX_REDIRECTS: usize = 10;
/// Name of the global configuration file.
pub const POLICY_FILE: &str = "policy.txt";
/// Name of the global tracking log.
pub const CRASH_LOG: &str = "crash.log";

/// The bytes of a report file (already a CAB) to copy into the share.
#[derive(Debug, Clone, Copy)]
pub enum ReportSource<'a> {
    /// The report in memory.
    Bytes(&'a [u8]),
    /// A report file to copy.
    File(&'a Path),
    /// A raw dump to pack into an MSZIP CAB as WER would, under the member name given; packed
    /// only when the report file is actually copied (most hits of a busy bucket are not).
    PackDump {
        /// Name of the dump inside the CAB.
        member: &'a str,
        /// The dump.
        dump: &'a [u8],
        /// Modification time stored for the member.
        modified: cab::DosDateTime,
    },
}

/// One analyzed report to file.
#[derive(Debug, Clone)]
pub struct ReportToFile<'a> {
    /// The error subpath.
    pub bucket: BucketPath,
    /// Content hash of the dump, 16..=64 lowercase hex digits; the report file is
    /// `<content id>.cab` and the id is what makes re-filing a no-op.
    pub content_id: &'a str,
    /// The report file to copy, `None` when none could be made (then only counted).
    pub report: Option<ReportSource<'a>>,
    /// Our failure bucket, for the BucketID registry and (for `blue`) the kernel index.
    pub failure_bucket: Option<&'a str>,
    /// Crash time recorded in the dump (UTC).
    pub crash_time: Option<CrashTime>,
    /// Modification time of the dump file, used when the dump records no crash time.
    pub file_mtime: Option<SystemTime>,
    /// Machine name; `UNKNOWN` when absent.
    pub machine: Option<&'a str>,
    /// User name; `unknown user` when absent.
    pub user: Option<&'a str>,
}

/// Why a counted hit got no report file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum NotCopied {
    /// `Cabs Gathered` had reached `Crashes per bucket`.
    OverLimit {
        /// The limit in force.
        limit: u64,
    },
    /// status.txt says `iData=` false.
    NotWanted,
    /// The caller supplied no report file.
    NoReport,
}

impl std::fmt::Display for NotCopied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotCopied::OverLimit { limit } => write!(f, "the bucket has its {limit} report files"),
            NotCopied::NotWanted => f.write_str("status.txt says iData=NO"),
            NotCopied::NoReport => f.write_str("no report file was supplied"),
        }
    }
}

/// What [`CerShare::file`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum FileOutcome {
    /// The report file was copied and the hit counted.
    Filed {
        /// Where the report file now is.
        report: PathBuf,
        /// count.txt after the filing.
        counts: Counts,
        /// BucketID of the failure bucket, when one was given.
        bucket_id: Option<u64>,
        /// Whether hits.log and crash.log were written.
        tracked: bool,
    },
    /// The hit was counted (and logged if tracking is on); no report file was copied.
    CountedOnly {
        /// Why no report file.
        #[serde(flatten)]
        reason: NotCopied,
        /// count.txt after the filing.
        counts: Counts,
        /// BucketID of the failure bucket, when one was given.
        bucket_id: Option<u64>,
        /// Whether hits.log and crash.log were written.
        tracked: bool,
    },
    /// This content id was already filed under this subpath: nothing changed.
    AlreadyFiled {
        /// The error subpath (Windows form).
        subpath: String,
    },
    /// A generated path is longer than 260 characters (rule 2): nothing was written.
    Discarded {
        /// The longest generated path, Windows form.
        path: String,
        /// Its length in characters.
        chars: usize,
    },
}

/// Whether [`CerShare::create_status`] wrote a status.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusOutcome {
    /// A new status.txt was written.
    Created,
    /// One exists already; it was left untouched.
    AlreadyExists,
    /// `blue` and `shutdown` hold every kernel crash / shutdown: a `Bucket=` there would
    /// mislabel all of them, so none is written.
    SharedBucket,
}

/// An opened CER file share: the root in use after FileTreeRoot redirects, and its policy.
#[derive(Debug, Clone)]
pub struct CerShare {
    root: PathBuf,
    windows_root: String,
    policy: Option<ConfigFile>,
    redirects: Vec<PathBuf>,
    passed_policies: Vec<ConfigFile>,
    durability: Durability,
}

impl CerShare {
    /// Opens the share at `root`: reads policy.txt and follows `FileTreeRoot` (at most
    /// [`MAX_REDIRECTS`] times, loops detected). Each root must be an existing directory.
    pub fn open(root: &Path) -> Result<CerShare, ShareError> {
        let mut current = root.to_path_buf();
        let mut visited = Vec::new();
        let mut redirects = Vec::new();
        let mut passed_policies = Vec::new();
        loop {
            if !current.is_dir() {
                return Err(ShareError::NotADirectory(current));
            }
            let canonical = std::fs::canonicalize(&current).map_err(io_err(&current))?;
            if visited.contains(&canonical) {
                return Err(ShareError::RedirectLoop(current));
            }
            visited.push(canonical);
            let policy = read_config(&current, &current.join(POLICY_FILE), ConfigKind::Policy)?;
            let target = policy
                .as_ref()
                .and_then(|p| p.settings.file_tree_root.clone());
            match target {
                None => {
                    return Ok(CerShare {
                        windows_root: windows_root(&current),
                        root: current,
                        policy,
                        redirects,
                        passed_policies,
                        durability: Durability::Flushed,
                    })
                }
                Some(target) => {
                    let target = PathBuf::from(target);
                    if redirects.len() == MAX_REDIRECTS {
                        return Err(ShareError::TooManyRedirects(target));
                    }
                    redirects.push(target.clone());
                    passed_policies.extend(policy);
                    current = target;
                }
            }
        }
    }

    /// The root in use (after redirects).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The share with writes flushed (the default) or not ([`Durability`]).
    pub fn with_durability(mut self, durability: Durability) -> CerShare {
        self.durability = durability;
        self
    }

    /// Whether writes to this share are flushed to disk.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The policy.txt of the root in use, if any.
    pub fn policy(&self) -> Option<&ConfigFile> {
        self.policy.as_ref()
    }

    /// The FileTreeRoot targets followed, in order.
    pub fn redirects(&self) -> &[PathBuf] {
        &self.redirects
    }

    /// The policy.txt files that redirected away (their other entries do not apply).
    pub fn passed_policies(&self) -> &[ConfigFile] {
        &self.passed_policies
    }

    /// Files one report (MS-CER 3.1.7): checks the inputs, applies the 260-character rule,
    /// reads status.txt and count.txt, copies the report while under the limit and wanted,
    /// updates count.txt and, when tracking is on, hits.log and crash.log; all under the share
    /// lock and the journal (see the module docs).
    /// Many reports are filed faster as a group: see [`ShareWriter`].
    pub fn file(&self, report: &ReportToFile<'_>) -> Result<FileOutcome, ShareError> {
        ShareWriter::new(self, 1)
            .file_group(std::slice::from_ref(report))?
            .pop()
            .unwrap_or_else(unreachable_outcome)
    }

    #[cfg(test)]
    fn file_with(
        &self,
        r: &ReportToFile<'_>,
        fault: group::Fault<'_>,
    ) -> Result<FileOutcome, ShareError> {
        ShareWriter::new(self, 1)
            .file_group_with(std::slice::from_ref(r), fault)?
            .pop()
            .unwrap_or_else(unreachable_outcome)
    }

    /// The stable BucketID of a failure bucket, registering it when new.
    pub fn bucket_id(&self, failure_bucket: &str) -> Result<u64, ShareError> {
        ShareWriter::new(self, 1).bucket_id(failure_bucket)
    }

    /// Writes `status\<subpath>\status.txt` as `Bucket=<id>` CRLF `Response=<response>` CRLF
    /// for a known issue, only where none exists; an existing one is never changed.
    pub fn create_status(
        &self,
        bucket: &BucketPath,
        bucket_id: u64,
        response: &str,
    ) -> Result<StatusOutcome, ShareError> {
        let components = bucket.checked_components()?;
        if bucket.is_special() {
            return Ok(StatusOutcome::SharedBucket);
        }
        if bucket_id == 0 || response.is_empty() || response.chars().any(char::is_control) {
            return Err(ShareError::InvalidInput {
                what: "status.txt entry",
                value: format!("Bucket={bucket_id} Response={response}"),
                reason: "BucketID must be positive and Response non-empty, one line",
            });
        }
        let files = BucketFiles::new(&self.root, &components);
        let (longest, chars) = longest_path(&self.windows_root, &bucket.windows_subpath(), None);
        if chars > MAX_PATH_CHARS {
            return Err(ShareError::InvalidInput {
                what: "status.txt path",
                value: longest,
                reason: "longer than 260 characters",
            });
        }
        let _lock = ShareLock::acquire(&self.root)?;
        recover(&self.root, self.durability)?;
        let present =
            jail::kind(&self.root, &files.status_txt).map_err(io_err(&files.status_txt))?;
        if present.is_some() {
            return Ok(StatusOutcome::AlreadyExists);
        }
        let text = format!("Bucket={bucket_id}\r\nResponse={response}\r\n");
        write_atomic(
            &self.root,
            &files.status_txt,
            &encode_ansi(&text),
            self.durability,
        )?;
        Ok(StatusOutcome::Created)
    }

    /// Checks, under the share lock, that the share can be written: the lock file opens for
    /// writing and a file can be created and removed at the root. Callers run this once
    /// before a batch, so that a read-only share is one error rather than one per report.
    pub fn check_writable(&self) -> Result<(), ShareError> {
        let _lock = ShareLock::acquire(&self.root)?;
        // Named like our temp files, so that `repair` removes one a crash left behind.
        let probe = self
            .root
            .join(format!("dumpsig-write-check{}", journal::TEMP_SUFFIX));
        drop(jail::open(&self.root, &probe, jail::Mode::Create).map_err(io_err(&probe))?);
        jail::remove_file(&self.root, &probe).map_err(io_err(&probe))
    }

    /// Completes an interrupted filing, removes left-over temp files, and raises count.txt
    /// where it is missing, damaged or below the report files present. See [`RepairReport`].
    pub fn repair(&self) -> Result<RepairReport, ShareError> {
        let _lock = ShareLock::acquire(&self.root)?;
        scan::repair_locked(self)
    }
}

/// Every report of a group gets an outcome; this error stands for a broken promise.
fn unreachable_outcome() -> Result<FileOutcome, ShareError> {
    Err(ShareError::InvalidInput {
        what: "filing",
        value: String::new(),
        reason: "no outcome for the report",
    })
}

fn rel(dir: &[String], name: &str) -> Vec<String> {
    let mut path = dir.to_vec();
    path.push(name.to_owned());
    path
}

/// Reads count.txt for the writer: `None` when absent, an error when not readable as counters.
fn read_counts(root: &Path, path: &Path) -> Result<Option<Counts>, ShareError> {
    let bytes = match jail::read(root, path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let read = parse_count(&bytes);
    read.counts()
        .map(Some)
        .ok_or_else(|| ShareError::DamagedCount {
            path: path.to_owned(),
            detail: read
                .issues
                .iter()
                .map(|i| format!("line {}: {}", i.line, i.reason))
                .collect::<Vec<_>>()
                .join("; "),
        })
}

/// Copies the report to its temp name; the caller flushes the group's copies to disk
/// together ([`journal::sync_files`]) before the journal that renames them is written.
fn copy_report(root: &Path, source: &ReportSource<'_>, temp: &Path) -> Result<(), ShareError> {
    let mut out = journal::create_with_parent(root, temp)?;
    match source {
        ReportSource::Bytes(bytes) => out.write_all(bytes).map_err(io_err(temp))?,
        ReportSource::File(path) => {
            let mut input = File::open(path).map_err(io_err(*path))?;
            std::io::copy(&mut input, &mut out).map_err(io_err(temp))?;
        }
        ReportSource::PackDump {
            member,
            dump,
            modified,
        } => {
            let input = CabInput {
                name: member,
                data: dump,
                modified: *modified,
            };
            let cab =
                write_cabinet(&[input], WriteCompression::MsZip).map_err(|e| ShareError::Pack {
                    path: temp.to_owned(),
                    detail: e.to_string(),
                })?;
            out.write_all(&cab).map_err(io_err(temp))?;
        }
    }
    Ok(())
}
