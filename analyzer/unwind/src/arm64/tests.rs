//! ARM64 walks through a hand-built image whose `.pdata` mixes packed entries (chained and
//! unchained frames) and `.xdata` codes (pre-indexed pairs, `save_next`, an LR pair, a medium
//! allocation, `add_fp`), with decoy return addresses a scan would take; the encodings are
//! written here from the format's description, not with the decoder.

use crate::test_memory::{OneImage, Stack, TestImage};
use crate::{walk_arm64, Arm64Registers, Frame, Trust};

const BASE: u64 = 0xFFFF_F800_0200_0000;
const SIZE: usize = 0x10000;
const USER_RETURN: u64 = 0x7FF6_0000_2000;
const PDATA: usize = 0x1000;
const BL: u32 = 0x9400_0010;

fn put32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Packed unwind data: flag 1, length, RegF, RegI, H, CR, frame size.
fn packed(length: u32, reg_i: u32, cr: u32, frame: u32) -> u32 {
    1 | ((length / 4) << 2) | (reg_i << 16) | (cr << 21) | ((frame / 16) << 23)
}

/// An `.xdata` record: header (no epilog scopes: E set, epilog at code 0) and the codes.
fn xdata(length: u32, codes: &[u8]) -> Vec<u8> {
    let words = codes.len().div_ceil(4) as u32;
    let mut out = ((length / 4) | (1 << 21) | (words << 27))
        .to_le_bytes()
        .to_vec();
    out.extend_from_slice(codes);
    out.resize(4 + 4 * words as usize, 0xE4);
    out
}

/// The image: F0 (`.xdata`) at 0x4000, F1 (packed, chained, RegI 2) at 0x4100, F2 (packed,
/// LR saved with x19..x21) at 0x4200, F3 (`.xdata`) at 0x4300, F4 (`.xdata` machine frame) at
/// 0x4400; a `bl` before every return address used.
fn image() -> OneImage {
    let mut b = vec![0u8; SIZE];
    b[0..2].copy_from_slice(b"MZ");
    put32(&mut b, 0x3C, 0x80);
    b[0x80..0x84].copy_from_slice(b"PE\0\0");
    b[0x84..0x86].copy_from_slice(&0xAA64u16.to_le_bytes());
    let optional = 0x80 + 24;
    b[optional..optional + 2].copy_from_slice(&0x20Bu16.to_le_bytes());
    put32(&mut b, optional + 108, 16);
    put32(&mut b, optional + 112 + 3 * 8, PDATA as u32);
    put32(&mut b, optional + 112 + 3 * 8 + 4, 5 * 8);
    // F0: stp x29,lr,[sp,#-0x30]! ; stp x19,x20,[sp,#0x10] ; mov x29,sp ; sub sp,sp,#0x20
    let f0 = xdata(0x100, &[0x02, 0xE1, 0xC8, 0x02, 0x85, 0xE4]);
    // F3: stp x19,x20,[sp,#-0x40]! ; stp x21,x22,[sp,#16] ; stp x23,lr,[sp,#32] ;
    //     sub sp,sp,#0x1000 ; add x29,sp,#0x10
    let f3 = xdata(
        0x100,
        &[0xE2, 0x02, 0xC1, 0x00, 0xD6, 0x84, 0xE6, 0x28, 0xE4],
    );
    // F4: a machine frame at SP.
    let f4 = xdata(0x100, &[0xE9, 0xE4]);
    let (x0, x3, x4) = (0x1800usize, 0x1900usize, 0x1A00usize);
    b[x0..x0 + f0.len()].copy_from_slice(&f0);
    b[x3..x3 + f3.len()].copy_from_slice(&f3);
    b[x4..x4 + f4.len()].copy_from_slice(&f4);
    let entries = [
        (0x4000, x0 as u32),
        (0x4100, packed(0x100, 2, 3, 0x40)),
        (0x4200, packed(0x100, 3, 1, 0x60)),
        (0x4300, x3 as u32),
        (0x4400, x4 as u32),
    ];
    for (i, (begin, word)) in entries.iter().enumerate() {
        put32(&mut b, PDATA + 8 * i, *begin);
        put32(&mut b, PDATA + 8 * i + 4, *word);
    }
    for call in [0x4120usize, 0x4220, 0x4320, 0x4324, 0x4020] {
        put32(&mut b, call, BL);
    }
    OneImage(TestImage {
        base: BASE,
        bytes: b,
    })
}

/// The stack of F0 <- F1 <- F2 <- F3 <- user mode, with F0's context; returns (context,
/// stack, the return addresses in order).
fn chain() -> (Arm64Registers, Stack, Vec<u64>) {
    let s0 = 0xFFFF_8000_0030_0000u64; // F0's caller SP (F1's x29)
    let s1 = s0 + 0x40; // F1's caller SP
    let s2 = s1 + 0x60; // F2's caller SP
    let s3 = s2 + 0x1040; // F3's caller SP
    let (into_f1, into_f2, into_f3) = (BASE + 0x4124, BASE + 0x4224, BASE + 0x4324);
    let mut m = Stack::default();
    for at in (s0 - 0x50..s3 + 0x40).step_by(8) {
        m.put(at, 0x1111); // filler
    }
    // F0: saved x29 (F1's frame), LR, x19, x20; a decoy among its locals.
    m.put(s0 - 0x30, s0);
    m.put(s0 - 0x28, into_f1);
    m.put(s0 - 0x20, 0xA19);
    m.put(s0 - 0x18, 0xA20);
    m.put(s0 - 0x48, BASE + 0x4328);
    // F1 (chained): x29 and LR at its bottom (= s0), x19 and x20 at the top.
    m.put(s0, s2 + 0x10); // the x29 F1 found: F3's (F2 does not touch x29)
    m.put(s0 + 8, into_f2);
    m.put(s1 - 16, 0xB19);
    m.put(s1 - 8, 0xB20);
    // F2 (CR 1): x19, x20, x21, LR at the top of its 0x60 bytes.
    m.put(s2 - 32, 0xC19);
    m.put(s2 - 24, 0xC20);
    m.put(s2 - 16, 0xC21);
    m.put(s2 - 8, into_f3);
    // F3: x19..x23 and LR in its 0x40-byte save area, 0x1000 bytes of locals below.
    let base = s3 - 0x40;
    for (i, v) in [0xD19, 0xD20, 0xD21, 0xD22, 0xD23, USER_RETURN]
        .iter()
        .enumerate()
    {
        m.put(base + 8 * i as u64, *v);
    }
    m.put(s2 + 0x800, BASE + 0x4024); // a decoy deep in F3's locals
    let mut regs = Arm64Registers {
        pc: BASE + 0x4040,
        sp: s0 - 0x50,
        ..Arm64Registers::default()
    };
    regs.x[29] = s0 - 0x30;
    regs.x[30] = 0xDEAD; // clobbered by a later call: the saved LR counts
    (regs, m, vec![into_f1, into_f2, into_f3, USER_RETURN])
}

fn pcs(frames: &[Frame]) -> Vec<(u64, Trust)> {
    frames.iter().map(|f| (f.pc, f.trust)).collect()
}

#[test]
fn packed_and_xdata_frames_unwind_past_decoys_into_user_mode() {
    let (regs, stack, returns) = chain();
    let frames = walk_arm64(regs, &stack, &image());
    let mut expected = vec![(regs.pc, Trust::Context)];
    expected.extend(returns.iter().map(|r| (*r, Trust::CallFrameInfo)));
    assert_eq!(pcs(&frames), expected);
}

#[test]
fn a_context_inside_a_prolog_undoes_only_what_ran() {
    let (mut regs, stack, returns) = chain();
    // Two instructions ran: the LR pair is stored and x19/x20 too, SP is 0x30 below the
    // caller's, x29 not yet set.
    regs.pc = BASE + 0x4008;
    regs.sp += 0x20;
    regs.x[29] = 0;
    let frames = walk_arm64(regs, &stack, &image());
    assert_eq!(frames.get(1).map(|f| f.pc), returns.first().copied());
    assert_eq!(pcs(&frames).len(), 5, "{frames:#?}");
}

#[test]
fn a_leaf_returns_through_lr() {
    let (mut regs, stack, returns) = chain();
    // A function without a .pdata entry (past F4) that was called by F0 at its call site.
    regs.pc = BASE + 0x5000;
    regs.x[30] = BASE + 0x4024;
    regs.sp = 0xFFFF_8000_0030_0000 - 0x50;
    let frames = walk_arm64(regs, &stack, &image());
    let got = pcs(&frames);
    assert_eq!(got.get(1), Some(&(BASE + 0x4024, Trust::CallFrameInfo)));
    assert_eq!(got.get(2).map(|g| g.0), returns.first().copied());
}

#[test]
fn a_machine_frame_leads_to_the_interrupted_code() {
    let (regs, mut stack, _) = chain();
    let sp = 0xFFFF_8000_0040_0000u64;
    stack.put(sp, regs.sp);
    stack.put(sp + 8, regs.pc);
    let start = Arm64Registers {
        pc: BASE + 0x4410,
        sp,
        ..regs
    };
    let frames = walk_arm64(start, &stack, &image());
    let second = frames.get(1).copied().unwrap();
    assert_eq!((second.pc, second.interrupted), (regs.pc, true));
    assert_eq!(frames.get(2).map(|f| f.pc), Some(BASE + 0x4124));
}

#[test]
fn damaged_unwind_data_never_panics() {
    let (regs, stack, _) = chain();
    let mut img = image();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = 0x1000 + (seed as usize % 0xC00);
        img.0.bytes[at] = (seed >> 32) as u8;
        let _ = walk_arm64(regs, &stack, &img);
    }
}
