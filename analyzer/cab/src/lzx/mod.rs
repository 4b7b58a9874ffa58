//! Our own LZX decoder for CAB folders (typeCompress 3, windows 2^15..2^21).
//!
//! # Why our own
//!
//! The `lzxd` crate decodes correctly but slowly: it reads bits one 16-bit
//! word at a time through rotates, walks a Huffman table sized to the longest
//! code for every symbol, and pushes the window byte by byte. LZX extraction
//! was 2-3x slower than `cabextract`, almost all of it inside `lzxd`. This
//! decoder keeps a 64-bit bit buffer refilled four words at a time, decodes
//! with an 11-bit primary table plus subtables, copies matches with `memcpy`
//! where source and target do not wrap, and allocates nothing per block.
//!
//! # Format notes that matter here
//!
//! * The bitstream is little-endian 16-bit words read MSB first. A CAB data
//!   block is one "chunk": a fresh bitstream producing at most 32 KiB;
//!   leftover bits at its end are padding.
//! * The first chunk starts with the E8 bit, then (if set) the 32-bit
//!   translation size, high half first.
//! * Blocks (verbatim 1, aligned offset 2, uncompressed 3; 3-bit type and
//!   24-bit size) may span chunks. Main and length tree lengths persist and
//!   are sent as pretree-coded deltas (mod 17) against the previous block's.
//!   A run of the pretree may spill past the range being read into the rest
//!   of the same tree, as in `lzxd`; past the tree's end is an error.
//! * An uncompressed block aligns to 16 bits (1-16 padding bits), holds
//!   R0-R2 as 3 LE u32, then raw bytes; an odd-sized one is followed by a pad
//!   byte, skipped before the next block header.
//! * Matches may not cross the end of the chunk or of the block, nor reach
//!   before the first byte of the stream (valid streams never do; libmspack
//!   refuses such matches, `lzxd` copies zeros or stale window bytes; we
//!   report an error).
//! * An uncompressed block's bytes are taken only as far as the chunk's
//!   output needs (as libmspack does); `lzxd` takes all the chunk's remaining
//!   input and then fails. Trailing input after a chunk's output is ignored.
//! * After an error the decoder refuses further chunks: the bit position in
//!   the stream is lost.
//! * E8 translation is undone on each chunk's output (never in the window):
//!   only while the chunk starts below 2^30 bytes, only in chunks longer than
//!   10 bytes, and only for E8 bytes before the last 10. An operand `a` with
//!   `-pos <= a < size` becomes `a - pos` if `a >= 0`, else `a + size`. This
//!   is the spec's, libmspack's (cabextract) and 7-Zip's rule; `lzxd` 0.2.7
//!   tests `a > 0` instead, so for an operand of exactly 0 it differs from
//!   them, and we follow cabextract.

mod bits;
mod e8;
mod error;
mod huffman;
#[cfg(test)]
mod tests;
mod window;

use bits::BitReader;
use e8::undo_e8;
pub(crate) use error::{LzxError, LzxErrorKind};
pub(crate) use huffman::TreeFault;
use huffman::{Table, MAX_SYMBOLS};
use window::{copy_match, put, Window, WINDOW_BUF};

/// Most output of one chunk.
const CHUNK_MAX: usize = 32 * 1024;
/// Symbols of the length tree.
const LENGTH_SYMBOLS: usize = 249;
/// E8 translation stops for chunks starting at or past this output offset.
const E8_LIMIT: u64 = 1 << 30;

/// Extra offset bits of each position slot (`lzxd`'s table, first 64).
// Indexing in a const initializer is checked when compiling; it cannot panic.
#[allow(clippy::indexing_slicing)]
const FOOTER_BITS: [u8; 64] = {
    let mut t = [17u8; 64];
    let mut slot = 0;
    while slot < 36 {
        t[slot] = if slot < 4 { 0 } else { (slot as u8 - 2) / 2 };
        slot += 1;
    }
    t
};

/// First formatted offset of each position slot.
#[allow(clippy::indexing_slicing)]
const POSITION_BASE: [u32; 64] = {
    let mut t = [0u32; 64];
    let mut slot = 1;
    while slot < 64 {
        t[slot] = t[slot - 1] + (1 << FOOTER_BITS[slot - 1]);
        slot += 1;
    }
    t
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    Verbatim,
    Aligned,
    Uncompressed,
}

/// Decoder state of one LZX stream (a CAB folder), fed one data block
/// (chunk) at a time.
pub(crate) struct LzxDecoder {
    /// History; only the first `window_size` bytes are used.
    window: Box<Window>,
    window_size: usize,
    /// Window index of the next byte.
    pos: usize,
    /// Bytes output so far.
    total: u64,
    main_symbols: usize,
    /// Repeated offsets R0, R1, R2.
    r: [u32; 3],
    header_read: bool,
    /// E8 translation size, if translation is on.
    e8_size: Option<i32>,
    kind: BlockKind,
    /// Bytes left in the current block (0: read a header next).
    remaining: u32,
    /// The last block was uncompressed with an odd size: skip a pad byte.
    pad_byte: bool,
    main_lengths: [u8; MAX_SYMBOLS],
    length_lengths: [u8; LENGTH_SYMBOLS],
    main: Table,
    length: Table,
    length_empty: bool,
    aligned: Table,
    pretree: Table,
    /// Output of the last chunk when it had to be copied out of the window.
    out: Box<[u8; CHUNK_MAX]>,
    broken: bool,
}

impl LzxDecoder {
    /// A decoder for a window of 2^`window_bits` bytes; `window_bits` must
    /// be 15..=21 (what CAB allows).
    pub(crate) fn new(window_bits: u8) -> Result<LzxDecoder, LzxError> {
        let slots = match window_bits {
            15..=19 => 30 + 2 * (usize::from(window_bits) - 15),
            20 => 42,
            21 => 50,
            _ => return Err(LzxError::plain(LzxErrorKind::WindowBits(window_bits))),
        };
        Ok(LzxDecoder {
            // Allocated zeroed (lazily mapped), so a small window costs little.
            window: vec![0u8; WINDOW_BUF]
                .into_boxed_slice()
                .try_into()
                .map_err(|_| LzxError::plain(LzxErrorKind::WindowBits(window_bits)))?,
            window_size: 1 << window_bits,
            pos: 0,
            total: 0,
            main_symbols: 256 + 8 * slots,
            r: [1, 1, 1],
            header_read: false,
            e8_size: None,
            kind: BlockKind::Uncompressed,
            remaining: 0,
            pad_byte: false,
            main_lengths: [0; MAX_SYMBOLS],
            length_lengths: [0; LENGTH_SYMBOLS],
            main: Table::new(),
            length: Table::new(),
            length_empty: true,
            aligned: Table::new(),
            pretree: Table::new(),
            out: Box::new([0; CHUNK_MAX]),
            broken: false,
        })
    }

    /// Decodes the next CAB data block (one chunk), returning exactly
    /// `output_len` (at most 32768) bytes. After an error the decoder stays
    /// failed: the stream cannot be resynchronised.
    pub(crate) fn decompress_next(
        &mut self,
        input: &[u8],
        output_len: usize,
    ) -> Result<&[u8], LzxError> {
        if self.broken {
            return Err(LzxError::plain(LzxErrorKind::Broken));
        }
        if output_len > CHUNK_MAX {
            return Err(LzxError::plain(LzxErrorKind::OutputTooLong(output_len)));
        }
        let start = self.pos;
        let start_total = self.total;
        if let Err(e) = self.decode_chunk(input, output_len) {
            self.broken = true;
            return Err(e);
        }
        Ok(self.output(start, start_total, output_len))
    }

    fn decode_chunk(&mut self, input: &[u8], output_len: usize) -> Result<(), LzxError> {
        let mut bits = BitReader::new(input);
        if !self.header_read {
            self.header_read = true;
            if bits.read(1) == 1 {
                let high = bits.read(16);
                let low = bits.read(16);
                self.e8_size = Some(((high << 16) | low) as i32);
            }
        }
        let mut done = 0;
        while done < output_len {
            if self.remaining == 0 {
                self.read_block_header(&mut bits)?;
            }
            let run = (self.remaining as usize).min(output_len - done);
            match self.kind {
                BlockKind::Verbatim => self.decode_run::<false>(&mut bits, run)?,
                BlockKind::Aligned => self.decode_run::<true>(&mut bits, run)?,
                BlockKind::Uncompressed => self.copy_stored(&mut bits, run)?,
            }
            self.remaining -= run as u32;
            done += run;
        }
        if bits.overrun() {
            return Err(LzxError::exhausted(&bits));
        }
        Ok(())
    }

    fn read_block_header(&mut self, bits: &mut BitReader<'_>) -> Result<(), LzxError> {
        if self.pad_byte {
            self.pad_byte = false;
            bits.seek(bits.byte_pos() + 1);
        }
        bits.refill();
        let kind = bits.bits(3) as u8;
        let size = (bits.bits(16) << 8) | bits.bits(8);
        if size == 0 {
            return Err(LzxError::at(LzxErrorKind::EmptyBlock, bits));
        }
        self.kind = match kind {
            1 | 2 => {
                if kind == 2 {
                    let mut lengths = [0u8; 8];
                    for len in &mut lengths {
                        *len = bits.read(3) as u8;
                    }
                    self.aligned.build(&lengths).map_err(|f| {
                        LzxError::at(LzxErrorKind::BadTree("aligned offset tree", f), bits)
                    })?;
                }
                let main_symbols = self.main_symbols;
                self.read_lengths(bits, Tree::Main, 0, 256)?;
                self.read_lengths(bits, Tree::Main, 256, main_symbols)?;
                let main = self.main_lengths.get(..main_symbols).unwrap_or_default();
                self.main
                    .build(main)
                    .map_err(|f| LzxError::at(LzxErrorKind::BadTree("main tree", f), bits))?;
                self.read_lengths(bits, Tree::Length, 0, LENGTH_SYMBOLS)?;
                self.length_empty = match self.length.build(&self.length_lengths) {
                    Ok(()) => false,
                    Err(TreeFault::Empty) => true,
                    Err(f) => {
                        return Err(LzxError::at(LzxErrorKind::BadTree("length tree", f), bits))
                    }
                };
                if kind == 2 {
                    BlockKind::Aligned
                } else {
                    BlockKind::Verbatim
                }
            }
            3 => {
                let at = bits.align_to_bytes();
                let Some(stored) = bits.data().get(at..at + 12) else {
                    return Err(LzxError::exhausted(bits));
                };
                for (r, le) in self.r.iter_mut().zip(stored.chunks_exact(4)) {
                    *r = u32::from_le_bytes(le.try_into().unwrap_or_default());
                }
                bits.seek(at + 12);
                self.pad_byte = size % 2 == 1;
                BlockKind::Uncompressed
            }
            _ => return Err(LzxError::at(LzxErrorKind::BlockType(kind), bits)),
        };
        if bits.overrun() {
            return Err(LzxError::exhausted(bits));
        }
        self.remaining = size;
        Ok(())
    }

    /// Reads pretree-coded deltas for `lengths[from..to]` of one tree.
    fn read_lengths(
        &mut self,
        bits: &mut BitReader<'_>,
        tree: Tree,
        from: usize,
        to: usize,
    ) -> Result<(), LzxError> {
        let mut pre = [0u8; 20];
        for len in &mut pre {
            *len = bits.read(4) as u8;
        }
        self.pretree
            .build(&pre)
            .map_err(|f| LzxError::at(LzxErrorKind::BadTree("pretree", f), bits))?;
        let (name, lengths) = match tree {
            Tree::Main => ("main tree", self.main_lengths.get_mut(..self.main_symbols)),
            Tree::Length => ("length tree", Some(self.length_lengths.as_mut_slice())),
        };
        let lengths = lengths.unwrap_or_default();
        let delta = |old: u8, code: u16| ((17 + u16::from(old) - code) % 17) as u8;
        let mut i = from;
        while i < to {
            bits.refill();
            let code = self.pretree.decode(bits);
            let (count, value) = match code {
                0..=16 => {
                    let old = lengths.get(i).copied().unwrap_or(0);
                    (1, delta(old, code))
                }
                17 => (bits.bits(4) as usize + 4, 0),
                18 => (bits.bits(5) as usize + 20, 0),
                19 => {
                    let count = bits.bits(1) as usize + 4;
                    let code = self.pretree.decode(bits);
                    if code > 16 {
                        return Err(LzxError::at(LzxErrorKind::BadRunSymbol(code), bits));
                    }
                    let old = lengths.get(i).copied().unwrap_or(0);
                    (count, delta(old, code))
                }
                _ => return Err(LzxError::at(LzxErrorKind::BadRunSymbol(code), bits)),
            };
            let Some(run) = lengths.get_mut(i..i + count) else {
                return Err(LzxError::at(LzxErrorKind::RunPastTree(name), bits));
            };
            run.fill(value);
            i += count;
        }
        Ok(())
    }

    /// Copies `run` bytes of an uncompressed block from the input.
    fn copy_stored(&mut self, bits: &mut BitReader<'_>, run: usize) -> Result<(), LzxError> {
        let at = bits.byte_pos();
        let Some(src) = bits.data().get(at..at + run) else {
            return Err(LzxError::exhausted(bits));
        };
        // Up to the window end, then (if the chunk wraps) from its start.
        let first = run.min(self.window_size - self.pos);
        let (a, b) = src.split_at_checked(first).unwrap_or((src, &[]));
        if let Some(dst) = self.window.get_mut(self.pos..self.pos + a.len()) {
            dst.copy_from_slice(a);
        }
        if let Some(dst) = self.window.get_mut(..b.len()) {
            dst.copy_from_slice(b);
        }
        bits.seek(at + run);
        self.pos = (self.pos + run) & (self.window_size - 1);
        self.total += run as u64;
        Ok(())
    }

    /// Decodes `run` bytes of a verbatim (`ALIGNED == false`) or aligned
    /// offset block: the hot loop.
    fn decode_run<const ALIGNED: bool>(
        &mut self,
        outer_bits: &mut BitReader<'_>,
        run: usize,
    ) -> Result<(), LzxError> {
        // A local copy of the reader stays in registers.
        let mut local_bits = *outer_bits;
        let bits = &mut local_bits;
        let wsize = self.window_size;
        let mask = wsize - 1;
        let start = self.pos;
        let end = start + run;
        // History before this run; with it, distances are checked.
        let history = self.total.min(wsize as u64) as usize;
        let window = &mut *self.window;
        let (main, length, aligned) = (&self.main, &self.length, &self.aligned);
        let mut r = self.r;
        let mut p = start;
        let result = loop {
            if p >= end {
                break Ok(());
            }
            bits.refill();
            let mut sym = usize::from(main.decode(bits));
            if sym < 256 {
                put(window, p & mask, sym as u8);
                p += 1;
                if p >= end {
                    continue;
                }
                // At least 33 bits are left: room for one more symbol
                // before refilling, which pays off on runs of literals.
                sym = usize::from(main.decode(bits));
                if sym < 256 {
                    put(window, p & mask, sym as u8);
                    p += 1;
                    continue;
                }
                bits.refill();
            }
            let header = sym - 256;
            let mut len = (header & 7) + 2;
            if header & 7 == 7 {
                if self.length_empty {
                    break Err(LzxError::at(LzxErrorKind::NoLengthTree, bits));
                }
                len += usize::from(length.decode(bits));
            }
            let slot = header >> 3;
            let distance = match slot {
                0 => r[0],
                1 => {
                    r.swap(0, 1);
                    r[0]
                }
                2 => {
                    r.swap(0, 2);
                    r[0]
                }
                _ => {
                    if bits.available() < 32 {
                        bits.refill();
                    }
                    let extra = u32::from(FOOTER_BITS.get(slot & 63).copied().unwrap_or(0));
                    let base = POSITION_BASE.get(slot & 63).copied().unwrap_or(0);
                    let footer = if ALIGNED && extra >= 3 {
                        (bits.bits(extra - 3) << 3) + u32::from(aligned.decode(bits))
                    } else {
                        bits.bits(extra)
                    };
                    let d = base + footer - 2;
                    r = [d, r[0], r[1]];
                    d
                }
            };
            let room = end - p;
            if len > room {
                break Err(LzxError::at(
                    LzxErrorKind::MatchTooLong { length: len, room },
                    bits,
                ));
            }
            let d = distance as usize;
            let available = (history + (p - start)).min(wsize);
            if d == 0 || d > available {
                let kind = LzxErrorKind::Distance {
                    distance,
                    available: available as u64,
                };
                break Err(LzxError::at(kind, bits));
            }
            copy_match(window, p & mask, d, len, mask);
            p += len;
        };
        self.r = r;
        self.pos = p & mask;
        self.total += (p - start) as u64;
        *outer_bits = local_bits;
        result
    }

    /// The chunk just decoded, E8-translated if needed.
    fn output(&mut self, start: usize, start_total: u64, len: usize) -> &[u8] {
        let e8 = self.e8_size.filter(|_| start_total < E8_LIMIT && len > 10);
        let first = len.min(self.window_size - start);
        if e8.is_none() && first == len {
            // Contiguous in the window: no copy.
            return self.window.get(start..start + len).unwrap_or_default();
        }
        // The chunk wraps around the window end, or must be translated
        // without touching the history: work on a copy.
        let out = self.out.get_mut(..len).unwrap_or_default();
        let pieces = [(start, first), (0, len - first)];
        let mut to = 0;
        for (from, n) in pieces {
            if let (Some(dst), Some(src)) =
                (out.get_mut(to..to + n), self.window.get(from..from + n))
            {
                dst.copy_from_slice(src);
            }
            to += n;
        }
        if let Some(size) = e8 {
            undo_e8(out, start_total as i64, size);
        }
        out
    }
}

#[derive(Clone, Copy)]
enum Tree {
    Main,
    Length,
}
