//! Converts a PDB into Breakpad symbol text.
//!
//! The stack walker (`minidump-unwind` / `breakpad-symbols`) symbolizes frames only from Breakpad
//! text symbol files, so a PDB fetched from a Microsoft symbol server is turned, in memory, into
//! the text `dump_syms` 2.3.9 writes for it, and handed to `breakpad_symbols::SymbolFile`.
//!
//! Converted: the MODULE line (GUID and age from the info and DBI streams); a FUNC for every
//! `S_GPROC32`/`S_LPROC32` (and `_ID`) in the module streams, named as dump_syms names it
//! (`ns::Class::method(int, char const*) const`: the symbol's name plus the argument list
//! formatted from the type records); its line records from the module's C13 line subsections;
//! PUBLIC records for the `S_PUB32` symbols in code that no FUNC covers; and the x86 frame data
//! and FPO streams as `STACK WIN 4` and `STACK WIN 0` records. Public names lose their x86 C
//! decoration (`_f`, `_f@8`, `@f@8`, which also gives the parameter size); C++ decorated names
//! (`?f@ns@@YAXH@Z`) are kept as they are.
//!
//! Not converted: inline frames (INLINE records), STACK CFI (x64/arm64 unwind data lives in the
//! PE, not in the PDB), C11 line programs (compilers before 2005), separated code blocks
//! (`S_SEPCODE`), and the pieces of a function that OMAP reordering split (only its start is
//! translated).
//!
//! The `pdb` crate reads the MSF container (stream directory, page lists, info stream); the
//! records inside the streams are decoded here with bounds-checked reads, because several of the
//! crate's record parsers assert, slice unchecked or overflow on corrupt input, and a corrupt PDB
//! must give an error or a partial result, never a panic.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io;
use std::ops::Deref;

use pdb::{Source, SourceSlice, SourceView, StreamIndex, PDB};

/// Why a PDB could not be converted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PdbSymbolError {
    /// The bytes are a CAB archive: the compressed form symbol servers serve (`.pd_`).
    #[error("not a PDB but a CAB archive (a compressed symbol-server file): expand it first")]
    Compressed,
    /// The bytes already are Breakpad symbol text.
    #[error("not a PDB: this is already Breakpad symbol text")]
    BreakpadText,
    /// The MSF container or its info stream could not be read.
    #[error("unreadable PDB: {0}")]
    Msf(#[from] pdb::Error),
    /// The DBI stream, which every PDB with symbols has, is missing or malformed.
    #[error("corrupt PDB: {0}")]
    Corrupt(&'static str),
    /// The named argument would break the MODULE line (empty; a control character; whitespace or
    /// punctuation in the architecture).
    #[error("invalid {0} for the Breakpad MODULE line")]
    BadArgument(&'static str),
}

/// Converts a PDB image (the whole file as bytes) into Breakpad symbol text.
///
/// `debug_file` is the PDB file name for the MODULE line (e.g. `crash.pdb`: a PDB does not know
/// its own name); `arch` is the Breakpad CPU name (`x86`, `x86_64`, `arm64`), or `unknown` to take
/// it from the PDB's machine type (`unknown` again if that is not one of these). Corrupt modules,
/// line tables or types only leave out what they would have given; an unreadable container or
/// DBI stream is an error.
pub fn pdb_to_breakpad(pdb: &[u8], debug_file: &str, arch: &str) -> Result<String, PdbSymbolError> {
    if pdb.starts_with(b"MSCF") {
        return Err(PdbSymbolError::Compressed);
    }
    if pdb.starts_with(b"MODULE ") {
        return Err(PdbSymbolError::BreakpadText);
    }
    if arch.is_empty() || !arch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(PdbSymbolError::BadArgument("architecture"));
    }
    if debug_file.is_empty() || debug_file.contains(char::is_control) {
        return Err(PdbSymbolError::BadArgument("debug file name"));
    }
    let mut file = PDB::open(Bytes(pdb))?;
    let info = file.pdb_information()?;
    let dbi_data = stream(&mut file, 3).ok_or(PdbSymbolError::Corrupt("no DBI stream"))?;
    let dbi = Dbi::parse(&dbi_data).ok_or(PdbSymbolError::Corrupt("bad DBI header"))?;

    // Breakpad's debug id: the GUID's three integer fields, its eight bytes in order, then the
    // age (the DBI's, which the executable's CodeView record carries) in lowercase hex.
    let arch = match (arch, dbi.machine) {
        ("unknown", 0x14c) => "x86",
        ("unknown", 0x8664) => "x86_64",
        ("unknown", 0xaa64) => "arm64",
        _ => arch,
    };
    let (d1, d2, d3, d4) = info.guid.as_fields();
    let mut out = format!("MODULE windows {arch} {d1:08X}{d2:04X}{d3:04X}");
    for b in d4 {
        let _ = write!(out, "{b:02X}");
    }
    let age = dbi.age.filter(|&a| a != 0).unwrap_or(info.age);
    let _ = writeln!(out, "{age:x} {debug_file}");

    let map = AddrMap::load(&mut file, &dbi);
    let names_data = names_stream(&mut file).and_then(|i| stream(&mut file, i));
    let names = names_data
        .as_deref()
        .and_then(|b| slice(b, 12, usize_at(b, 8)?));
    let names = names.unwrap_or_default();
    let (tpi_data, ipi_data) = (stream(&mut file, 2), stream(&mut file, 4));
    let tpi = Types::parse(tpi_data.as_deref().unwrap_or_default());
    let ipi = Types::parse(ipi_data.as_deref().unwrap_or_default());

    let mut funcs = BTreeMap::new();
    let mut lines = Vec::new();
    for &(index, sym_size, c13_size) in &dbi.modules {
        let Some(data) = stream(&mut file, index) else {
            continue;
        };
        // Symbols follow a 4-byte signature (4: C13); C13 line subsections follow the symbols.
        if u32_at(&data, 0) == Some(4) {
            let syms = slice(&data, 4, sym_size.saturating_sub(4)).unwrap_or_default();
            collect_procs(syms, &map, &tpi, &ipi, &mut funcs);
        }
        if let Some(c13) = slice(&data, sym_size, c13_size) {
            collect_lines(c13, &map, &mut lines);
        }
    }
    // Of two modules' records at one address (identical code folding) the first module's stay,
    // as its function does: the sort is stable.
    lines.sort_by_key(|l: &LineRec| l.rva);
    lines.dedup_by_key(|l| l.rva);

    let globals = stream(&mut file, dbi.sym_records);
    // Only x86 decorates C names; the machine type says so whatever the caller's `arch` is.
    let x86 = dbi.machine == 0x14c || (dbi.machine == 0 && arch == "x86");
    let publics = collect_publics(globals.as_deref().unwrap_or_default(), &map, x86);
    for (rva, p) in &publics {
        // dump_syms takes a function's parameter size from its public symbol's decoration.
        match funcs.get_mut(rva) {
            Some(f) if p.plain == f.raw_name || p.mangled == f.raw_name => f.param = p.param,
            _ => {}
        }
    }
    write_symbols(&mut out, &funcs, &publics, &lines, names, debug_file);
    let [new_fpo, old_fpo] = [9, 0].map(|i| stream(&mut file, dbi.debug_stream(i)));
    let (new_fpo, old_fpo) = (new_fpo.as_deref(), old_fpo.as_deref());
    write_frame_data(
        &mut out,
        new_fpo.unwrap_or_default(),
        old_fpo.unwrap_or_default(),
        &map,
        names,
    );
    Ok(out)
}

// ---- Bounds-checked reads ---------------------------------------------------------------------

// Reads go through `le_bytes`, the workspace's one bounds-checked layer.
use le_bytes::{cstr_at, slice, u16_at, u32_at, usize_at};

/// A name for the output: a control character would end the line-based record early.
fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace(|c: char| c.is_control(), " ")
}
/// `(kind, payload)` of each CodeView symbol record (`u16 length, u16 kind, payload`).
fn records(b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let rec = slice(b, pos.checked_add(2)?, usize::from(u16_at(b, pos)?))?;
        pos += 2 + rec.len();
        Some((u16_at(rec, 0)?, rec.get(2..)?))
    })
}

/// The PDB bytes as the `pdb` crate's source. Its own `Read` + `Seek` source allocates a stream's
/// whole size before reading, and the MSF directory can repeat a page any number of times: a view
/// outside the file or larger than it is refused instead.
#[derive(Debug)]
struct Bytes<'s>(&'s [u8]);

/// A stream's bytes (the crate's views must own them).
#[derive(Debug)]
struct View(Vec<u8>);

impl SourceView<'_> for View {
    fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl<'s> Source<'s> for Bytes<'s> {
    fn view(&mut self, slices: &[SourceSlice]) -> io::Result<Box<dyn SourceView<'s>>> {
        let total = slices.iter().try_fold(0usize, |t, s| t.checked_add(s.size));
        let piece = |s: &SourceSlice| slice(self.0, usize::try_from(s.offset).ok()?, s.size);
        let pieces: Option<Vec<&[u8]>> = slices.iter().map(piece).collect();
        match (total.filter(|&t| t <= self.0.len()), pieces) {
            (Some(_), Some(pieces)) => Ok(Box::new(View(pieces.concat()))),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "stream outside the file",
            )),
        }
    }
}

/// Stream `index`, or None when it is absent (0xFFFF) or unreadable: optional streams that are
/// damaged only leave out what they would have given.
fn stream<'s, S: Source<'s> + 's>(
    f: &mut PDB<'s, S>,
    index: u16,
) -> Option<impl Deref<Target = [u8]> + 's> {
    (index != u16::MAX)
        .then(|| f.raw_stream(StreamIndex(index)).ok().flatten())
        .flatten()
}

// ---- Symbols and lines ------------------------------------------------------------------------

/// A procedure: the name in its symbol record, the name to print, and the other FUNC fields.
struct Func {
    raw_name: String,
    name: String,
    size: u32,
    param: u32,
    multiple: bool,
}

/// The public symbol chosen for an address.
struct Public {
    mangled: String,
    plain: String,
    param: u32,
    multiple: bool,
}

/// Where a line record starts: image RVA, line number and `/names` offset of the file path.
struct LineRec {
    rva: u32,
    line: u32,
    file: u32,
}

fn collect_procs(
    syms: &[u8],
    map: &AddrMap,
    tpi: &Types,
    ipi: &Types,
    funcs: &mut BTreeMap<u32, Func>,
) {
    for (kind, d) in records(syms) {
        // S_LPROC32, S_GPROC32, S_LPROC32_ID, S_GPROC32_ID, S_LPROC32_DPC, S_LPROC32_DPC_ID
        if !matches!(kind, 0x110f | 0x1110 | 0x1146 | 0x1147 | 0x1155 | 0x1156) {
            continue;
        }
        let (Some(size), Some(ty), Some(rva)) = (
            u32_at(d, 12),
            u32_at(d, 24),
            u16_at(d, 32).and_then(|s| map.rva(s, u32_at(d, 28)?)),
        ) else {
            continue;
        };
        if let Some(f) = funcs.get_mut(&rva) {
            f.multiple = true; // identical code folding: several procedures at one address
            continue;
        }
        // The _ID kinds refer to an LF_FUNC_ID / LF_MFUNC_ID record, which holds the type.
        let ty = match ipi.get(ty) {
            Some((0x1601 | 0x1602, id)) if matches!(kind, 0x1146 | 0x1147 | 0x1156) => {
                u32_at(id, 4).unwrap_or(0)
            }
            _ => ty,
        };
        let raw_name = text(cstr_at(d, 35).unwrap_or_default());
        // dump_syms spells MSVC's "`anonymous namespace'" the GCC way.
        let mut name = raw_name.replace("`anonymous namespace'", "(anonymous namespace)");
        if name.is_empty() {
            name.push_str("<name omitted>");
        }
        tpi.signature(ty, &mut name, 0);
        funcs.insert(
            rva,
            Func {
                raw_name,
                name,
                size,
                param: 0,
                multiple: false,
            },
        );
    }
}

fn collect_lines(c13: &[u8], map: &AddrMap, all: &mut Vec<LineRec>) {
    // Subsections: u32 kind, u32 length, data padded to 4. The file checksums (0xF4) map a
    // block's file id to its `/names` offset; the line subsections (0xF2) hold the lines.
    let mut subs = Vec::new();
    let mut pos = 0usize;
    while let Some(data) = usize_at(c13, pos + 4).and_then(|n| slice(c13, pos + 8, n)) {
        subs.push((u32_at(c13, pos).unwrap_or(0), data));
        pos = (pos + 8 + data.len() + 3) & !3;
    }
    let checksums = subs.iter().find(|s| s.0 == 0xf4).map_or(&[][..], |s| s.1);
    let mut out = Vec::new();
    for &(_, s) in subs.iter().filter(|s| s.0 == 0xf2) {
        // Header: offset, section, flags, code size; then blocks of one file's lines: file id,
        // line count, block size, (offset, line and flags) pairs, optional columns.
        let (Some(base), Some(seg)) = (u32_at(s, 0), u16_at(s, 4)) else {
            continue;
        };
        let mut block = 12usize;
        while let (Some(file_id), Some(count), Some(size @ 12..)) = (
            usize_at(s, block),
            usize_at(s, block + 4),
            usize_at(s, block + 8),
        ) {
            let file = u32_at(checksums, file_id).unwrap_or(u32::MAX);
            let entries = slice(s, block + 12, size - 12).unwrap_or_default();
            for e in entries.chunks_exact(8).take(count) {
                let rva = u32_at(e, 0).and_then(|o| map.rva(seg, base.checked_add(o)?));
                let line = u32_at(e, 4).unwrap_or(0) & 0x00ff_ffff;
                out.extend(rva.map(|rva| LineRec { rva, line, file }));
            }
            block = block.saturating_add(size);
        }
    }
    // Of several records at one address (lines that produced no code) the last one holds, as
    // in dump_syms: reversed, the stable sort and dedup keep it.
    out.reverse();
    out.sort_by_key(|l| l.rva);
    out.dedup_by_key(|l| l.rva);
    all.append(&mut out);
}

fn collect_publics(syms: &[u8], map: &AddrMap, x86: bool) -> BTreeMap<u32, Public> {
    let mut publics: BTreeMap<u32, Public> = BTreeMap::new();
    for (kind, d) in records(syms) {
        let (0x110e, Some(flags), Some(off), Some(seg)) =
            (kind, u32_at(d, 0), u32_at(d, 4), u16_at(d, 8))
        else {
            continue;
        };
        let mangled = text(cstr_at(d, 10).unwrap_or_default());
        // Code or function flag, or else an executable section (IMAGE_SCN_CNT_CODE or
        // MEM_EXECUTE) but not the string and float constants some system DLLs keep there.
        let exec = map.section(seg).is_some_and(|s| s.1 & 0x2000_0020 != 0);
        let constant = ["??_C", "__real@", "__xmm@", "__ymm@"]
            .iter()
            .any(|p| mangled.starts_with(p));
        let Some(rva) = map
            .rva(seg, off)
            .filter(|_| (flags & 3 != 0 || exec) && !constant)
        else {
            continue;
        };
        let (plain, param) = undecorate(&mangled, x86);
        match publics.get_mut(&rva) {
            // Aliases: the smallest name stays, as in dump_syms, marked as one of several.
            Some(p) if p.mangled != mangled => {
                p.multiple = true;
                if mangled < p.mangled {
                    (p.mangled, p.plain, p.param) = (mangled, plain, param);
                }
            }
            Some(_) => {}
            None => drop(publics.insert(
                rva,
                Public {
                    mangled,
                    plain,
                    param,
                    multiple: false,
                },
            )),
        }
    }
    publics
}

/// Strips the x86 C decorations: `_name` (cdecl), `_name@8` (stdcall), `@name@8` (fastcall),
/// returning the name and the argument size (reported whole for fastcall too, as dump_syms does).
/// x64 and arm64 C names are not decorated; C++ decorated names (`?...`) stay as they are.
fn undecorate(name: &str, x86: bool) -> (String, u32) {
    let Some(rest) = name.strip_prefix(['_', '@']).filter(|_| x86) else {
        return (name.to_owned(), 0);
    };
    if let Some((base, size)) = rest
        .rsplit_once('@')
        .and_then(|(b, n)| Some((b, n.parse().ok()?)))
    {
        return (base.to_owned(), size);
    }
    (
        (if name.starts_with('_') { rest } else { name }).to_owned(),
        0,
    )
}

// ---- Output -----------------------------------------------------------------------------------

fn write_symbols(
    out: &mut String,
    funcs: &BTreeMap<u32, Func>,
    publics: &BTreeMap<u32, Public>,
    lines: &[LineRec],
    names: &[u8],
    debug_file: &str,
) {
    let funcs: Vec<(u32, &Func)> = funcs
        .iter()
        .filter(|f| f.1.size > 0)
        .map(|(r, f)| (*r, f))
        .collect();
    let mut files: HashMap<u32, usize> = HashMap::new();
    let mut file_list = Vec::new();
    // Records by address, so that FUNCs and PUBLICs come out in one sorted run.
    let mut body: BTreeMap<u32, String> = BTreeMap::new();
    let mut end_max = 0;
    for (i, &(rva, f)) in funcs.iter().enumerate() {
        // Overlapping FUNCs would be dropped by the Breakpad parser: each ends at the next.
        let end = rva
            .saturating_add(f.size)
            .min(funcs.get(i + 1).map_or(u32::MAX, |n| n.0));
        end_max = end_max.max(end);
        let m = if f.multiple { "m " } else { "" };
        let mut record = format!("FUNC {m}{rva:x} {:x} {:x} {}\n", end - rva, f.param, f.name);
        let in_func =
            lines.partition_point(|l| l.rva < rva)..lines.partition_point(|l| l.rva < end);
        let mut kept: Vec<&LineRec> = Vec::new();
        for l in lines.get(in_func).unwrap_or_default() {
            // Line 0xF00F00 or 0xFEEFEE marks code without a source line: the line before
            // continues over it, as over a repeat of itself (both as in dump_syms).
            let repeat = kept
                .last()
                .is_some_and(|k| (k.line, k.file) == (l.line, l.file));
            if l.line < 0xf0_0000 && !repeat {
                kept.push(l);
            }
        }
        for (j, l) in kept.iter().enumerate() {
            let stop = kept.get(j + 1).map_or(end, |n| n.rva);
            let next_index = files.len();
            let file = *files.entry(l.file).or_insert_with(|| {
                file_list.push(l.file);
                next_index
            });
            let _ = writeln!(record, "{:x} {:x} {} {file}", l.rva, stop - l.rva, l.line);
        }
        body.insert(rva, record);
    }
    for (&rva, p) in publics {
        let func = funcs.get(funcs.partition_point(|f| f.0 <= rva).wrapping_sub(1));
        if func.is_some_and(|&(start, f)| rva - start < f.size) {
            continue; // inside a FUNC, which lookups find first anyway
        }
        let m = if p.multiple { "m " } else { "" };
        body.insert(
            rva,
            format!("PUBLIC {m}{rva:x} {:x} {}\n", p.param, p.plain),
        );
        end_max = end_max.max(rva.saturating_add(1));
    }
    // As dump_syms does, a marker ends the last symbol so addresses past it resolve to nothing.
    if end_max > 0 {
        body.insert(
            end_max,
            format!("PUBLIC {end_max:x} 0 <unknown in {debug_file}>\n"),
        );
    }
    for (i, f) in file_list.iter().enumerate() {
        let path = usize::try_from(*f).ok().and_then(|o| cstr_at(names, o));
        let _ = writeln!(out, "FILE {i} {}", text(path.unwrap_or(b"<unknown>")));
    }
    body.values().for_each(|b| out.push_str(b));
}

/// x86 frame data (32-byte `FRAMEDATA` records) as `STACK WIN 4` records with their programs,
/// and, where none starts at the same address, old FPO records (16 bytes) as `STACK WIN 0`.
fn write_frame_data(out: &mut String, new: &[u8], old: &[u8], map: &AddrMap, names: &[u8]) {
    let mut seen = HashSet::new();
    for r in new.chunks_exact(32) {
        let field = |o| u32_at(r, o).unwrap_or(0);
        let program = usize::try_from(field(20))
            .ok()
            .and_then(|o| cstr_at(names, o));
        let (Some(rva), Some(program)) = (map.translate(field(0)), program) else {
            continue;
        };
        if seen.insert(rva) {
            // Sizes of code, locals, parameters, maximum stack; prolog and saved registers.
            let (prolog, saved) = (u16_at(r, 24).unwrap_or(0), u16_at(r, 26).unwrap_or(0));
            let sizes = format!("{:x} {prolog:x} 0 {:x} {saved:x}", field(4), field(12));
            let (locals, max_stack, program) = (field(8), field(16), text(program));
            let program = program.trim();
            let _ = writeln!(
                out,
                "STACK WIN 4 {rva:x} {sizes} {locals:x} {max_stack:x} 1 {program}"
            );
        }
    }
    for r in old.chunks_exact(16) {
        let field = |o| u64::from(u32_at(r, o).unwrap_or(0));
        let (params, attr) = (u16_at(r, 12).unwrap_or(0), u16_at(r, 14).unwrap_or(0));
        let Some(rva) = u32_at(r, 0).and_then(|a| map.translate(a)) else {
            continue;
        };
        if seen.insert(rva) {
            // Locals and parameters count dwords; the attributes hold the prolog size (bits
            // 0-7), the saved registers (8-10) and whether EBP is the frame pointer (12).
            let (prolog, regs, bp) = (attr & 0xff, (attr >> 8) & 7, (attr >> 12) & 1);
            let (size, locals, params) = (field(4), field(8) * 4, u32::from(params) * 4);
            let _ = writeln!(
                out,
                "STACK WIN 0 {rva:x} {size:x} {prolog:x} 0 {params:x} {:x} {locals:x} 0 0 {bp}",
                regs * 4
            );
        }
    }
}

mod dbi;
mod types;
use dbi::{names_stream, AddrMap, Dbi};
use types::Types;
#[cfg(test)]
use types::MAX_NAME;

#[cfg(test)]
mod tests;
