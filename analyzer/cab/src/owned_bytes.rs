//! Bytes produced in memory: files extracted from a CAB, small dumps read from disk.
//!
//! A dump extracted from a report CAB is analyzed where it lies, so its buffer is written once
//! and never copied. Large buffers come from an anonymous mapping that asks the kernel for
//! transparent huge pages: filling 64 MiB of fresh 4 KiB pages costs 16,384 page faults,
//! which took a third of the time of extracting a large LZX report; with 2 MiB pages it is 32.
//! (glibc's `malloc` does not ask for huge pages unless a tunable is set.)

use std::ops::Deref;

use memmap2::MmapMut;

/// Buffers at least this large are mapped (with huge pages where the kernel offers them).
/// Below it the heap is cheaper than a system call and there is little to gain.
const MAP_AT_LEAST: usize = 4 << 20;

/// An owned, growable byte buffer that derefs to `[u8]`.
pub struct OwnedBytes {
    storage: Storage,
}

enum Storage {
    Heap(Vec<u8>),
    /// A private anonymous mapping of fixed size, of which the first `len` bytes are written.
    Anonymous {
        map: MmapMut,
        len: usize,
    },
}

impl OwnedBytes {
    /// An empty buffer with room for `capacity` bytes. Large buffers are anonymous mappings
    /// advised for huge pages; if the mapping fails the heap is used.
    pub fn with_capacity(capacity: usize) -> OwnedBytes {
        if capacity >= MAP_AT_LEAST {
            if let Ok(map) = MmapMut::map_anon(capacity) {
                // Advice only: a kernel without transparent huge pages refuses it, and the
                // buffer works the same with small pages.
                #[cfg(target_os = "linux")]
                let _ = map.advise(memmap2::Advice::HugePage);
                return OwnedBytes {
                    storage: Storage::Anonymous { map, len: 0 },
                };
            }
        }
        OwnedBytes {
            storage: Storage::Heap(Vec::with_capacity(capacity)),
        }
    }

    /// Appends `part`. A mapping that would overflow moves to the heap first (callers reserve
    /// the exact size, so this does not happen on their path).
    pub fn extend_from_slice(&mut self, part: &[u8]) {
        if let Storage::Anonymous { map, len } = &mut self.storage {
            let end = *len + part.len();
            if let Some(target) = map.get_mut(*len..end) {
                target.copy_from_slice(part);
                *len = end;
                return;
            }
            let mut heap = Vec::with_capacity(end);
            heap.extend_from_slice(map.get(..*len).unwrap_or_default());
            self.storage = Storage::Heap(heap);
        }
        if let Storage::Heap(vec) = &mut self.storage {
            vec.extend_from_slice(part);
        }
    }

    /// The bytes as a slice.
    pub fn as_slice(&self) -> &[u8] {
        match &self.storage {
            Storage::Heap(vec) => vec,
            Storage::Anonymous { map, len } => map.get(..*len).unwrap_or_default(),
        }
    }

    /// The bytes as a `Vec` (free for a heap buffer, a copy for a mapping).
    pub fn into_vec(self) -> Vec<u8> {
        match self.storage {
            Storage::Heap(vec) => vec,
            Storage::Anonymous { map, len } => map.get(..len).unwrap_or_default().to_vec(),
        }
    }
}

impl From<Vec<u8>> for OwnedBytes {
    fn from(vec: Vec<u8>) -> OwnedBytes {
        OwnedBytes {
            storage: Storage::Heap(vec),
        }
    }
}

impl Deref for OwnedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Clone for OwnedBytes {
    fn clone(&self) -> OwnedBytes {
        let mut copy = OwnedBytes::with_capacity(self.len());
        copy.extend_from_slice(self);
        copy
    }
}

impl PartialEq for OwnedBytes {
    fn eq(&self, other: &OwnedBytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for OwnedBytes {}

impl PartialEq<[u8]> for OwnedBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<Vec<u8>> for OwnedBytes {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl std::fmt::Debug for OwnedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.storage {
            Storage::Heap(_) => "heap",
            Storage::Anonymous { .. } => "mapped",
        };
        f.debug_struct("OwnedBytes")
            .field("len", &self.len())
            .field("storage", &kind)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_buffers_use_the_heap_and_large_ones_a_mapping() {
        let small = OwnedBytes::with_capacity(100);
        assert!(matches!(small.storage, Storage::Heap(_)));
        let large = OwnedBytes::with_capacity(MAP_AT_LEAST);
        assert!(matches!(large.storage, Storage::Anonymous { .. }));
    }

    #[test]
    fn a_mapping_fills_in_parts_and_compares_by_content() {
        let want: Vec<u8> = (0..MAP_AT_LEAST).map(|i| (i % 251) as u8).collect();
        let mut got = OwnedBytes::with_capacity(want.len());
        for part in want.chunks(32 * 1024 + 7) {
            got.extend_from_slice(part);
        }
        assert_eq!(got.len(), want.len());
        assert!(got == want);
        assert!(got.clone() == want);
        assert_eq!(got.into_vec(), want);
    }

    #[test]
    fn a_mapping_that_overflows_moves_to_the_heap_keeping_its_bytes() {
        let mut bytes = OwnedBytes::with_capacity(MAP_AT_LEAST);
        bytes.extend_from_slice(&vec![7; MAP_AT_LEAST - 1]);
        bytes.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(bytes.storage, Storage::Heap(_)));
        assert_eq!(bytes.len(), MAP_AT_LEAST + 2);
        assert_eq!(bytes.get(MAP_AT_LEAST - 2..), Some(&[7, 1, 2, 3][..]));
    }

    #[test]
    fn from_vec_keeps_the_vec() {
        let bytes = OwnedBytes::from(vec![1, 2, 3]);
        assert_eq!(&*bytes, &[1, 2, 3]);
        assert_eq!(bytes.into_vec(), vec![1, 2, 3]);
    }
}
