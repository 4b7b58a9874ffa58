//! Type records (TPI / IPI) and the C++ spelling of argument lists, as dump_syms writes them
//! in FUNC names.

use std::fmt::Write as _;

use super::{cstr_at, slice, text, u16_at, u32_at, usize_at};

const LF_MODIFIER: u16 = 0x1001;
const LF_POINTER: u16 = 0x1002;
const LF_PROCEDURE: u16 = 0x1008;
const LF_MFUNCTION: u16 = 0x1009;
const LF_ARGLIST: u16 = 0x1201;
/// Corrupt type graphs can be cyclic, and huge ones wide: formatting stops at these bounds.
const MAX_DEPTH: u32 = 24;
pub(super) const MAX_NAME: usize = 4096;
/// Built-in type names by the low byte of their type index, as dump_syms spells them.
const PRIMITIVES: &str = "00<NoType>,03void,08HRESULT,10signed char,11short,12long,13long long,\
    20unsigned char,21unsigned short,22unsigned long,23unsigned long long,30bool,40float,\
    41double,42long double,68int8_t,69uint8_t,70char,71wchar_t,72int16_t,73uint16_t,74int,\
    75unsigned int,76int64_t,77uint64_t,7achar16_t,7bchar32_t,7cchar8_t";

/// The records of a TPI or IPI stream, by type index.
pub(super) struct Types<'a> {
    first: u32,
    recs: Vec<&'a [u8]>,
}

impl<'a> Types<'a> {
    pub(super) fn parse(b: &'a [u8]) -> Self {
        // Header: version, header size, first and last index, record bytes, ...
        let data = usize_at(b, 4).and_then(|h| b.get(h..)).unwrap_or_default();
        let mut recs = Vec::new();
        let mut pos = 0usize;
        while let Some(rec) = u16_at(data, pos).and_then(|n| slice(data, pos + 2, usize::from(n))) {
            recs.push(rec);
            pos += 2 + rec.len();
        }
        Types {
            first: u32_at(b, 8).unwrap_or(0x1000),
            recs,
        }
    }

    /// Kind and payload of record `ti`.
    pub(super) fn get(&self, ti: u32) -> Option<(u16, &'a [u8])> {
        let rec = self
            .recs
            .get(usize::try_from(ti.checked_sub(self.first)?).ok()?)?;
        Some((u16_at(rec, 0)?, rec.get(2..)?))
    }

    /// The type a `const` modifier record `ti` applies to.
    fn const_of(&self, ti: u32) -> Option<u32> {
        let (LF_MODIFIER, m) = self.get(ti)? else {
            return None;
        };
        (u16_at(m, 4)? & 1 != 0).then(|| u32_at(m, 0)).flatten()
    }

    /// Appends a function type's `(args)`, or `(args) const` for a const method; false if `ti`
    /// is not a function type.
    pub(super) fn signature(&self, ti: u32, out: &mut String, depth: u32) -> bool {
        let field = |d: &[u8], off| u32_at(d, off).unwrap_or(0);
        let (list, this) = match self.get(ti) {
            Some((LF_PROCEDURE, d)) => (field(d, 8), None),
            Some((LF_MFUNCTION, d)) => (field(d, 16), Some((field(d, 8), field(d, 4)))),
            _ => return false,
        };
        out.push('(');
        let mut is_const = false;
        if let Some((this, class)) = this.filter(|t| t.0 != 0) {
            // `this` is `Class*` or `Class const*`; anything else (Rust's associated functions
            // have one) is really the first argument.
            match self.get(this) {
                Some((LF_POINTER, p)) if u32_at(p, 0) == Some(class) => {}
                Some((LF_POINTER, p)) if self.const_of(field(p, 0)) == Some(class) => {
                    is_const = true
                }
                _ => {
                    self.ty(this, out, depth + 1);
                    if self.get(list).is_some_and(|(_, a)| field(a, 0) > 0) {
                        out.push_str(", ");
                    }
                }
            }
        }
        self.args(list, out, depth);
        out.push_str(if is_const { ") const" } else { ")" });
        true
    }

    fn args(&self, list: u32, out: &mut String, depth: u32) {
        let Some((LF_ARGLIST, d)) = self.get(list) else {
            return;
        };
        let count = usize_at(d, 0).unwrap_or(0);
        let args = d.get(4..).unwrap_or_default().chunks_exact(4).take(count);
        for (i, arg) in args.enumerate() {
            out.push_str(if i > 0 { ", " } else { "" });
            self.ty(u32_at(arg, 0).unwrap_or(0), out, depth + 1);
        }
    }

    /// Appends the C++ spelling of type `ti` the way dump_syms writes argument types.
    fn ty(&self, ti: u32, out: &mut String, depth: u32) {
        if depth > MAX_DEPTH || out.len() > MAX_NAME {
            return out.push_str("...");
        }
        if ti < 0x1000 {
            let code = format!("{:02x}", ti & 0xff);
            let name = PRIMITIVES
                .split(',')
                .find_map(|e| e.strip_prefix(code.as_str()));
            // Bits 8..12 are the pointer mode of the built-in `T*` types.
            let ptr = if ti & 0xf00 != 0 { "*" } else { "" };
            let _ = write!(out, "{}{ptr}", name.unwrap_or("<unknown type>"));
            return;
        }
        let Some((kind, d)) = self.get(ti) else {
            return out.push_str("<unknown type>");
        };
        let name_after_size = |off| {
            let len = match u16_at(d, off)? {
                0..=0x7fff => 0, // the value itself
                0x8000 => 1,
                0x8001 | 0x8002 => 2,
                0x8003 | 0x8004 => 4,
                0x8009 | 0x800a => 8,
                _ => return None,
            };
            cstr_at(d, off + 2 + len)
        };
        let under = u32_at(d, 0).unwrap_or(0);
        let name = match kind {
            LF_MODIFIER if self.const_of(ti).is_some() => {
                // `const int`, but `char* const` for a const pointer.
                let is_ptr = matches!(self.get(under), Some((LF_POINTER, _)));
                out.push_str(if is_ptr { "" } else { "const " });
                self.ty(under, out, depth + 1);
                return out.push_str(if is_ptr { " const" } else { "" });
            }
            LF_MODIFIER => return self.ty(under, out, depth + 1),
            LF_POINTER => return self.pointer(d, out, depth),
            LF_PROCEDURE | LF_MFUNCTION => {
                self.signature(ti, out, depth);
                return;
            }
            0x1503 => {
                // LF_ARRAY: only seen for arguments in odd code, so no element count.
                self.ty(under, out, depth + 1);
                return out.push_str("[]");
            }
            0x1504 | 0x1505 | 0x1519 => name_after_size(16), // class, struct, interface
            0x1506 => name_after_size(8),                    // union
            0x1507 => cstr_at(d, 12),                        // enum
            _ => None,
        };
        out.push_str(&name.map_or_else(|| "<unknown type>".to_owned(), text));
    }

    /// Appends a pointer type: the pointee, then the declarator, which for a function pointer
    /// goes inside its parentheses (`bool (*)(void*)`, `void (** const)()`, `int (A::*)()`).
    fn pointer(&self, mut d: &'a [u8], out: &mut String, mut depth: u32) {
        let mut declarator = String::new();
        let mut is_const = false;
        loop {
            let attr = u32_at(d, 4).unwrap_or(0);
            let sigil = match (attr >> 5) & 7 {
                1 => "&",
                4 => "&&",
                _ => "*",
            };
            let konst = if is_const || attr & 0x400 != 0 {
                " const"
            } else {
                ""
            };
            declarator.insert_str(0, &format!("{sigil}{konst}"));
            // A const pointee is written after its type: `char const*`, `char* const*`.
            let under = u32_at(d, 0).unwrap_or(0);
            let target = self.const_of(under);
            is_const = target.is_some();
            let target = target.unwrap_or(under);
            depth += 1;
            let field = |f: &[u8], off| u32_at(f, off).unwrap_or(0);
            match self.get(target) {
                Some((LF_POINTER, p)) if depth <= MAX_DEPTH => d = p,
                Some((LF_PROCEDURE, f)) => {
                    self.ty(field(f, 0), out, depth);
                    let _ = write!(out, " ({declarator})(");
                    self.args(field(f, 8), out, depth);
                    return out.push(')');
                }
                Some((LF_MFUNCTION, f)) => {
                    self.ty(field(f, 0), out, depth);
                    out.push_str(" (");
                    self.ty(field(f, 4), out, depth);
                    let _ = write!(out, "::{declarator})(");
                    self.args(field(f, 16), out, depth);
                    return out.push(')');
                }
                _ => {
                    self.ty(target, out, depth);
                    let konst = if is_const { " const" } else { "" };
                    return out.push_str(&format!("{konst}{declarator}"));
                }
            }
        }
    }
}
