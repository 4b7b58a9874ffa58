//! Converts a PDB into Breakpad symbol text.
//!
//! The stack walker (`minidump-unwind` / `breakpad-symbols`) symbolizes frames only from Breakpad
//! text symbol files, so a PDB fetched from a Microsoft symbol server is turned, in memory, into
//! the text `dump_syms` would write for it and handed to `breakpad_symbols::SymbolFile`.
//!
//! Converted: the MODULE line (GUID and age from the PDB info stream and the DBI stream); a FUNC
//! for every `S_GPROC32`/`S_LPROC32` (and `_ID`) in the module streams, named like dump_syms does
//! (`ns::Class::method(int, char const*) const`: symbol name plus argument list formatted from
//! the type records); its line records from the module's C13 line subsections; PUBLIC records for
//! the `S_PUB32` symbols in code that do not start a FUNC; and x86 STACK WIN records from the
//! frame data stream. Public names lose their x86 C decoration (`_f`, `_f@8`, `@f@8`, which also
//! gives the parameter size); simple C++ decorations (`?f@ns@@...`) become `ns::f` without the
//! signature; any other C++ decoration is kept as it is.
//!
//! Not converted: inline frames (INLINE records), STACK CFI (x64/arm64 unwind data lives in the
//! PE, not the PDB), old-style FPO records (`STACK WIN 0`), C11 line programs (pre-2005
//! compilers), separated code blocks (`S_SEPCODE`), and the pieces of a function split by OMAP
//! reordering (only its start is translated).
//!
//! The `pdb` crate reads the MSF container (stream directory, page lists, info stream). The
//! records inside the streams are decoded here with bounds-checked reads, because several of the
//! crate's own record parsers assert, slice unchecked or overflow on corrupt input: a corrupt PDB
//! must give an error or a partial result, never a panic.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Cursor;

use std::ops::Deref;

use pdb::{Source, StreamIndex, PDB};

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
    /// A stream every PDB has is missing or malformed.
    #[error("corrupt PDB: {0}")]
    Corrupt(&'static str),
    /// The argument named would break the MODULE line (empty, whitespace or control characters).
    #[error("invalid {0} for the Breakpad MODULE line")]
    BadArgument(&'static str),
}

/// Converts a PDB image (the whole file as bytes) into Breakpad symbol text.
///
/// `debug_file` is the PDB file name for the MODULE line (e.g. `crash.pdb`: the PDB does not
/// know its own name); `arch` is the Breakpad CPU name: `x86`, `x86_64` or `arm64`.
/// Corrupt modules, line tables or types leave out what they would give, and the rest is still
/// converted; only an unreadable container or DBI stream is an error.
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
    if debug_file.is_empty() || debug_file.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(PdbSymbolError::BadArgument("debug file name"));
    }
    let mut file = PDB::open(Cursor::new(pdb))?;
    let info = file.pdb_information()?;
    let dbi_stream = stream(&mut file, 3).ok_or(PdbSymbolError::Corrupt("no DBI stream"))?;
    let dbi = Dbi::parse(&dbi_stream).ok_or(PdbSymbolError::Corrupt("DBI header"))?;

    // The GUID's first three fields print as numbers, the last eight bytes in order; the age
    // (DBI's, which is what the executable's CodeView record carries) follows in lowercase hex.
    let (d1, d2, d3, d4) = info.guid.as_fields();
    let mut out = format!("MODULE windows {arch} {d1:08X}{d2:04X}{d3:04X}");
    for b in d4 {
        let _ = write!(out, "{b:02X}");
    }
    let age = dbi.age.filter(|&a| a != 0).unwrap_or(info.age);
    let _ = writeln!(out, "{age:x} {debug_file}");

    let map = AddrMap::load(&mut file, &dbi);
    let names_data = names_stream(&mut file).and_then(|i| stream(&mut file, i));
    let names = string_table(names_data.as_deref().unwrap_or_default());
    let tpi_data = stream(&mut file, 2);
    let ipi_data = stream(&mut file, 4);
    let tpi = Types::parse(tpi_data.as_deref().unwrap_or_default());
    let ipi = Types::parse(ipi_data.as_deref().unwrap_or_default());

    let mut funcs: BTreeMap<u32, Func> = BTreeMap::new();
    let mut lines: Vec<LineRec> = Vec::new();
    for m in &dbi.modules {
        let Some(data) = stream(&mut file, m.stream) else { continue };
        let bytes: &[u8] = &data;
        if let Some(syms) = slice(bytes, 4, m.sym_size.saturating_sub(4)) {
            if u32_at(bytes, 0) == Some(4) {
                collect_procs(syms, &map, &tpi, &ipi, &mut funcs);
            }
        }
        if let Some(c13) = slice(bytes, m.sym_size, m.c13_size) {
            collect_lines(c13, &map, &mut lines);
        }
    }
    // Stable sort: of two records at one address (identical code folded), the first module wins,
    // as its function does.
    lines.sort_by_key(|l| l.rva);
    lines.dedup_by_key(|l| l.rva);

    let publics = match stream(&mut file, dbi.sym_records) {
        Some(s) => collect_publics(&s, &map, &funcs, arch == "x86"),
        None => BTreeMap::new(),
    };
    for (rva, p) in &publics {
        // dump_syms takes a function's parameter size from the decoration of its public symbol.
        if let Some(f) = funcs.get_mut(rva) {
            if p.plain == f.raw_name || p.mangled == f.raw_name {
                f.param = p.param;
            }
        }
    }
    write_symbols(&mut out, &funcs, &publics, &lines, names);
    if let Some(frames) = stream(&mut file, dbi.debug_stream(9)) {
        write_frame_data(&mut out, &frames, &map, names);
    }
    Ok(out)
}

// ---- Bounds-checked little-endian reads -------------------------------------------------------

fn slice(b: &[u8], off: usize, len: usize) -> Option<&[u8]> {
    b.get(off..off.checked_add(len)?)
}
fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(slice(b, off, 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(slice(b, off, 4)?.try_into().ok()?))
}
fn usize_at(b: &[u8], off: usize) -> Option<usize> {
    usize::try_from(u32_at(b, off)?).ok()
}
/// The NUL-terminated string at `off` (without the NUL).
fn cstr_at(b: &[u8], off: usize) -> Option<&[u8]> {
    let rest = b.get(off..)?;
    rest.get(..rest.iter().position(|&c| c == 0)?)
}
fn text(b: &[u8]) -> String {
    // A name with a line break would end the record early: the Breakpad parser is line based.
    String::from_utf8_lossy(b).replace(|c: char| c.is_control(), " ")
}
/// Iterates `(kind, payload)` of CodeView records: `u16 length, u16 kind, payload`.
fn records(b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(b, pos)?);
        let rec = slice(b, pos.checked_add(2)?, len)?;
        pos = pos.checked_add(2 + len)?;
        Some((u16_at(rec, 0)?, rec.get(2..)?))
    })
}

/// Reads stream `index`; a missing or unreadable optional stream reads as absent.
fn stream<'s, S: Source<'s> + 's>(
    file: &mut PDB<'s, S>,
    index: u16,
) -> Option<impl Deref<Target = [u8]> + 's> {
    if index == u16::MAX {
        return None;
    }
    file.raw_stream(StreamIndex(index)).ok().flatten()
}

// ---- DBI stream, section headers and address translation -------------------------------------

/// What the converter needs from a module's entry in the DBI module list.
struct ModuleEntry {
    stream: u16,
    sym_size: usize,
    c13_size: usize,
}

struct Dbi<'a> {
    age: Option<u32>,
    sym_records: u16,
    modules: Vec<ModuleEntry>,
    debug_header: &'a [u8],
}

impl<'a> Dbi<'a> {
    fn parse(b: &'a [u8]) -> Option<Self> {
        // Only the VC 7.0+ layout (signature -1); substream sizes at 24..56 in file order.
        if u32_at(b, 0)? != u32::MAX {
            return None;
        }
        let mut pos = 64usize;
        let module_list = slice(b, pos, usize_at(b, 24)?)?;
        for off in [24, 28, 32, 36, 40, 52] {
            pos = pos.checked_add(usize_at(b, off)?)?;
        }
        let debug_header = slice(b, pos, usize_at(b, 48)?).unwrap_or_default();
        let mut modules = Vec::new();
        let mut p = 0usize;
        while let Some(fixed) = slice(module_list, p, 64) {
            let (Some(stream), Some(sym_size), Some(c13_size)) =
                (u16_at(fixed, 34), usize_at(fixed, 36), usize_at(fixed, 44))
            else {
                break;
            };
            modules.push(ModuleEntry { stream, sym_size, c13_size });
            // Skip the module name and object file name, then pad to 4.
            let mut q = p + 64;
            for _ in 0..2 {
                q = q.saturating_add(cstr_at(module_list, q).map_or(usize::MAX - 4, <[u8]>::len) + 1);
            }
            p = q.saturating_add(3) & !3;
        }
        Some(Dbi { age: u32_at(b, 8), sym_records: u16_at(b, 20)?, modules, debug_header })
    }

    /// Stream number `i` of the optional debug header (0xFFFF: none).
    fn debug_stream(&self, i: usize) -> u16 {
        u16_at(self.debug_header, i * 2).unwrap_or(u16::MAX)
    }
}

/// Maps PDB section:offset addresses to image RVAs, with checked arithmetic throughout.
struct AddrMap {
    /// Virtual address, virtual size and characteristics of each section the PDB refers to.
    sections: Vec<(u32, u32, u32)>,
    /// OMAP from the PDB's original layout to the final image, sorted by source address.
    omap: Vec<(u32, u32)>,
}

impl AddrMap {
    fn load<'s, S: Source<'s> + 's>(file: &mut PDB<'s, S>, dbi: &Dbi<'_>) -> Self {
        let headers = |s: Option<&[u8]>| -> Vec<(u32, u32, u32)> {
            let h = s.unwrap_or_default().chunks_exact(40);
            h.filter_map(|h| Some((u32_at(h, 12)?, u32_at(h, 8)?, u32_at(h, 36)?))).collect()
        };
        // An image reordered after linking (BBT/OMAP) keeps the original section headers, which
        // the symbols refer to, and an OMAP to the final layout.
        let original = headers(stream(file, dbi.debug_stream(10)).as_deref());
        let omap_stream = stream(file, dbi.debug_stream(4));
        if let (false, Some(s)) = (original.is_empty(), omap_stream) {
            let mut omap: Vec<(u32, u32)> = s.chunks_exact(8)
                .filter_map(|r| Some((u32_at(r, 0)?, u32_at(r, 4)?)))
                .collect();
            omap.sort_unstable();
            return AddrMap { sections: original, omap };
        }
        AddrMap { sections: headers(stream(file, dbi.debug_stream(5)).as_deref()), omap: Vec::new() }
    }

    fn rva(&self, section: u16, offset: u32) -> Option<u32> {
        let &(va, _, _) = self.sections.get(usize::from(section).checked_sub(1)?)?;
        self.translate(va.checked_add(offset)?)
    }

    fn translate(&self, internal: u32) -> Option<u32> {
        if self.omap.is_empty() {
            return Some(internal);
        }
        let i = self.omap.partition_point(|&(src, _)| src <= internal).checked_sub(1)?;
        let &(src, dst) = self.omap.get(i)?;
        // A target of 0 marks code the optimizer removed.
        (dst != 0).then(|| dst.checked_add(internal.checked_sub(src)?)).flatten()
    }

    fn is_code(&self, section: u16) -> bool {
        let s = usize::from(section).checked_sub(1).and_then(|i| self.sections.get(i));
        // IMAGE_SCN_CNT_CODE or IMAGE_SCN_MEM_EXECUTE.
        s.is_some_and(|&(_, _, ch)| ch & 0x2000_0020 != 0)
    }
}

// ---- Global string table ----------------------------------------------------------------------

/// Finds the `/names` stream in the info stream's named-stream hash table.
fn names_stream<'s, S: Source<'s> + 's>(file: &mut PDB<'s, S>) -> Option<u16> {
    let info = stream(file, 1)?;
    let b: &[u8] = &info;
    let names_len = usize_at(b, 28)?;
    let names = slice(b, 32, names_len)?;
    let mut p = 32usize.checked_add(names_len)?;
    let count = u32_at(b, p)?;
    p = p.checked_add(8)?; // count, capacity
    for _ in 0..2 {
        // present and deleted bit vectors: word count, words
        p = p.checked_add(4)?.checked_add(usize_at(b, p)?.checked_mul(4)?)?;
    }
    for i in 0..usize::try_from(count).ok()? {
        let e = p.checked_add(i.checked_mul(8)?)?;
        if cstr_at(names, usize_at(b, e)?) == Some(b"/names") {
            return u16::try_from(u32_at(b, e + 4)?).ok();
        }
    }
    None
}

/// The string data of the `/names` stream (header: magic, version, byte count).
fn string_table(b: &[u8]) -> &[u8] {
    usize_at(b, 8).and_then(|n| slice(b, 12, n)).unwrap_or_default()
}

// ---- Type records (TPI / IPI) -----------------------------------------------------------------

const LF_MODIFIER: u16 = 0x1001;
const LF_POINTER: u16 = 0x1002;
const LF_PROCEDURE: u16 = 0x1008;
const LF_MFUNCTION: u16 = 0x1009;
const LF_ARGLIST: u16 = 0x1201;
const LF_ARRAY: u16 = 0x1503;
const LF_CLASS: u16 = 0x1504;
const LF_STRUCTURE: u16 = 0x1505;
const LF_UNION: u16 = 0x1506;
const LF_ENUM: u16 = 0x1507;
const LF_INTERFACE: u16 = 0x1519;
const LF_FUNC_ID: u16 = 0x1601;
const LF_MFUNC_ID: u16 = 0x1602;
/// Bounds on formatting a name, as corrupt (or merely huge) type graphs can be cyclic or
/// exponentially wide.
const MAX_DEPTH: u32 = 24;
const MAX_NAME: usize = 4096;

/// The records of a TPI or IPI stream, indexed by type index.
struct Types<'a> {
    first: u32,
    recs: Vec<&'a [u8]>,
}

impl<'a> Types<'a> {
    fn parse(b: &'a [u8]) -> Self {
        let first = u32_at(b, 8).unwrap_or(0x1000);
        let data = usize_at(b, 4).and_then(|h| b.get(h..)).unwrap_or_default();
        let mut recs = Vec::new();
        let mut pos = 0usize;
        while let Some(rec) = u16_at(data, pos).and_then(|n| slice(data, pos + 2, n.into())) {
            recs.push(rec);
            pos += 2 + rec.len();
        }
        Types { first, recs }
    }

    /// Kind and payload of record `ti`.
    fn get(&self, ti: u32) -> Option<(u16, &'a [u8])> {
        let rec = self.recs.get(usize::try_from(ti.checked_sub(self.first)?).ok()?)?;
        Some((u16_at(rec, 0)?, rec.get(2..)?))
    }

    fn kind(&self, ti: u32) -> Option<u16> {
        self.get(ti).map(|(k, _)| k)
    }

    /// A procedure's signature `(args)` or `(args) const`; None when it has no function type.
    fn signature(&self, ti: u32) -> Option<String> {
        let (kind, d) = self.get(ti)?;
        let mut out = String::from("(");
        let mut is_const = false;
        match kind {
            LF_PROCEDURE => self.args(u32_at(d, 8)?, &mut out, 0),
            LF_MFUNCTION => {
                let (class, this, list) = (u32_at(d, 4)?, u32_at(d, 8)?, u32_at(d, 16)?);
                if this != 0 {
                    // The `this` type is `Class*` or `Class const*`; anything else (Rust's
                    // associated functions emit one) is really a first argument.
                    match self.get(this) {
                        Some((LF_POINTER, p)) if u32_at(p, 0) == Some(class) => {}
                        Some((LF_POINTER, p)) if self.const_of(u32_at(p, 0)?) == Some(class) => {
                            is_const = true;
                        }
                        _ => {
                            self.ty(this, &mut out, 0);
                            if self.get(list).and_then(|(_, a)| u32_at(a, 0)).unwrap_or(0) > 0 {
                                out.push_str(", ");
                            }
                        }
                    }
                }
                self.args(list, &mut out, 0);
            }
            _ => return None,
        }
        out.push_str(if is_const { ") const" } else { ")" });
        Some(out)
    }

    /// The type a `const` modifier applies to, if `ti` is one.
    fn const_of(&self, ti: u32) -> Option<u32> {
        match self.get(ti)? {
            (LF_MODIFIER, m) if u16_at(m, 4)? & 1 != 0 => u32_at(m, 0),
            _ => None,
        }
    }

    fn args(&self, list: u32, out: &mut String, depth: u32) {
        if let Some((LF_ARGLIST, d)) = self.get(list) {
            let mut i = 0usize;
            while let Some(arg) = u32_at(d, 4 + 4 * i).filter(|_| u32_at(d, 0) > Some(i as u32)) {
                if i > 0 {
                    out.push_str(", ");
                }
                self.ty(arg, out, depth + 1);
                i += 1;
            }
        }
    }

    /// Appends the C++ spelling of type `ti`, as dump_syms writes argument types.
    fn ty(&self, ti: u32, out: &mut String, depth: u32) {
        if depth > MAX_DEPTH || out.len() > MAX_NAME {
            out.push_str("...");
            return;
        }
        if ti < 0x1000 {
            return primitive(ti, out);
        }
        let Some((kind, d)) = self.get(ti) else {
            let _ = write!(out, "<type 0x{ti:x}>");
            return;
        };
        let name = |off: Option<usize>| off.and_then(|o| cstr_at(d, o)).map(text).unwrap_or_default();
        match kind {
            LF_MODIFIER => {
                let under = u32_at(d, 0).unwrap_or(0);
                let is_const = u16_at(d, 4).is_some_and(|a| a & 1 != 0);
                let is_ptr = self.kind(under) == Some(LF_POINTER);
                if is_const && !is_ptr {
                    out.push_str("const ");
                }
                self.ty(under, out, depth + 1);
                if is_const && is_ptr {
                    out.push_str(" const");
                }
            }
            LF_POINTER => self.pointer(d, out, depth),
            LF_PROCEDURE | LF_MFUNCTION => {
                out.push_str(&self.signature(ti).unwrap_or_default());
            }
            LF_ARRAY => {
                self.ty(u32_at(d, 0).unwrap_or(0), out, depth + 1);
                out.push_str("[]");
            }
            LF_CLASS | LF_STRUCTURE | LF_INTERFACE => out.push_str(&name(numeric_end(d, 16))),
            LF_UNION => out.push_str(&name(numeric_end(d, 8))),
            LF_ENUM => out.push_str(&name(Some(12))),
            _ => {
                let _ = write!(out, "<type 0x{ti:x}>");
            }
        }
    }

    fn pointer(&self, d: &[u8], out: &mut String, depth: u32) {
        let (under, attr) = (u32_at(d, 0).unwrap_or(0), u32_at(d, 4).unwrap_or(0));
        let sigil = match (attr >> 5) & 7 {
            1 => "&",
            4 => "&&",
            _ => "*",
        };
        match self.get(under) {
            Some((LF_PROCEDURE, f)) => {
                self.ty(u32_at(f, 0).unwrap_or(0), out, depth + 1);
                let _ = write!(out, " ({sigil})(");
                self.args(u32_at(f, 8).unwrap_or(0), out, depth);
                out.push(')');
                return;
            }
            Some((LF_MFUNCTION, f)) => {
                self.ty(u32_at(f, 0).unwrap_or(0), out, depth + 1);
                out.push_str(" (");
                self.ty(u32_at(f, 4).unwrap_or(0), out, depth + 1);
                out.push_str("::*)(");
                self.args(u32_at(f, 16).unwrap_or(0), out, depth);
                out.push(')');
                return;
            }
            // A const pointee is written after its type: `char const*`, `char* const*`.
            Some((LF_MODIFIER, _)) if self.const_of(under).is_some() => {
                self.ty(self.const_of(under).unwrap_or(0), out, depth + 1);
                out.push_str(" const");
            }
            _ => self.ty(under, out, depth + 1),
        }
        out.push_str(sigil);
        if attr & 0x400 != 0 {
            out.push_str(" const");
        }
    }
}

/// Offset just past the numeric leaf at `off` (a class or union's size).
fn numeric_end(d: &[u8], off: usize) -> Option<usize> {
    let len = match u16_at(d, off)? {
        0..=0x7fff => 0,
        0x8000 => 1,
        0x8001 | 0x8002 => 2,
        0x8003 | 0x8004 => 4,
        0x8009 | 0x800a => 8,
        _ => return None,
    };
    Some(off + 2 + len)
}

fn primitive(ti: u32, out: &mut String) {
    let name = match ti & 0xff {
        0x00 => "<NoType>",
        0x03 => "void",
        0x08 => "HRESULT",
        0x10 => "signed char",
        0x11 => "short",
        0x12 => "long",
        0x13 => "long long",
        0x20 => "unsigned char",
        0x21 => "unsigned short",
        0x22 => "unsigned long",
        0x23 => "unsigned long long",
        0x30 => "bool",
        0x40 => "float",
        0x41 => "double",
        0x42 => "long double",
        0x68 => "int8_t",
        0x69 => "uint8_t",
        0x70 => "char",
        0x71 => "wchar_t",
        0x72 => "int16_t",
        0x73 => "uint16_t",
        0x74 => "int",
        0x75 => "unsigned int",
        0x76 => "int64_t",
        0x77 => "uint64_t",
        0x7a => "char16_t",
        0x7b => "char32_t",
        0x7c => "char8_t",
        _ => {
            let _ = write!(out, "<type 0x{ti:x}>");
            return;
        }
    };
    out.push_str(name);
    // Bits 8..12 give the pointer mode of the built-in `T*` types.
    if ti & 0xf00 != 0 {
        out.push('*');
    }
}

// ---- Symbols and lines ------------------------------------------------------------------------

/// A procedure: its name as in the symbol record, the name to print, and the FUNC fields.
struct Func {
    raw_name: String,
    name: String,
    size: u32,
    param: u32,
    multiple: bool,
}

/// A public symbol chosen for one address.
struct Public {
    mangled: String,
    plain: String,
    param: u32,
    multiple: bool,
}

/// A line record start: image RVA, line number and `/names` offset of the file path.
struct LineRec {
    rva: u32,
    line: u32,
    file: u32,
}

fn collect_procs(syms: &[u8], map: &AddrMap, tpi: &Types, ipi: &Types, funcs: &mut BTreeMap<u32, Func>) {
    for (kind, d) in records(syms) {
        // S_LPROC32, S_GPROC32, S_LPROC32_ID, S_GPROC32_ID, S_LPROC32_DPC, S_LPROC32_DPC_ID
        if !matches!(kind, 0x110f | 0x1110 | 0x1146 | 0x1147 | 0x1155 | 0x1156) {
            continue;
        }
        let (Some(size), Some(ty), Some(off), Some(seg)) =
            (u32_at(d, 12), u32_at(d, 24), u32_at(d, 28), u16_at(d, 32))
        else {
            continue;
        };
        let Some(rva) = map.rva(seg, off) else { continue };
        if let Some(f) = funcs.get_mut(&rva) {
            // Identical code folding: several procedures at one address.
            f.multiple = true;
            continue;
        }
        // The _ID variants refer to an LF_FUNC_ID / LF_MFUNC_ID record, which names the type.
        let ty = match ipi.get(ty) {
            Some((LF_FUNC_ID | LF_MFUNC_ID, id)) if matches!(kind, 0x1146 | 0x1147 | 0x1156) => {
                u32_at(id, 4).unwrap_or(0)
            }
            _ => ty,
        };
        let raw_name = text(cstr_at(d, 35).unwrap_or_default());
        let mut name = if raw_name.is_empty() { "<name omitted>".to_owned() } else { raw_name.clone() };
        name.push_str(&tpi.signature(ty).unwrap_or_default());
        funcs.insert(rva, Func { raw_name, name, size, param: 0, multiple: false });
    }
}

fn collect_lines(c13: &[u8], map: &AddrMap, out: &mut Vec<LineRec>) {
    // Subsections: u32 kind, u32 length, data padded to 4. The file checksums (0xF4) map a
    // block's file id to the file's `/names` offset; the line subsections (0xF2) hold the lines.
    let mut subs = Vec::new();
    let mut pos = 0usize;
    while let (Some(kind), Some(len)) = (u32_at(c13, pos), usize_at(c13, pos + 4)) {
        let Some(data) = slice(c13, pos + 8, len) else { break };
        subs.push((kind, data));
        pos = (pos + 8 + len + 3) & !3;
    }
    let checksums = subs.iter().find(|s| s.0 == 0xf4).map_or(&[][..], |s| s.1);
    for &(_, s) in subs.iter().filter(|s| s.0 == 0xf2) {
        let (Some(base), Some(seg)) = (u32_at(s, 0), u16_at(s, 4)) else { continue };
        let mut block = 12usize;
        while let (Some(file_id), Some(count), Some(size)) =
            (usize_at(s, block), u32_at(s, block + 4), usize_at(s, block + 8))
        {
            let file = u32_at(checksums, file_id).unwrap_or(u32::MAX);
            let entries = slice(s, block + 12, size.saturating_sub(12)).unwrap_or_default();
            for e in entries.chunks_exact(8).take(usize::try_from(count).unwrap_or(0)) {
                let (Some(off), Some(flags)) = (u32_at(e, 0), u32_at(e, 4)) else { break };
                let rva = base.checked_add(off).and_then(|o| map.rva(seg, o));
                if let Some(rva) = rva {
                    out.push(LineRec { rva, line: flags & 0x00ff_ffff, file });
                }
            }
            if size < 12 {
                break;
            }
            block += size;
        }
    }
}

fn collect_publics(
    syms: &[u8],
    map: &AddrMap,
    funcs: &BTreeMap<u32, Func>,
    x86: bool,
) -> BTreeMap<u32, Public> {
    let mut publics: BTreeMap<u32, Public> = BTreeMap::new();
    for (kind, d) in records(syms) {
        let (0x110e, Some(flags), Some(off), Some(seg)) = (kind, u32_at(d, 0), u32_at(d, 4), u16_at(d, 8))
        else {
            continue;
        };
        let mangled = text(cstr_at(d, 10).unwrap_or_default());
        // Code or function flag, or anything in an executable section except the string and
        // floating-point constants some system DLLs keep there.
        let constant = ["??_C", "__real@", "__xmm@", "__ymm@"].iter().any(|p| mangled.starts_with(p));
        if (flags & 3 == 0 && !map.is_code(seg)) || constant {
            continue;
        }
        let Some(rva) = map.rva(seg, off) else { continue };
        let (plain, param) = undecorate(&mangled, x86);
        if let Some(p) = publics.get_mut(&rva) {
            // Aliases: keep the smallest name, as dump_syms does, and say there are several.
            p.multiple = !funcs.contains_key(&rva);
            if mangled < p.mangled {
                *p = Public { mangled, plain, param, multiple: p.multiple };
            }
            continue;
        }
        publics.insert(rva, Public { mangled, plain, param, multiple: false });
    }
    publics
}

/// Undecorates a public name where it is cheap; returns the name and, for x86 `__stdcall` and
/// `__fastcall` names, the size of the parameters passed on the stack.
fn undecorate(name: &str, x86: bool) -> (String, u32) {
    if let Some(rest) = name.strip_prefix('?') {
        return (undecorate_cpp(rest).unwrap_or_else(|| name.to_owned()), 0);
    }
    let Some(rest) = name.strip_prefix(['_', '@']).filter(|_| x86) else {
        return (name.to_owned(), 0);
    };
    if let Some((base, n)) = rest.rsplit_once('@') {
        if let Ok(n) = n.parse::<u32>() {
            // __fastcall passes the first 8 bytes in ECX and EDX.
            let n = if name.starts_with('@') { n.saturating_sub(8) } else { n };
            return (base.to_owned(), n);
        }
    }
    let plain = if name.starts_with('_') { rest } else { name };
    (plain.to_owned(), 0)
}

/// `name@scope@scope2@@...` (after the leading `?`) to `scope2::scope::name`, plus the
/// constructor, destructor and a few operator names; None where back references or templates
/// would need a real demangler.
fn undecorate_cpp(s: &str) -> Option<String> {
    let (special, s) = match s.strip_prefix('?') {
        Some(r) => {
            let code = r.get(..1)?;
            let code = if code == "_" { r.get(..2)? } else { code };
            (Some(code), r.get(code.len()..)?)
        }
        None => (None, s),
    };
    let (qualified, _) = s.split_once("@@")?;
    let parts: Vec<&str> = qualified.split('@').collect();
    let ok = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !parts.iter().all(ok) || parts.first()?.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut scopes: Vec<String> = parts.iter().rev().map(|p| (*p).to_owned()).collect();
    if let Some(code) = special {
        let class = parts.first()?;
        scopes.push(match code {
            "0" => (*class).to_owned(),
            "1" => format!("~{class}"),
            "2" => "operator new".to_owned(),
            "3" => "operator delete".to_owned(),
            "4" => "operator=".to_owned(),
            "_G" => "`scalar deleting destructor'".to_owned(),
            "_E" => "`vector deleting destructor'".to_owned(),
            _ => return None,
        });
        if matches!(code, "2" | "3") {
            scopes.retain(|s| s != class);
        }
    }
    Some(scopes.join("::"))
}

// ---- Output -----------------------------------------------------------------------------------

fn write_symbols(
    out: &mut String,
    funcs: &BTreeMap<u32, Func>,
    publics: &BTreeMap<u32, Public>,
    lines: &[LineRec],
    names: &[u8],
) {
    let mut files: HashMap<u32, usize> = HashMap::new();
    let mut file_list: Vec<u32> = Vec::new();
    let mut body = String::new();
    let mut func_iter = funcs.iter().filter(|(_, f)| f.size > 0).peekable();
    let mut pub_iter = publics.iter().filter(|(rva, _)| !funcs.get(rva).is_some_and(|f| f.size > 0)).peekable();
    loop {
        let take_func = match (func_iter.peek(), pub_iter.peek()) {
            (Some((f, _)), Some((p, _))) => f <= p,
            (f, _) => f.is_some(),
        };
        if !take_func {
            let Some((rva, p)) = pub_iter.next() else { break };
            let m = if p.multiple { "m " } else { "" };
            let _ = writeln!(body, "PUBLIC {m}{rva:x} {:x} {}", p.param, p.plain);
            continue;
        }
        let Some((&rva, f)) = func_iter.next() else { break };
        // Overlapping procedures would be dropped by the Breakpad parser: end each at the next.
        let next = func_iter.peek().map_or(u32::MAX, |(&n, _)| n);
        let end = rva.saturating_add(f.size).min(next);
        let m = if f.multiple { "m " } else { "" };
        let _ = writeln!(body, "FUNC {m}{rva:x} {:x} {:x} {}", end - rva, f.param, f.name);
        let first = lines.partition_point(|l| l.rva < rva);
        let last = lines.partition_point(|l| l.rva < end);
        let in_func = lines.get(first..last).unwrap_or_default();
        for (i, l) in in_func.iter().enumerate() {
            let stop = in_func.get(i + 1).map_or(end, |n| n.rva);
            let next_index = file_list.len();
            let file = *files.entry(l.file).or_insert_with(|| {
                file_list.push(l.file);
                next_index
            });
            let _ = writeln!(body, "{:x} {:x} {} {file}", l.rva, stop - l.rva, l.line);
        }
    }
    for (i, f) in file_list.iter().enumerate() {
        let path = usize::try_from(*f).ok().and_then(|o| cstr_at(names, o)).unwrap_or(b"<unknown>");
        let _ = writeln!(out, "FILE {i} {}", text(path));
    }
    out.push_str(&body);
}

/// x86 frame data (`FRAMEDATA`, 32 bytes each) as `STACK WIN 4` records with program strings.
fn write_frame_data(out: &mut String, data: &[u8], map: &AddrMap, names: &[u8]) {
    let mut seen = std::collections::HashSet::new();
    // The stream starts with a u32 header (CV_FRAMEDATA_VERSION is not recorded everywhere:
    // a length that is 4 more than a multiple of 32 has it).
    let data = if data.len() % 32 == 4 { data.get(4..).unwrap_or_default() } else { data };
    for r in data.chunks_exact(32) {
        let field = |o| u32_at(r, o).unwrap_or(0);
        let Some(rva) = map.translate(field(0)) else { continue };
        let program = usize::try_from(field(20)).ok().and_then(|o| cstr_at(names, o)).map(text);
        let (Some(program), true) = (program, seen.insert(rva)) else { continue };
        let (prolog, saved) = (u16_at(r, 24).unwrap_or(0), u16_at(r, 26).unwrap_or(0));
        let _ = writeln!(
            out,
            "STACK WIN 4 {rva:x} {:x} {prolog:x} 0 {:x} {saved:x} {:x} {:x} 1 {}",
            field(4), field(12), field(8), field(16), program.trim()
        );
    }
}
