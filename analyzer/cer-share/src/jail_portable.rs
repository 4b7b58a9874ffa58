//! Elsewhere: each component checked with `symlink_metadata` before use. Not atomic against a
//! link planted between the check and the use, but no link is followed knowingly.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::{link_error, Kind, Mode};

/// `root/rel` after checking that no component below the root is a link.
fn checked(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut current = root.to_path_buf();
    for part in rel.components() {
        current.push(part);
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(link_error(current, false)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(rel))
}

pub(super) fn open(root: &Path, rel: &Path, mode: Mode) -> io::Result<File> {
    let path = checked(root, rel)?;
    let file = match mode {
        Mode::Read | Mode::Dir => File::open(&path)?,
        Mode::Create => File::create(&path)?,
        Mode::Append => OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?,
        Mode::Lock => OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?,
    };
    if mode != Mode::Dir && !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

pub(super) fn is_refusal(_code: i32) -> bool {
    false
}

fn kind_of(meta: &fs::Metadata) -> Kind {
    let t = meta.file_type();
    if t.is_symlink() {
        Kind::Link
    } else if t.is_dir() {
        Kind::Dir
    } else if t.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

pub(super) fn kind(root: &Path, rel: &Path) -> io::Result<Option<Kind>> {
    let path = checked(root, rel.parent().unwrap_or(Path::new("")))?
        .join(rel.file_name().unwrap_or_default());
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(kind_of(&meta))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) fn list(root: &Path, rel: &Path) -> io::Result<Vec<(OsString, Kind)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(checked(root, rel)?)? {
        let entry = entry?;
        let meta = fs::symlink_metadata(entry.path())?;
        out.push((entry.file_name(), kind_of(&meta)));
    }
    Ok(out)
}

pub(super) fn mkdir(root: &Path, rel: &Path) -> io::Result<()> {
    fs::create_dir(checked(root, rel)?)
}

pub(super) fn rename(root: &Path, from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(checked(root, from)?, checked(root, to)?)
}

pub(super) fn unlink(root: &Path, rel: &Path) -> io::Result<()> {
    fs::remove_file(checked(root, rel)?)
}
