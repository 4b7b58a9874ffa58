//! Breakpad symbol files for the seed scenario's dump_diskdump.sys builds, laid out as a
//! symbol store keeps them (`diskdump.pdb/<DEBUGID>/diskdump.sym`), so tests can symbolize
//! kernel frames by the CodeView id the analyzer reads from the image in dump memory.
//!
//! The debug id is written here from the generator's own GUID and age (Data1, Data2, Data3 as
//! big-endian hex, Data4's bytes, then the age in hex, upper case), independently of the
//! analyzer's CodeView reader, so a mistake in either shows up as a symbol miss.

use super::pe_image::ImageSpec;

/// A line record: (RVA, size, line number).
type LineRecord = (u32, u32, u32);

/// Functions of dump_diskdump.sys in the generated symbols: (RVA, size, name, line records as
/// (RVA, size, line)). They cover the frames the seed scenario puts on the stack: P4 and
/// frame 0 at +0x1a2c, a return address at +0x1d80.
const DISKDUMP_FUNCTIONS: &[(u32, u32, &str, &[LineRecord])] = &[
    (
        0x1000,
        0x1f0,
        "DiskDumpOpen",
        &[(0x1000, 0x80, 212), (0x1080, 0x170, 230)],
    ),
    (
        0x1a00,
        0xc0,
        "DiskDumpWrite",
        &[
            (0x1a00, 0x2c, 480),
            (0x1a2c, 0x14, 497),
            (0x1a40, 0x80, 503),
        ],
    ),
    (
        0x1d40,
        0x90,
        "StartNextPacket",
        &[(0x1d40, 0x40, 611), (0x1d80, 0x50, 618)],
    ),
];

/// The Breakpad form of a PDB's id: GUID fields in hex, then the age.
pub(crate) fn breakpad_debug_id(image: &ImageSpec) -> String {
    let g = &image.pdb_guid;
    let mut id = format!("{:08X}{:04X}{:04X}", g.d1, g.d2, g.d3);
    for b in g.d4 {
        id.push_str(&format!("{b:02X}"));
    }
    id.push_str(&format!("{:X}", image.pdb_age));
    id
}

/// The Breakpad text of dump_diskdump.sys's symbols for one build.
pub(crate) fn diskdump_symbols(image: &ImageSpec) -> String {
    let mut text = format!(
        "MODULE windows x86_64 {} {}\n",
        breakpad_debug_id(image),
        image.pdb_name
    );
    text.push_str(&format!(
        "INFO CODE_ID {:08X}{:x} diskdump.sys\n",
        image.timestamp, image.size
    ));
    text.push_str("FILE 0 d:\\w7rtm\\drivers\\storage\\diskdump\\diskdump.c\n");
    for (rva, size, name, lines) in DISKDUMP_FUNCTIONS {
        text.push_str(&format!("FUNC {rva:x} {size:x} 0 {name}\n"));
        for (line_rva, line_size, line) in *lines {
            text.push_str(&format!("{line_rva:x} {line_size:x} {line} 0\n"));
        }
    }
    text.push_str("PUBLIC 1000 0 DiskDumpOpen\n");
    text
}

/// `(path relative to the store root, file bytes)` for each build's symbols.
pub(crate) fn store_entry(image: &ImageSpec) -> (String, Vec<u8>) {
    let stem = image
        .pdb_name
        .strip_suffix(".pdb")
        .unwrap_or(&image.pdb_name);
    (
        format!("{}/{}/{stem}.sym", image.pdb_name, breakpad_debug_id(image)),
        diskdump_symbols(image).into_bytes(),
    )
}
