//! Linux: `openat2` beneath the root, or a walk with `O_NOFOLLOW` where it is missing.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::sync::atomic::{AtomicU8, Ordering};

use rustix::fs::{self as rfs, AtFlags, FileType, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::{Kind, Mode};

/// Whether `openat2` works here: 0 not yet known, 1 yes, 2 no (then the walk is used).
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// Tests force the walk to check it on kernels that have `openat2`.
#[cfg(test)]
pub(super) fn force_walk(on: bool) {
    OPENAT2.store(if on { 2 } else { 0 }, Ordering::Relaxed);
}

fn flags(mode: Mode) -> OFlags {
    let base = OFlags::CLOEXEC | OFlags::NOCTTY;
    base | match mode {
        // Non-blocking so that a FIFO planted in the share cannot hang us; regular files
        // ignore the flag, and anything else is refused below.
        Mode::Read => OFlags::RDONLY | OFlags::NONBLOCK,
        Mode::Create => OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NONBLOCK,
        Mode::Append => OFlags::RDWR | OFlags::APPEND | OFlags::CREATE | OFlags::NONBLOCK,
        Mode::Lock => OFlags::RDWR | OFlags::CREATE | OFlags::NONBLOCK,
        Mode::Dir => OFlags::RDONLY | OFlags::DIRECTORY,
    }
}

/// Permissions of a created file; `openat2` refuses any unless the call may create.
fn file_mode(mode: Mode) -> rfs::Mode {
    if flags(mode).contains(OFlags::CREATE) {
        rfs::Mode::from_raw_mode(0o666)
    } else {
        rfs::Mode::empty()
    }
}

pub(super) fn open(root: &Path, rel: &Path, mode: Mode) -> io::Result<File> {
    open_fd(root, rel, mode).map(File::from)
}

fn open_fd(root: &Path, rel: &Path, mode: Mode) -> io::Result<OwnedFd> {
    let root_fd = rfs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        rfs::Mode::empty(),
    )?;
    let rel_c: &Path = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let fd = match OPENAT2.load(Ordering::Relaxed) {
        2 => walk(&root_fd, rel, mode)?,
        known => {
            let resolve = ResolveFlags::BENEATH
                | ResolveFlags::NO_SYMLINKS
                | ResolveFlags::NO_MAGICLINKS
                | ResolveFlags::NO_XDEV;
            match rfs::openat2(&root_fd, rel_c, flags(mode), file_mode(mode), resolve) {
                Ok(fd) => {
                    if known == 0 {
                        OPENAT2.store(1, Ordering::Relaxed);
                    }
                    fd
                }
                Err(Errno::NOSYS | Errno::PERM) if known == 0 => {
                    OPENAT2.store(2, Ordering::Relaxed);
                    walk(&root_fd, rel, mode)?
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    if mode != Mode::Dir {
        let stat = rfs::fstat(&fd)?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
    }
    Ok(fd)
}

/// One component at a time: folders opened `O_PATH | O_NOFOLLOW`, none on another device.
fn walk(root_fd: &OwnedFd, rel: &Path, mode: Mode) -> io::Result<OwnedFd> {
    let root_dev = rfs::fstat(root_fd)?.st_dev;
    let parts: Vec<&std::ffi::OsStr> = rel
        .components()
        .map(|c| match c {
            Component::Normal(part) => Ok(part),
            _ => Err(io::Error::from(io::ErrorKind::InvalidInput)),
        })
        .collect::<io::Result<_>>()?;
    let Some((last, folders)) = parts.split_last() else {
        return Ok(rfs::openat(
            root_fd,
            ".",
            flags(mode) | OFlags::NOFOLLOW,
            file_mode(mode),
        )?);
    };
    let mut dir: Option<OwnedFd> = None;
    for part in folders {
        let at = dir.as_ref().map_or(root_fd.as_fd(), AsFd::as_fd);
        let next = rfs::openat(
            at,
            *part,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            rfs::Mode::empty(),
        )?;
        if rfs::fstat(&next)?.st_dev != root_dev {
            return Err(Errno::XDEV.into());
        }
        dir = Some(next);
    }
    let at = dir.as_ref().map_or(root_fd.as_fd(), AsFd::as_fd);
    let fd = rfs::openat(at, *last, flags(mode) | OFlags::NOFOLLOW, file_mode(mode))?;
    if rfs::fstat(&fd)?.st_dev != root_dev {
        return Err(Errno::XDEV.into());
    }
    Ok(fd)
}

/// The errors with which the kernel refuses a link or a mount crossing on the way.
pub(super) fn is_refusal(code: i32) -> bool {
    [Errno::LOOP, Errno::XDEV, Errno::NOTDIR]
        .iter()
        .any(|e| e.raw_os_error() == code)
}

fn kind_of(file_type: FileType) -> Kind {
    match file_type {
        FileType::RegularFile => Kind::File,
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::Link,
        _ => Kind::Other,
    }
}

fn parent_and_name(root: &Path, rel: &Path) -> io::Result<(OwnedFd, OsString)> {
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    Ok((open_fd(root, parent, Mode::Dir)?, name.to_os_string()))
}

fn kind_at(dir: &impl AsFd, name: &Path) -> io::Result<Option<Kind>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(kind_of(FileType::from_raw_mode(stat.st_mode)))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn kind(root: &Path, rel: &Path) -> io::Result<Option<Kind>> {
    let (dir, name) = parent_and_name(root, rel)?;
    kind_at(&dir, Path::new(&name))
}

pub(super) fn list(root: &Path, rel: &Path) -> io::Result<Vec<(OsString, Kind)>> {
    let dir = open(root, rel, Mode::Dir)?;
    let mut entries = Vec::new();
    for entry in rfs::Dir::read_from(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = std::ffi::OsStr::from_bytes(name).to_os_string();
        let kind = match entry.file_type() {
            // Some file systems do not fill in the type: ask.
            FileType::Unknown => kind_at(&dir, Path::new(&name))?.unwrap_or(Kind::Other),
            known => kind_of(known),
        };
        entries.push((name, kind));
    }
    Ok(entries)
}

pub(super) fn mkdir(root: &Path, rel: &Path) -> io::Result<()> {
    let (dir, name) = parent_and_name(root, rel)?;
    Ok(rfs::mkdirat(
        &dir,
        name.as_os_str(),
        rfs::Mode::from_raw_mode(0o777),
    )?)
}

pub(super) fn rename(root: &Path, from: &Path, to: &Path) -> io::Result<()> {
    let (from_dir, from_name) = parent_and_name(root, from)?;
    let (to_dir, to_name) = parent_and_name(root, to)?;
    Ok(rfs::renameat(
        &from_dir,
        from_name.as_os_str(),
        &to_dir,
        to_name.as_os_str(),
    )?)
}

pub(super) fn unlink(root: &Path, rel: &Path) -> io::Result<()> {
    let (dir, name) = parent_and_name(root, rel)?;
    Ok(rfs::unlinkat(&dir, name.as_os_str(), AtFlags::empty())?)
}
