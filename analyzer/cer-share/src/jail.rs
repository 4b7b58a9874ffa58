//! The share as a jail: every file and folder under the share root is reached relative to the
//! root without following a symbolic link or crossing a mount point.
//!
//! A CER share is written by many machines, and the process filing into it may run with more
//! rights than they have: a bucket folder replaced by a link to `/etc` must not make us write
//! there. On Linux each path is resolved by `openat2` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV` from a descriptor of the
//! root, so the kernel refuses a link at any level, atomically. Where `openat2` is missing
//! (Linux before 5.6, or a seccomp filter that refuses it) the path is walked one component at
//! a time with `O_NOFOLLOW` and a device check. Elsewhere each component is checked with
//! `symlink_metadata` before use (not atomic, but no link is followed knowingly).
//!
//! The root itself may be reached through links: it is the administrator's choice. A link
//! found below it is an error of its own ([`LinkFound`], turned into
//! [`super::ShareError::Link`]), naming the link; nothing is read or written through it.
//!
//! Paths passed in are absolute paths under the root, as the rest of the crate builds them.

use std::ffi::OsString;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

/// What is at a path, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Dir,
    /// A symbolic link.
    Link,
    /// Anything else (FIFO, socket, device).
    Other,
}

/// The error payload for a link (or mount point) met below the share root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkFound {
    /// The link itself (or the mount point), as far as it could be told.
    pub(crate) path: PathBuf,
    /// Whether it is a mount point rather than a link.
    pub(crate) mount: bool,
}

impl fmt::Display for LinkFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.mount {
            "a mount point"
        } else {
            "a symbolic link"
        };
        write!(f, "{} is {what} inside the share", self.path.display())
    }
}

impl std::error::Error for LinkFound {}

/// The link an I/O error stands for, if it is one of ours.
pub(crate) fn link_of(error: &io::Error) -> Option<&LinkFound> {
    error.get_ref().and_then(|e| e.downcast_ref::<LinkFound>())
}

fn relative<'p>(root: &Path, path: &'p Path) -> io::Result<&'p Path> {
    let rel = path.strip_prefix(root).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not inside the share", path.display()),
        )
    })?;
    // Our paths are built from checked components; anything else is refused, not resolved.
    if rel.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(rel)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} leaves the share", path.display()),
        ))
    }
}

/// Names the first link (or mount point) on the way from `root` to `path`, for the error.
fn explain(root: &Path, rel: &Path, error: io::Error) -> io::Error {
    let mut current = root.to_path_buf();
    let root_dev = device(root);
    for part in rel.components() {
        current.push(part);
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return link_error(current, false);
            }
            Ok(_) if root_dev.is_some() && device(&current) != root_dev => {
                return link_error(current, true);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    error
}

fn link_error(path: PathBuf, mount: bool) -> io::Error {
    io::Error::other(LinkFound { path, mount })
}

#[cfg(unix)]
fn device(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| m.dev())
}

#[cfg(not(unix))]
fn device(_path: &Path) -> Option<u64> {
    None
}

/// How a file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Read only.
    Read,
    /// Write, created or truncated.
    Create,
    /// Read and append, created when missing.
    Append,
    /// Read and write, created when missing, never truncated (the lock file).
    Lock,
    /// A folder, read only (to list it or flush it).
    Dir,
}

/// Opens `path` below `root` as `mode` says, refusing links and mount points on the way.
pub(crate) fn open(root: &Path, path: &Path, mode: Mode) -> io::Result<File> {
    let rel = relative(root, path)?;
    imp::open(root, rel, mode).map_err(|e| fix(root, rel, e))
}

/// Reads the whole file at `path`.
pub(crate) fn read(root: &Path, path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open(root, path, Mode::Read)?;
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(bytes)
}

/// What is at `path` (`None` when nothing is), without following a link at the end; a link
/// on the way there is an error.
pub(crate) fn kind(root: &Path, path: &Path) -> io::Result<Option<Kind>> {
    let rel = relative(root, path)?;
    if rel.as_os_str().is_empty() {
        return Ok(Some(Kind::Dir));
    }
    match imp::kind(root, rel) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        other => other.map_err(|e| fix(root, rel, e)),
    }
}

/// Length of the regular file at `path`; a link there is an error.
pub(crate) fn len(root: &Path, path: &Path) -> io::Result<u64> {
    Ok(open(root, path, Mode::Read)?.metadata()?.len())
}

/// The entries of the folder `dir`, with what each is (links not followed), in no order.
pub(crate) fn list(root: &Path, dir: &Path) -> io::Result<Vec<(OsString, Kind)>> {
    let rel = relative(root, dir)?;
    imp::list(root, rel).map_err(|e| fix(root, rel, e))
}

/// Makes `dir` and its missing parents below the root.
pub(crate) fn create_dir_all(root: &Path, dir: &Path) -> io::Result<()> {
    let rel = relative(root, dir)?;
    let mut done = PathBuf::new();
    for part in rel.components() {
        done.push(part);
        match imp::mkdir(root, &done) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // It must be a folder, not a link that happens to stand there.
                match kind(root, &root.join(&done))? {
                    Some(Kind::Dir) => {}
                    Some(Kind::Link) => return Err(link_error(root.join(&done), false)),
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(fix(root, &done, e)),
        }
    }
    Ok(())
}

/// Renames `from` to `to`, both below the root. A link standing at `to` is left alone.
pub(crate) fn rename(root: &Path, from: &Path, to: &Path) -> io::Result<()> {
    let (from_rel, to_rel) = (relative(root, from)?, relative(root, to)?);
    if kind(root, to)? == Some(Kind::Link) {
        return Err(link_error(to.to_path_buf(), false));
    }
    imp::rename(root, from_rel, to_rel).map_err(|e| fix(root, to_rel, e))
}

/// Removes the file at `path` (a link there is left alone).
pub(crate) fn remove_file(root: &Path, path: &Path) -> io::Result<()> {
    let rel = relative(root, path)?;
    if kind(root, path)? == Some(Kind::Link) {
        return Err(link_error(path.to_path_buf(), false));
    }
    imp::unlink(root, rel).map_err(|e| fix(root, rel, e))
}

/// Turns the kernel's refusal into a [`LinkFound`] naming the link.
fn fix(root: &Path, rel: &Path, error: io::Error) -> io::Error {
    if link_of(&error).is_some() {
        return error;
    }
    match error.raw_os_error() {
        Some(code) if imp::is_refusal(code) => explain(root, rel, error),
        _ => error,
    }
}

/// Makes the Linux implementation walk components instead of calling `openat2`.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn force_walk_for_tests(on: bool) {
    imp::force_walk(on);
}

#[cfg(target_os = "linux")]
#[path = "jail_linux.rs"]
mod imp;

#[cfg(not(target_os = "linux"))]
#[path = "jail_portable.rs"]
mod imp;
