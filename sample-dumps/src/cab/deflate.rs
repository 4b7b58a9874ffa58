//! A small deflate encoder for MSZIP test data: greedy LZ77 over a 32 KiB
//! window with fixed-Huffman blocks. Each MSZIP block is a complete deflate
//! stream (its last block has BFINAL set), but matches reach back into the
//! previous blocks' data, so a reader that does not carry the history from
//! block to block fails on these cabinets. Written from RFC 1951 alone, to
//! stay independent of the decoder under test.

/// Base match length of codes 257..=285.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
/// Extra bits of codes 257..=285.
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distance of codes 0..=29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
/// Extra bits of distance codes.
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Deflate's window.
const WINDOW: usize = 32 * 1024;
/// Hash table size (bits).
const HASH_BITS: u32 = 15;
/// Candidates tried per position.
const CHAIN: usize = 24;

/// LSB-first bit writer.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code, which deflate writes most-significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Writes a literal/length symbol with the fixed code.
fn symbol(bits: &mut Bits, sym: u32) {
    match sym {
        0..=143 => bits.code(0x30 + sym, 8),
        144..=255 => bits.code(0x190 + sym - 144, 9),
        256..=279 => bits.code(sym - 256, 7),
        _ => bits.code(0xc0 + sym - 280, 8),
    }
}

/// Index of the last table entry whose base is <= `value`.
fn bucket(bases: &[u16], value: u16) -> usize {
    bases.iter().rposition(|&b| b <= value).unwrap_or(0)
}

fn hash(data: &[u8], i: usize) -> usize {
    match data.get(i..i + 3) {
        Some(&[a, b, c]) => {
            let v = u32::from(a) | u32::from(b) << 8 | u32::from(c) << 16;
            (v.wrapping_mul(0x9e37_79b1) >> (32 - HASH_BITS)) as usize
        }
        _ => 0,
    }
}

/// Compresses `data` as MSZIP blocks of at most 32 KiB each, returning each
/// block's payload (`CK` + deflate) with its uncompressed length.
pub(crate) fn mszip_blocks(data: &[u8]) -> Vec<(Vec<u8>, usize)> {
    let mut head = vec![u32::MAX; 1 << HASH_BITS];
    let mut prev = vec![u32::MAX; data.len()];
    let insert = |head: &mut Vec<u32>, prev: &mut Vec<u32>, i: usize| {
        if i + 3 <= data.len() {
            let h = hash(data, i);
            if let (Some(slot), Some(p)) = (head.get_mut(h), prev.get_mut(i)) {
                *p = *slot;
                *slot = i as u32;
            }
        }
    };
    let mut blocks = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = (start + WINDOW).min(data.len());
        let mut bits = Bits {
            out: b"CK".to_vec(),
            acc: 0,
            n: 0,
        };
        bits.put(1, 1); // BFINAL
        bits.put(1, 2); // fixed Huffman
        let mut i = start;
        while i < end {
            // Longest match within the window that ends inside this block.
            let max_len = (end - i).min(258);
            let (mut best_len, mut best_dist) = (0usize, 0usize);
            if max_len >= 3 {
                let mut cand = head.get(hash(data, i)).copied().unwrap_or(u32::MAX);
                for _ in 0..CHAIN {
                    if cand == u32::MAX {
                        break;
                    }
                    let c = cand as usize;
                    if i - c > WINDOW {
                        break;
                    }
                    let len = data
                        .get(c..)
                        .unwrap_or_default()
                        .iter()
                        .zip(data.get(i..i + max_len).unwrap_or_default())
                        .take_while(|(a, b)| a == b)
                        .count();
                    if len > best_len {
                        best_len = len;
                        best_dist = i - c;
                    }
                    cand = prev.get(c).copied().unwrap_or(u32::MAX);
                }
            }
            if best_len >= 3 {
                let l = bucket(&LEN_BASE, best_len as u16);
                symbol(&mut bits, 257 + l as u32);
                let extra = LEN_EXTRA.get(l).copied().unwrap_or(0);
                let base = LEN_BASE.get(l).copied().unwrap_or(3);
                bits.put(u32::from(best_len as u16 - base), u32::from(extra));
                let d = bucket(&DIST_BASE, best_dist as u16);
                bits.code(d as u32, 5);
                let extra = DIST_EXTRA.get(d).copied().unwrap_or(0);
                let base = DIST_BASE.get(d).copied().unwrap_or(1);
                bits.put(u32::from(best_dist as u16 - base), u32::from(extra));
                for k in i..i + best_len {
                    insert(&mut head, &mut prev, k);
                }
                i += best_len;
            } else {
                symbol(&mut bits, u32::from(data.get(i).copied().unwrap_or(0)));
                insert(&mut head, &mut prev, i);
                i += 1;
            }
        }
        symbol(&mut bits, 256);
        blocks.push((bits.finish(), end - start));
        start = end;
    }
    blocks
}
