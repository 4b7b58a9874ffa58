//! [`Reader`]: reads at absolute offsets whose failures name the field, for formats whose
//! errors must say what was cut short and where (CAB headers, CPER sections).

use crate::{slice, Offset};

/// A field that does not lie inside the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} at offset {offset:#x} needs {needed} bytes, but the data is {available} bytes long"
)]
pub struct OutOfBounds {
    /// The field read.
    pub what: &'static str,
    /// Its offset.
    pub offset: u64,
    /// Its length.
    pub needed: u64,
    /// The length of the data.
    pub available: u64,
}

/// Bounds-checked little-endian reads over one byte slice, failing with [`OutOfBounds`].
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    data: &'a [u8],
}

fn widen(value: impl Offset) -> u64 {
    value
        .to_usize()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(u64::MAX)
}

impl<'a> Reader<'a> {
    /// Reads over `data`.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    /// The whole data.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The data's length.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// `len` bytes at `offset`.
    pub fn slice(
        &self,
        what: &'static str,
        offset: impl Offset,
        len: impl Offset,
    ) -> Result<&'a [u8], OutOfBounds> {
        slice(self.data, offset, len).ok_or(OutOfBounds {
            what,
            offset: widen(offset),
            needed: widen(len),
            available: self.data.len() as u64,
        })
    }

    /// The `N` bytes at `offset`.
    pub fn array<const N: usize>(
        &self,
        what: &'static str,
        offset: impl Offset,
    ) -> Result<[u8; N], OutOfBounds> {
        let bytes = self.slice(what, offset, N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// The byte at `offset`.
    pub fn u8(&self, what: &'static str, offset: impl Offset) -> Result<u8, OutOfBounds> {
        self.array::<1>(what, offset).map(|[b]| b)
    }

    /// The little-endian `u16` at `offset`.
    pub fn u16(&self, what: &'static str, offset: impl Offset) -> Result<u16, OutOfBounds> {
        self.array(what, offset).map(u16::from_le_bytes)
    }

    /// The little-endian `u32` at `offset`.
    pub fn u32(&self, what: &'static str, offset: impl Offset) -> Result<u32, OutOfBounds> {
        self.array(what, offset).map(u32::from_le_bytes)
    }

    /// The little-endian `u64` at `offset`.
    pub fn u64(&self, what: &'static str, offset: impl Offset) -> Result<u64, OutOfBounds> {
        self.array(what, offset).map(u64::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_and_offset() {
        let r = Reader::new(&[1, 0, 2, 0]);
        assert_eq!(r.u16("a", 2usize), Ok(2));
        let e = r.u32("flags", 2usize).unwrap_err();
        assert_eq!(
            e,
            OutOfBounds {
                what: "flags",
                offset: 2,
                needed: 4,
                available: 4
            }
        );
        assert_eq!(
            e.to_string(),
            "flags at offset 0x2 needs 4 bytes, but the data is 4 bytes long"
        );
    }
}
