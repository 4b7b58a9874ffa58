//! x86 kernel stacks of generated dumps: where each return address goes, in EBP blocks or,
//! above a function built without a frame pointer, in a bare slot.

use super::writer::Prng;
use super::GenError;

/// x86: where each return address goes, and whether it is in an EBP block (`[slot - 4]` the
/// saved EBP) or, above a function without a frame pointer, a bare slot.
pub(crate) fn x86_slots(
    x86_fpo: &[(usize, u64)],
    count: usize,
    first_block: u64,
    rng: &mut Prng,
) -> Result<Vec<(u64, bool)>, GenError> {
    let mut slots: Vec<(u64, bool)> = Vec::with_capacity(count);
    let mut block = first_block;
    for i in 0..count {
        let fpo_below = i
            .checked_sub(1)
            .and_then(|k| x86_fpo.iter().find(|(at, _)| *at == k));
        let entry = match (slots.last(), fpo_below) {
            (None, _) => (block + 4, true),
            (Some((below, _)), Some((_, size))) => (below + 4 + size, false),
            (Some((below, was_block)), None) => {
                let gap = if i == 1 {
                    0x40
                } else {
                    0x28 + 4 * rng.below(24)
                };
                // Above a bare slot, the next function's block sits past its outgoing
                // arguments.
                block = if *was_block {
                    block + gap
                } else {
                    below + 4 + gap
                };
                (block + 4, true)
            }
        };
        slots.push(entry);
    }
    if x86_fpo.iter().any(|(k, _)| *k == 0 || k + 1 >= count) {
        return Err(GenError::new(
            "an x86 FPO frame needs a frame below and above it (1 <= k < frames - 1)",
        ));
    }
    Ok(slots)
}
