//! The DBI stream (module list, section headers, OMAP) and the translation of section:offset
//! addresses to RVAs.

use super::*;

/// What the conversion needs from the DBI stream.
pub(super) struct Dbi<'a> {
    pub(super) age: Option<u32>,
    /// IMAGE_FILE_MACHINE_*: 0x14c x86, 0x8664 x64, 0xaa64 arm64.
    pub(super) machine: u16,
    pub(super) sym_records: u16,
    /// Each module's stream and the byte sizes of its symbols and of its C13 line information.
    pub(super) modules: Vec<(u16, usize, usize)>,
    pub(super) debug_header: &'a [u8],
}

impl<'a> Dbi<'a> {
    pub(super) fn parse(b: &'a [u8]) -> Option<Self> {
        // The VC 7.0+ layout (signature -1): a 64-byte header, then the substreams whose sizes
        // are at 24..56, in this order, with the optional debug header (size at 48) last.
        if u32_at(b, 0)? != u32::MAX {
            return None;
        }
        let mut pos = 64usize;
        for off in [24, 28, 32, 36, 40, 52] {
            pos = pos.checked_add(usize_at(b, off)?)?;
        }
        let list = slice(b, 64, usize_at(b, 24)?)?;
        let mut modules = Vec::new();
        let mut p = 0usize;
        while let Some(fixed) = slice(list, p, 64) {
            let (Some(stream), Some(sym_size), Some(c13_size)) =
                (u16_at(fixed, 34), usize_at(fixed, 36), usize_at(fixed, 44))
            else {
                break;
            };
            modules.push((stream, sym_size, c13_size));
            // The fixed part is followed by the module and object file names, padded to 4.
            let Some(module_name) = cstr_at(list, p + 64) else {
                break;
            };
            let Some(obj_name) = cstr_at(list, p + 65 + module_name.len()) else {
                break;
            };
            p = (p + 66 + module_name.len() + obj_name.len() + 3) & !3;
        }
        let debug_header = slice(b, pos, usize_at(b, 48)?).unwrap_or_default();
        Some(Dbi {
            age: u32_at(b, 8),
            machine: u16_at(b, 58).unwrap_or(0),
            sym_records: u16_at(b, 20)?,
            modules,
            debug_header,
        })
    }

    /// Stream number `i` of the optional debug header, 0xFFFF for none.
    pub(super) fn debug_stream(&self, i: usize) -> u16 {
        u16_at(self.debug_header, i * 2).unwrap_or(u16::MAX)
    }
}

/// Maps PDB `section:offset` addresses to image RVAs, with checked arithmetic throughout
/// (`pdb::AddressMap` adds unchecked, which panics on crafted offsets in debug builds).
pub(super) struct AddrMap {
    /// Virtual address and characteristics of the sections the symbols refer to.
    pub(super) sections: Vec<(u32, u32)>,
    /// OMAP from the PDB's original layout to the final image, sorted by source address.
    pub(super) omap: Vec<(u32, u32)>,
}

impl AddrMap {
    pub(super) fn load<'s, S: Source<'s> + 's>(file: &mut PDB<'s, S>, dbi: &Dbi<'_>) -> Self {
        // (u32 at x, u32 at y) of each fixed-size record.
        let pairs = |data: Option<&[u8]>, size, x, y| -> Vec<(u32, u32)> {
            let recs = data.unwrap_or_default().chunks_exact(size);
            recs.filter_map(|r| Some((u32_at(r, x)?, u32_at(r, y)?)))
                .collect()
        };
        // An image reordered after linking (BBT) keeps the original section headers, which the
        // symbols refer to, and an OMAP from those addresses to the final ones.
        let original = pairs(stream(file, dbi.debug_stream(10)).as_deref(), 40, 12, 36);
        let mut omap = pairs(stream(file, dbi.debug_stream(4)).as_deref(), 8, 0, 4);
        omap.sort_unstable();
        let (sections, omap) = match original.is_empty() || omap.is_empty() {
            true => (
                pairs(stream(file, dbi.debug_stream(5)).as_deref(), 40, 12, 36),
                vec![],
            ),
            false => (original, omap),
        };
        AddrMap { sections, omap }
    }

    pub(super) fn section(&self, section: u16) -> Option<&(u32, u32)> {
        self.sections.get(usize::from(section).checked_sub(1)?)
    }

    pub(super) fn rva(&self, section: u16, offset: u32) -> Option<u32> {
        self.translate(self.section(section)?.0.checked_add(offset)?)
    }

    /// Original (PDB-internal) RVA to final RVA.
    pub(super) fn translate(&self, internal: u32) -> Option<u32> {
        if self.omap.is_empty() {
            return Some(internal);
        }
        let i = self
            .omap
            .partition_point(|&(src, _)| src <= internal)
            .checked_sub(1)?;
        let &(src, dst) = self.omap.get(i)?;
        // A target of 0 marks code the optimizer removed.
        (dst != 0)
            .then(|| dst.checked_add(internal.checked_sub(src)?))
            .flatten()
    }
}

/// Finds the `/names` string table stream in the info stream's named-stream hash table.
pub(super) fn names_stream<'s, S: Source<'s> + 's>(file: &mut PDB<'s, S>) -> Option<u16> {
    let info = stream(file, 1)?;
    let b: &[u8] = &info;
    // Header (28 bytes), name buffer, entry count, capacity, present and deleted bit vectors
    // (each a word count and the words), then (name offset, stream) pairs.
    let names = slice(b, 32, usize_at(b, 28)?)?;
    let count = usize_at(b, 32 + names.len())?;
    let mut p = 40 + names.len();
    for _ in 0..2 {
        p = p.checked_add(usize_at(b, p)?.checked_mul(4)?.checked_add(4)?)?;
    }
    (0..count.min(b.len() / 8)).find_map(|i| {
        let e = p.checked_add(i.checked_mul(8)?)?;
        let is_names = cstr_at(names, usize_at(b, e)?) == Some(b"/names");
        is_names
            .then(|| u16::try_from(u32_at(b, e + 4)?).ok())
            .flatten()
    })
}
