//! A tiny little-endian byte writer used to lay out dump files by hand.
//!
//! Every structure in the generated dumps is written field by field through
//! this writer, so the byte layout is spelled out explicitly in the code that
//! builds each structure rather than borrowed from a parser's definitions.
//! Positions are returned as `u32` file offsets (RVAs), which is what the
//! Windows dump formats use to point from one structure to another. A writer
//! can start at a non-zero base so that a file body can be laid out before the
//! header and directory that precede it are known, without back-patching.

/// An append-only little-endian buffer with alignment and back-patching.
#[derive(Debug, Default, Clone)]
pub struct ByteWriter {
    base: usize,
    buf: Vec<u8>,
}

/// Error returned when a back-patch would fall outside the written bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchOutOfRange {
    /// Offset that was asked for.
    pub offset: usize,
    /// Number of bytes the patch needed.
    pub len: usize,
}

impl std::fmt::Display for PatchOutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "patch of {} bytes at offset {:#x} is outside the written data",
            self.len, self.offset
        )
    }
}

impl std::error::Error for PatchOutOfRange {}

impl ByteWriter {
    /// Create an empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Create an empty writer whose first byte will live at file offset `base`.
    ///
    /// [`ByteWriter::rva`] and [`ByteWriter::align`] work on absolute file
    /// offsets (`base + len`); [`ByteWriter::patch`] offsets stay relative to
    /// the writer's own buffer.
    pub fn with_base(base: usize) -> Self {
        Self {
            base,
            buf: Vec::new(),
        }
    }

    /// Number of bytes written into this writer (not counting the base).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing has been written yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Absolute file offset the next byte will be written at.
    pub fn position(&self) -> usize {
        self.base + self.buf.len()
    }

    /// [`ByteWriter::position`] as a 32-bit RVA (saturating; dumps here stay tiny).
    pub fn rva(&self) -> u32 {
        u32::try_from(self.position()).unwrap_or(u32::MAX)
    }

    /// Append one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// Append a little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Append a little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Append a little-endian `u64`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Append raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// Append `n` zero bytes.
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        self.buf.resize(self.buf.len() + n, 0);
        self
    }

    /// Pad with zeros until the absolute position is a multiple of `align`
    /// (zero is treated as 1).
    pub fn align(&mut self, align: usize) -> &mut Self {
        let align = align.max(1);
        let rem = self.position() % align;
        if rem != 0 {
            self.zeros(align - rem);
        }
        self
    }

    /// Append `s` as UTF-16LE code units (no terminator).
    pub fn utf16(&mut self, s: &str) -> &mut Self {
        for unit in s.encode_utf16() {
            self.u16(unit);
        }
        self
    }

    /// Overwrite bytes at `offset` with `data`; the range must already exist.
    pub fn patch(&mut self, offset: usize, data: &[u8]) -> Result<(), PatchOutOfRange> {
        let err = PatchOutOfRange {
            offset,
            len: data.len(),
        };
        let end = offset.checked_add(data.len()).ok_or(err)?;
        let dst = self.buf.get_mut(offset..end).ok_or(err)?;
        dst.copy_from_slice(data);
        Ok(())
    }

    /// Overwrite a little-endian `u32` at `offset`.
    pub fn patch_u32(&mut self, offset: usize, v: u32) -> Result<(), PatchOutOfRange> {
        self.patch(offset, &v.to_le_bytes())
    }

    /// Overwrite a little-endian `u64` at `offset`.
    pub fn patch_u64(&mut self, offset: usize, v: u64) -> Result<(), PatchOutOfRange> {
        self.patch(offset, &v.to_le_bytes())
    }

    /// Borrow the bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// Take the finished buffer.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_little_endian() {
        let mut w = ByteWriter::new();
        w.u8(0x01)
            .u16(0x0302)
            .u32(0x0706_0504)
            .u64(0x0f0e_0d0c_0b0a_0908);
        assert_eq!(
            w.as_slice(),
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
        );
        assert_eq!(w.len(), 15);
        assert_eq!(w.rva(), 15);
    }

    #[test]
    fn align_pads_with_zeros_only_when_needed() {
        let mut w = ByteWriter::new();
        assert!(w.is_empty());
        w.align(8);
        assert_eq!(w.len(), 0);
        w.u8(0xff).align(4);
        assert_eq!(w.as_slice(), &[0xff, 0, 0, 0]);
        w.align(4);
        assert_eq!(w.len(), 4);
        w.align(16);
        assert_eq!(w.len(), 16);
        w.align(0);
        assert_eq!(w.len(), 16);
    }

    #[test]
    fn base_offsets_positions_and_alignment() {
        let mut w = ByteWriter::with_base(0x2c);
        assert_eq!(w.rva(), 0x2c);
        w.align(8);
        assert_eq!(w.len(), 4);
        assert_eq!(w.rva(), 0x30);
        w.u32(7).align(16);
        assert_eq!(w.position(), 0x40);
        assert_eq!(w.len(), 0x14);
    }

    #[test]
    fn utf16_writes_code_units_including_surrogates() {
        let mut w = ByteWriter::new();
        w.utf16("A\u{e9}\u{1f600}");
        assert_eq!(
            w.as_slice(),
            &[0x41, 0x00, 0xe9, 0x00, 0x3d, 0xd8, 0x00, 0xde]
        );
    }

    #[test]
    fn patch_overwrites_in_place_and_rejects_out_of_range() {
        let mut w = ByteWriter::new();
        w.zeros(12);
        assert_eq!(w.patch_u32(4, 0xAABB_CCDD), Ok(()));
        assert_eq!(w.as_slice().get(4..8), Some(&[0xDD, 0xCC, 0xBB, 0xAA][..]));
        assert_eq!(w.patch_u64(4, 1), Ok(()));
        assert_eq!(w.as_slice().get(4..12), Some(&[1, 0, 0, 0, 0, 0, 0, 0][..]));
        assert_eq!(
            w.patch_u32(10, 0),
            Err(PatchOutOfRange { offset: 10, len: 4 })
        );
        assert_eq!(
            w.patch(usize::MAX, &[0]),
            Err(PatchOutOfRange {
                offset: usize::MAX,
                len: 1
            })
        );
        assert_eq!(w.len(), 12);
        assert_eq!(w.clone().into_bytes().len(), 12);
    }
}
