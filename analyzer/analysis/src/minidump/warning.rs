//! [`MinidumpWarning`]: what a minidump holds damaged or lacks while its keys can still be
//! computed, as values; reports show the words of `Display`.

use std::fmt;

/// One problem that did not stop the analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MinidumpWarning {
    /// An optional stream could not be read.
    UnreadableStream {
        /// Which stream.
        stream: &'static str,
        /// The `minidump` crate's words.
        error: String,
    },
    /// No module list: AppName and ModName are unknown.
    NoModuleList,
    /// The exception stream's thread context is not readable.
    NoExceptionContext,
    /// The dump has no thread to walk.
    NoThreads,
    /// The stack walk failed; the keys come from the exception stream alone.
    StackWalkFailed {
        /// The walker's words.
        error: String,
    },
}

impl fmt::Display for MinidumpWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MinidumpWarning::UnreadableStream { stream, error } => {
                write!(f, "invalid minidump ({stream}): {error}")
            }
            MinidumpWarning::NoModuleList => {
                f.write_str("the dump has no module list: AppName and ModName are unknown")
            }
            MinidumpWarning::NoExceptionContext => {
                f.write_str("the exception stream has no readable thread context")
            }
            MinidumpWarning::NoThreads => f.write_str("the dump has no threads to walk"),
            MinidumpWarning::StackWalkFailed { error } => write!(f, "stack walk failed: {error}"),
        }
    }
}

/// Written as its words.
impl serde::Serialize for MinidumpWarning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
