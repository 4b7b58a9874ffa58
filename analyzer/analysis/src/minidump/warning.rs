//! [`MinidumpWarning`]: what a minidump holds damaged or lacks while its keys can still be
//! computed, as values. The text report shows the words of `Display`; the JSON gives each as
//! an object with its `kind`, its data and that `message`.

use std::fmt;

use serde::ser::SerializeMap;

use super::validate::{stream_name, StreamDamage};

/// One problem that did not stop the analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MinidumpWarning {
    /// A stream (or part of one) is damaged and was not used.
    DamagedStream {
        /// The stream's type.
        stream_type: u32,
        /// Where the damaged structure starts.
        offset: u64,
        /// What is wrong.
        problem: String,
    },
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
            MinidumpWarning::DamagedStream {
                stream_type,
                offset,
                problem,
            } => write!(
                f,
                "damaged {} at offset {offset:#x}: {problem}; not used",
                stream_name(*stream_type)
            ),
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

impl From<StreamDamage> for MinidumpWarning {
    fn from(d: StreamDamage) -> MinidumpWarning {
        MinidumpWarning::DamagedStream {
            stream_type: d.stream_type,
            offset: d.offset,
            problem: d.problem,
        }
    }
}

impl MinidumpWarning {
    /// The `kind` of the JSON object.
    pub fn kind(&self) -> &'static str {
        match self {
            MinidumpWarning::DamagedStream { .. } => "damaged_stream",
            MinidumpWarning::UnreadableStream { .. } => "unreadable_stream",
            MinidumpWarning::NoModuleList => "no_module_list",
            MinidumpWarning::NoExceptionContext => "no_exception_context",
            MinidumpWarning::NoThreads => "no_threads",
            MinidumpWarning::StackWalkFailed { .. } => "stack_walk_failed",
        }
    }
}

/// `{kind, <data>, message}` (docs/json.md).
impl serde::Serialize for MinidumpWarning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kind", self.kind())?;
        match self {
            MinidumpWarning::DamagedStream {
                stream_type,
                offset,
                problem,
            } => {
                map.serialize_entry("stream", &stream_name(*stream_type))?;
                map.serialize_entry("stream_type", stream_type)?;
                map.serialize_entry("offset", &format!("{offset:#x}"))?;
                map.serialize_entry("problem", problem)?;
            }
            MinidumpWarning::UnreadableStream { stream, error } => {
                map.serialize_entry("stream", stream)?;
                map.serialize_entry("error", error)?;
            }
            MinidumpWarning::StackWalkFailed { error } => map.serialize_entry("error", error)?,
            MinidumpWarning::NoModuleList
            | MinidumpWarning::NoExceptionContext
            | MinidumpWarning::NoThreads => {}
        }
        map.serialize_entry("message", &self.to_string())?;
        map.end()
    }
}
