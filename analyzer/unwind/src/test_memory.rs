//! Memory and images for the unwinders' tests: a PE image laid out as in memory, and a sparse
//! stack.

use std::collections::HashMap;

use crate::{Image, Images, Memory};

/// A PE image laid out in memory: headers, a `.pdata` table, unwind infos, code.
pub(crate) struct TestImage {
    pub(crate) base: u64,
    pub(crate) bytes: Vec<u8>,
}

impl Image for TestImage {
    fn base(&self) -> u64 {
        self.base
    }
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_rva(&self, rva: u64, buf: &mut [u8]) -> bool {
        let start = rva as usize;
        match self.bytes.get(start..start + buf.len()) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
}

pub(crate) struct OneImage(pub(crate) TestImage);

impl Images for OneImage {
    fn image_at(&self, address: u64) -> Option<&dyn Image> {
        (address >= self.0.base && address < self.0.base + self.0.size()).then_some(&self.0 as _)
    }
}

/// Stack memory: sparse, little-endian u64 slots.
#[derive(Default)]
pub(crate) struct Stack(pub(crate) HashMap<u64, u8>);

impl Stack {
    /// A little-endian u64 at `at`.
    pub(crate) fn put(&mut self, at: u64, value: u64) {
        for (i, b) in value.to_le_bytes().iter().enumerate() {
            self.0.insert(at + i as u64, *b);
        }
    }

    /// A little-endian u32 at `at`.
    pub(crate) fn put32(&mut self, at: u64, value: u32) {
        for (i, b) in value.to_le_bytes().iter().enumerate() {
            self.0.insert(at + i as u64, *b);
        }
    }
}

impl Memory for Stack {
    fn read(&self, address: u64, buf: &mut [u8]) -> bool {
        for (i, b) in buf.iter_mut().enumerate() {
            match self.0.get(&(address + i as u64)) {
                Some(v) => *b = *v,
                None => return false,
            }
        }
        true
    }
}
