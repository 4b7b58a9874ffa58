//! Unwinding through hand-built images whose stacks a scan would get wrong: decoy return
//! addresses in every frame, prologs using every `UWOP_*` code, chained entries, a machine
//! frame, a leaf, a prolog and an epilog in progress.

use super::*;
use crate::test_memory::{OneImage, Stack, TestImage};

const BASE: u64 = 0xFFFF_F800_0100_0000;
const SIZE: u64 = 0x10000;
const STACK: u64 = 0xFFFF_8000_0020_0000;
const USER_RETURN: u64 = 0x7FF6_0000_1000;

/// One unwind code: (prolog offset, op, info, extra slots).
type Code = (u8, u8, u8, Vec<u16>);

struct Builder {
    bytes: Vec<u8>,
    functions: Vec<(u32, u32, u32)>,
    next_unwind: usize,
}

impl Builder {
    fn new() -> Builder {
        let mut bytes = vec![0u8; SIZE as usize];
        bytes[0..2].copy_from_slice(b"MZ");
        bytes[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        bytes[0x80..0x84].copy_from_slice(b"PE\0\0");
        bytes[0x84..0x86].copy_from_slice(&0x8664u16.to_le_bytes());
        let optional = 0x80 + 24;
        bytes[optional..optional + 2].copy_from_slice(&0x20Bu16.to_le_bytes());
        bytes[optional + 108..optional + 112].copy_from_slice(&16u32.to_le_bytes());
        Builder {
            bytes,
            functions: Vec::new(),
            next_unwind: 0x2000,
        }
    }

    fn code(&mut self, rva: usize, code: &[u8]) {
        self.bytes[rva..rva + code.len()].copy_from_slice(code);
    }

    /// Writes an UNWIND_INFO; returns its RVA.
    fn unwind(
        &mut self,
        version: u8,
        prolog: u8,
        frame: (u8, u8),
        codes: &[Code],
        chain: Option<(u32, u32, u32)>,
    ) -> u32 {
        let rva = self.next_unwind;
        let mut slots: Vec<u16> = Vec::new();
        for (offset, op, info, extra) in codes {
            slots.push(u16::from(*offset) | (u16::from(op | (info << 4)) << 8));
            slots.extend(extra);
        }
        let flags = if chain.is_some() { 0x4 } else { 0 };
        let mut out = vec![
            version | (flags << 3),
            prolog,
            slots.len() as u8,
            frame.0 | (frame.1 << 4),
        ];
        for s in &slots {
            out.extend(s.to_le_bytes());
        }
        if slots.len() % 2 == 1 {
            out.extend([0, 0]);
        }
        if let Some((b, e, u)) = chain {
            for v in [b, e, u] {
                out.extend(v.to_le_bytes());
            }
        }
        self.bytes[rva..rva + out.len()].copy_from_slice(&out);
        self.next_unwind = (rva + out.len() + 3) & !3;
        rva as u32
    }

    fn function(&mut self, begin: u32, end: u32, unwind: u32) {
        self.functions.push((begin, end, unwind));
    }

    fn build(mut self) -> TestImage {
        self.functions.sort();
        let pdata = 0x1000;
        for (i, (b, e, u)) in self.functions.iter().enumerate() {
            let at = pdata + i * 12;
            for (j, v) in [b, e, u].iter().enumerate() {
                self.bytes[at + j * 4..at + j * 4 + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
        let dir = 0x80 + 24 + 112 + 3 * 8;
        self.bytes[dir..dir + 4].copy_from_slice(&(pdata as u32).to_le_bytes());
        let size = (self.functions.len() * 12) as u32;
        self.bytes[dir + 4..dir + 8].copy_from_slice(&size.to_le_bytes());
        TestImage {
            base: BASE,
            bytes: self.bytes,
        }
    }
}

const PUSH: u8 = 0;
const ALLOC_LARGE: u8 = 1;
const ALLOC_SMALL: u8 = 2;
const SET_FPREG: u8 = 3;
const SAVE: u8 = 4;
const SAVE_FAR: u8 = 5;
const EPILOG: u8 = 6;
const SAVE_XMM: u8 = 8;
const SAVE_XMM_FAR: u8 = 9;
const MACHFRAME: u8 = 10;
const RBX: u8 = 3;
const RBP: u8 = 5;
const RSI: u8 = 6;
const R12: u8 = 12;

/// Registers with only RIP and RSP known.
fn regs_at(rip: u64, rsp: u64) -> X64Registers {
    let mut gpr = [0u64; 16];
    gpr[4] = rsp;
    X64Registers { gpr, rip }
}

/// `call` at `at` whose return address is `at + 5`.
fn call_site(b: &mut Builder, at: usize) -> u64 {
    b.code(at, &[0xE8, 0, 0, 0, 0]);
    BASE + at as u64 + 5
}

/// Three functions: `outer` (no prolog) calls `caller` (push rbp; sub rsp, 0x20) which calls
/// `callee` (push rbx; push rbp; sub rsp, 0x28). The crash is in `callee`'s body. Every frame
/// holds a decoy: a real return address of another call site, which a scan would take.
fn three_frames() -> (TestImage, Stack, X64Registers, [u64; 3]) {
    let mut b = Builder::new();
    let r0 = call_site(&mut b, 0x4210); // outer -> caller
    let r1 = call_site(&mut b, 0x4010); // caller -> callee
    let decoy = call_site(&mut b, 0x4300);
    let outer = b.unwind(1, 0, (0, 0), &[], None);
    b.function(0x4200, 0x4280, outer);
    let caller = b.unwind(
        1,
        5,
        (0, 0),
        &[(5, ALLOC_SMALL, 3, vec![]), (1, PUSH, RBP, vec![])],
        None,
    );
    b.function(0x4000, 0x4100, caller);
    let callee = b.unwind(
        1,
        7,
        (0, 0),
        &[
            (7, ALLOC_SMALL, 4, vec![]),
            (3, PUSH, RBP, vec![]),
            (2, PUSH, RBX, vec![]),
        ],
        None,
    );
    b.function(0x4100, 0x4180, callee);
    b.function(0x4300, 0x4310, outer);
    let image = b.build();

    let mut stack = Stack::default();
    let s = STACK;
    stack.put(s, 0);
    stack.put(s + 0x8, decoy); // callee's locals
    stack.put(s + 0x10, r0);
    stack.put(s + 0x28, 0x5555); // saved rbp
    stack.put(s + 0x30, 0x3333); // saved rbx
    stack.put(s + 0x38, r1);
    stack.put(s + 0x40, decoy); // caller's locals
    stack.put(s + 0x48, 0);
    stack.put(s + 0x50, 0);
    stack.put(s + 0x58, 0);
    stack.put(s + 0x60, 0x6666); // caller's saved rbp
    stack.put(s + 0x68, r0);
    stack.put(s + 0x70, USER_RETURN);
    let regs = regs_at(BASE + 0x4150, s);
    (image, stack, regs, [r1, r0, USER_RETURN])
}

#[test]
fn unwind_data_walks_past_decoys_a_scan_would_take() {
    let (image, stack, regs, returns) = three_frames();
    let frames = walk_x64(regs, &stack, &OneImage(image));
    let got: Vec<(u64, Trust)> = frames.iter().map(|f| (f.pc, f.trust)).collect();
    assert_eq!(
        got,
        vec![
            (BASE + 0x4150, Trust::Context),
            (returns[0], Trust::CallFrameInfo),
            (returns[1], Trust::CallFrameInfo),
            (returns[2], Trust::CallFrameInfo),
        ]
    );
    assert_eq!(frames[1].sp, STACK + 0x40);
    assert_eq!(frames[3].sp, STACK + 0x78);
}

#[test]
fn registers_are_restored_frame_by_frame() {
    let (image, stack, mut regs, _) = three_frames();
    regs.gpr[3] = 0xAAAA;
    x64::unwind_frame(&mut regs, &stack, &image, true).unwrap();
    assert_eq!((regs.gpr[3], regs.gpr[5]), (0x3333, 0x5555));
    x64::unwind_frame(&mut regs, &stack, &image, false).unwrap();
    assert_eq!(regs.gpr[5], 0x6666);
}

#[test]
fn a_scan_without_unwind_data_takes_the_decoy() {
    // The control: the same stack scanned from the crash takes the decoy first, which is why
    // a scanned frame must never name the culprit ahead of an unwound one.
    let (image, stack, regs, _) = three_frames();
    let images = OneImage(image);
    let (pc, _) = scan::find_return(&stack, &images, regs.rsp(), 8).unwrap();
    assert_ne!(pc, BASE + 0x4015);
}

#[test]
fn a_prolog_in_progress_undoes_only_what_ran() {
    let (image, stack, mut regs, _) = three_frames();
    // Stopped after `push rbx` (offset 2) but before `push rbp` (offset 3): only rbx is on
    // the stack, right below the return address.
    regs.rip = BASE + 0x4102;
    regs.gpr[4] = STACK + 0x30;
    x64::unwind_frame(&mut regs, &stack, &image, true).unwrap();
    assert_eq!(regs.gpr[3], 0x3333);
    assert_eq!(regs.rip, BASE + 0x4015);
    assert_eq!(regs.rsp(), STACK + 0x40);
}

#[test]
fn an_epilog_in_progress_is_emulated() {
    let (mut image, stack, mut regs, _) = three_frames();
    // add rsp, 0x28; pop rbp; pop rbx; ret
    let epilog = [0x48, 0x83, 0xC4, 0x28, 0x5D, 0x5B, 0xC3];
    image.bytes[0x4170..0x4177].copy_from_slice(&epilog);
    regs.rip = BASE + 0x4170;
    x64::unwind_frame(&mut regs, &stack, &image, true).unwrap();
    assert_eq!((regs.gpr[5], regs.gpr[3]), (0x5555, 0x3333));
    assert_eq!((regs.rip, regs.rsp()), (BASE + 0x4015, STACK + 0x40));
    // Stopped at the second pop: rsp points at the saved rbx.
    let (image2, stack2, mut regs2, _) = three_frames();
    let mut image2 = image2;
    image2.bytes[0x4170..0x4177].copy_from_slice(&epilog);
    regs2.rip = BASE + 0x4175;
    regs2.gpr[4] = STACK + 0x30;
    x64::unwind_frame(&mut regs2, &stack2, &image2, true).unwrap();
    assert_eq!((regs2.gpr[3], regs2.rip), (0x3333, BASE + 0x4015));
}

#[test]
fn every_code_large_allocations_frame_pointer_and_saves() {
    let mut b = Builder::new();
    let ret = call_site(&mut b, 0x4010);
    // Prolog, in execution order:
    //   push rbp                       (1)  PUSH_NONVOL rbp
    //   sub rsp, 0x1000 (large, /8)    (8)  ALLOC_LARGE info 0: 0x200 slots
    //   sub rsp, 0x20000 (large, u32)  (15) ALLOC_LARGE info 1
    //   lea rbp, [rsp+0x20]            (20) SET_FPREG rbp, offset 2 (x16 = 0x20)
    //   mov [rsp+0x40], rsi            (25) SAVE_NONVOL rsi, slot 8 (x8 = 0x40)
    //   mov [rsp+0x12340], r12         (33) SAVE_NONVOL_FAR r12, 0x12340
    //   movaps [rsp+0x60], xmm6        (38) SAVE_XMM128 slot 6 (x16)
    //   movaps [rsp+0x20000], xmm7     (45) SAVE_XMM128_FAR
    let codes: Vec<Code> = vec![
        (45, SAVE_XMM_FAR, 7, vec![0x0000, 0x0002]),
        (38, SAVE_XMM, 6, vec![6]),
        (33, SAVE_FAR, R12, vec![0x2340, 0x0001]),
        (25, SAVE, RSI, vec![8]),
        (20, SET_FPREG, 0, vec![]),
        (15, ALLOC_LARGE, 1, vec![0x0000, 0x0002]),
        (8, ALLOC_LARGE, 0, vec![0x200]),
        (1, PUSH, RBP, vec![]),
    ];
    let info = b.unwind(1, 45, (RBP, 2), &codes, None);
    b.function(0x5000, 0x5100, info);
    let outer = b.unwind(1, 0, (0, 0), &[], None);
    b.function(0x4000, 0x4100, outer);
    let image = b.build();
    let low = STACK; // rsp after the prolog
    let fixed = 0x1000 + 0x20000; // allocations
    let mut stack = Stack::default();
    stack.put(low + 0x40, 0x6666); // rsi
    stack.put(low + 0x12340, 0x1212); // r12
    stack.put(low + fixed, 0x5555); // rbp pushed first
    stack.put(low + fixed + 8, ret);
    stack.put(low + fixed + 16, USER_RETURN);
    // In the body rsp moved (an alloca): rbp still says where the frame is.
    let mut regs = regs_at(BASE + 0x5080, low - 0x100);
    regs.gpr[5] = low + 0x20;
    x64::unwind_frame(&mut regs, &stack, &image, true).unwrap();
    assert_eq!(
        (regs.gpr[6], regs.gpr[12], regs.gpr[5]),
        (0x6666, 0x1212, 0x5555)
    );
    assert_eq!((regs.rip, regs.rsp()), (ret, low + fixed + 16));
}

#[test]
fn chained_entries_finish_the_prolog() {
    let mut b = Builder::new();
    let ret = call_site(&mut b, 0x4010);
    // The primary part pushes rbx; the function's cold part (another range) chains to it and
    // adds its own allocation.
    let primary = b.unwind(1, 1, (0, 0), &[(1, PUSH, RBX, vec![])], None);
    b.function(0x6000, 0x6040, primary);
    let cold = b.unwind(
        1,
        4,
        (0, 0),
        &[(4, ALLOC_SMALL, 1, vec![])],
        Some((0x6000, 0x6040, primary)),
    );
    b.function(0x6800, 0x6840, cold);
    let outer = b.unwind(1, 0, (0, 0), &[], None);
    b.function(0x4000, 0x4100, outer);
    let image = b.build();
    let mut stack = Stack::default();
    stack.put(STACK + 0x10, 0x3333);
    stack.put(STACK + 0x18, ret);
    stack.put(STACK + 0x20, USER_RETURN);
    let mut regs = regs_at(BASE + 0x6820, STACK); // in the cold part, past its prolog
    x64::unwind_frame(&mut regs, &stack, &image, true).unwrap();
    assert_eq!(
        (regs.gpr[3], regs.rip, regs.rsp()),
        (0x3333, ret, STACK + 0x20)
    );
}

#[test]
fn a_machine_frame_leads_back_into_the_interrupted_code() {
    let mut b = Builder::new();
    let interrupted = BASE + 0x4040; // somewhere in a function's body, not after a call
                                     // A trap handler: the processor pushed SS, RSP, EFLAGS, CS, RIP and an error code; the
                                     // handler then did sub rsp, 0x18.
    let trap = b.unwind(
        1,
        4,
        (0, 0),
        &[(4, ALLOC_SMALL, 2, vec![]), (0, MACHFRAME, 1, vec![])],
        None,
    );
    b.function(0x7000, 0x7100, trap);
    let victim = b.unwind(1, 0, (0, 0), &[], None);
    b.function(0x4000, 0x4100, victim);
    let image = b.build();
    let mut stack = Stack::default();
    let s = STACK;
    let error_code = s + 0x18;
    stack.put(error_code, 0xE);
    stack.put(error_code + 8, interrupted); // RIP
    stack.put(error_code + 16, 0x10); // CS
    stack.put(error_code + 24, 0x246); // EFLAGS
    let other_stack = STACK + 0x1000;
    stack.put(error_code + 32, other_stack); // RSP
    stack.put(other_stack, USER_RETURN); // the victim is a leaf-like body: return at rsp
    let regs = regs_at(BASE + 0x7050, s);
    let frames = walk_x64(regs, &stack, &OneImage(image));
    assert_eq!(frames[1].pc, interrupted);
    assert_eq!(frames[1].sp, other_stack);
    assert_eq!(frames[1].trust, Trust::CallFrameInfo);
    assert_eq!(frames[2].pc, USER_RETURN);
}

#[test]
fn a_leaf_returns_from_the_stack_pointer_and_v2_epilog_codes_are_skipped() {
    let mut b = Builder::new();
    let ret = call_site(&mut b, 0x4010);
    let outer = b.unwind(1, 0, (0, 0), &[], None);
    b.function(0x4000, 0x4100, outer);
    // Version 2 with an epilog description code and a push.
    let v2 = b.unwind(
        2,
        1,
        (0, 0),
        &[(1, EPILOG, 1, vec![0]), (1, PUSH, RBX, vec![])],
        None,
    );
    b.function(0x8000, 0x8040, v2);
    let image = b.build();
    let mut stack = Stack::default();
    stack.put(STACK, ret);
    stack.put(STACK + 8, USER_RETURN);
    let mut regs = regs_at(BASE + 0x9000, STACK); // no entry: a leaf
    x64::unwind_frame(&mut regs, &stack, &image, true).unwrap();
    assert_eq!((regs.rip, regs.rsp()), (ret, STACK + 8));

    let mut stack = Stack::default();
    stack.put(STACK, 0x3333);
    stack.put(STACK + 8, ret);
    let mut regs = regs_at(BASE + 0x8020, STACK);
    x64::unwind_frame(&mut regs, &stack, &image, true).unwrap();
    assert_eq!((regs.gpr[3], regs.rip), (0x3333, ret));
}

#[test]
fn outside_every_image_the_scan_takes_over_and_says_so() {
    let (image, stack, mut regs, returns) = three_frames();
    regs.rip = 0xFFFF_F900_0000_0000; // no image here
    regs.gpr[4] = STACK + 0x38; // at the callee's return address
    let frames = walk_x64(regs, &stack, &OneImage(image));
    assert_eq!(frames[1].pc, returns[0]);
    assert_eq!(frames[1].trust, Trust::Scan);
    // From there the unwind data takes over again.
    assert_eq!(frames[2].pc, returns[1]);
    assert_eq!(frames[2].trust, Trust::CallFrameInfo);
}

#[test]
fn damaged_unwind_data_is_an_end_not_a_panic() {
    let (mut image, stack, regs, _) = three_frames();
    // Unknown version, absurd counts, a chain pointing at itself: each ends the unwind cleanly.
    for patch in [[0x07u8, 0, 0, 0], [0x21, 0xFF, 0xFF, 0xFF], [0x21, 0, 0, 0]] {
        // The callee's UNWIND_INFO, the third written: after outer's 4 bytes and caller's 8.
        let info = 0x200Cusize;
        image.bytes[info..info + 4].copy_from_slice(&patch);
        let frames = walk_x64(
            regs,
            &stack,
            &OneImage(TestImage {
                base: image.base,
                bytes: image.bytes.clone(),
            }),
        );
        assert!(!frames.is_empty() && frames.len() <= MAX_FRAMES);
    }
    // A chain that points to itself ends after a bounded number of steps.
    let mut b = Builder::new();
    let looped = b.unwind(1, 0, (0, 0), &[], Some((0x6000, 0x6040, 0x2000)));
    assert_eq!(looped, 0x2000);
    b.function(0x6000, 0x6040, looped);
    let image = b.build();
    let mut regs = regs_at(BASE + 0x6010, STACK);
    assert!(x64::unwind_frame(&mut regs, &stack, &image, true).is_none());
}

#[test]
fn x86_follows_the_ebp_chain() {
    let mut image = Builder::new().build();
    image.base = 0x8040_0000;
    for at in [0x4010usize, 0x4210] {
        image.bytes[at..at + 5].copy_from_slice(&[0xE8, 0, 0, 0, 0]);
    }
    let (r1, r0) = (0x8040_4015u32, 0x8040_4215u32);
    let mut stack = Stack::default();
    let s = 0x9000_0000u64;
    stack.put32(s + 0x10, 0x9000_0040); // frame 0's saved EBP
    stack.put32(s + 0x14, r1);
    stack.put32(s + 0x40, 0); // end of the chain
    stack.put32(s + 0x44, r0);
    let start = X86Registers {
        eip: 0x8040_4150,
        esp: s as u32,
        ebp: (s + 0x10) as u32,
        ..X86Registers::default()
    };
    let frames = walk_x86(start, &stack, &OneImage(image), None);
    let got: Vec<(u64, Trust)> = frames.iter().map(|f| (f.pc, f.trust)).collect();
    assert_eq!(
        got,
        vec![
            (0x8040_4150, Trust::Context),
            (u64::from(r1), Trust::FramePointer),
            (u64::from(r0), Trust::FramePointer),
        ]
    );
}

/// Frame data for one FPO function: `size` bytes of locals and saved registers between the
/// stack pointer after its call and its return address; EBP passes through it unchanged.
struct Fpo {
    start: u64,
    end: u64,
    size: u32,
}

impl X86FrameData for Fpo {
    fn caller(&self, callee: &X86Callee, memory: &dyn Memory) -> Option<X86Registers> {
        if !(self.start..self.end).contains(&callee.lookup) {
            return None;
        }
        let slot = callee.registers.esp + self.size;
        Some(X86Registers {
            eip: memory.u32_at(u64::from(slot))?,
            esp: slot + 4,
            ebp: callee.registers.ebp,
            ..X86Registers::default()
        })
    }
}

#[test]
fn x86_frame_data_finds_the_caller_an_ebp_chain_skips() {
    let mut image = Builder::new().build();
    image.base = 0x8040_0000;
    for at in [0x4010usize, 0x4210, 0x4410] {
        image.bytes[at..at + 5].copy_from_slice(&[0xE8, 0, 0, 0, 0]);
    }
    // B (frame 0, EBP frame) was called by F (FPO, at 0x4200..0x4300), called by A (EBP frame),
    // called by the outermost function.
    let (into_f, into_a, into_outer) = (0x8040_4215u32, 0x8040_4015u32, 0x8040_4415u32);
    let mut stack = Stack::default();
    let s = 0x9000_0000u64;
    stack.put32(s + 0x10, 0x9000_0060); // B's saved EBP: A's (F left EBP alone)
    stack.put32(s + 0x14, into_f);
    stack.put32(s + 0x18 + 0x24, into_a); // F's 0x24 bytes of locals and saves
    stack.put32(s + 0x60, 0); // A's saved EBP: end of the chain
    stack.put32(s + 0x64, into_outer);
    let start = X86Registers {
        eip: 0x8040_4150,
        esp: s as u32,
        ebp: (s + 0x10) as u32,
        ..X86Registers::default()
    };
    let images = OneImage(image);
    let walk = |data: Option<&dyn X86FrameData>| -> Vec<(u64, Trust)> {
        walk_x86(start, &stack, &images, data)
            .iter()
            .map(|f| (f.pc, f.trust))
            .collect()
    };
    // Without frame data the chain goes from B's EBP straight to A's: A's frame is lost.
    assert_eq!(
        walk(None),
        vec![
            (0x8040_4150, Trust::Context),
            (u64::from(into_f), Trust::FramePointer),
            (u64::from(into_outer), Trust::FramePointer),
        ]
    );
    let fpo = Fpo {
        start: 0x8040_4200,
        end: 0x8040_4300,
        size: 0x24,
    };
    assert_eq!(
        walk(Some(&fpo)),
        vec![
            (0x8040_4150, Trust::Context),
            (u64::from(into_f), Trust::FramePointer),
            (u64::from(into_a), Trust::CallFrameInfo),
            (u64::from(into_outer), Trust::FramePointer),
        ]
    );
}
