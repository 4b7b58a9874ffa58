//! Reading a share back ([`scan`]) and repairing what an interrupted or foreign writer left
//! ([`super::CerShare::repair`]).
//!
//! The reader never writes and takes no lock, so it works on a read-only copy of a share; a
//! filing in progress may show as a pending journal. Damage is reported with file and line,
//! never fatal: only an unreadable directory or a redirect error stops a scan.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::config::{effective, read_config, ConfigFile, ConfigKind, Effective};
use super::error::io_err;
use super::index::{read_blue_index, read_registry, BlueIndexEntry, RegistryEntry, SEEN_DIR};
use super::jail::{self, Kind};
use super::journal::{recover, write_atomic, JOURNAL_FILE, TEMP_SUFFIX};
use super::lines::{CrlfLines, Damage};
use super::paths::BucketPath;
use super::text::{parse_count, parse_log_line, CountRead, Counts, CrashTime};
use super::text::{LineIssue, LogKind};
use super::{CerShare, ShareError, CRASH_LOG};

/// A hits.log or crash.log as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogSummary {
    /// The log file.
    pub path: PathBuf,
    /// Well-formed lines.
    pub entries: usize,
    /// Earliest time among the well-formed lines.
    pub first: Option<CrashTime>,
    /// Latest time among the well-formed lines.
    pub last: Option<CrashTime>,
    /// The first [`super::MAX_EXAMPLES`] lines that do not conform, with line numbers.
    pub damaged: Vec<LineIssue>,
    /// How many lines do not conform.
    pub damaged_lines: usize,
}

/// One bucket found in the share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketScan {
    /// The bucket, from its folder names.
    pub bucket: BucketPath,
    /// The error subpath, Windows form.
    pub subpath: String,
    /// Report files in `cabs\<subpath>`, sorted; the dumps inside are the caller's to analyze.
    pub reports: Vec<PathBuf>,
    /// `counts\<subpath>\count.txt`, when present.
    pub count_file: Option<PathBuf>,
    /// What count.txt says, with every deviation.
    pub count: Option<CountRead>,
    /// `cabs\<subpath>\hits.log`, when present.
    pub hits_log: Option<LogSummary>,
    /// `status\<subpath>\status.txt`, when present.
    pub status: Option<ConfigFile>,
    /// Parameters in force for the bucket.
    pub effective: Effective,
    /// Disagreements between count.txt, the report files and hits.log.
    pub inconsistencies: Vec<String>,
}

/// A whole share as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareScan {
    /// The root in use after FileTreeRoot redirects.
    pub root: PathBuf,
    /// Redirect targets followed.
    pub redirects: Vec<PathBuf>,
    /// policy.txt files that redirected away.
    pub passed_policies: Vec<ConfigFile>,
    /// policy.txt of the root in use.
    pub policy: Option<ConfigFile>,
    /// A filing was interrupted; the next writer or `repair` completes it.
    pub pending_journal: bool,
    /// The global crash.log, when present.
    pub crash_log: Option<LogSummary>,
    /// Buckets, sorted by subpath.
    pub buckets: Vec<BucketScan>,
    /// Left-over `*.dumpsig-tmp` files (`repair` removes them).
    pub temp_files: Vec<PathBuf>,
    /// Files and folders that do not belong in the CER layout.
    pub strays: Vec<Stray>,
    /// BucketID registry.
    pub registry: Vec<RegistryEntry>,
    /// Damaged registry lines.
    pub registry_issues: Vec<LineIssue>,
    /// Kernel index.
    pub blue_index: Vec<BlueIndexEntry>,
    /// Damaged kernel index lines.
    pub blue_index_issues: Vec<LineIssue>,
}

/// A file or folder that does not belong in the CER layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stray {
    /// Where it is.
    pub path: PathBuf,
    /// Why it does not belong.
    pub reason: String,
}

/// One count.txt rewritten by [`super::CerShare::repair`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountRewrite {
    /// The count.txt file.
    pub path: PathBuf,
    /// The counters before, when they were readable.
    pub before: Option<Counts>,
    /// The counters written.
    pub after: Counts,
}

/// What [`super::CerShare::repair`] changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// An interrupted filing was completed from its journal.
    pub journal_completed: bool,
    /// Temp files removed.
    pub temp_files_removed: Vec<PathBuf>,
    /// count.txt files rewritten.
    pub counts_rewritten: Vec<CountRewrite>,
}

/// Scans the share at `root` (following FileTreeRoot like a writer would).
pub fn scan(root: &Path) -> Result<ShareScan, ShareError> {
    scan_share(&CerShare::open(root)?)
}

/// Whether a name belongs at the share root (`at_root`) or in the seen folder.
fn belongs(at_root: bool, name: &str) -> bool {
    if at_root {
        return [
            "cabs",
            "counts",
            "status",
            "policy.txt",
            "crash.log",
            super::journal::LOCK_FILE,
            super::journal::JOURNAL_FILE,
            super::index::REGISTRY_FILE,
            super::index::BLUE_INDEX_FILE,
            SEEN_DIR,
        ]
        .iter()
        .any(|known| known.eq_ignore_ascii_case(name));
    }
    let shard = name
        .strip_suffix(super::seen::SORTED_SUFFIX)
        .unwrap_or(name);
    shard
        .strip_suffix(".tsv")
        .is_some_and(|x| x.len() == 1 && x.chars().all(|c| c.is_ascii_hexdigit()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Top {
    Cabs,
    Counts,
    Status,
}

#[derive(Default)]
struct Found {
    reports: BTreeMap<Vec<String>, Vec<PathBuf>>,
    counts: BTreeMap<Vec<String>, PathBuf>,
    status: BTreeMap<Vec<String>, PathBuf>,
    temp_files: Vec<PathBuf>,
    strays: Vec<Stray>,
}

fn is_bucket(prefix: &[String]) -> bool {
    BucketPath::from_components(prefix).is_some()
}

/// Why a link or special file found where the layout expects a folder or file is a stray.
const LINK_STRAY: &str = "symbolic link, not followed";
const SPECIAL_STRAY: &str = "not a regular file or folder (a FIFO, socket or device)";

fn walk(
    root: &Path,
    dir: &Path,
    prefix: &[String],
    top: Top,
    found: &mut Found,
) -> Result<(), ShareError> {
    let mut entries = jail::list(root, dir).map_err(io_err(dir))?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if top == Top::Cabs && is_bucket(prefix) {
        found.reports.entry(prefix.to_vec()).or_default();
    }
    for (file_name, kind) in entries {
        let path = dir.join(&file_name);
        let Some(name) = file_name.to_str().map(str::to_owned) else {
            found.strays.push(Stray {
                path,
                reason: "name is not valid Unicode".into(),
            });
            continue;
        };
        if kind == Kind::Link {
            found.strays.push(Stray {
                path,
                reason: LINK_STRAY.into(),
            });
        } else if kind == Kind::Other {
            found.strays.push(Stray {
                path,
                reason: SPECIAL_STRAY.into(),
            });
        } else if kind == Kind::Dir {
            let mut next = prefix.to_vec();
            next.push(name);
            if next.len() > 5 {
                found.strays.push(Stray {
                    path,
                    reason: "folder below an error subpath".into(),
                });
            } else {
                walk(root, &path, &next, top, found)?;
            }
        } else if name.ends_with(TEMP_SUFFIX) {
            found.temp_files.push(path);
        } else if !is_bucket(prefix) {
            found.strays.push(Stray {
                path,
                reason: "file outside a bucket folder".into(),
            });
        } else {
            let key = prefix.to_vec();
            match (top, name.as_str()) {
                (Top::Cabs, "hits.log") => {}
                (Top::Cabs, _) => found.reports.entry(key).or_default().push(path),
                (Top::Counts, "count.txt") => {
                    found.counts.insert(key, path);
                }
                (Top::Status, "status.txt") => {
                    found.status.insert(key, path);
                }
                _ => found.strays.push(Stray {
                    path,
                    reason: "unexpected file in a bucket folder".into(),
                }),
            }
        }
    }
    Ok(())
}

/// Opens a share file for reading; `None` when it does not exist.
fn open_optional(root: &Path, path: &Path) -> Result<Option<fs::File>, ShareError> {
    match jail::open(root, path, jail::Mode::Read) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Most bytes of a count.txt read: two counters take about 40.
const MAX_COUNT_BYTES: u64 = 64 * 1024;

/// Reads count.txt; one far larger than two counters is reported, not read.
pub(crate) fn read_count(root: &Path, path: &Path) -> Result<Option<CountRead>, ShareError> {
    let Some(file) = open_optional(root, path)? else {
        return Ok(None);
    };
    let len = file.metadata().map_err(io_err(path))?.len();
    if len > MAX_COUNT_BYTES {
        return Ok(Some(CountRead::unreadable(LineIssue::new(
            1,
            "",
            format!("count.txt is {len} bytes, far more than two counters: not read"),
        ))));
    }
    let mut bytes = Vec::new();
    file.take(MAX_COUNT_BYTES)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    Ok(Some(parse_count(&bytes)))
}

/// Reads a log file line by line; `None` when it does not exist.
pub(crate) fn summarize_log(
    root: &Path,
    path: &Path,
    kind: LogKind,
) -> Result<Option<LogSummary>, ShareError> {
    let Some(file) = open_optional(root, path)? else {
        return Ok(None);
    };
    summarize_lines(BufReader::with_capacity(64 * 1024, file), path, kind).map(Some)
}

/// A log in `bytes`, as [`scan`] reads one from the share.
pub fn parse_log(bytes: &[u8], kind: LogKind) -> LogSummary {
    summarize_lines(bytes, Path::new(""), kind).unwrap_or_else(|_| LogSummary {
        path: PathBuf::new(),
        entries: 0,
        first: None,
        last: None,
        damaged: Vec::new(),
        damaged_lines: 0,
    })
}

fn summarize_lines(
    reader: impl std::io::BufRead,
    path: &Path,
    kind: LogKind,
) -> Result<LogSummary, ShareError> {
    let mut summary = LogSummary {
        path: path.to_owned(),
        entries: 0,
        first: None,
        last: None,
        damaged: Vec::new(),
        damaged_lines: 0,
    };
    let mut damage = Damage::default();
    for line in CrlfLines::new(reader) {
        let line = line.map_err(io_err(path))?;
        if let Some(reason) = line.framing {
            damage.push(line.number, &line.text, reason);
            continue;
        }
        match parse_log_line(&line.text, kind) {
            Ok(entry) => {
                summary.entries += 1;
                summary.first = Some(summary.first.map_or(entry.time, |t| t.min(entry.time)));
                summary.last = Some(summary.last.map_or(entry.time, |t| t.max(entry.time)));
            }
            Err(reason) => damage.push(line.number, &line.text, reason),
        }
    }
    summary.damaged = damage.examples;
    summary.damaged_lines = damage.count;
    Ok(summary)
}

fn check_bucket(b: &mut BucketScan) {
    let reports = b.reports.len() as u64;
    let logged = b.hits_log.as_ref().map_or(0, |l| l.entries as u64);
    let counts = b.count.as_ref().and_then(CountRead::counts);
    let problems = &mut b.inconsistencies;
    match (&b.count_file, counts) {
        (None, _) if reports > 0 || logged > 0 => problems.push(format!(
            "no count.txt, but {reports} report file(s) and {logged} hits.log line(s)"
        )),
        (None, _) => {}
        (Some(_), None) => problems.push("count.txt cannot be read as two counters".into()),
        (Some(_), Some(c)) => {
            if c.cabs_gathered < reports {
                problems.push(format!(
                    "Cabs Gathered={} but {reports} report files are present",
                    c.cabs_gathered
                ));
            }
            if c.total_hits < c.cabs_gathered.max(1) {
                problems.push(format!(
                    "Total Hits={} is below max(Cabs Gathered, 1)",
                    c.total_hits
                ));
            }
            if c.total_hits < logged {
                problems.push(format!(
                    "Total Hits={} but hits.log has {logged} lines",
                    c.total_hits
                ));
            }
        }
    }
}

/// A read that met a link (or a FIFO, socket or device) where a share file belongs: the scan
/// reports it as a stray and goes on without the file.
fn soft<T>(
    result: Result<T, ShareError>,
    path: &Path,
    strays: &mut Vec<Stray>,
) -> Result<Option<T>, ShareError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ShareError::Link { path, .. }) => {
            strays.push(Stray {
                path,
                reason: LINK_STRAY.into(),
            });
            Ok(None)
        }
        Err(ShareError::Io { source, .. }) if source.kind() == std::io::ErrorKind::InvalidInput => {
            strays.push(Stray {
                path: path.to_owned(),
                reason: SPECIAL_STRAY.into(),
            });
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn scan_share(share: &CerShare) -> Result<ShareScan, ShareError> {
    let root = share.root();
    let mut found = Found::default();
    for (name, top) in [
        ("cabs", Top::Cabs),
        ("counts", Top::Counts),
        ("status", Top::Status),
    ] {
        let dir = root.join(name);
        match jail::kind(root, &dir).map_err(io_err(&dir))? {
            Some(Kind::Dir) => walk(root, &dir, &[], top, &mut found)?,
            None => {}
            Some(Kind::Link) => found.strays.push(Stray {
                path: dir,
                reason: LINK_STRAY.into(),
            }),
            Some(_) => found.strays.push(Stray {
                path: dir,
                reason: "a file where the layout has a folder".into(),
            }),
        }
    }
    for dir in [root.to_path_buf(), root.join(SEEN_DIR)] {
        let entries = match jail::list(root, &dir) {
            Ok(entries) => entries,
            Err(e) if jail::link_of(&e).is_some() => {
                found.strays.push(Stray {
                    path: dir,
                    reason: LINK_STRAY.into(),
                });
                continue;
            }
            Err(_) => continue,
        };
        for (name, kind) in entries {
            let path = dir.join(&name);
            if kind == Kind::Link {
                found.strays.push(Stray {
                    path,
                    reason: LINK_STRAY.into(),
                });
            } else if name.to_string_lossy().ends_with(TEMP_SUFFIX) {
                found.temp_files.push(path);
            } else if !belongs(dir == root, &name.to_string_lossy()) {
                found.strays.push(Stray {
                    path,
                    reason: "not part of the CER layout or of dumpsig's indexes".into(),
                });
            }
        }
    }
    let strays = &mut found.strays;
    let mut keys: Vec<Vec<String>> = found.reports.keys().cloned().collect();
    keys.extend(found.counts.keys().cloned());
    keys.extend(found.status.keys().cloned());
    keys.sort();
    keys.dedup();
    let policy = share.policy().map(|p| &p.settings);
    let mut buckets = Vec::new();
    for key in keys {
        let Some(bucket) = BucketPath::from_components(&key) else {
            continue;
        };
        let count_file = found.counts.get(&key).cloned();
        let count = match &count_file {
            Some(path) => soft(read_count(root, path), path, strays)?.flatten(),
            None => None,
        };
        let status = match found.status.get(&key) {
            Some(path) => {
                soft(read_config(root, path, ConfigKind::Status), path, strays)?.flatten()
            }
            None => None,
        };
        let mut hits_path = root.join("cabs");
        hits_path.extend(&key);
        hits_path.push("hits.log");
        let mut b = BucketScan {
            effective: effective(
                policy,
                status.as_ref().map(|s| &s.settings),
                bucket.is_special(),
            ),
            subpath: bucket.windows_subpath(),
            bucket,
            reports: found.reports.remove(&key).unwrap_or_default(),
            count_file,
            count,
            hits_log: soft(
                summarize_log(root, &hits_path, LogKind::Hits),
                &hits_path,
                strays,
            )?
            .flatten(),
            status,
            inconsistencies: Vec::new(),
        };
        check_bucket(&mut b);
        buckets.push(b);
    }
    let registry_path = root.join(super::index::REGISTRY_FILE);
    let (registry, registry_issues) =
        soft(read_registry(root), &registry_path, strays)?.unwrap_or_default();
    let blue_path = root.join(super::index::BLUE_INDEX_FILE);
    let (blue_index, blue_index_issues) =
        soft(read_blue_index(root), &blue_path, strays)?.unwrap_or_default();
    let journal_path = root.join(JOURNAL_FILE);
    let pending_journal = match jail::kind(root, &journal_path).map_err(io_err(&journal_path))? {
        Some(Kind::Link) => {
            strays.push(Stray {
                path: journal_path,
                reason: LINK_STRAY.into(),
            });
            false
        }
        other => other.is_some(),
    };
    let crash_path = root.join(CRASH_LOG);
    let crash_log = soft(
        summarize_log(root, &crash_path, LogKind::Crash),
        &crash_path,
        strays,
    )?
    .flatten();
    Ok(ShareScan {
        root: root.to_owned(),
        redirects: share.redirects().to_vec(),
        passed_policies: share.passed_policies().to_vec(),
        policy: share.policy().cloned(),
        pending_journal,
        crash_log,
        buckets,
        temp_files: found.temp_files,
        strays: found.strays,
        registry,
        registry_issues,
        blue_index,
        blue_index_issues,
    })
}

/// The repair itself; the caller holds the share lock.
pub(crate) fn repair_locked(share: &CerShare) -> Result<RepairReport, ShareError> {
    let root = share.root();
    let journal_completed = recover(root, share.durability())?;
    let scanned = scan_share(share)?;
    let mut report = RepairReport {
        journal_completed,
        temp_files_removed: Vec::new(),
        counts_rewritten: Vec::new(),
    };
    for temp in scanned.temp_files {
        jail::remove_file(root, &temp).map_err(io_err(&temp))?;
        report.temp_files_removed.push(temp);
    }
    for b in scanned.buckets {
        if b.inconsistencies.is_empty() {
            continue;
        }
        let before = b.count.as_ref().and_then(CountRead::counts);
        let reports = b.reports.len() as u64;
        let logged = b.hits_log.as_ref().map_or(0, |l| l.entries as u64);
        let cabs = before.map_or(0, |c| c.cabs_gathered).max(reports);
        let after = Counts {
            cabs_gathered: cabs,
            total_hits: before
                .map_or(0, |c| c.total_hits)
                .max(cabs)
                .max(logged)
                .max(1),
        };
        let Ok(parts) = b.bucket.checked_components() else {
            continue; // a folder name no writer of ours would make: leave it to a person
        };
        let mut path = root.join("counts");
        path.extend(parts);
        path.push("count.txt");
        write_atomic(root, &path, &after.to_file_bytes(), share.durability())?;
        report.counts_rewritten.push(CountRewrite {
            path,
            before,
            after,
        });
    }
    Ok(report)
}
