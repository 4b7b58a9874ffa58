//! Flushing exactly what a group of filings wrote: each file's data (`fdatasync`), then each
//! folder whose entries changed (`fsync` of the folder, for the creates and renames).
//!
//! Earlier versions flushed with one `syncfs` of the share's file system: one call, but it
//! writes back every dirty page of that file system, other programs' included, so its cost
//! depended on whatever else the machine was writing, and on a file server holding a CER share
//! it would stall every writer. Flushing by name costs what our own writes cost. The flushes of
//! a group run on a few threads at once: a journaling file system commits concurrent flushes
//! together, so N files cost about one journal commit rather than N.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::io_err;
use super::jail;
use super::ShareError;

/// At most this many threads flush at once.
const FLUSH_THREADS: usize = 8;
/// Fewest flushes worth a thread of their own.
const FLUSHES_PER_THREAD: usize = 4;

/// What one group flush flushed: every file and folder, once each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Flushed {
    /// Files whose data was flushed.
    pub(crate) files: BTreeSet<PathBuf>,
    /// Folders whose entries were flushed.
    pub(crate) dirs: BTreeSet<PathBuf>,
}

/// Flushes `paths` (files under `root`; a path that no longer exists, a rename's source, is
/// passed over) and their parent folders.
pub(crate) fn flush(root: &Path, paths: &[PathBuf]) -> Result<Flushed, ShareError> {
    let mut out = Flushed::default();
    for path in paths {
        if out.files.insert(path.clone()) {
            if let Some(dir) = path.parent() {
                out.dirs.insert(dir.to_path_buf());
            }
        }
    }
    let files: Vec<&PathBuf> = out.files.iter().collect();
    let gone = run_parallel(&files, |path| {
        match jail::open(root, path, jail::Mode::Read) {
            Ok(file) => file.sync_data().map(|()| false).map_err(io_err(path)),
            // A rename's source: its target is in the list too.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(e) => Err(io_err(path)(e)),
        }
    })?;
    // A rename's source is gone, but its folder changed all the same: it stays in `dirs`.
    let flushed: BTreeSet<PathBuf> = files
        .iter()
        .zip(gone)
        .filter(|(_, gone)| !gone)
        .map(|(p, _)| (*p).clone())
        .collect();
    out.files = flushed;
    let dirs: Vec<&PathBuf> = out.dirs.iter().collect();
    // Best effort, as for a single rename: some file systems refuse to flush a folder
    // (EINVAL), and the rename is already atomic against a killed process.
    run_parallel(&dirs, |dir| {
        if let Ok(d) = jail::open(root, dir, jail::Mode::Dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })?;
    Ok(out)
}

/// Runs `op` on every item, on up to [`FLUSH_THREADS`] threads, returning the results in
/// order or the first error.
fn run_parallel<T: Sync, R: Send>(
    items: &[T],
    op: impl Fn(&T) -> Result<R, ShareError> + Sync,
) -> Result<Vec<R>, ShareError> {
    let workers = FLUSH_THREADS.min(items.len() / FLUSHES_PER_THREAD).max(1);
    if workers == 1 {
        return items.iter().map(&op).collect();
    }
    let chunk = items.len().div_ceil(workers);
    let op = &op;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(op).collect::<Result<Vec<R>, _>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for h in handles {
            let part = h.join().unwrap_or_else(|_| {
                Err(ShareError::InvalidInput {
                    what: "flush",
                    value: String::new(),
                    reason: "flushing panicked",
                })
            })?;
            out.extend(part);
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flushes_each_named_file_once_and_each_folder_once() {
        let root = std::env::temp_dir().join(format!("dumpsig-flush-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (a, b) = (root.join("x/a.txt"), root.join("y/b.txt"));
        for p in [&a, &b] {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b"data").unwrap();
        }
        let gone = root.join("y/renamed-away.dumpsig-tmp");
        let many: Vec<PathBuf> = (0..40)
            .map(|i| {
                let p = root.join(format!("z/{i}.txt"));
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, b"n").unwrap();
                p
            })
            .collect();
        let mut paths = vec![a.clone(), b.clone(), a.clone(), gone];
        paths.extend(many.iter().cloned());
        let flushed = flush(&root, &paths).unwrap();
        let mut want: BTreeSet<PathBuf> = [a, b].into_iter().collect();
        want.extend(many);
        assert_eq!(flushed.files, want);
        let dirs: BTreeSet<PathBuf> = ["x", "y", "z"].iter().map(|d| root.join(d)).collect();
        assert_eq!(flushed.dirs, dirs);
        let _ = std::fs::remove_dir_all(&root);
    }
}
