//! x86: the EBP chain. Each frame built with `push ebp; mov ebp, esp` keeps the caller's EBP at
//! [EBP] and the return address at [EBP + 4]; where the chain breaks (frame-pointer omission,
//! a damaged stack) the stack is scanned.

use crate::{scan, Frame, Images, Memory, Trust, MAX_FRAMES};

/// Walks an x86 stack from `eip`, `esp` and `ebp`.
pub fn walk_x86(
    eip: u32,
    esp: u32,
    ebp: u32,
    memory: &dyn Memory,
    images: &dyn Images,
) -> Vec<Frame> {
    let mut frames = vec![Frame {
        pc: u64::from(eip),
        sp: u64::from(esp),
        trust: Trust::Context,
        interrupted: false,
    }];
    let mut ebp = u64::from(ebp);
    while frames.len() < MAX_FRAMES {
        let Some(last) = frames.last().copied() else {
            break;
        };
        let chained = (ebp >= last.sp && ebp != 0)
            .then(|| Some((memory.u32_at(ebp)?, memory.u32_at(ebp.checked_add(4)?)?)))
            .flatten();
        match chained {
            Some((next_ebp, ret)) if ret != 0 && images.image_at(u64::from(ret)).is_some() => {
                frames.push(Frame {
                    pc: u64::from(ret),
                    sp: ebp + 8,
                    trust: Trust::FramePointer,
                    interrupted: false,
                });
                // The chain must climb the stack; otherwise it ends here.
                ebp = if u64::from(next_ebp) > ebp {
                    u64::from(next_ebp)
                } else {
                    0
                };
            }
            _ => match scan::find_return(memory, images, last.sp, 4) {
                Some((pc, slot)) => {
                    frames.push(Frame {
                        pc,
                        sp: slot + 4,
                        trust: Trust::Scan,
                        interrupted: false,
                    });
                    // A frame found by scanning has no known EBP: try the chain from the slot
                    // below, where `push ebp` would have left the caller's.
                    ebp = memory.u32_at(slot.wrapping_sub(4)).map_or(0, u64::from);
                    if ebp <= slot {
                        ebp = 0;
                    }
                }
                None => break,
            },
        }
    }
    frames
}
