//! A mapped file truncated by another process while we read it.
//!
//! Reading a page of a mapping that now lies past the end of its file raises SIGBUS, which
//! kills the process: the whole batch, for one dump someone shortened. No panic guard can
//! catch a signal, so the mapped ranges are registered here and a SIGBUS handler looks the
//! faulting address up: inside one of them, the rest of that mapping is replaced by zero pages
//! (`mmap` with `MAP_FIXED`, a plain system call) and the mapping is marked truncated; the read
//! then goes on, sees zeros, and the analysis of that input is turned into an error once it
//! returns ([`super::DumpSource::truncated`]). A SIGBUS anywhere else goes to the handler that
//! was installed before ours (the standard library's guard-page check), or kills as before.
//!
//! The handler only loads atomics and calls `mmap`, both safe in a signal handler on Linux and
//! the BSDs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

/// Mappings watched at once. A batch holds a few per worker (at most 256 workers); past this,
/// a mapping is simply not watched.
const SLOTS: usize = 2048;

/// `start` while a slot is being filled in.
const CLAIMED: usize = usize::MAX;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    truncated: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)] // each array element is its own slot
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    truncated: AtomicBool::new(false),
};

static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();

/// The handler that was there before ours.
struct Previous(libc::sigaction);

// SAFETY: written once before the handler can run, then only read.
#[allow(unsafe_code)]
unsafe impl Sync for Previous {}
#[allow(unsafe_code)]
unsafe impl Send for Previous {}

static PREVIOUS: OnceLock<Previous> = OnceLock::new();

/// A mapping watched for truncation; unwatched when dropped (before it is unmapped).
#[derive(Debug)]
pub(crate) struct Watch {
    slot: usize,
}

impl Watch {
    /// Whether a read met the end of the file inside this mapping.
    pub(crate) fn truncated(&self) -> bool {
        TABLE
            .get(self.slot)
            .is_some_and(|s| s.truncated.load(Ordering::Acquire))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(slot) = TABLE.get(self.slot) {
            slot.start.store(0, Ordering::Release);
            slot.end.store(0, Ordering::Release);
            slot.truncated.store(false, Ordering::Release);
        }
    }
}

/// Watches the mapping `[start, start + len)`; `None` when every slot is taken.
pub(crate) fn watch(start: *const u8, len: usize) -> Option<Watch> {
    INSTALL.call_once(install);
    let start = start as usize;
    let end = start.checked_add(len)?;
    for (i, slot) in TABLE.iter().enumerate() {
        if slot
            .start
            .compare_exchange(0, CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            slot.truncated.store(false, Ordering::Release);
            slot.end.store(end, Ordering::Release);
            slot.start.store(start, Ordering::Release);
            return Some(Watch { slot: i });
        }
    }
    None
}

#[allow(unsafe_code)]
fn install() {
    // SAFETY: plain libc calls with zero-initialized structures that sigaction fills in.
    unsafe {
        let page = libc::sysconf(libc::_SC_PAGESIZE);
        if let Ok(page) = usize::try_from(page) {
            if page.is_power_of_two() {
                PAGE.store(page, Ordering::Relaxed);
            }
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigbus as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGBUS, &action, &mut old) == 0 {
            let _ = PREVIOUS.set(Previous(old));
        }
    }
}

#[allow(unsafe_code)]
extern "C" fn on_sigbus(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let address = unsafe { (*info).si_addr() } as usize;
    let page = PAGE.load(Ordering::Relaxed);
    for slot in &TABLE {
        let start = slot.start.load(Ordering::Acquire);
        if start == 0 || start == CLAIMED {
            continue;
        }
        let end = slot.end.load(Ordering::Acquire);
        if address < start || address >= end {
            continue;
        }
        let from = address & !(page - 1);
        // SAFETY: [from, end) lies inside a live mapping of ours (it stays registered until
        // the `Watch` is dropped, before the unmap); replacing it with anonymous zero pages
        // changes what reads see, never which memory is valid.
        let mapped = unsafe {
            libc::mmap(
                from as *mut libc::c_void,
                end - from,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            slot.truncated.store(true, Ordering::Release);
            return;
        }
    }
    // Not ours: whoever handled SIGBUS before us, or the default action (death).
    // SAFETY: calling the previous handler as it was registered, or restoring the default.
    unsafe {
        match PREVIOUS.get() {
            Some(Previous(old))
                if old.sa_flags & libc::SA_SIGINFO != 0 && old.sa_sigaction > libc::SIG_IGN =>
            {
                let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(old.sa_sigaction);
                handler(signal, info, context);
            }
            Some(Previous(old))
                if old.sa_flags & libc::SA_SIGINFO == 0 && old.sa_sigaction > libc::SIG_IGN =>
            {
                let handler: extern "C" fn(libc::c_int) = std::mem::transmute(old.sa_sigaction);
                handler(signal);
            }
            _ => {
                libc::signal(libc::SIGBUS, libc::SIG_DFL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::DumpSource;

    #[test]
    fn a_file_truncated_under_its_map_reads_zeros_and_says_so() {
        let path = std::env::temp_dir().join(format!("dumpsig-bus-{}.bin", std::process::id()));
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&vec![0xAB; 4 << 20]).unwrap();
        drop(file);
        let source = DumpSource::open(&path).unwrap();
        assert!(!source.truncated());
        assert_eq!(source.bytes().get(3 << 20), Some(&0xAB));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
        // Past the new end: SIGBUS without the guard; zeros and a mark with it.
        let far = source.bytes().get((3 << 20) + 5).copied();
        assert_eq!(far, Some(0));
        assert!(source.truncated());
        // Before the new end the file's bytes are still there.
        assert_eq!(source.bytes().get(100), Some(&0xAB));
        let _ = std::fs::remove_file(&path);
    }
}
