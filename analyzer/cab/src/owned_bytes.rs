//! Bytes produced in memory: files extracted from a CAB, small dumps read from disk.
//!
//! A dump extracted from a report CAB is analyzed where it lies, so its buffer is written once
//! and never copied. Large buffers come from an anonymous mapping that asks the kernel for
//! transparent huge pages: filling 64 MiB of fresh 4 KiB pages costs 16,384 page faults,
//! which took a third of the time of extracting a large LZX report; with 2 MiB pages it is 32.
//! (glibc's `malloc` does not ask for huge pages unless a tunable is set.)
//!
//! Memory is bounded across the whole process: mapped buffers draw on one [`Budget`] of bytes
//! in flight (every worker of a batch shares it), and a buffer that does not fit, or that is
//! larger than [`FILE_AT_LEAST`], is written to a temporary file (unlinked at once, its blocks
//! allocated up front so a full disk is an error here rather than a SIGBUS later) and mapped:
//! its pages are the page cache's, which the kernel can write back and drop under pressure.

use std::fs::File;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::MmapMut;

/// Buffers at least this large are mapped (with huge pages where the kernel offers them).
/// Below it the heap is cheaper than a system call and there is little to gain.
const MAP_AT_LEAST: usize = 4 << 20;

/// Buffers at least this large always go to a temporary file.
pub const FILE_AT_LEAST: usize = 256 << 20;

/// Default for the bytes of mapped buffers in memory at once, for the whole process.
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// Bytes of mapped buffers the process may hold in memory at once; past it, buffers go to
/// temporary files. Reserving never waits: a buffer that does not fit goes to a file.
#[derive(Debug)]
pub struct Budget {
    limit: AtomicU64,
    used: AtomicU64,
}

impl Budget {
    /// A budget of `limit` bytes.
    pub const fn new(limit: u64) -> Budget {
        Budget {
            limit: AtomicU64::new(limit),
            used: AtomicU64::new(0),
        }
    }

    /// Changes the limit (reservations already made stay).
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    /// Bytes reserved now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `bytes` if they fit under the limit.
    fn try_reserve(&'static self, bytes: u64) -> Option<Reservation> {
        let limit = self.limit.load(Ordering::Relaxed);
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|total| *total <= limit)
            })
            .ok()
            .map(|_| Reservation {
                budget: self,
                bytes,
            })
    }
}

/// The one budget of the process (see the module docs).
pub static MEMORY_BUDGET: Budget = Budget::new(DEFAULT_BUDGET);

/// Bytes held against a [`Budget`] until dropped.
struct Reservation {
    budget: &'static Budget,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

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
        /// `None` when the budget was full and no temporary file could be made either.
        _reserved: Option<Reservation>,
    },
    /// A shared mapping of an unlinked temporary file, of which the first `len` bytes are
    /// written.
    File {
        map: MmapMut,
        len: usize,
        _file: File,
    },
}

/// A temporary file of `capacity` bytes, unlinked, its blocks allocated, mapped.
fn file_backed(capacity: usize) -> std::io::Result<(MmapMut, File)> {
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = std::env::temp_dir().join(format!(
        ".dumpsig-member-{}-{unique}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    // Unlinked at once: nothing is left behind, whatever happens to the process.
    std::fs::remove_file(&path)?;
    allocate(&file, capacity as u64)?;
    // SAFETY: the file was just created by us and is unlinked: no other process can open,
    // shorten or rewrite it while it is mapped, and its blocks are allocated, so writing to
    // the map cannot fault for lack of space.
    #[allow(unsafe_code)]
    let map = unsafe { MmapMut::map_mut(&file)? };
    Ok((map, file))
}

/// Gives the file its length with every block allocated.
#[cfg(target_os = "linux")]
fn allocate(file: &File, len: u64) -> std::io::Result<()> {
    rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn allocate(file: &File, len: u64) -> std::io::Result<()> {
    file.set_len(len)
}

impl OwnedBytes {
    /// An empty buffer with room for `capacity` bytes. Large buffers are anonymous mappings
    /// advised for huge pages; if the mapping fails the heap is used.
    pub fn with_capacity(capacity: usize) -> OwnedBytes {
        if capacity < MAP_AT_LEAST {
            return OwnedBytes {
                storage: Storage::Heap(Vec::with_capacity(capacity)),
            };
        }
        let reserved = if capacity >= FILE_AT_LEAST {
            None
        } else {
            MEMORY_BUDGET.try_reserve(capacity as u64)
        };
        if reserved.is_none() {
            if let Ok((map, file)) = file_backed(capacity) {
                return OwnedBytes {
                    storage: Storage::File {
                        map,
                        len: 0,
                        _file: file,
                    },
                };
            }
        }
        if let Ok(map) = MmapMut::map_anon(capacity) {
            // Advice only: a kernel without transparent huge pages refuses it, and the
            // buffer works the same with small pages.
            #[cfg(target_os = "linux")]
            let _ = map.advise(memmap2::Advice::HugePage);
            return OwnedBytes {
                storage: Storage::Anonymous {
                    map,
                    len: 0,
                    _reserved: reserved,
                },
            };
        }
        OwnedBytes {
            storage: Storage::Heap(Vec::with_capacity(capacity)),
        }
    }

    /// Whether the bytes live in a temporary file rather than in memory.
    pub fn is_file_backed(&self) -> bool {
        matches!(self.storage, Storage::File { .. })
    }

    /// Appends `part`. A mapping that would overflow moves to the heap first (callers reserve
    /// the exact size, so this does not happen on their path).
    pub fn extend_from_slice(&mut self, part: &[u8]) {
        if let Storage::Anonymous { map, len, .. } | Storage::File { map, len, .. } =
            &mut self.storage
        {
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
            Storage::Anonymous { map, len, .. } | Storage::File { map, len, .. } => {
                map.get(..*len).unwrap_or_default()
            }
        }
    }

    /// The bytes as a `Vec` (free for a heap buffer, a copy for a mapping).
    pub fn into_vec(self) -> Vec<u8> {
        match self.storage {
            Storage::Heap(vec) => vec,
            Storage::Anonymous { map, len, .. } | Storage::File { map, len, .. } => {
                map.get(..len).unwrap_or_default().to_vec()
            }
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
            Storage::File { .. } => "temporary file",
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

    /// Tests that look at where a buffer went, or change the process budget, run one at a time.
    static BUDGET_TESTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn small_buffers_use_the_heap_and_large_ones_a_mapping() {
        let _one = BUDGET_TESTS.lock().unwrap_or_else(|e| e.into_inner());
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
        let _one = BUDGET_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = OwnedBytes::with_capacity(MAP_AT_LEAST);
        bytes.extend_from_slice(&vec![7; MAP_AT_LEAST - 1]);
        bytes.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(bytes.storage, Storage::Heap(_)));
        assert_eq!(bytes.len(), MAP_AT_LEAST + 2);
        assert_eq!(bytes.get(MAP_AT_LEAST - 2..), Some(&[7, 1, 2, 3][..]));
    }

    #[test]
    fn budgets_reserve_what_fits_and_release_on_drop() {
        static LOCAL: Budget = Budget::new(10 << 20);
        let a = LOCAL.try_reserve(6 << 20).unwrap();
        assert!(LOCAL.try_reserve(6 << 20).is_none(), "over the limit");
        let b = LOCAL.try_reserve(4 << 20).unwrap();
        assert_eq!(LOCAL.in_use(), 10 << 20);
        drop(a);
        assert_eq!(LOCAL.in_use(), 4 << 20);
        drop(b);
        assert_eq!(LOCAL.in_use(), 0);
    }

    #[test]
    fn buffers_past_the_budget_or_the_file_size_go_to_temporary_files() {
        let _one = BUDGET_TESTS.lock().unwrap_or_else(|e| e.into_inner());
        let huge = OwnedBytes::with_capacity(FILE_AT_LEAST);
        assert!(huge.is_file_backed(), "{huge:?}");
        drop(huge);
        // With no budget left, a mid-sized buffer goes to a file and still works (other
        // tests running meanwhile get files too, which behave the same).
        MEMORY_BUDGET.set_limit(0);
        let want: Vec<u8> = (0..MAP_AT_LEAST + 5).map(|i| (i % 253) as u8).collect();
        let mut got = OwnedBytes::with_capacity(want.len());
        assert!(got.is_file_backed(), "{got:?}");
        for part in want.chunks(40_000) {
            got.extend_from_slice(part);
        }
        MEMORY_BUDGET.set_limit(DEFAULT_BUDGET);
        assert!(got == want);
        assert_eq!(got.clone().into_vec(), want);
    }

    #[test]
    fn from_vec_keeps_the_vec() {
        let bytes = OwnedBytes::from(vec![1, 2, 3]);
        assert_eq!(&*bytes, &[1, 2, 3]);
        assert_eq!(bytes.into_vec(), vec![1, 2, 3]);
    }
}
