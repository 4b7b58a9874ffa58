//! Per-folder block decoders: stored, MSZIP (deflate with history carried
//! across blocks) and LZX. Each third-party decoder call runs under
//! `catch_unwind`, so a panic on hostile data becomes an error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

use super::header::{Compression, DataBlock};
use super::CabError;

/// Deflate's history window.
const HISTORY: usize = 32 * 1024;
/// Largest uncompressed CFDATA block.
const BLOCK_MAX: usize = 32 * 1024;

/// Where a block sits, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockId {
    pub(crate) folder: usize,
    pub(crate) block: usize,
    pub(crate) offset: usize,
}

impl BlockId {
    fn bad(self, detail: String) -> CabError {
        CabError::BadDataBlock {
            folder: self.folder,
            block: self.block,
            offset: self.offset as u64,
            detail,
        }
    }

    fn panicked(self, codec: &'static str, payload: &(dyn std::any::Any + Send)) -> CabError {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        CabError::DecoderPanicked {
            codec,
            folder: self.folder,
            block: self.block,
            offset: self.offset as u64,
            message,
        }
    }
}

/// MSZIP: each block is `CK` + a complete raw deflate stream whose matches
/// may reach up to 32 KiB back into the previous blocks' output. The output
/// goes into a buffer that keeps the last 32 KiB in front of the new block,
/// and the inflater is told the buffer does not wrap, so it can use it as
/// history directly (no dictionary copy through a stored block).
pub(crate) struct MsZip {
    state: Box<DecompressorOxide>,
    /// `[history | current block]`.
    buf: Vec<u8>,
    /// Bytes of `buf` in use (history plus the last block).
    filled: usize,
}

impl MsZip {
    fn new() -> Self {
        Self {
            state: Box::default(),
            // Grown to what the blocks need: a report CAB's one small file needs a few KiB,
            // and zeroing 64 KiB up front was a visible part of a one-CAB run.
            buf: Vec::new(),
            filled: 0,
        }
    }

    fn block(&mut self, id: BlockId, input: &[u8], out_len: usize) -> Result<&[u8], CabError> {
        let Some(deflate) = input.strip_prefix(b"CK") else {
            return Err(id.bad("MSZIP block does not start with \"CK\"".to_owned()));
        };
        if self.filled > HISTORY {
            self.buf.copy_within(self.filled - HISTORY..self.filled, 0);
            self.filled = HISTORY;
        }
        let start = self.filled;
        let end = start + out_len;
        if out_len > BLOCK_MAX {
            return Err(id.bad(format!("uncompressed size {out_len} over {BLOCK_MAX}")));
        }
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.state.init();
        let state = &mut self.state;
        let Some(out) = self.buf.get_mut(..end) else {
            return Err(id.bad(format!("uncompressed size {out_len} over {BLOCK_MAX}")));
        };
        let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
        let run = catch_unwind(AssertUnwindSafe(move || {
            decompress(state, deflate, out, start, flags)
        }));
        let (status, _read, written) = run.map_err(|p| id.panicked("MSZIP", p.as_ref()))?;
        match status {
            TINFLStatus::Done if written == out_len => {}
            TINFLStatus::Done => {
                return Err(id.bad(format!(
                    "MSZIP block inflates to {written} bytes, its header says {out_len}"
                )))
            }
            TINFLStatus::HasMoreOutput => {
                return Err(id.bad(format!(
                    "MSZIP block inflates to more than the {out_len} bytes its header says"
                )))
            }
            other => {
                return Err(id.bad(format!("MSZIP block is not valid deflate data ({other:?})")))
            }
        }
        self.filled = end;
        Ok(self.buf.get(start..end).unwrap_or_default())
    }
}

/// The decoder state of one folder.
pub(crate) enum FolderDecoder {
    Stored,
    MsZip(MsZip),
    Lzx(Box<super::lzx::LzxDecoder>),
}

impl FolderDecoder {
    /// A fresh decoder for a folder, or an error for Quantum and unknown methods.
    pub(crate) fn new(
        compression: Compression,
        raw: u16,
        folder: usize,
        entry_offset: u32,
    ) -> Result<Self, CabError> {
        let unsupported = |method| CabError::UnsupportedCompression {
            folder,
            raw,
            method,
            offset: u64::from(entry_offset),
        };
        Ok(match compression {
            Compression::None => Self::Stored,
            Compression::MsZip => Self::MsZip(MsZip::new()),
            Compression::Lzx { window_bits } => Self::Lzx(Box::new(
                super::lzx::LzxDecoder::new(window_bits)
                    .map_err(|_| unsupported("LZX with a window outside 2^15..2^21"))?,
            )),
            Compression::Quantum => return Err(unsupported("Quantum")),
            Compression::Unknown(_) => return Err(unsupported("unknown")),
        })
    }

    /// Decodes one block, returning exactly `block.uncompressed` bytes.
    pub(crate) fn block<'s>(
        &'s mut self,
        id: BlockId,
        block: &DataBlock<'s>,
    ) -> Result<&'s [u8], CabError> {
        let out_len = block.uncompressed;
        match self {
            Self::Stored => {
                if block.payload.len() != out_len {
                    return Err(id.bad(format!(
                        "stored block holds {} bytes, its header says {out_len}",
                        block.payload.len()
                    )));
                }
                Ok(block.payload)
            }
            Self::MsZip(z) => z.block(id, block.payload, out_len),
            Self::Lzx(lzx) => {
                let lzx: &mut super::lzx::LzxDecoder = lzx;
                let payload = block.payload;
                let run = catch_unwind(AssertUnwindSafe(move || {
                    // Moving the borrow in makes the closure FnOnce, so it may return into it.
                    let lzx = lzx;
                    lzx.decompress_next(payload, out_len)
                }));
                let out = run
                    .map_err(|p| id.panicked("LZX", p.as_ref()))?
                    .map_err(|e| id.bad(format!("LZX data is invalid: {e}")))?;
                if out.len() != out_len {
                    return Err(id.bad(format!(
                        "LZX block decodes to {} bytes, its header says {out_len}",
                        out.len()
                    )));
                }
                Ok(out)
            }
        }
    }
}
