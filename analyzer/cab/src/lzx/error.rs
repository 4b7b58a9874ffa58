//! The decoder's error type: what is wrong, and where in the chunk.

use std::fmt;

use super::bits::BitReader;
use super::huffman::TreeFault;

/// What is wrong with an LZX chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LzxErrorKind {
    /// `new` was given a window outside 2^15..=2^21.
    WindowBits(u8),
    /// More than 32 KiB of output was asked of one chunk.
    OutputTooLong(usize),
    /// The chunk ended before its output was complete.
    InputExhausted,
    /// A block type other than 1, 2, 3.
    BlockType(u8),
    /// A block header with size 0.
    EmptyBlock,
    /// The code lengths of a tree do not form a valid prefix code.
    BadTree(&'static str, TreeFault),
    /// A pretree run goes past the end of the tree it fills.
    RunPastTree(&'static str),
    /// The pretree symbol after code 19 is not a length delta (0..=16).
    BadRunSymbol(u16),
    /// A match length needs the length tree, but this block's is empty.
    NoLengthTree,
    /// A match reaches before the start of the stream (or is 0, or beyond
    /// the window).
    Distance {
        /// The match distance.
        distance: u32,
        /// Bytes of history there were.
        available: u64,
    },
    /// A match runs past the end of the chunk or of the block.
    MatchTooLong {
        /// The match length.
        length: usize,
        /// Bytes left in the chunk and block.
        room: usize,
    },
    /// An earlier chunk failed; the stream cannot be resumed.
    Broken,
}

/// An LZX decoding error and where in the chunk's input it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LzxError {
    /// What is wrong.
    pub(crate) kind: LzxErrorKind,
    /// Bit offset in the chunk's input where it was noticed, if it concerns
    /// the input.
    pub(crate) bit: Option<usize>,
}

impl LzxError {
    pub(super) fn at(kind: LzxErrorKind, bits: &BitReader<'_>) -> Self {
        // Garbage decoded from the zero padding past the end is reported as
        // what it is: the input ran out.
        if bits.overrun() {
            return Self::exhausted(bits);
        }
        Self {
            kind,
            bit: Some(bits.bit_pos()),
        }
    }

    pub(super) fn exhausted(bits: &BitReader<'_>) -> Self {
        Self {
            kind: LzxErrorKind::InputExhausted,
            bit: Some(bits.data().len() / 2 * 16),
        }
    }

    pub(super) fn plain(kind: LzxErrorKind) -> Self {
        Self { kind, bit: None }
    }
}

impl fmt::Display for LzxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::WindowBits(b) => write!(f, "LZX window of 2^{b} bytes is outside 2^15..2^21"),
            Self::OutputTooLong(n) => write!(f, "{n} bytes asked of one chunk (most is 32768)"),
            Self::InputExhausted => write!(f, "compressed data ends before the block is complete"),
            Self::BlockType(t) => write!(f, "invalid block type {t}"),
            Self::EmptyBlock => write!(f, "block of size 0"),
            Self::BadTree(tree, fault) => {
                let what = match fault {
                    TreeFault::Empty => "has no codes",
                    TreeFault::Incomplete => "is incomplete",
                    TreeFault::Oversubscribed => "is oversubscribed",
                };
                write!(f, "{tree} {what}")
            }
            Self::RunPastTree(tree) => {
                write!(f, "pretree run goes past the end of the {tree}")
            }
            Self::BadRunSymbol(s) => write!(f, "pretree symbol {s} after a same-length run code"),
            Self::NoLengthTree => write!(f, "match needs the length tree, which is empty"),
            Self::Distance {
                distance,
                available,
            } => write!(
                f,
                "match distance {distance} reaches beyond the {available} bytes decoded"
            ),
            Self::MatchTooLong { length, room } => write!(
                f,
                "match of {length} bytes runs past the block or chunk end ({room} bytes left)"
            ),
            Self::Broken => write!(f, "an earlier chunk of this folder failed"),
        }
    }
}

impl fmt::Display for LzxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)?;
        if let Some(bit) = self.bit {
            write!(f, " (at bit {bit}, byte {} of the block)", bit / 8)?;
        }
        Ok(())
    }
}

impl std::error::Error for LzxError {}
