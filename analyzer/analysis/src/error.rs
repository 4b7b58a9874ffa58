//! The analyzer's error type: what went wrong with one input, with the offsets involved.

use std::path::PathBuf;

/// Why an input could not be analyzed. Every variant names what is wrong in words a user can
/// act on; the path is added by [`InputError`].
#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    /// The file could not be opened or mapped.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// A zero-length file.
    #[error("the file is empty")]
    Empty,
    /// The first bytes match no dump format we know.
    #[error("not a crash dump: unrecognized signature {magic:02x?} at offset 0")]
    Unrecognized {
        /// Up to the first 8 bytes of the file.
        magic: Vec<u8>,
    },
    /// An archive, not a dump: named for what it is.
    #[error("{0}, not a crash dump: extract the dump from it first")]
    Archive(&'static str),
    /// Data the dump's own directory references lies beyond the end of the file.
    #[error("truncated: {what} at offset {offset:#x} needs {needed} bytes, but the file ends at {file_len:#x}")]
    Truncated {
        /// What the missing data is (a stream, a memory range, a context).
        what: String,
        /// Where it starts.
        offset: u64,
        /// How many bytes it needs.
        needed: u64,
        /// The file's length.
        file_len: u64,
    },
    /// Another process shortened the (mapped) file while it was being read.
    #[error(
        "the file was shortened while it was read (it was {mapped} bytes when opened{}): \
         analysis abandoned",
        .now.map(|n| format!(", {n} now")).unwrap_or_default()
    )]
    ShortenedWhileRead {
        /// Its length when it was opened.
        mapped: u64,
        /// Its length afterwards, when it could be read.
        now: Option<u64>,
    },
    /// A structure that is present but malformed.
    #[error("malformed {what} at offset {offset:#x}: {reason}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// Where it is.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The `minidump` crate refused the file or a stream.
    #[error("invalid minidump ({context}): {source}")]
    Minidump {
        /// Which part was being read.
        context: &'static str,
        /// The crate's error.
        #[source]
        source: minidump::Error,
    },
    /// The kernel dump reader refused the file (its header is unusable).
    #[error("invalid kernel dump: {0}")]
    Kernel(#[from] kernel_dump::KernelError),
    /// The cabinet container is unusable.
    #[error("invalid CAB: {0}")]
    Cab(#[from] cab::CabError),
    /// The dump inside a report CAB could not be analyzed.
    #[error("{member} inside the CAB: {source}")]
    InCab {
        /// The CAB member.
        member: String,
        /// Why.
        #[source]
        source: Box<AnalyzeError>,
    },
    /// A bug in dumpsig, caught so the rest of a batch goes on.
    #[error("internal error while analyzing (please report): {0}")]
    Internal(String),
}

/// An [`AnalyzeError`] tied to the input it happened on.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {error}")]
pub struct InputError {
    /// The input file.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub error: AnalyzeError,
}

/// Short alias used across the crate.
pub type Result<T, E = AnalyzeError> = std::result::Result<T, E>;
