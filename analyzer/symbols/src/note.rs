//! [`StoreNote`]: what a symbol or image lookup ran into, as values. Reports show them in the
//! words of `Display`; they are notes, not errors: the analysis goes on without the file.

use std::fmt;

/// One thing a lookup in a store, a cache or a symbol folder ran into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreNote {
    /// The module's name or id cannot be a store key (a path separator, `..`).
    InvalidKey {
        /// File name.
        name: String,
        /// Id.
        id: String,
    },
    /// A file or URL could not be read or fetched.
    Unreadable {
        /// The file or URL.
        location: String,
        /// Why.
        error: String,
    },
    /// A file found under the key is not the file wanted (another build).
    WrongFile {
        /// The file.
        location: String,
        /// Why it was rejected.
        why: String,
    },
    /// A cached copy was rejected.
    CachedRejected {
        /// The cached file.
        location: String,
        /// Why.
        why: String,
    },
    /// A server sent a file that was rejected.
    ServedRejected {
        /// The URL.
        location: String,
        /// Why.
        why: String,
    },
    /// A fetched file could not be written to the cache.
    CannotCache {
        /// The cache file.
        location: String,
        /// Why.
        error: String,
    },
    /// A miss could not be remembered in the cache.
    CannotRecordMiss {
        /// The marker file.
        location: String,
        /// Why.
        error: String,
    },
    /// A file over the size limit.
    TooLarge {
        /// The file.
        location: String,
        /// Its size.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A PDB could not be converted to symbols.
    NotConverted {
        /// Where the PDB came from.
        location: String,
        /// Why.
        error: String,
    },
    /// No image store has the binary.
    ImageNotFound {
        /// The module as loaded.
        loaded: String,
        /// The stores searched.
        stores: String,
        /// The key looked up (`name/ID/name`).
        key: String,
    },
}

impl fmt::Display for StoreNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreNote::InvalidKey { name, id } => {
                write!(f, "`{name}/{id}` is not a valid store key; not looked up")
            }
            StoreNote::Unreadable { location, error }
            | StoreNote::NotConverted { location, error } => write!(f, "{location}: {error}"),
            StoreNote::WrongFile { location, why } => {
                write!(f, "{location}: not the wanted file: {why}")
            }
            StoreNote::CachedRejected { location, why } => {
                write!(f, "{location}: cached file rejected: {why}")
            }
            StoreNote::ServedRejected { location, why } => {
                write!(f, "{location}: served file rejected: {why}")
            }
            StoreNote::CannotCache { location, error } => {
                write!(f, "{location}: cannot cache: {error}")
            }
            StoreNote::CannotRecordMiss { location, error } => {
                write!(f, "{location}: cannot record the miss: {error}")
            }
            StoreNote::TooLarge {
                location,
                len,
                limit,
            } => write!(f, "{location}: {len} bytes, over the {limit}-byte limit"),
            StoreNote::ImageNotFound {
                loaded,
                stores,
                key,
            } => write!(f, "{loaded}: no image store ({stores}) has {key}"),
        }
    }
}
