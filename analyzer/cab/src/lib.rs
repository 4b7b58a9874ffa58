//! Report CABs: our own reader of Microsoft cabinet files, the WER metadata
//! inside them, and a small MSZIP writer.
//!
//! # Why our own reader
//!
//! Windows Error Reporting ships every report as a cabinet (`.cab`): the dump
//! first, then `WERInternalMetadata.xml` / `Version.txt` / `sysdata.xml`. The
//! `cab` crate (0.6, the only version on the registry) reads them correctly but
//! does not fit a batch over a share of untrusted reports:
//!
//! * it decompresses a folder from its start for every file it is asked for,
//!   so taking N files costs N passes, and reading the small metadata stored
//!   after the dump costs a full pass over the dump;
//! * it panics on some malformed cabinets (index out of bounds in its folder
//!   handling);
//! * when a folder claims too few data blocks it returns success with a
//!   silently truncated file.
//!
//! The container itself (CFHEADER, CFFOLDER, CFFILE, CFDATA, per Microsoft's
//! "Microsoft Cabinet Format") is small, so this module parses it directly
//! from a byte slice, checking every count and offset against the file size
//! before looping or allocating, and hands the data blocks to our own LZX
//! decoder ([`lzx`]: the `lzxd` crate was 2.1-2.8x slower than cabextract) and to
//! `miniz_oxide`'s low-level inflater (MSZIP, with the 32 KiB
//! history carried from block to block). Each folder is decoded once, in one
//! pass that fills every wanted file of the folder; every file is checked
//! against the size the cabinet declares; output is capped by
//! [`ExtractLimits`]; a panic inside a decoder is contained and
//! reported as [`CabError::DecoderPanicked`]. Quantum compression (never seen
//! in WER cabinets) and multi-cabinet sets are refused with a clear error.
//!
//! Submodules: [`wer`] (the WER metadata files and the CER tuple they imply)
//! and [`writer`] (MSZIP / uncompressed cabinets, used to pack a raw dump the
//! way WER does).

mod decode;
mod extract;
mod header;
mod lzx;
mod owned_bytes;
pub mod wer;
pub mod writer;

#[cfg(test)]
mod tests;

pub use extract::ExtractedFile;
pub use header::{Cabinet, Compression, DosDateTime, FileEntry, Folder};
pub use owned_bytes::{Budget, OwnedBytes, DEFAULT_BUDGET, FILE_AT_LEAST, MEMORY_BUDGET};

/// Caps applied by [`Cabinet::extract_all`] and [`Cabinet::extract_matching`],
/// checked against the sizes the cabinet declares before anything is
/// allocated or decoded (a decompression bomb is refused up front).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtractLimits {
    /// Most bytes produced in total: the sum of the wanted files, and also how
    /// far into any one folder decoding may go.
    pub max_total_bytes: u64,
    /// Most bytes of any one file.
    pub max_file_bytes: u64,
    /// Verify the CFDATA checksums that are not zero (a zero checksum means
    /// "not computed" and is always accepted).
    pub verify_checksums: bool,
}

impl Default for ExtractLimits {
    /// 4 GiB in total, 2 GiB per file, checksums verified.
    fn default() -> Self {
        Self {
            max_total_bytes: 4 << 30,
            max_file_bytes: 2 << 30,
            verify_checksums: true,
        }
    }
}

/// Everything that can go wrong reading a cabinet. Offsets are byte offsets
/// in the cabinet file.
#[derive(Debug, thiserror::Error)]
pub enum CabError {
    /// The file does not start with `MSCF`.
    #[error("not a cabinet: the first bytes are {found:02x?}, expected \"MSCF\"")]
    NotACabinet {
        /// The first (up to four) bytes of the file.
        found: Vec<u8>,
    },
    /// A structure lies (partly) beyond the end of the file.
    #[error("cabinet truncated or corrupt: {what} at offset {offset} needs {needed} bytes, but the file ends at {file_len}")]
    OutOfBounds {
        /// Which structure.
        what: &'static str,
        /// Where it starts.
        offset: u64,
        /// How many bytes it needs.
        needed: u64,
        /// The file's length.
        file_len: u64,
    },
    /// The header's cabinet size is larger than the file.
    #[error(
        "cabinet truncated: the header (offset 8) declares {declared} bytes, the file has {actual}"
    )]
    Truncated {
        /// `cbCabinet` from the header.
        declared: u64,
        /// The file's length.
        actual: u64,
    },
    /// The cabinet is part of a multi-cabinet set (only single cabinets are read).
    #[error("multi-cabinet sets are not supported: {detail} (at offset {offset})")]
    MultiCabinet {
        /// What points to another cabinet.
        detail: &'static str,
        /// Where the flag or folder index is.
        offset: u64,
    },
    /// A header field holds an impossible value.
    #[error("corrupt cabinet: {detail} (at offset {offset})")]
    Corrupt {
        /// What is wrong.
        detail: String,
        /// Where.
        offset: u64,
    },
    /// A folder uses a compression method we do not decode.
    #[error("folder {folder} uses unsupported compression {method} (type 0x{raw:04x}, folder entry at offset {offset})")]
    UnsupportedCompression {
        /// Folder index.
        folder: usize,
        /// Raw `typeCompress`.
        raw: u16,
        /// Its name.
        method: &'static str,
        /// Offset of the CFFOLDER entry.
        offset: u64,
    },
    /// A data block's stored checksum does not match its contents.
    #[error("data block {block} of folder {folder} at offset {offset}: checksum 0x{stored:08x} stored, 0x{computed:08x} computed")]
    Checksum {
        /// Folder index.
        folder: usize,
        /// Block index within the folder.
        block: usize,
        /// Offset of the CFDATA header.
        offset: u64,
        /// Stored `csum`.
        stored: u32,
        /// Computed checksum.
        computed: u32,
    },
    /// A data block is malformed or its decoder rejected it.
    #[error("data block {block} of folder {folder} at offset {offset}: {detail}")]
    BadDataBlock {
        /// Folder index.
        folder: usize,
        /// Block index within the folder.
        block: usize,
        /// Offset of the CFDATA header.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// A third-party decoder panicked; the panic was contained.
    #[error("the {codec} decoder panicked on data block {block} of folder {folder} at offset {offset}: {message}")]
    DecoderPanicked {
        /// `"LZX"` or `"MSZIP"`.
        codec: &'static str,
        /// Folder index.
        folder: usize,
        /// Block index within the folder.
        block: usize,
        /// Offset of the CFDATA header.
        offset: u64,
        /// The panic payload, when it was a string.
        message: String,
    },
    /// The folder's data blocks hold fewer bytes than a file needs (a folder
    /// that claims too few data blocks): the file would come out short.
    #[error("file {name:?} needs bytes up to {needed} of folder {folder}, but the folder's {blocks} data blocks hold only {available}")]
    FolderTooShort {
        /// The file that would be cut.
        name: String,
        /// Folder index.
        folder: usize,
        /// End offset of the file in the folder's uncompressed stream.
        needed: u64,
        /// Sum of the blocks' uncompressed sizes.
        available: u64,
        /// `cCFData` of the folder.
        blocks: usize,
    },
    /// An extracted file does not have the size the cabinet declares.
    #[error("file {name:?} came out {got} bytes long, the cabinet declares {declared}")]
    SizeMismatch {
        /// The file.
        name: String,
        /// Declared size.
        declared: u64,
        /// Produced size.
        got: u64,
    },
    /// A file is larger than [`ExtractLimits::max_file_bytes`].
    #[error("file {name:?} declares {size} bytes, over the per-file limit of {limit}")]
    FileTooLarge {
        /// The file.
        name: String,
        /// Declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The output would exceed [`ExtractLimits::max_total_bytes`].
    #[error("{what} would take {size} bytes, over the limit of {limit}")]
    TotalTooLarge {
        /// What would be too large.
        what: String,
        /// Declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The writer was given something a cabinet cannot hold.
    #[error("cannot write cabinet: {0}")]
    Write(String),
}

/// Decodes a CP-1252 (Windows "ANSI", western) byte string.
pub(crate) fn decode_cp1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '\u{20ac}', '\u{81}', '\u{201a}', '\u{192}', '\u{201e}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2c6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8d}', '\u{17d}',
        '\u{8f}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201c}', '\u{201d}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2dc}', '\u{2122}', '\u{161}', '\u{203a}', '\u{153}', '\u{9d}', '\u{17e}',
        '\u{178}',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9f => HIGH
                .get(usize::from(b - 0x80))
                .copied()
                .unwrap_or('\u{fffd}'),
            _ => char::from(b),
        })
        .collect()
}

impl From<le_bytes::OutOfBounds> for CabError {
    fn from(e: le_bytes::OutOfBounds) -> CabError {
        CabError::OutOfBounds {
            what: e.what,
            offset: e.offset,
            needed: e.needed,
            file_len: e.available,
        }
    }
}
