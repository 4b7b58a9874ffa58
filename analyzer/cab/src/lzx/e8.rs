//! Undoing E8 call translation on a chunk's output.

/// Undoes E8 call translation on one chunk whose first byte is at output
/// offset `chunk_pos` (see the module notes for the rule).
pub(super) fn undo_e8(chunk: &mut [u8], chunk_pos: i64, size: i32) {
    let limit = chunk.len().saturating_sub(10);
    let mut i = 0;
    while i < limit {
        let Some(at) = find_e8(chunk.get(..limit).unwrap_or_default(), i) else {
            break;
        };
        if let Some(operand) = chunk.get_mut(at + 1..at + 5) {
            let abs = i32::from_le_bytes((&*operand).try_into().unwrap_or_default());
            // Below 2^30 + 2^15, so it fits.
            let cur = (chunk_pos + at as i64) as i32;
            if abs >= -cur && abs < size {
                let rel = if abs >= 0 {
                    abs.wrapping_sub(cur)
                } else {
                    abs.wrapping_add(size)
                };
                operand.copy_from_slice(&rel.to_le_bytes());
            }
        }
        i = at + 5;
    }
}

/// Index of the first 0xE8 in `data[from..]`. Tests 32 bytes at a time
/// without an early exit, which vectorizes; E8 bytes are sparse.
fn find_e8(data: &[u8], from: usize) -> Option<usize> {
    let rest = data.get(from..)?;
    let mut blocks = rest.chunks_exact(32);
    let mut base = from;
    for block in &mut blocks {
        if block.iter().fold(false, |hit, &b| hit | (b == 0xE8)) {
            return block.iter().position(|&b| b == 0xE8).map(|k| base + k);
        }
        base += 32;
    }
    let tail = blocks.remainder();
    tail.iter().position(|&b| b == 0xE8).map(|k| base + k)
}
