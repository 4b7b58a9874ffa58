//! LZX's bit reader: the input is a sequence of little-endian 16-bit words
//! whose bits are consumed most significant first.

/// Bits read MSB-first from a chunk, kept left-aligned in a 64-bit buffer.
///
/// Past the end of the input the reader feeds zero words instead of failing,
/// so the hot loop needs no end check; `overrun` tells afterwards whether any
/// of those made-up bits were consumed. Every loop that reads bits is bounded
/// by something other than the input (output length, tree size), so reading
/// zeros cannot spin forever.
///
/// `Copy` so the hot loop can work on a local copy that lives in registers.
#[derive(Clone, Copy)]
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Byte offset of the next word to load (may pass `data.len()`).
    pos: usize,
    /// Unconsumed bits, left-aligned; the top `n` bits are valid. Bits
    /// below them may hold a prefix of the next word, which the next refill
    /// ORs in again unchanged.
    buf: u64,
    n: u32,
    /// Bit offset where the real input ended (set when the first zero word is
    /// fed), `usize::MAX` while none was.
    end_bit: usize,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            buf: 0,
            n: 0,
            end_bit: usize::MAX,
        }
    }

    /// Tops the buffer up to at least 49 valid bits.
    #[inline(always)]
    pub(super) fn refill(&mut self) {
        if self.n > 48 {
            return;
        }
        let Some(word8) = self
            .data
            .get(self.pos..)
            .and_then(|rest| rest.first_chunk::<8>())
        else {
            // By value, so no pointer to `self` escapes the hot loop.
            *self = self.refill_slow();
            return;
        };
        // Four LE words, first word in the top 16 bits: a big-endian load
        // puts the bytes in stream order, then swap the two bytes of each word.
        let v = u64::from_be_bytes(*word8);
        let v = ((v >> 8) & 0x00ff_00ff_00ff_00ff) | ((v & 0x00ff_00ff_00ff_00ff) << 8);
        self.buf |= v >> self.n;
        let words = (64 - self.n) / 16;
        self.pos += words as usize * 2;
        self.n += words * 16;
    }

    #[cold]
    #[inline(never)]
    fn refill_slow(mut self) -> Self {
        while self.n <= 48 {
            let word = match self.data.get(self.pos..self.pos + 2) {
                Some(&[lo, hi]) => u16::from_le_bytes([lo, hi]),
                _ => {
                    if self.end_bit == usize::MAX {
                        self.end_bit = self.pos * 8;
                    }
                    0
                }
            };
            self.buf |= u64::from(word) << (48 - self.n);
            self.pos += 2;
            self.n += 16;
        }
        self
    }

    /// The next `k` bits (`k <= 32`) without consuming them.
    #[inline(always)]
    pub(super) fn peek(&self, k: u32) -> u32 {
        // checked_shr: `k == 0` would shift by 64.
        self.buf.checked_shr(64 - k).unwrap_or(0) as u32
    }

    /// Drops `k` bits; the caller has made sure `k <= n` by refilling.
    #[inline(always)]
    pub(super) fn consume(&mut self, k: u32) {
        self.buf = self.buf.checked_shl(k).unwrap_or(0);
        self.n = self.n.saturating_sub(k);
    }

    /// Reads `k <= 32` bits; needs `k <= n` (a refill before, as for `consume`).
    #[inline(always)]
    pub(super) fn bits(&mut self, k: u32) -> u32 {
        let v = self.peek(k);
        self.consume(k);
        v
    }

    /// Reads `k <= 16` bits, refilling first.
    pub(super) fn read(&mut self, k: u32) -> u32 {
        self.refill();
        self.bits(k)
    }

    /// Bits that are currently buffered and valid.
    #[inline(always)]
    pub(super) fn available(&self) -> u32 {
        self.n
    }

    /// Offset in bits, from the start of the chunk, of the next unread bit.
    pub(super) fn bit_pos(&self) -> usize {
        (self.pos * 8).saturating_sub(self.n as usize)
    }

    /// Whether bits past the end of the input were consumed.
    pub(super) fn overrun(&self) -> bool {
        self.bit_pos() > self.end_bit
    }

    /// Goes to byte mode for an uncompressed block: skips to the next 16-bit
    /// boundary, a whole word if already on one (the header is followed by
    /// 1 to 16 padding bits), and returns the byte offset reached.
    pub(super) fn align_to_bytes(&mut self) -> usize {
        self.refill();
        let partial = self.n % 16;
        self.consume(if partial == 0 { 16 } else { partial });
        let at = self.pos.saturating_sub(self.n as usize / 8);
        self.seek(at);
        at
    }

    /// Continues reading bits at byte offset `at` (after raw bytes were taken).
    pub(super) fn seek(&mut self, at: usize) {
        self.pos = at;
        self.buf = 0;
        self.n = 0;
    }

    /// Byte offset of the next unread byte; only meaningful in byte mode
    /// (after `align_to_bytes` or `seek`, before any bit is read).
    pub(super) fn byte_pos(&self) -> usize {
        self.pos
    }

    /// The input chunk.
    pub(super) fn data(&self) -> &'a [u8] {
        self.data
    }
}
