//! The share lock and the redo journal that make a filing all-or-nothing.
//!
//! A filing touches up to seven files (count.txt, the report, hits.log, crash.log and our own
//! indexes), and no file system renames several files at once. So every change a filing makes
//! is first written as a list of idempotent actions to `dumpsig-journal.json` (temp + fsync +
//! rename: the journal either exists whole or not at all), then carried out in order (runs of
//! one kind on distinct files side by side, see [`commit`]), then the journal is deleted.
//! Whoever takes the lock next finds a left-over journal and carries it out again from the
//! start; every action can be repeated safely:
//!
//! - `Write` replaces a file by temp + fsync + rename with absolute contents (count.txt);
//! - `Rename` moves the fsynced report temp into place, or finds it already there;
//! - `Append` records the log's length before the filing, so a redo appends the line exactly
//!   once, completes a line cut short, and never duplicates one.
//!
//! Durability: the journal is flushed to disk before any action runs; the actions are flushed
//! together ([`sync_files`]) before the journal is deleted, so a power loss at any point
//! leaves either the journal to redo them or all of them on disk.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fs4::fs_std::FileExt;
use serde::{Deserialize, Serialize};

use super::error::io_err;
use super::jail;
use super::paths::check_component;
use super::ShareError;

/// Lock file at the share root; see the module docs of `share` for why there is one per share.
pub const LOCK_FILE: &str = "dumpsig.lock";
/// Journal of the filing in progress at the share root.
pub const JOURNAL_FILE: &str = "dumpsig-journal.json";
/// Suffix of every temporary file this module writes (only ever under the lock).
pub const TEMP_SUFFIX: &str = ".dumpsig-tmp";

/// Holds the share's exclusive advisory lock until dropped (closing the file releases it, and
/// so does the death of the process).
pub(crate) struct ShareLock {
    file: File,
}

impl ShareLock {
    pub(crate) fn acquire(root: &Path) -> Result<ShareLock, ShareError> {
        let path = root.join(LOCK_FILE);
        let file = jail::open(root, &path, jail::Mode::Lock).map_err(io_err(&path))?;
        FileExt::lock_exclusive(&file).map_err(io_err(&path))?;
        Ok(ShareLock { file })
    }
}

impl Drop for ShareLock {
    fn drop(&mut self) {
        // Closing releases the lock anyway; an explicit unlock just makes it prompt.
        let _ = FileExt::unlock(&self.file);
    }
}

/// One idempotent change; paths are relative to the share root, one component each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Action {
    /// Replace the file's contents.
    Write { path: Vec<String>, data: Vec<u8> },
    /// Move a finished temp file into place.
    Rename { from: Vec<String>, to: Vec<String> },
    /// Append `data` to a file that was `len_before` bytes long when the journal was made.
    Append {
        path: Vec<String>,
        len_before: u64,
        data: Vec<u8>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    version: u32,
    actions: Vec<Action>,
}

fn resolve(root: &Path, rel: &[String]) -> Result<PathBuf, ShareError> {
    let mut path = root.to_path_buf();
    for part in rel {
        check_component("journal path component", part)?;
        path.push(part);
    }
    if rel.is_empty() {
        return Err(ShareError::InvalidInput {
            what: "journal path",
            value: String::new(),
            reason: "empty",
        });
    }
    Ok(path)
}

/// Makes a file's parent directories (rule 3).
pub(crate) fn make_parent(root: &Path, path: &Path) -> Result<(), ShareError> {
    match path.parent() {
        Some(dir) => jail::create_dir_all(root, dir).map_err(io_err(dir)),
        None => Ok(()),
    }
}

/// Whether share writes are flushed to disk (fsync) before the next step. Unflushed, the
/// share stays consistent against killed writers (every step is still an atomic rename under
/// the journal), but a power loss can lose the last filings' data: for scratch shares and
/// benchmarks (`dumpsig bucket --no-sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Flushed before the journal that names them is deleted (the default).
    #[default]
    Flushed,
    /// Never flushed by us.
    Unflushed,
}

impl Durability {
    fn flushes(self) -> bool {
        self == Durability::Flushed
    }
}

/// Flushes a directory entry change to disk where the platform supports it (best effort:
/// a rename is already atomic against a killed process; this is for power loss).
fn sync_dir(root: &Path, path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        if let Ok(d) = jail::open(root, dir, jail::Mode::Dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = (root, path);
}

/// Writes `data` to `<path>.dumpsig-tmp`, fsyncs it, and renames it over `path`.
pub(crate) fn write_atomic(
    root: &Path,
    path: &Path,
    data: &[u8],
    durability: Durability,
) -> Result<(), ShareError> {
    write_replacing(root, path, data, durability.flushes())
}

/// `write_atomic`, flushing to disk only when `each` (otherwise the caller syncs a whole
/// group of files at once with [`sync_files`], or nothing is flushed).
fn write_replacing(root: &Path, path: &Path, data: &[u8], each: bool) -> Result<(), ShareError> {
    let temp = temp_path(path);
    let mut file = create_with_parent(root, &temp)?;
    file.write_all(data).map_err(io_err(&temp))?;
    if each {
        file.sync_all().map_err(io_err(&temp))?;
    }
    drop(file);
    jail::rename(root, &temp, path).map_err(io_err(path))?;
    if each {
        sync_dir(root, path);
    }
    Ok(())
}

/// Creates (truncates) a file, making its parent folders only when they are missing.
pub(crate) fn create_with_parent(root: &Path, path: &Path) -> Result<File, ShareError> {
    match jail::open(root, path, jail::Mode::Create) {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            make_parent(root, path)?;
            jail::open(root, path, jail::Mode::Create).map_err(io_err(path))
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Flushes a group of files written without flushing (and the renames that placed them) to
/// disk, when writes are flushed at all: exactly those files and their folders
/// ([`super::flush`]), never the whole file system.
pub(crate) fn sync_files(
    root: &Path,
    paths: &[PathBuf],
    durability: Durability,
) -> Result<(), ShareError> {
    if !durability.flushes() || paths.is_empty() {
        return Ok(());
    }
    super::flush::flush(root, paths).map(|_| ())
}

/// The temp name beside `path`.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(TEMP_SUFFIX);
    path.with_file_name(name)
}

/// Current length of a file, 0 when it does not exist.
pub(crate) fn file_len(root: &Path, path: &Path) -> Result<u64, ShareError> {
    match jail::len(root, path) {
        Ok(len) => Ok(len),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Carries out one action without flushing it to disk; returns the file it changed, for
/// [`sync_files`].
fn apply(root: &Path, action: &Action) -> Result<PathBuf, ShareError> {
    match action {
        Action::Write { path, data } => {
            let path = resolve(root, path)?;
            write_replacing(root, &path, data, false)?;
            Ok(path)
        }
        Action::Rename { from, to } => {
            let (from, to) = (resolve(root, from)?, resolve(root, to)?);
            match jail::rename(root, &from, &to) {
                Ok(()) => Ok(to),
                // Done by an earlier attempt (or the temp was removed: the count then says
                // one cab more than is present, which scan accepts as a deleted report).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(to),
                Err(e) => Err(io_err(&to)(e)),
            }
        }
        Action::Append {
            path,
            len_before,
            data,
        } => {
            let path = resolve(root, path)?;
            append_once(root, &path, *len_before, data)?;
            Ok(path)
        }
    }
}

/// Appends `data` so that the bytes from `len_before` on are exactly `data`, with one write.
fn append_once(root: &Path, path: &Path, len_before: u64, data: &[u8]) -> Result<(), ShareError> {
    let open = || jail::open(root, path, jail::Mode::Append);
    let mut file = match open() {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            make_parent(root, path)?;
            open().map_err(io_err(path))?
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    let len = file.metadata().map_err(io_err(path))?.len();
    let mut written = Vec::new();
    if len > len_before {
        file.seek(SeekFrom::Start(len_before))
            .map_err(io_err(path))?;
        Read::by_ref(&mut file)
            .take(data.len() as u64)
            .read_to_end(&mut written)
            .map_err(io_err(path))?;
    }
    let rest = if len <= len_before {
        // Not appended yet (a shorter file means someone truncated it: append anyway).
        data.to_vec()
    } else if len - len_before <= data.len() as u64 && data.starts_with(&written) {
        // Cut short by an interruption: complete the line.
        data.get(written.len()..).unwrap_or_default().to_vec()
    } else if written == data {
        Vec::new()
    } else {
        // Something else was appended in between (a writer that ignores our lock): start our
        // line on a line of its own.
        let mut line = b"\r\n".to_vec();
        line.extend_from_slice(data);
        line
    };
    if !rest.is_empty() {
        file.write_all(&rest).map_err(io_err(path))?;
    }
    Ok(())
}

/// Carries out `actions` under the journal. `fault(step)` is a test hook standing for a kill:
/// step 1 is "journal written", step `2 + i` is "action `i` done", and the last step is
/// "all done, journal not yet deleted".
///
/// The actions run in their order, except that consecutive actions of one kind (the count.txt
/// writes, the report renames) run on up to `threads` threads when there are enough of them: they touch distinct files, and any subset of them is redone by
/// the journal, while the order between kinds (counts before reports) is what a reader sees
/// after a kill.
pub(crate) fn commit(
    root: &Path,
    actions: Vec<Action>,
    fault: &(dyn Fn(usize) -> Result<(), ShareError> + Sync),
    threads: usize,
    durability: Durability,
) -> Result<(), ShareError> {
    let journal_path = root.join(JOURNAL_FILE);
    let journal = Journal {
        version: 1,
        actions,
    };
    let bytes = serde_json::to_vec(&journal).map_err(|e| ShareError::DamagedJournal {
        path: journal_path.clone(),
        detail: e.to_string(),
    })?;
    write_atomic(root, &journal_path, &bytes, durability)?;
    fault(1)?;
    let touched = apply_all(root, &journal.actions, fault, threads)?;
    // Redo logging: the actions need not reach the disk one by one, only all of them before
    // the journal that can redo them is gone.
    sync_files(root, &touched, durability)?;
    jail::remove_file(root, &journal_path).map_err(io_err(&journal_path))?;
    Ok(())
}

/// Fewest actions worth a thread of their own (an action is a few system calls).
const ACTIONS_PER_THREAD: usize = 32;

/// Which actions may run side by side: `None` for one that runs alone. A group has one append
/// per log or index file, at most 16 to the seen index: too few to share out.
fn phase(action: &Action) -> Option<u8> {
    match action {
        Action::Write { .. } => Some(0),
        Action::Rename { .. } => Some(1),
        Action::Append { .. } => None,
    }
}

/// Applies `actions` (see [`commit`] for the order), returning the files touched.
fn apply_all(
    root: &Path,
    actions: &[Action],
    fault: &(dyn Fn(usize) -> Result<(), ShareError> + Sync),
    threads: usize,
) -> Result<Vec<PathBuf>, ShareError> {
    let step = |index: usize, action: &Action| -> Result<PathBuf, ShareError> {
        let path = apply(root, action)?;
        fault(2 + index)?;
        Ok(path)
    };
    let mut touched = Vec::with_capacity(actions.len());
    let mut start = 0;
    while let Some(first) = actions.get(start) {
        let kind = phase(first);
        let len = match kind {
            Some(_) => actions
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|a| phase(a) == kind)
                .count(),
            None => 1,
        };
        let run = actions.get(start..start + len).unwrap_or_default();
        let workers = threads.min(run.len() / ACTIONS_PER_THREAD).max(1);
        if workers == 1 {
            for (i, action) in run.iter().enumerate() {
                touched.push(step(start + i, action)?);
            }
        } else {
            let chunk = run.len().div_ceil(workers);
            let step = &step;
            let results: Vec<Result<Vec<PathBuf>, ShareError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = run
                    .chunks(chunk)
                    .enumerate()
                    .map(|(c, part)| {
                        let first = start + c * chunk;
                        scope.spawn(move || {
                            part.iter()
                                .enumerate()
                                .map(|(i, a)| step(first + i, a))
                                .collect::<Result<Vec<_>, _>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(ShareError::InvalidInput {
                                what: "journal action",
                                value: root.display().to_string(),
                                reason: "applying it panicked",
                            })
                        })
                    })
                    .collect()
            });
            for result in results {
                touched.extend(result?);
            }
        }
        start += len;
    }
    Ok(touched)
}

/// Completes the filing a killed writer left behind, if any. Call only under the lock.
/// Returns whether there was one.
pub(crate) fn recover(root: &Path, durability: Durability) -> Result<bool, ShareError> {
    let journal_path = root.join(JOURNAL_FILE);
    let bytes = match jail::read(root, &journal_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(&journal_path)(e)),
    };
    let journal: Journal =
        serde_json::from_slice(&bytes).map_err(|e| ShareError::DamagedJournal {
            path: journal_path.clone(),
            detail: e.to_string(),
        })?;
    if journal.version != 1 {
        return Err(ShareError::DamagedJournal {
            path: journal_path,
            detail: format!("unknown version {}", journal.version),
        });
    }
    let mut touched = Vec::with_capacity(journal.actions.len());
    for action in &journal.actions {
        touched.push(apply(root, action)?);
    }
    sync_files(root, &touched, durability)?;
    jail::remove_file(root, &journal_path).map_err(io_err(&journal_path))?;
    Ok(true)
}
