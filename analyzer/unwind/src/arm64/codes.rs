//! ARM64 unwind codes (`.xdata`) decoded into operations in unwind order, and the canonical
//! frame that packed unwind data describes.

/// One unwind operation, undoing one prolog instruction (in the order the codes list them:
/// the prolog's last instruction first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `sub sp, sp, #n`: SP += n.
    Alloc(u64),
    /// `str`/`stp x(reg)[, x(reg+1)], [sp, #offset]`, then SP += `post` (the pre-indexed forms).
    SaveInt {
        reg: u8,
        pair: bool,
        offset: u64,
        post: u64,
    },
    /// `stp x(reg), lr, [sp, #offset]`.
    SaveLrPair { reg: u8, offset: u64 },
    /// `stp x29, lr, [sp, #offset]`, then SP += `post`.
    SaveFpLr { offset: u64, post: u64 },
    /// A floating-point save: nothing to restore for the walk but the SP it moved.
    SaveFloat { pair: bool, post: u64 },
    /// `mov x29, sp`: SP = x29.
    SetFp,
    /// `add x29, sp, #n`: SP = x29 - n.
    AddFp(u64),
    /// The next register pair after the save that follows in this list (resolved by
    /// [`resolve_save_next`]).
    SaveNext,
    /// A machine frame at SP (interrupted code): SP at +0, PC at +8.
    MachineFrame,
    /// A CONTEXT record at SP.
    Context,
    /// An instruction with nothing to undo (`nop`, home-parameter stores, `pacibsp`).
    Nop,
    /// The end of the codes.
    End,
    /// A code the walk cannot undo (SVE allocation, trap frames, reserved codes).
    Unsupported,
}

/// Decodes the unwind codes in `bytes` until `end`, `end_c` or their end.
pub(crate) fn decode(bytes: &[u8]) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut at = 0usize;
    let byte = |i: usize| bytes.get(i).copied();
    while let Some(b) = byte(at) {
        let next = |k: usize| u64::from(byte(at + k).unwrap_or(0));
        let b64 = u64::from(b);
        let (op, len) = match b {
            0x00..=0x1F => (Op::Alloc((b64 & 0x1F) * 16), 1),
            0x20..=0x3F => (
                Op::SaveInt {
                    reg: 19,
                    pair: true,
                    offset: 0,
                    post: (b64 & 0x1F) * 8,
                },
                1,
            ),
            0x40..=0x7F => (
                Op::SaveFpLr {
                    offset: (b64 & 0x3F) * 8,
                    post: 0,
                },
                1,
            ),
            0x80..=0xBF => (
                Op::SaveFpLr {
                    offset: 0,
                    post: ((b64 & 0x3F) + 1) * 8,
                },
                1,
            ),
            0xC0..=0xC7 => (Op::Alloc((((b64 & 7) << 8) | next(1)) * 16), 2),
            0xC8..=0xD3 => {
                let word = (b64 << 8) | next(1);
                let x = ((word >> 6) & 0xF) as u8;
                let z = word & 0x3F;
                let op = match b & 0xFC {
                    0xC8 => Op::SaveInt {
                        reg: 19 + x,
                        pair: true,
                        offset: z * 8,
                        post: 0,
                    },
                    0xCC => Op::SaveInt {
                        reg: 19 + x,
                        pair: true,
                        offset: 0,
                        post: (z + 1) * 8,
                    },
                    _ => Op::SaveInt {
                        reg: 19 + x,
                        pair: false,
                        offset: z * 8,
                        post: 0,
                    },
                };
                (op, 2)
            }
            0xD4 | 0xD5 => {
                let word = (b64 << 8) | next(1);
                let x = ((word >> 5) & 0xF) as u8;
                let post = ((word & 0x1F) + 1) * 8;
                (
                    Op::SaveInt {
                        reg: 19 + x,
                        pair: false,
                        offset: 0,
                        post,
                    },
                    2,
                )
            }
            0xD6 | 0xD7 => {
                let word = (b64 << 8) | next(1);
                let x = ((word >> 6) & 0x7) as u8;
                (
                    Op::SaveLrPair {
                        reg: 19 + 2 * x,
                        offset: (word & 0x3F) * 8,
                    },
                    2,
                )
            }
            0xD8 | 0xD9 => (
                Op::SaveFloat {
                    pair: true,
                    post: 0,
                },
                2,
            ),
            0xDA | 0xDB => {
                let z = next(1) & 0x3F;
                (
                    Op::SaveFloat {
                        pair: true,
                        post: (z + 1) * 8,
                    },
                    2,
                )
            }
            0xDC | 0xDD => (
                Op::SaveFloat {
                    pair: false,
                    post: 0,
                },
                2,
            ),
            0xDE => (
                Op::SaveFloat {
                    pair: false,
                    post: ((next(1) & 0x1F) + 1) * 8,
                },
                2,
            ),
            0xDF => (Op::Unsupported, 2), // alloc_z: a multiple of the SVE vector length
            0xE0 => (
                Op::Alloc(((next(1) << 16) | (next(2) << 8) | next(3)) * 16),
                4,
            ),
            0xE1 => (Op::SetFp, 1),
            0xE2 => (Op::AddFp(next(1) * 8), 2),
            0xE3 => (Op::Nop, 1),
            0xE4 | 0xE5 => (Op::End, 1),
            0xE6 => (Op::SaveNext, 1),
            0xE7 => (save_any(next(1), next(2)), 3),
            0xE9 => (Op::MachineFrame, 1),
            0xEA => (Op::Context, 1),
            0xEC => (Op::Nop, 1), // MSFT_OP_CLEAR_UNWOUND_TO_CALL
            0xFC => (Op::Nop, 1), // pac_sign_lr: LR is stripped when it is restored
            _ => (Op::Unsupported, 1),
        };
        ops.push(op);
        if op == Op::End || op == Op::Unsupported {
            break;
        }
        at += len;
    }
    ops
}

/// `save_any_reg`: `0pxrrrrr'ttoooooo`, with `t` 0 for X registers, 1 for D, 2 for Q.
fn save_any(b1: u64, b2: u64) -> Op {
    let pair = b1 & 0x40 != 0;
    let negative = b1 & 0x20 != 0;
    let reg = (b1 & 0x1F) as u8;
    let kind = (b2 >> 6) & 3;
    let o = b2 & 0x3F;
    let scaled = if negative || pair { o * 16 } else { o * 8 };
    let (offset, post) = if negative { (0, scaled) } else { (scaled, 0) };
    match kind {
        0 => Op::SaveInt {
            reg,
            pair,
            offset,
            post,
        },
        1 | 2 => Op::SaveFloat { pair, post },
        _ => Op::Unsupported,
    }
}

/// Gives each `save_next` the registers and offset it stands for: the pair after the save
/// that follows the run of `save_next`s (the prolog stored them in that order).
pub(crate) fn resolve_save_next(ops: &mut [Op]) {
    for i in 0..ops.len() {
        if ops.get(i) != Some(&Op::SaveNext) {
            continue;
        }
        let base = ops
            .iter()
            .enumerate()
            .skip(i + 1)
            .find(|(_, op)| **op != Op::SaveNext);
        let resolved = match base {
            Some((
                j,
                Op::SaveInt {
                    reg,
                    pair: true,
                    offset,
                    ..
                },
            )) => {
                let k = (j - i) as u64;
                // Past x28 the codes are damaged: nothing to restore.
                match u8::try_from(2 * k).ok().and_then(|d| reg.checked_add(d)) {
                    Some(reg) if reg <= 28 => Op::SaveInt {
                        reg,
                        pair: true,
                        offset: offset.saturating_add(16 * k),
                        post: 0,
                    },
                    _ => Op::Unsupported,
                }
            }
            Some((_, Op::SaveFloat { pair: true, .. })) => Op::SaveFloat {
                pair: true,
                post: 0,
            },
            _ => Op::Unsupported,
        };
        if let Some(slot) = ops.get_mut(i) {
            *slot = resolved;
        }
    }
}

/// The fields of packed unwind data (`.pdata` word 1, flag 1 or 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packed {
    /// Function length in bytes.
    pub(crate) length: u64,
    /// Non-volatile FP registers saved: 0, or `reg_f + 1`.
    pub(crate) reg_f: u64,
    /// Non-volatile integer registers saved (x19 on).
    pub(crate) reg_i: u64,
    /// The eight argument registers are homed.
    pub(crate) homed: bool,
    /// 0: LR not saved; 1: LR saved with the integer registers; 2 and 3: chained frame
    /// (`stp x29, lr` at the bottom, x29 pointing there).
    pub(crate) cr: u64,
    /// The whole frame in bytes.
    pub(crate) frame_size: u64,
}

impl Packed {
    /// Decodes the word.
    pub(crate) fn from_word(w: u32) -> Packed {
        let w = u64::from(w);
        Packed {
            length: ((w >> 2) & 0x7FF) * 4,
            reg_f: (w >> 13) & 7,
            reg_i: (w >> 16) & 0xF,
            homed: (w >> 20) & 1 == 1,
            cr: (w >> 21) & 3,
            frame_size: ((w >> 23) & 0x1FF) * 16,
        }
    }

    /// Bytes of the register save area at the top of the frame (integer registers, LR for
    /// CR 1, FP registers, homed arguments), rounded up to 16.
    pub(crate) fn save_size(&self) -> u64 {
        let int = 8 * self.reg_i + if self.cr == 1 { 8 } else { 0 };
        let fp = if self.reg_f > 0 {
            8 * (self.reg_f + 1)
        } else {
            0
        };
        (int + fp + if self.homed { 64 } else { 0 } + 15) & !15
    }
}
