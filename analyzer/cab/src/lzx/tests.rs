//! Round trips through `lzxc`, cross-checks against `lzxd`, hand-made
//! streams for the corner cases, and hostile input (no panic, clear error).

use super::*;

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn text(n: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "crash ",
        "dump ",
        "module ",
        "ntdll.dll ",
        "0x7ffe0304 ",
        "stack ",
        "frame\n",
        "exception ",
        "bucket ",
        "WER ",
        "thread ",
        "=== ",
    ];
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
    }
    out.truncate(n);
    out
}

/// Code-like bytes with many E8 calls (near targets, so they translate).
fn x86(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        match rng.below(4) {
            0 => {
                out.push(0xE8);
                let rel = rng.below(0x20000) as i32 - 0x10000;
                out.extend_from_slice(&rel.to_le_bytes());
            }
            1 => out.extend_from_slice(&[0x48, 0x8b, 0x45, 0xf8, 0x89, 0xc7]),
            2 => out.extend_from_slice(&[0x55, 0x48, 0x89, 0xe5, 0xc3]),
            _ => out.push(rng.next() as u8),
        }
    }
    out.truncate(n);
    out
}

fn mixed(n: usize) -> Vec<u8> {
    let mut rng = Rng(99);
    let mut out = Vec::with_capacity(n + 70_000);
    while out.len() < n {
        let len = 1000 + rng.below(60_000);
        let seed = rng.next() | 1;
        match rng.below(5) {
            0 => out.extend(Rng(seed).bytes(len)),
            1 => out.extend(text(len, seed)),
            2 => out.extend(x86(len, seed)),
            3 => out.resize(out.len() + len, 0),
            _ => {
                // A repeat of earlier data, far back (exercises long distances).
                let from = rng.below(out.len().max(1));
                let chunk: Vec<u8> = out.iter().skip(from).take(len).copied().collect();
                out.extend(chunk);
            }
        }
    }
    out.truncate(n);
    out
}

fn lzxc_window(bits: u8) -> lzxc::WindowSize {
    use lzxc::WindowSize as W;
    [
        W::KB32,
        W::KB64,
        W::KB128,
        W::KB256,
        W::KB512,
        W::MB1,
        W::MB2,
    ][usize::from(bits - 15)]
}

fn lzxd_window(bits: u8) -> lzxd::WindowSize {
    use lzxd::WindowSize as W;
    [
        W::KB32,
        W::KB64,
        W::KB128,
        W::KB256,
        W::KB512,
        W::MB1,
        W::MB2,
    ][usize::from(bits - 15)]
}

/// Compressed chunks and their output sizes.
type Chunks = Vec<(Vec<u8>, usize)>;

fn compress(data: &[u8], bits: u8, strategy: lzxc::Strategy, spanning: bool) -> Chunks {
    let mut enc = lzxc::Encoder::new(lzxc_window(bits)).with_strategy(strategy);
    let packed = if spanning {
        enc.encode_stream(data)
    } else {
        data.chunks(CHUNK_MAX)
            .map(|c| enc.encode_chunk(c))
            .collect()
    };
    packed
        .into_iter()
        .zip(data.chunks(CHUNK_MAX).map(<[u8]>::len))
        .collect()
}

fn decode_ours(chunks: &Chunks, bits: u8) -> Result<Vec<u8>, LzxError> {
    let mut dec = LzxDecoder::new(bits)?;
    let mut out = Vec::new();
    for (chunk, len) in chunks {
        out.extend_from_slice(dec.decompress_next(chunk, *len)?);
    }
    Ok(out)
}

fn decode_lzxd(chunks: &Chunks, bits: u8) -> Vec<u8> {
    let mut dec = lzxd::Lzxd::new(lzxd_window(bits));
    let mut out = Vec::new();
    for (chunk, len) in chunks {
        out.extend_from_slice(dec.decompress_next(chunk, *len).unwrap());
    }
    out
}

fn check_round_trip(data: &[u8], bits: u8, strategy: lzxc::Strategy, spanning: bool) {
    let chunks = compress(data, bits, strategy, spanning);
    let ours = decode_ours(&chunks, bits).unwrap();
    assert!(
        ours == data,
        "round trip differs (window 2^{bits}, {strategy:?})"
    );
    assert!(
        decode_lzxd(&chunks, bits) == ours,
        "lzxd differs (window 2^{bits})"
    );
}

#[test]
fn round_trips_through_lzxc_and_matches_lzxd() {
    use lzxc::Strategy::{LiteralOnly, Optimal, Uncompressed};
    let random = Rng(1).bytes(100_000);
    let words = text(200_000, 2);
    let code = x86(150_000, 3);
    for (data, bits) in [(&random, 15), (&words, 16), (&code, 17), (&words, 21)] {
        check_round_trip(data, bits, Optimal, true);
    }
    check_round_trip(&code, 15, Optimal, false);
    check_round_trip(&words, 19, LiteralOnly, true);
    // Odd sizes: uncompressed blocks with a pad byte, short last chunk.
    check_round_trip(&code[..70_001], 18, Uncompressed, true);
    check_round_trip(&random[..33], 15, Optimal, true);
}

#[test]
fn round_trips_a_large_mixed_buffer() {
    let data = mixed(5 << 20);
    check_round_trip(&data, 21, lzxc::Strategy::Optimal, true);
}

/// E8 preprocessing as an encoder does it (the inverse of `undo_e8`).
fn add_e8(data: &mut [u8], size: i32) {
    for (index, chunk) in data.chunks_mut(CHUNK_MAX).enumerate() {
        let base = (index * CHUNK_MAX) as i32;
        let mut i = 0;
        while chunk.len() > 10 && i < chunk.len() - 10 {
            if chunk[i] == 0xE8 {
                let cur = base + i as i32;
                let rel = i32::from_le_bytes(chunk[i + 1..i + 5].try_into().unwrap());
                if rel >= -cur && rel < size {
                    let abs = if rel < size - cur {
                        rel + cur
                    } else {
                        rel - size
                    };
                    chunk[i + 1..i + 5].copy_from_slice(&abs.to_le_bytes());
                }
                i += 5;
            } else {
                i += 1;
            }
        }
    }
}

/// Compresses with E8 translation of `size`: lzxc's own E8 mode does not
/// skip operands it leaves alone, so translate here, compress plainly, and
/// splice the 32-bit size in after the first (flag) bit. That shifts the
/// rest of the first chunk by exactly two 16-bit words.
fn compress_e8(data: &[u8], bits: u8, size: i32) -> Chunks {
    let mut pre = data.to_vec();
    add_e8(&mut pre, size);
    let mut chunks = compress(&pre, bits, lzxc::Strategy::Optimal, true);
    let first = &mut chunks[0].0;
    let w0 = u16::from_le_bytes([first[0], first[1]]);
    assert_eq!(w0 >> 15, 0, "lzxc wrote the E8 flag");
    let size = size as u32;
    let words = [
        0x8000 | (size >> 17) as u16,
        (size >> 1) as u16,
        ((size & 1) << 15) as u16 | (w0 & 0x7fff),
    ];
    let mut patched: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    patched.extend_from_slice(&first[2..]);
    *first = patched;
    chunks
}

#[test]
fn undoes_e8_translation() {
    let code = x86(300_000, 7);
    for (bits, size) in [(15, 12_000_000), (17, 150_000), (21, 1 << 20)] {
        let chunks = compress_e8(&code, bits, size);
        let ours = decode_ours(&chunks, bits).unwrap();
        assert!(ours == code, "E8 round trip differs (size {size})");
        // lzxd agrees except for operands that were exactly 0 (none here).
        assert!(decode_lzxd(&chunks, bits) == ours);
    }
}

#[test]
fn e8_operand_zero_follows_cabextract_not_lzxd() {
    // At position 100, a call to relative -100 translates to absolute 0.
    let mut data = text(2000, 5);
    data[100] = 0xE8;
    data[101..105].copy_from_slice(&(-100i32).to_le_bytes());
    let chunks = compress_e8(&data, 15, 1_000_000);
    assert_eq!(decode_ours(&chunks, 15).unwrap(), data);
    assert_ne!(decode_lzxd(&chunks, 15), data, "lzxd 0.2.7 tests abs > 0");
}

#[test]
fn lzxd_vectors() {
    // lzxd's own test vectors: an uncompressed block, and E8 translation.
    let stored = [
        0x00, 0x30, 0x30, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, b'a', b'b', b'c', 0x00,
    ];
    let mut dec = LzxDecoder::new(15).unwrap();
    assert_eq!(dec.decompress_next(&stored, 3).unwrap(), b"abc");

    let mut e8 = vec![
        0x5B, 0x80, 0x80, 0x8D, 0x00, 0x30, 0x80, 0x0A, 0x18, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x05, 0x00, 0x00, 0x00,
    ];
    e8.extend_from_slice(b"This file has an E8 byte to test E8 translation, X");
    e8.extend_from_slice(&[b'd'; 96]);
    e8.extend_from_slice(&[0xE8, 0x7B, 0, 0, 0, 0xE8, 0x7B, 0, 0, 0]);
    e8.extend_from_slice(&[b'd'; 12]);
    let mut want = b"This file has an E8 byte to test E8 translation, X".to_vec();
    want.extend_from_slice(&[b'd'; 96]);
    want.extend_from_slice(&[0xE8, 0xE9, 0xFF, 0xFF, 0xFF, 0xE8, 0xE4, 0xFF, 0xFF, 0xFF]);
    want.extend_from_slice(&[b'd'; 12]);
    let mut dec = LzxDecoder::new(15).unwrap();
    assert_eq!(dec.decompress_next(&e8, 168).unwrap(), &want[..]);
}

#[test]
fn refuses_bad_parameters_and_headers() {
    for bits in [0, 14, 22, 255] {
        assert!(LzxDecoder::new(bits).is_err());
    }
    let mut dec = LzxDecoder::new(16).unwrap();
    assert_eq!(
        dec.decompress_next(&[0; 4], CHUNK_MAX + 1)
            .unwrap_err()
            .kind,
        LzxErrorKind::OutputTooLong(CHUNK_MAX + 1)
    );
    let kind = |input: &[u8], len| {
        LzxDecoder::new(15)
            .unwrap()
            .decompress_next(input, len)
            .unwrap_err()
            .kind
    };
    assert_eq!(kind(&[], 10), LzxErrorKind::InputExhausted);
    assert_eq!(kind(&[0x00], 32), LzxErrorKind::InputExhausted);
    // Block type 7 (bits 0 111 ...).
    assert_eq!(
        kind(&[0x00, 0x70, 0xff, 0xff, 0, 0], 10),
        LzxErrorKind::BlockType(7)
    );
    // Block type 1, size 0.
    assert_eq!(
        kind(&[0x00, 0x10, 0, 0, 0, 0], 10),
        LzxErrorKind::EmptyBlock
    );
    // A stored block that promises more bytes than the chunk has.
    assert_eq!(
        kind(
            &[0x00, 0x30, 0x30, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, b'a'],
            3
        ),
        LzxErrorKind::InputExhausted
    );
    // A stored block whose R0 is then used: 'a' then a repeat match is in
    // another block; here just check that the error sticks.
    let mut dec = LzxDecoder::new(15).unwrap();
    assert!(dec.decompress_next(&[0x00, 0x70, 0xff, 0xff], 5).is_err());
    assert_eq!(
        dec.decompress_next(&[0; 64], 5).unwrap_err().kind,
        LzxErrorKind::Broken
    );
}

#[test]
fn error_messages_say_where() {
    let e = LzxDecoder::new(15)
        .unwrap()
        .decompress_next(&[0x00, 0x70, 0xff, 0xff], 5)
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("invalid block type 7") && text.contains("at bit"),
        "{text}"
    );
}

/// Writes LZX bits: MSB first into little-endian 16-bit words.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    word: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.word = (self.word << 1) | ((value >> i) & 1);
            self.n += 1;
            if self.n == 16 {
                self.bytes
                    .extend_from_slice(&(self.word as u16).to_le_bytes());
                (self.word, self.n) = (0, 0);
            }
        }
    }
    fn finish(mut self) -> Vec<u8> {
        let pad = (16 - self.n) % 16;
        self.put(0, pad);
        self.bytes
    }
}

/// Canonical codes for `lengths`: (code, length) per symbol.
fn canonical(lengths: &[u8]) -> Vec<(u32, u32)> {
    let mut codes = vec![(0, 0); lengths.len()];
    let mut code = 0u32;
    for len in 1..=16u32 {
        for (sym, &l) in lengths.iter().enumerate() {
            if u32::from(l) == len {
                codes[sym] = (code, len);
                code += 1;
            }
        }
        code <<= 1;
    }
    codes
}

/// One pretree-coded item of a length list.
enum Item {
    /// Path length (delta against 0, i.e. a fresh decoder).
    Len(u8),
    /// Raw pretree symbol and its extra bits (runs 17/18/19).
    Raw(u32, u32, u32),
}

/// Pretree used by the hand-made blocks: symbols 0..=11 of 4 bits, 12..=19
/// of 5 bits (a complete code).
fn put_pretree(w: &mut BitWriter, items: &[Item]) {
    for sym in 0..20 {
        w.put(if sym < 12 { 4 } else { 5 }, 4);
    }
    let code = |w: &mut BitWriter, c: u32| {
        if c < 12 {
            w.put(c, 4)
        } else {
            w.put(24 + c - 12, 5)
        }
    };
    for item in items {
        match *item {
            Item::Len(l) => code(w, (17 - u32::from(l)) % 17),
            Item::Raw(c, extra, bits) => {
                code(w, c);
                w.put(extra, bits);
            }
        }
    }
}

fn lens_items(lengths: &[u8]) -> Vec<Item> {
    lengths.iter().map(|&l| Item::Len(l)).collect()
}

/// A first chunk (no E8) holding one verbatim block for a 2^15 window with
/// the given main tree lengths (496 symbols), length tree items and tokens
/// (main symbols; no footers are needed for slots 0..=2).
fn handmade(size: u32, main: &[u8], length: &[Item], tokens: &[usize]) -> Vec<u8> {
    let mut w = BitWriter::default();
    w.put(0, 1);
    w.put(1, 3);
    w.put(size >> 8, 16);
    w.put(size & 0xff, 8);
    put_pretree(&mut w, &lens_items(&main[..256]));
    put_pretree(&mut w, &lens_items(&main[256..]));
    put_pretree(&mut w, length);
    let codes = canonical(main);
    for &t in tokens {
        w.put(codes[t].0, codes[t].1);
    }
    w.finish()
}

fn main_with(pairs: &[(usize, u8)]) -> Vec<u8> {
    let mut main = vec![0u8; 496];
    for &(sym, len) in pairs {
        main[sym] = len;
    }
    main
}

fn no_lengths() -> Vec<Item> {
    lens_items(&[0; 249])
}

#[test]
fn handmade_blocks_decode_and_fail_as_they_should() {
    let main = main_with(&[(97, 1), (256, 1)]);
    // 'a', then a repeat match (R0 = 1) of 2: "aaa".
    let ok = handmade(3, &main, &no_lengths(), &[97, 256]);
    assert_eq!(
        LzxDecoder::new(15)
            .unwrap()
            .decompress_next(&ok, 3)
            .unwrap(),
        b"aaa"
    );
    assert_eq!(
        lzxd::Lzxd::new(lzxd::WindowSize::KB32)
            .decompress_next(&ok, 3)
            .unwrap(),
        b"aaa"
    );

    let first_error = |chunk: &[u8], len: usize| {
        LzxDecoder::new(15)
            .unwrap()
            .decompress_next(chunk, len)
            .unwrap_err()
            .kind
    };
    // A match before any output.
    let early = handmade(3, &main, &no_lengths(), &[256, 97]);
    assert!(matches!(
        first_error(&early, 3),
        LzxErrorKind::Distance {
            distance: 1,
            available: 0
        }
    ));
    // A match longer than the block.
    let long = handmade(2, &main, &no_lengths(), &[97, 256]);
    assert_eq!(
        first_error(&long, 2),
        LzxErrorKind::MatchTooLong { length: 2, room: 1 }
    );
    // Length header 7 with an empty length tree.
    let main7 = main_with(&[(97, 1), (263, 1)]);
    let needs_length = handmade(20, &main7, &no_lengths(), &[97, 263]);
    assert_eq!(first_error(&needs_length, 20), LzxErrorKind::NoLengthTree);
    // An incomplete main tree.
    let lonely = handmade(1, &main_with(&[(97, 1)]), &no_lengths(), &[97]);
    assert_eq!(
        first_error(&lonely, 1),
        LzxErrorKind::BadTree("main tree", TreeFault::Incomplete)
    );
    // A zero run past the end of the length tree (240 + 20 > 249).
    let mut spill: Vec<Item> = lens_items(&[0; 240]);
    spill.push(Item::Raw(18, 0, 5));
    let past = handmade(3, &main, &spill, &[97, 256]);
    assert_eq!(
        first_error(&past, 3),
        LzxErrorKind::RunPastTree("length tree")
    );
    // Code 19 followed by a run code instead of a length.
    let mut bad: Vec<Item> = lens_items(&[0; 10]);
    bad.push(Item::Raw(19, 0, 1));
    bad.push(Item::Raw(17, 0, 4));
    let bad = handmade(3, &main, &bad, &[97, 256]);
    assert_eq!(first_error(&bad, 3), LzxErrorKind::BadRunSymbol(17));
}

#[test]
fn zero_run_may_spill_into_the_next_range_of_the_same_tree() {
    // First range: 'a' = 1, then zero runs up to 271, past 256 (as lzxd
    // allows); second range starts at 256 regardless.
    let mut w = BitWriter::default();
    w.put(0, 1);
    w.put(1, 3);
    w.put(0, 16);
    w.put(3, 8);
    let mut first = lens_items(&[0; 97]);
    first.push(Item::Len(1));
    first.extend([
        Item::Raw(18, 31, 5),
        Item::Raw(18, 31, 5),
        Item::Raw(18, 31, 5),
    ]);
    first.push(Item::Raw(18, 0, 5));
    put_pretree(&mut w, &first);
    let mut second = vec![0u8; 240];
    second[0] = 1;
    put_pretree(&mut w, &lens_items(&second));
    put_pretree(&mut w, &no_lengths());
    w.put(0b01, 2); // 'a' (code 0), repeat match (code 1)
    let chunk = w.finish();
    assert_eq!(
        LzxDecoder::new(15)
            .unwrap()
            .decompress_next(&chunk, 3)
            .unwrap(),
        b"aaa"
    );
    assert_eq!(
        lzxd::Lzxd::new(lzxd::WindowSize::KB32)
            .decompress_next(&chunk, 3)
            .unwrap(),
        b"aaa"
    );
}
