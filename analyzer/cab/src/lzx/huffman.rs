//! Canonical Huffman decoding tables for LZX's trees.
//!
//! A table is one array: a primary part indexed by the next `PRIMARY_BITS`
//! bits, then subtables for the codes longer than that. An entry is
//! `value << 8 | flag | bits`: with the flag clear, `value` is the symbol
//! and `bits` its code length; with it set, `value` is where the subtable
//! starts and `bits` how many further bits index it.

use super::bits::BitReader;

/// Bits resolved by the first lookup; covers nearly every code in practice.
pub(super) const PRIMARY_BITS: u32 = 11;
/// Entries of a table: a power of two, so masked indices need no bounds check.
/// The primary part takes 2048; subtables of a complete code over at most
/// 656 symbols take fewer than 3600 more (each of 2^k entries needs at least
/// k + 1 symbols of lengths 12..=16), and the builder checks the bound anyway.
const TABLE_SIZE: usize = 8192;
/// LZX code lengths are at most 16 bits.
const MAX_LEN: usize = 16;
const SUBTABLE: u32 = 0x80;
/// Most symbols of any LZX tree (main tree with 50 position slots).
pub(super) const MAX_SYMBOLS: usize = 656;

/// Why a set of code lengths does not form a usable prefix code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TreeFault {
    /// All lengths are zero.
    Empty,
    /// The codes do not fill the code space (Kraft sum below 1).
    Incomplete,
    /// More codes than the code space holds (Kraft sum above 1).
    Oversubscribed,
}

/// A decoding table built from code lengths.
pub(super) struct Table {
    entries: Box<[u32; TABLE_SIZE]>,
}

impl Table {
    pub(super) fn new() -> Self {
        Self {
            entries: Box::new([0; TABLE_SIZE]),
        }
    }

    /// Rebuilds the table for `lengths` (each 0..=16, at most 656 of them).
    /// Only complete codes are accepted, as lzxd does.
    pub(super) fn build(&mut self, lengths: &[u8]) -> Result<(), TreeFault> {
        let mut count = [0u16; MAX_LEN + 1];
        for &len in lengths {
            let slot = count
                .get_mut(usize::from(len))
                .ok_or(TreeFault::Oversubscribed)?;
            *slot += 1;
        }
        count[0] = 0;
        let mut left: i32 = 1;
        for &c in count.iter().skip(1) {
            left = (left << 1) - i32::from(c);
            if left < 0 {
                return Err(TreeFault::Oversubscribed);
            }
        }
        if left > 0 {
            return Err(if left == 1 << MAX_LEN {
                TreeFault::Empty
            } else {
                TreeFault::Incomplete
            });
        }

        // Symbols sorted by (length, symbol): canonical code order.
        let mut offset = [0usize; MAX_LEN + 1];
        let mut used = 0;
        for (at, &c) in offset.iter_mut().zip(count.iter()).skip(1) {
            *at = used;
            used += usize::from(c);
        }
        let mut sorted = [0u16; MAX_SYMBOLS];
        for (sym, &len) in lengths.iter().enumerate() {
            if len != 0 {
                let at = offset
                    .get_mut(usize::from(len))
                    .ok_or(TreeFault::Oversubscribed)?;
                *sorted.get_mut(*at).ok_or(TreeFault::Oversubscribed)? = sym as u16;
                *at += 1;
            }
        }

        let primary = 1usize << PRIMARY_BITS;
        let mut remaining = count;
        let mut code: u32 = 0; // next code, left-aligned to MAX_LEN bits
        let mut next_free = primary;
        let mut sub_prefix = usize::MAX;
        let (mut sub_start, mut sub_bits) = (0usize, 0u32);
        for &sym in sorted.get(..used).unwrap_or_default() {
            let len = lengths.get(usize::from(sym)).copied().unwrap_or(0) as u32;
            let entry = (u32::from(sym) << 8) | len;
            let lead = (code >> (MAX_LEN as u32 - PRIMARY_BITS)) as usize;
            if len <= PRIMARY_BITS {
                let span = 1usize << (PRIMARY_BITS - len);
                self.fill(lead, span, entry)?;
            } else {
                if lead != sub_prefix {
                    // New subtable: widen it until the codes of this prefix
                    // (which come next, in order) fill it.
                    sub_prefix = lead;
                    sub_bits = len - PRIMARY_BITS;
                    let mut room: i32 = 1 << sub_bits;
                    loop {
                        let at = (PRIMARY_BITS + sub_bits) as usize;
                        room -= i32::from(remaining.get(at).copied().unwrap_or(0));
                        if room <= 0 || at >= MAX_LEN {
                            break;
                        }
                        sub_bits += 1;
                        room <<= 1;
                    }
                    sub_start = next_free;
                    next_free += 1 << sub_bits;
                    if next_free > TABLE_SIZE {
                        return Err(TreeFault::Oversubscribed);
                    }
                    let link = ((sub_start as u32) << 8) | SUBTABLE | sub_bits;
                    self.fill(lead, 1, link)?;
                }
                // Index inside the subtable: the bits after the prefix.
                let shift = MAX_LEN as u32 - PRIMARY_BITS - sub_bits;
                let low = ((code >> shift) as usize) & ((1 << sub_bits) - 1);
                let spare = (PRIMARY_BITS + sub_bits)
                    .checked_sub(len)
                    .ok_or(TreeFault::Oversubscribed)?;
                let span = 1usize << spare;
                self.fill(sub_start + low, span, entry)?;
            }
            if let Some(r) = remaining.get_mut(len as usize) {
                *r = r.saturating_sub(1);
            }
            code += 1 << (MAX_LEN as u32 - len);
        }
        Ok(())
    }

    fn fill(&mut self, start: usize, span: usize, entry: u32) -> Result<(), TreeFault> {
        self.entries
            .get_mut(start..start + span)
            .ok_or(TreeFault::Oversubscribed)?
            .fill(entry);
        Ok(())
    }

    /// Decodes one symbol; needs at least 16 valid bits in `bits`.
    #[inline(always)]
    pub(super) fn decode(&self, bits: &mut BitReader<'_>) -> u16 {
        let mut e = self.entry(bits.peek(PRIMARY_BITS) as usize);
        if e & SUBTABLE != 0 {
            let k = e & 0x3f;
            let low = bits.peek(PRIMARY_BITS + k) as usize & ((1 << k) - 1);
            e = self.entry((e >> 8) as usize + low);
        }
        bits.consume(e & 0x3f);
        (e >> 8) as u16
    }

    #[inline(always)]
    fn entry(&self, index: usize) -> u32 {
        // The mask keeps the index in bounds, so the check compiles away.
        self.entries
            .get(index & (TABLE_SIZE - 1))
            .copied()
            .unwrap_or(0)
    }
}
