//! The one error type of the share module.

use std::io;
use std::path::PathBuf;

/// Why a share operation failed. Nothing here is a per-line damage report: those are
/// [`super::LineIssue`]s inside a successful result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// A file-system call failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A symbolic link or a mount point stands where a folder or file of the share belongs.
    /// Nothing is read or written through it; it is left alone.
    #[error(
        "{path} is {} inside the share, where a folder or file of the share belongs: \
         not followed, left alone",
        if *mount { "a mount point" } else { "a symbolic link" }
    )]
    Link {
        /// The link (or mount point).
        path: PathBuf,
        /// Whether it is a mount point rather than a link.
        mount: bool,
    },
    /// The share root (or a FileTreeRoot target) is not an existing directory.
    #[error("share root {0} is not an existing directory")]
    NotADirectory(PathBuf),
    /// policy.txt `FileTreeRoot=` redirected more than 10 times (MS-CER 2.2.4).
    #[error("FileTreeRoot redirected more than 10 times; the last target was {0}")]
    TooManyRedirects(PathBuf),
    /// policy.txt `FileTreeRoot=` led back to a root already visited.
    #[error("FileTreeRoot loop: {0} was already visited")]
    RedirectLoop(PathBuf),
    /// A bucket component, content id or other caller value could place a file outside its
    /// folder or is not a valid placeholder value (cer-share.md rule 1). Nothing was written.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidInput {
        /// Which input (for example `AppName`, `content id`).
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An existing count.txt cannot be read as two counters; the writer refuses to guess.
    /// [`super::CerShare::repair`] rewrites it from the report files and hits.log.
    #[error("{path} is damaged ({detail}); run repair")]
    DamagedCount {
        /// The count.txt file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A counter would overflow `u64`.
    #[error("counter overflow in {0}")]
    CounterOverflow(PathBuf),
    /// The journal of an interrupted filing cannot be read; the share is left as it is.
    #[error("journal {path} is damaged: {detail}")]
    DamagedJournal {
        /// The journal file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A raw dump could not be packed into a report CAB.
    #[error("cannot pack the report {path}: {detail}")]
    Pack {
        /// The report file being written.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// Test-only: a fault injected after the given step, standing in for a killed writer.
    #[cfg(test)]
    #[error("injected fault after step {0}")]
    Injected(usize),
}

/// Attaches a path to an I/O error.
pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> ShareError {
    let path = path.into();
    move |source| match super::jail::link_of(&source) {
        Some(link) => ShareError::Link {
            path: link.path.clone(),
            mount: link.mount,
        },
        None => ShareError::Io { path, source },
    }
}
