//! The memory-mapped dump source every reader works on.
//!
//! Dumps can be many GiB; mapping them lets readers touch only the pages they need and lets a
//! batch share the page cache instead of copying files into the heap. This module (with
//! [`bus_guard`], which keeps a truncated file from killing the process) is the one place in
//! dumpsig that needs `unsafe`.

#[cfg(unix)]
mod bus_guard;

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;

use crate::error::{AnalyzeError, Result};
use cab::OwnedBytes;

/// In a batch, files up to this size are read into memory rather than mapped: unmapping in a
/// process with several threads interrupts every other core (a TLB shootdown), which costs
/// more than copying a minidump (mapping ~90 KiB minidumps at `-j 2` took twice as long as
/// reading them; BENCHMARKS.md).
pub const READ_LIMIT: u64 = 1 << 20;
/// In a process that analyzes one file (no other thread), files over this size are mapped: a
/// read faults in and fills every page of a fresh buffer, while a reader of a 248 KiB kernel
/// dump touches a few of its pages.
pub const READ_LIMIT_ALONE: u64 = 64 << 10;

/// The bytes of one dump: a read-only memory map of a file, or bytes already in memory (a dump
/// extracted from a CAB).
#[derive(Clone)]
pub struct DumpSource {
    path: PathBuf,
    bytes: SourceBytes,
    modified: Option<std::time::SystemTime>,
}

#[derive(Clone)]
enum SourceBytes {
    Mapped(Arc<Mapped>),
    Owned(Arc<OwnedBytes>),
}

/// A mapped file, watched for truncation while mapped.
struct Mapped {
    // Declared first: dropped (unwatched) before the map is unmapped.
    #[cfg(unix)]
    watch: Option<bus_guard::Watch>,
    map: Mmap,
}

impl Mapped {
    fn new(map: Mmap) -> Mapped {
        Mapped {
            #[cfg(unix)]
            watch: bus_guard::watch(map.as_ptr(), map.len()),
            map,
        }
    }

    fn truncated(&self) -> bool {
        #[cfg(unix)]
        return self.watch.as_ref().is_some_and(bus_guard::Watch::truncated);
        #[cfg(not(unix))]
        return false;
    }
}

/// Reads the `len` bytes the file had when it was opened (fewer if it shrank since; bytes it
/// gained after are not taken). Unlike `read_to_end`, no second stat, seek or read at the end:
/// in a batch of small dumps each system call is a visible share of the time.
fn read_known_size(file: &mut File, len: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(0)];
    let mut filled = 0;
    while let Some(rest) = bytes.get_mut(filled..).filter(|r| !r.is_empty()) {
        match std::io::Read::read(file, rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(filled);
    Ok(bytes)
}

impl DumpSource {
    /// Maps `path` read-only (reads it when it is at most [`READ_LIMIT`] bytes). An empty file
    /// is an error (it cannot be mapped, and it is not a dump).
    pub fn open(path: &Path) -> Result<DumpSource> {
        DumpSource::open_reading_up_to(path, READ_LIMIT)
    }

    /// As [`DumpSource::open`], reading files of at most `read_limit` bytes and mapping larger
    /// ones.
    pub fn open_reading_up_to(path: &Path, read_limit: u64) -> Result<DumpSource> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.len() == 0 {
            return Err(AnalyzeError::Empty);
        }
        if meta.len() <= read_limit {
            // Small files are read: unmapping in a process with several threads interrupts
            // every other core (a TLB shootdown), which costs more than copying a minidump.
            let bytes = read_known_size(&mut file, meta.len())?;
            if bytes.is_empty() {
                return Err(AnalyzeError::Empty);
            }
            return Ok(DumpSource {
                path: path.to_owned(),
                bytes: SourceBytes::Owned(Arc::new(bytes.into())),
                modified: meta.modified().ok(),
            });
        }
        // SAFETY: the map is read-only and private to this process. Another process truncating
        // or rewriting the file while we read it can change the bytes under us; every reader
        // treats the bytes as untrusted input anyway, so changed bytes give a wrong report or
        // an error, never undefined behaviour in safe code that indexes with checks. This is
        // the accepted trade-off of every mmap reader. Truncation, which would raise SIGBUS,
        // is caught by `bus_guard` and turned into an error for this input.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file)? };
        Ok(DumpSource {
            path: path.to_owned(),
            bytes: SourceBytes::Mapped(Arc::new(Mapped::new(map))),
            modified: meta.modified().ok(),
        })
    }

    /// Wraps bytes already in memory (for example a dump extracted from a CAB); `path` names
    /// where they came from in reports.
    pub fn from_bytes(path: PathBuf, bytes: impl Into<OwnedBytes>) -> DumpSource {
        DumpSource {
            path,
            bytes: SourceBytes::Owned(Arc::new(bytes.into())),
            modified: None,
        }
    }

    /// The file's modification time when it was opened (`None` for bytes in memory).
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        self.modified
    }

    /// The path reports name this source by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The dump's bytes.
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            SourceBytes::Mapped(m) => &m.map,
            SourceBytes::Owned(b) => b,
        }
    }

    /// Whether the file was found shorter than when it was mapped, while it was read (the
    /// bytes past its new end read as zeros): whatever was computed from it is not to be
    /// trusted. Always false for bytes in memory.
    pub fn truncated(&self) -> bool {
        match &self.bytes {
            SourceBytes::Mapped(m) => m.truncated(),
            SourceBytes::Owned(_) => false,
        }
    }

    /// The error for a source found [`truncated`](DumpSource::truncated).
    pub fn shortened_error(&self) -> AnalyzeError {
        AnalyzeError::ShortenedWhileRead {
            mapped: self.len(),
            now: std::fs::metadata(&self.path).ok().map(|m| m.len()),
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// True for zero bytes (only possible through [`DumpSource::from_bytes`]).
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }
}

impl Deref for DumpSource {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.bytes()
    }
}

impl std::fmt::Debug for DumpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpSource")
            .field("path", &self.path)
            .field("len", &self.len())
            .finish()
    }
}
