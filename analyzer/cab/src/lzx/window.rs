//! The history window and match copies.

/// Largest window (2^21). The buffer always has this size plus a little
/// slack, so an index masked to `WINDOW_MAX - 1`, and an 8-byte access
/// starting there, need no bounds check. The slack is never history.
pub(super) const WINDOW_MAX: usize = 1 << 21;
pub(super) const WINDOW_BUF: usize = WINDOW_MAX + 8;
pub(super) type Window = [u8; WINDOW_BUF];

/// Writes one byte at window index `at`.
#[inline(always)]
pub(super) fn put(window: &mut Window, at: usize, byte: u8) {
    // Masked below WINDOW_MAX, so inside the buffer: the check compiles away.
    if let Some(slot) = window.get_mut(at & (WINDOW_MAX - 1)) {
        *slot = byte;
    }
}

/// Reads the byte at window index `at`.
#[inline(always)]
pub(super) fn get(window: &Window, at: usize) -> u8 {
    window.get(at & (WINDOW_MAX - 1)).copied().unwrap_or(0)
}

/// Copies a match of `len` bytes from `dist` back to window index `dst`
/// (`dist <= window size`, checked by the caller).
#[inline(always)]
pub(super) fn copy_match(window: &mut Window, dst: usize, dist: usize, len: usize, mask: usize) {
    if dst >= dist && dst + len <= mask + 1 {
        // Neither source nor target wraps.
        let src = dst - dist;
        if dist >= len && len < 8 {
            // Short and disjoint: two overlapping words cover it.
            if len >= 4 {
                let (a, b) = (load::<4>(window, src), load::<4>(window, src + len - 4));
                store(window, dst, a);
                store(window, dst + len - 4, b);
            } else {
                let (a, b) = (load::<2>(window, src), load::<2>(window, src + len - 2));
                store(window, dst, a);
                store(window, dst + len - 2, b);
            }
            return;
        }
        if dist >= 8 {
            // Word by word, front to back: each word read lies at least 8
            // bytes behind the one written, so it is final. The last word
            // may overlap the previous one.
            let mut k = 0;
            while k + 8 <= len {
                let word = load::<8>(window, src + k);
                store(window, dst + k, word);
                k += 8;
            }
            if k < len {
                let word = load::<8>(window, src + len - 8);
                store(window, dst + len - 8, word);
            }
            return;
        }
        if dist == 1 {
            let byte = get(window, src);
            if let Some(run) = window.get_mut(dst..dst + len) {
                run.fill(byte);
                return;
            }
        } else if len > 16 {
            // A short period repeated: copy what is already there in
            // doubling steps, keeping each step a whole number of periods.
            let mut done = 0;
            while done < len {
                let step = (dist + done).min(len - done);
                if !copy_forward(window, src, dst + done, step) {
                    break;
                }
                done += step;
            }
            if done == len {
                return;
            }
        }
    }
    // Wrapping, or a short overlapping match: byte by byte.
    for i in 0..len {
        let byte = get(window, (dst + i).wrapping_sub(dist) & mask);
        put(window, (dst + i) & mask, byte);
    }
}

/// `N` bytes at `at` (masked into the buffer; the slack covers the end).
#[inline(always)]
fn load<const N: usize>(window: &Window, at: usize) -> [u8; N] {
    let at = at & (WINDOW_MAX - 1);
    window
        .get(at..at + N)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

/// Writes `N` bytes at `at` (masked like `load`).
#[inline(always)]
fn store<const N: usize>(window: &mut Window, at: usize, bytes: [u8; N]) {
    let at = at & (WINDOW_MAX - 1);
    if let Some(s) = window.get_mut(at..at + N) {
        s.copy_from_slice(&bytes);
    }
}

/// `window[dst..dst + len] = window[src..src + len]` for `src + len <= dst`;
/// false (nothing copied) if the ranges are out of bounds.
#[inline(always)]
fn copy_forward(window: &mut [u8], src: usize, dst: usize, len: usize) -> bool {
    let Some((head, tail)) = window.split_at_mut_checked(dst) else {
        return false;
    };
    match (head.get(src..src + len), tail.get_mut(..len)) {
        (Some(from), Some(to)) => {
            to.copy_from_slice(from);
            true
        }
        _ => false,
    }
}
