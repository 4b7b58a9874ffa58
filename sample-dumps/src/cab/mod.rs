//! Report CABs for tests: well-formed cabinets (stored, MSZIP, LZX with
//! windows 2^15..2^21, several files in one folder, two folders, reserved
//! areas) and malformed ones (truncated, too few data blocks, decompression
//! bomb, bad offsets, zero length and more).
//!
//! This writer shares no code with the analyzer's reader or writer: the
//! container is laid out here from Microsoft's "Microsoft Cabinet Format",
//! MSZIP blocks come from the small encoder in `deflate.rs` (whose matches
//! reach across block boundaries, as Microsoft's do), and LZX from the `lzxc`
//! encoder. Output is deterministic: fixed data, no clock, no randomness.
//!
//! [`cab_samples`] gives the catalogue; [`report_cab`] builds a report
//! cabinet of any size (benchmarks: a 50 MiB MSZIP or LZX report).

mod deflate;

#[cfg(test)]
mod tests;

/// One generated cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabSample {
    /// File name to write it under.
    pub file_name: String,
    /// What it exercises.
    pub description: String,
    /// The cabinet's bytes.
    pub bytes: Vec<u8>,
    /// The files a correct reader must produce, in cabinet order (empty for
    /// a malformed cabinet).
    pub files: Vec<(String, Vec<u8>)>,
    /// Whether a reader must refuse it with an error.
    pub malformed: bool,
}

/// How a folder is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Stored blocks.
    Stored,
    /// MSZIP from this module's own deflate encoder.
    MsZip,
    /// LZX (from `lzxc`) with window `2^bits` (15..=21), E8 translation on or off.
    Lzx(u8, bool),
}

/// A folder to write: its method and files.
struct FolderSpec {
    method: Method,
    files: Vec<(String, Vec<u8>)>,
}

/// Reserved-area sizes (header, per folder, per data block).
#[derive(Clone, Copy, Default)]
struct Reserve {
    header: u16,
    folder: u8,
    data: u8,
}

/// The CAB checksum: XOR of little-endian words, 1..3 trailing bytes
/// folded in big-endian order.
fn checksum(bytes: &[u8], seed: u32) -> u32 {
    let mut sum = seed;
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        if let &[a, b, c, d] = w {
            sum ^= u32::from_le_bytes([a, b, c, d]);
        }
    }
    let mut tail = 0u32;
    for &b in words.remainder() {
        tail = tail << 8 | u32::from(b);
    }
    sum ^ tail
}

/// The data blocks of one folder: (payload, uncompressed length).
fn blocks(method: Method, data: &[u8]) -> Vec<(Vec<u8>, usize)> {
    match method {
        Method::Stored => data
            .chunks(32 * 1024)
            .map(|c| (c.to_vec(), c.len()))
            .collect(),
        Method::MsZip => deflate::mszip_blocks(data),
        Method::Lzx(bits, e8) => {
            use lzxc::WindowSize as W;
            let window = match bits {
                15 => W::KB32,
                16 => W::KB64,
                17 => W::KB128,
                18 => W::KB256,
                19 => W::KB512,
                20 => W::MB1,
                _ => W::MB2,
            };
            let mut enc = lzxc::Encoder::new(window);
            if e8 {
                enc.set_e8_translation(12_000_000);
            }
            let out = enc.encode_stream(data);
            out.into_iter()
                .zip(data.chunks(32 * 1024))
                .map(|(p, c)| (p, c.len()))
                .collect()
        }
    }
}

/// Lays out a complete single cabinet.
fn build(folders: &[FolderSpec], reserve: Reserve) -> Vec<u8> {
    let has_reserve = reserve.header > 0 || reserve.folder > 0 || reserve.data > 0;
    let mut header_len = 36
        + if has_reserve {
            4 + usize::from(reserve.header)
        } else {
            0
        };
    let folder_len = 8 + usize::from(reserve.folder);
    let coff_files = header_len + folders.len() * folder_len;
    let mut file_table = Vec::new();
    let mut n_files = 0u16;
    for (i, f) in folders.iter().enumerate() {
        let mut offset = 0u32;
        for (name, data) in &f.files {
            file_table.extend_from_slice(&(data.len() as u32).to_le_bytes());
            file_table.extend_from_slice(&offset.to_le_bytes());
            file_table.extend_from_slice(&(i as u16).to_le_bytes());
            file_table.extend_from_slice(&0x3e61u16.to_le_bytes()); // 2011-03-01
            file_table.extend_from_slice(&0x8945u16.to_le_bytes()); // 17:10:10
            let utf = if name.is_ascii() { 0x20u16 } else { 0xa0 };
            file_table.extend_from_slice(&utf.to_le_bytes());
            file_table.extend_from_slice(name.as_bytes());
            file_table.push(0);
            offset += data.len() as u32;
            n_files += 1;
        }
    }
    let mut data_area = Vec::new();
    let mut folder_table = Vec::new();
    let data_start = coff_files + file_table.len();
    for f in folders {
        let joined: Vec<u8> = f
            .files
            .iter()
            .flat_map(|(_, d)| d.iter().copied())
            .collect();
        let blocks = blocks(f.method, &joined);
        folder_table.extend_from_slice(&((data_start + data_area.len()) as u32).to_le_bytes());
        folder_table.extend_from_slice(&(blocks.len() as u16).to_le_bytes());
        let kind: u16 = match f.method {
            Method::Stored => 0,
            Method::MsZip => 1,
            Method::Lzx(bits, _) => 3 | u16::from(bits) << 8,
        };
        folder_table.extend_from_slice(&kind.to_le_bytes());
        folder_table.extend(std::iter::repeat(0xf0).take(usize::from(reserve.folder)));
        for (payload, len) in blocks {
            let mut sizes = (payload.len() as u16).to_le_bytes().to_vec();
            sizes.extend_from_slice(&(len as u16).to_le_bytes());
            let csum = checksum(&sizes, checksum(&payload, 0));
            data_area.extend_from_slice(&csum.to_le_bytes());
            data_area.extend_from_slice(&sizes);
            data_area.extend(std::iter::repeat(0xda).take(usize::from(reserve.data)));
            data_area.extend_from_slice(&payload);
        }
    }
    let total = data_start + data_area.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"MSCF");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(coff_files as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&[3, 1]);
    out.extend_from_slice(&(folders.len() as u16).to_le_bytes());
    out.extend_from_slice(&n_files.to_le_bytes());
    out.extend_from_slice(&(if has_reserve { 4u16 } else { 0 }).to_le_bytes());
    out.extend_from_slice(&0x1234u16.to_le_bytes()); // setID
    out.extend_from_slice(&0u16.to_le_bytes()); // iCabinet
    if has_reserve {
        out.extend_from_slice(&reserve.header.to_le_bytes());
        out.push(reserve.folder);
        out.push(reserve.data);
        out.extend(std::iter::repeat(0xee).take(usize::from(reserve.header)));
    }
    header_len = out.len();
    debug_assert_eq!(header_len + folder_table.len(), coff_files);
    out.extend_from_slice(&folder_table);
    out.extend_from_slice(&file_table);
    out.extend_from_slice(&data_area);
    out
}

/// Deterministic xorshift bytes.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A minidump-looking file: `MDMP` header, zero runs, repeated records with
/// counters, x86 `call` opcodes (E8, for LZX's translation) and some noise.
pub fn fake_dump(len: usize, seed: u32) -> Vec<u8> {
    let mut out = b"MDMP\x93\xa7\x00\x00".to_vec();
    let mut i = 0u32;
    let n = noise(4096, seed);
    while out.len() < len {
        match i % 5 {
            0 => out.extend_from_slice(&[0u8; 300]),
            1 => {
                for k in 0..40u32 {
                    out.extend_from_slice(&(0x7700_0000 + k * 0x1000 + i).to_le_bytes());
                    out.extend_from_slice(b"ntdll.dll\0\0\0");
                }
            }
            2 => {
                for k in 0..60u32 {
                    out.push(0xe8);
                    out.extend_from_slice(&(k * 37 + i).to_le_bytes());
                    out.extend_from_slice(&[0x8b, 0x45, 0xfc]);
                }
            }
            3 => out.extend(n.iter().skip((i as usize * 97) % 2048).take(700)),
            _ => out.extend_from_slice(format!("record {i:08} module kernel32.dll\r\n").as_bytes()),
        }
        i += 1;
    }
    out.truncate(len);
    out
}

/// UTF-16LE with BOM, as WER writes its XML.
fn utf16_with_bom(s: &str) -> Vec<u8> {
    let mut out = vec![0xff, 0xfe];
    out.extend(s.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// The `WERInternalMetadata.xml` of a generated APPCRASH report.
pub fn wer_metadata_xml() -> Vec<u8> {
    let params = [
        "sample_app.exe",
        "2.1.0.7",
        "5a0b1c2d",
        "sample_mod.dll",
        "1.0.0.3",
        "4f00aa11",
        "c0000005",
        "0000abcd",
    ];
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<WERReportMetadata>\r\n\t<OSVersionInformation>\r\n\
         \t\t<WindowsNTVersion>6.1</WindowsNTVersion>\r\n\t\t<Build>7601 Service Pack 1</Build>\r\n\
         \t\t<Architecture>X64</Architecture>\r\n\t</OSVersionInformation>\r\n\t<ProblemSignatures>\r\n\
         \t\t<EventType>APPCRASH</EventType>\r\n",
    );
    for (i, p) in params.iter().enumerate() {
        xml.push_str(&format!("\t\t<Parameter{i}>{p}</Parameter{i}>\r\n"));
    }
    xml.push_str("\t</ProblemSignatures>\r\n</WERReportMetadata>\r\n");
    utf16_with_bom(&xml)
}

fn sample(
    file_name: &str,
    description: &str,
    folders: Vec<FolderSpec>,
    reserve: Reserve,
) -> CabSample {
    let bytes = build(&folders, reserve);
    CabSample {
        file_name: file_name.to_owned(),
        description: description.to_owned(),
        bytes,
        files: folders.into_iter().flat_map(|f| f.files).collect(),
        malformed: false,
    }
}

fn broken(file_name: &str, description: &str, bytes: Vec<u8>) -> CabSample {
    CabSample {
        file_name: file_name.to_owned(),
        description: description.to_owned(),
        bytes,
        files: Vec::new(),
        malformed: true,
    }
}

/// Overwrites bytes at `at` (ignored past the end: the caller's layout is fixed).
fn put(b: &mut [u8], at: usize, v: &[u8]) {
    if let Some(dst) = b.get_mut(at..at + v.len()) {
        dst.copy_from_slice(v);
    }
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    put(b, at, &v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    put(b, at, &v.to_le_bytes());
}

fn get_u16(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(&[x, y]) => u16::from_le_bytes([x, y]),
        _ => 0,
    }
}

fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from(get_u16(b, at)) | u32::from(get_u16(b, at + 2)) << 16
}

/// The first `percent` % of `b`.
fn head(b: &[u8], percent: usize) -> Vec<u8> {
    b.iter().take(b.len() * percent / 100).copied().collect()
}

/// A one-folder report cabinet: a `dump_len`-byte fake minidump followed by
/// WER metadata, for benchmarks (e.g. 50 MiB MSZIP or LZX).
pub fn report_cab(method: Method, dump_len: usize) -> CabSample {
    let files = vec![
        ("minidump.mdmp".to_owned(), fake_dump(dump_len, 99)),
        ("WERInternalMetadata.xml".to_owned(), wer_metadata_xml()),
    ];
    sample(
        "report.cab",
        "a report cabinet of chosen size",
        vec![FolderSpec { method, files }],
        Reserve::default(),
    )
}

/// A one-folder report cabinet holding `dump` (a real dump, e.g. a generated sample) as
/// `minidump.mdmp` with WER metadata: what a small WER report looks like, for the one-file
/// benchmark.
pub fn report_cab_holding(method: Method, dump: Vec<u8>) -> CabSample {
    let files = vec![
        ("minidump.mdmp".to_owned(), dump),
        ("WERInternalMetadata.xml".to_owned(), wer_metadata_xml()),
    ];
    sample(
        "report.cab",
        "a report cabinet around a given dump",
        vec![FolderSpec { method, files }],
        Reserve::default(),
    )
}

/// Every generated cabinet, in a fixed order: well-formed first.
pub fn cab_samples() -> Vec<CabSample> {
    let report = || {
        vec![
            ("minidump.mdmp".to_owned(), fake_dump(150_000, 7)),
            (
                "AppCompat.txt".to_owned(),
                utf16_with_bom("<?xml version=\"1.0\"?><DATABASE/>"),
            ),
            ("WERInternalMetadata.xml".to_owned(), wer_metadata_xml()),
        ]
    };
    let one = |method, files| vec![FolderSpec { method, files }];
    let mut v = vec![
        sample("stored.cab", "uncompressed, two files", one(Method::Stored, vec![
            ("cuckusrv.exe.mdmp".to_owned(), fake_dump(70_000, 3)),
            ("version.txt".to_owned(), b"Windows NT  Version 5.1 Build: 2600\0".to_vec()),
        ]), Reserve::default()),
        sample("mszip.cab", "MSZIP, matches across block boundaries, three files in one folder", one(Method::MsZip, report()), Reserve::default()),
        sample("lzx15.cab", "LZX, 32 KiB window (type 0x0F03, as WER writes)", one(Method::Lzx(15, false), report()), Reserve::default()),
        sample("lzx17-e8.cab", "LZX, 128 KiB window, E8 call translation", one(Method::Lzx(17, true), report()), Reserve::default()),
        sample("lzx21.cab", "LZX, 2 MiB window", one(Method::Lzx(21, false), report()), Reserve::default()),
        sample("many-files.cab", "MSZIP, 24 files with empty ones, a file straddling blocks, a UTF-8 name", one(Method::MsZip,
            (0..24u32)
                .map(|i| {
                    let name = if i == 5 { "Caf\u{e9}-\u{444}\u{430}\u{439}\u{43b}.txt".to_owned() } else { format!("file{i:02}.bin") };
                    let len = [0usize, 1, 700, 33_000, 5].get(i as usize % 5).copied().unwrap_or(0);
                    (name, fake_dump(len, i + 11))
                })
                .collect()), Reserve::default()),
        sample("two-folders.cab", "two folders: MSZIP then LZX", vec![
            FolderSpec { method: Method::MsZip, files: vec![("a.mdmp".to_owned(), fake_dump(80_000, 21))] },
            FolderSpec { method: Method::Lzx(16, false), files: vec![
                ("b.mdmp".to_owned(), fake_dump(90_000, 22)),
                ("Version.txt".to_owned(), utf16_with_bom("Windows NT  Version 6.0 Build: 6002 Service Pack 2\r\nArchitecture: X86\r\n")),
            ] },
        ], Reserve::default()),
        sample("reserve.cab", "MSZIP with header, folder and data reserved areas", one(Method::MsZip, report()),
            Reserve { header: 20, folder: 3, data: 5 }),
        sample("empty-folder.cab", "one folder, no data, one empty file", one(Method::Stored, vec![("empty.txt".to_owned(), Vec::new())]), Reserve::default()),
    ];
    let good = |name: &str| {
        v.iter()
            .find(|s| s.file_name == name)
            .map(|s| s.bytes.clone())
            .unwrap_or_default()
    };
    let mszip = good("mszip.cab");
    let stored = good("stored.cab");
    let lzx = good("lzx15.cab");
    let coff_files = |b: &[u8]| get_u32(b, 16) as usize;
    let mut bad = Vec::new();
    bad.push(broken(
        "truncated.cab",
        "MSZIP cabinet cut at 60 %",
        head(&mszip, 60),
    ));
    let mut b = head(&mszip, 60);
    let len = b.len() as u32;
    put_u32(&mut b, 8, len);
    bad.push(broken(
        "truncated-consistent.cab",
        "MSZIP cut at 60 % with cbCabinet patched to match",
        b,
    ));
    let mut b = lzx.clone();
    let blocks = get_u16(&b, 40);
    put_u16(&mut b, 40, blocks - 2);
    bad.push(broken(
        "too-few-blocks.cab",
        "LZX folder claims two data blocks fewer than it has",
        b,
    ));
    let mut b = stored.clone();
    put_u32(&mut b, coff_files(&stored), 0xf000_0000);
    bad.push(broken(
        "bomb-file.cab",
        "a file declares 3.75 GiB backed by 70 KB",
        b,
    ));
    let mut b = stored.clone();
    put_u32(&mut b, coff_files(&stored), 0x6000_0000);
    bad.push(broken(
        "bomb-within-limits.cab",
        "a file declares 1.5 GiB (under the limits) backed by 70 KB",
        b,
    ));
    let mut b = stored.clone();
    put_u32(&mut b, 16, 0x7fff_0000);
    bad.push(broken(
        "bad-file-offset.cab",
        "coffFiles points past the end",
        b,
    ));
    let mut b = mszip.clone();
    put_u32(&mut b, 36, 0x00ff_fff0);
    bad.push(broken(
        "bad-data-offset.cab",
        "the folder's first data block is past the end",
        b,
    ));
    let mut b = stored.clone();
    put_u16(&mut b, 28, 60_000);
    bad.push(broken(
        "bad-file-count.cab",
        "cFiles claims 60000 entries",
        b,
    ));
    bad.push(broken("zero-length.cab", "an empty file", Vec::new()));
    bad.push(broken(
        "header-only.cab",
        "the signature and nothing else",
        b"MSCF".to_vec(),
    ));
    bad.push(broken(
        "not-a-cab.cab",
        "a minidump renamed .cab",
        fake_dump(2000, 1),
    ));
    let mut b = stored.clone();
    put_u16(&mut b, 42, 0x0002);
    bad.push(broken("quantum.cab", "a folder compressed with Quantum", b));
    let mut b = stored.clone();
    put_u16(&mut b, 30, 0x0002);
    bad.push(broken(
        "multi-cabinet.cab",
        "the header says a next cabinet exists",
        b,
    ));
    let mut b = stored.clone();
    put_u16(&mut b, coff_files(&stored) + 8, 7);
    bad.push(broken("bad-folder-index.cab", "a file in folder 7 of 1", b));
    let mut b = mszip.clone();
    let first_block = get_u32(&b, 36) as usize;
    if let Some(x) = b.get_mut(first_block + 8 + 40) {
        *x ^= 0x55;
    }
    bad.push(broken(
        "bad-checksum.cab",
        "a payload byte of the first MSZIP block flipped",
        b,
    ));
    let mut b = stored.clone();
    let name_at = coff_files(&stored) + 16;
    for x in b.iter_mut().skip(name_at).take(300) {
        *x = b'A';
    }
    bad.push(broken(
        "unterminated-name.cab",
        "a file name without NUL in 256 bytes",
        b,
    ));
    let mut b = mszip.clone();
    put(&mut b, first_block + 8, b"X");
    bad.push(broken(
        "mszip-no-ck.cab",
        "an MSZIP block without its CK signature (checksum zeroed)",
        {
            put_u32(&mut b, first_block, 0);
            b
        },
    ));
    v.extend(bad);
    v
}
