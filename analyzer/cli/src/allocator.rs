//! The binary's global allocator: glibc's malloc until a run turns out to be a batch, mimalloc
//! from then on.
//!
//! Why two: a batch allocates each dump's buffer and report on a worker thread and frees them
//! on the filing thread, and glibc's per-thread arenas then return and re-fault pages group
//! after group (twice the page faults of one job, and malloc/free took an eighth of a batch's
//! time); mimalloc keeps them. But mimalloc's first allocation reserves an arena and builds its
//! page map and bitmaps: about 90 page faults and 0.4-0.9 ms, more than the whole analysis of
//! one small dump, which a WER hook or CI step calling dumpsig once per crash pays every time
//! (BENCHMARKS.md, "One file per process"). So a run starts on glibc's allocator and
//! [`use_mimalloc`] switches new allocations over before a batch starts.
//!
//! Every block is freed (and resized) by the allocator that made it: mimalloc's page map says
//! exactly which blocks are its own (`mi_is_in_heap_region` is false for any address outside
//! its pages, and before its first allocation). tests/allocator.rs checks which runs use which
//! allocator, and that a batch's results do not depend on it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};

use mimalloc::MiMalloc;

/// Whether new allocations go to mimalloc.
static MIMALLOC: AtomicBool = AtomicBool::new(false);

/// Sends every allocation from now on to mimalloc. Blocks made before stay with glibc's
/// allocator until freed.
pub fn use_mimalloc() {
    MIMALLOC.store(true, Ordering::Relaxed);
}

/// glibc's allocator, then mimalloc (see the module documentation).
pub struct Allocator;

fn owned_by_mimalloc(ptr: *mut u8) -> bool {
    // Before the switch no block is mimalloc's: a one-file run never asks its page map.
    MIMALLOC.load(Ordering::Relaxed)
        // SAFETY: the function only reads mimalloc's page map (returning false before
        // mimalloc has made one) and never dereferences `ptr`.
        && unsafe { libmimalloc_sys::mi_is_in_heap_region(ptr.cast::<c_void>().cast_const()) }
}

// SAFETY: each method forwards to one of two conforming allocators with the caller's own
// arguments; a block is always freed or resized by the allocator that returned it (decided by
// mimalloc's page map, which holds exactly mimalloc's blocks), so each allocator sees only its
// own blocks.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if MIMALLOC.load(Ordering::Relaxed) {
            // SAFETY: forwarded with the caller's layout.
            unsafe { MiMalloc.alloc(layout) }
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if MIMALLOC.load(Ordering::Relaxed) {
            // SAFETY: forwarded with the caller's layout.
            unsafe { MiMalloc.alloc_zeroed(layout) }
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if owned_by_mimalloc(ptr) {
            // SAFETY: `ptr` is a live block of mimalloc's, allocated with `layout`.
            unsafe { MiMalloc.dealloc(ptr, layout) }
        } else {
            // SAFETY: not mimalloc's, so it came from `System` with `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if owned_by_mimalloc(ptr) {
            // SAFETY: `ptr` is a live block of mimalloc's, allocated with `layout`.
            unsafe { MiMalloc.realloc(ptr, layout, new_size) }
        } else {
            // SAFETY: not mimalloc's, so it came from `System` with `layout`; it stays there.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}
