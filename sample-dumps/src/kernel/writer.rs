//! The kernel generator's own little-endian byte writer, a fixed-seed PRNG, GUIDs and UTF-16
//! helpers. Independent of every other writer in the crate on purpose.

/// A growable byte buffer written at explicit offsets (little-endian).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Buf {
    bytes: Vec<u8>,
}

impl Buf {
    /// An empty buffer.
    pub(crate) fn new() -> Self {
        Self { bytes: Vec::new() }
    }

    /// A buffer of `len` bytes, every 4-byte group set to `pattern` (little-endian).
    pub(crate) fn filled(len: usize, pattern: u32) -> Self {
        let bytes = pattern
            .to_le_bytes()
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect();
        Self { bytes }
    }

    /// A zeroed buffer of `len` bytes.
    pub(crate) fn zeroed(len: usize) -> Self {
        Self {
            bytes: vec![0; len],
        }
    }

    /// Current length.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Writes `data` at `off`, growing the buffer with zeros when needed.
    pub(crate) fn put(&mut self, off: usize, data: &[u8]) {
        let end = off.saturating_add(data.len());
        if self.bytes.len() < end {
            self.bytes.resize(end, 0);
        }
        if let Some(dst) = self.bytes.get_mut(off..end) {
            dst.copy_from_slice(data);
        }
    }

    /// Writes a `u8`.
    pub(crate) fn u8(&mut self, off: usize, v: u8) {
        self.put(off, &[v]);
    }

    /// Writes a `u16`.
    pub(crate) fn u16(&mut self, off: usize, v: u16) {
        self.put(off, &v.to_le_bytes());
    }

    /// Writes a `u32`.
    pub(crate) fn u32(&mut self, off: usize, v: u32) {
        self.put(off, &v.to_le_bytes());
    }

    /// Writes a `u64`.
    pub(crate) fn u64(&mut self, off: usize, v: u64) {
        self.put(off, &v.to_le_bytes());
    }

    /// Writes a pointer of `width` bytes (4 or 8).
    pub(crate) fn ptr(&mut self, off: usize, width: usize, v: u64) {
        if width == 4 {
            self.u32(off, v as u32);
        } else {
            self.u64(off, v);
        }
    }

    /// Appends `data`, returning the offset it was written at.
    pub(crate) fn append(&mut self, data: &[u8]) -> usize {
        let off = self.bytes.len();
        self.bytes.extend_from_slice(data);
        off
    }

    /// Pads with zeros up to a multiple of `align`.
    pub(crate) fn align(&mut self, align: usize) {
        while align > 1 && self.bytes.len() % align != 0 {
            self.bytes.push(0);
        }
    }

    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    /// Consumes the buffer.
    pub(crate) fn into_vec(self) -> Vec<u8> {
        self.bytes
    }
}

/// SplitMix64: a tiny deterministic PRNG (fixed seeds only; no time, no OS randomness).
#[derive(Debug, Clone)]
pub(crate) struct Prng(u64);

impl Prng {
    /// A generator from a seed.
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator whose seed is derived from a string (FNV-1a).
    pub(crate) fn from_str(s: &str) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in s.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Self(h)
    }

    /// Next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Next 32 random bits.
    pub(crate) fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Fills a slice with random bytes.
    pub(crate) fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(v.iter()) {
                *d = *s;
            }
        }
    }

    /// Shuffles a vector in place (Fisher-Yates).
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        let n = v.len();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// A Windows GUID (Data1..Data3 little-endian, Data4 as is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Guid {
    /// Data1.
    pub(crate) d1: u32,
    /// Data2.
    pub(crate) d2: u16,
    /// Data3.
    pub(crate) d3: u16,
    /// Data4.
    pub(crate) d4: [u8; 8],
}

impl Guid {
    /// A GUID from its parts; `d4` is the last 16 hex digits as one big-endian number.
    pub(crate) const fn new(d1: u32, d2: u16, d3: u16, d4: u64) -> Self {
        Self {
            d1,
            d2,
            d3,
            d4: d4.to_be_bytes(),
        }
    }

    /// A deterministic pseudo-random GUID (version 4 bits set).
    pub(crate) fn random(rng: &mut Prng) -> Self {
        let a = rng.next_u64();
        let b = rng.next_u64();
        Self {
            d1: (a >> 32) as u32,
            d2: (a >> 16) as u16,
            d3: ((a as u16) & 0x0fff) | 0x4000,
            d4: ((b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000).to_be_bytes(),
        }
    }

    /// The 16 bytes as stored in files.
    pub(crate) fn to_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (d, s) in out.iter_mut().zip(
            self.d1
                .to_le_bytes()
                .iter()
                .chain(self.d2.to_le_bytes().iter())
                .chain(self.d3.to_le_bytes().iter())
                .chain(self.d4.iter()),
        ) {
            *d = *s;
        }
        out
    }
}

/// UTF-16LE bytes of `s` (no terminator).
pub(crate) fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
}

/// UTF-16LE bytes of `s` followed by a NUL unit.
pub(crate) fn utf16z(s: &str) -> Vec<u8> {
    let mut v = utf16(s);
    v.extend_from_slice(&[0, 0]);
    v
}

/// Rounds `v` up to a multiple of `a` (a power of two).
pub(crate) const fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

/// The 4-byte `PAGE` fill pattern of unset header fields.
pub(crate) const PAGE_PATTERN: u32 = 0x4547_4150;

/// Page size.
pub(crate) const PAGE: u64 = 0x1000;
