#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;

const SYMBOLS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/real-dumps/symbols"
);

/// PDBs with private symbols (debugpy 1.8.22's MIT-licensed attach helpers, from its win32
/// wheel on PyPI) beside what `dump_syms` 2.3.9 writes for each PDB alone: `NAME.pdb` and
/// `NAME.sym`, fetched by `scripts/fetch-pdb-fixtures.sh` into `target/pdb-fixtures` (CI
/// runs it; third-party files are not committed). `DUMPSIG_PDB_FIXTURES` names another
/// folder. Missing fixtures fail the test under CI and are reported as skipped elsewhere.
fn fixtures() -> Option<String> {
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/pdb-fixtures");
    let dir = std::env::var("DUMPSIG_PDB_FIXTURES").unwrap_or(default.to_owned());
    let found = std::path::Path::new(&dir).join("attach_x86.sym").is_file();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "no PDB fixtures in {dir}: run scripts/fetch-pdb-fixtures.sh"
        );
        eprintln!("skipped: no PDB fixtures in {dir} (scripts/fetch-pdb-fixtures.sh)");
    }
    found.then_some(dir)
}

/// A Breakpad file's records by (kind, address): FUNC and PUBLIC records, line records with
/// the file's path for its number, and MODULE and STACK lines whole, but for the last field
/// of `STACK WIN 0`, which becomes the value.
fn parse(text: &str) -> BTreeMap<(String, u64), String> {
    let (mut records, mut files) = (BTreeMap::new(), HashMap::new());
    for l in text.lines().filter(|l| !l.starts_with("INFO")) {
        let (kind, rest) = l.split_once(' ').unwrap();
        let rest = rest.strip_prefix("m ").unwrap_or(rest);
        let (field, rest) = rest.split_once(' ').unwrap();
        let addr = u64::from_str_radix(field, 16).unwrap_or(0);
        let (key, value) = match kind {
            "FILE" => {
                files.insert(field.to_owned(), rest.to_owned());
                continue;
            }
            "FUNC" | "PUBLIC" => ((kind.to_owned(), addr), rest.to_owned()),
            "STACK" if l.starts_with("STACK WIN 0") => {
                let (l, last) = l.rsplit_once(' ').unwrap();
                ((l.to_owned(), 0), last.to_owned())
            }
            "MODULE" | "STACK" => ((l.to_owned(), 0), String::new()),
            _ => {
                let f: Vec<&str> = l.split(' ').collect();
                let line = format!("{} {} {}", f[1], f[2], files[f[3]]);
                (
                    ("line".to_owned(), u64::from_str_radix(f[0], 16).unwrap()),
                    line,
                )
            }
        };
        records.insert(key, value);
    }
    records
}

#[test]
fn matches_dump_syms() {
    let Some(dir) = fixtures() else { return };
    // Expected numbers of FUNC, line, PUBLIC and STACK records, and of old FPO records whose
    // EBP field differs (see below).
    for (name, arch, counts, fpo_bp) in [
        ("attach_x86", "x86", [127, 1455, 18, 220], 0),
        ("attach_amd64", "x86_64", [116, 1080, 19, 0], 0),
        ("inject_dll_x86", "x86", [1075, 12419, 17, 2075], 3),
    ] {
        let pdb = std::fs::read(format!("{dir}/{name}.pdb")).unwrap();
        let reference = std::fs::read_to_string(format!("{dir}/{name}.sym")).unwrap();
        let out = pdb_to_breakpad(&pdb, &format!("{name}.pdb"), arch).unwrap();
        // Given `unknown`, the architecture comes from the PDB, with the same result.
        assert_eq!(
            pdb_to_breakpad(&pdb, &format!("{name}.pdb"), "unknown").unwrap(),
            out
        );
        let (ours, theirs) = (parse(&out), parse(&reference));
        let count = |kind: &str| theirs.keys().filter(|k| k.0.starts_with(kind)).count();
        assert_eq!(
            ["FUNC", "line", "PUBLIC", "STACK"].map(count),
            counts,
            "{name}"
        );
        // Same keys: every record at the same address, and nothing more (dump_syms would
        // add STACK CFI from the PE, which is not in these references).
        assert!(ours.keys().eq(theirs.keys()), "{name}");
        let mut bp_differs = 0;
        for (key, theirs) in &theirs {
            let ours = &ours[key];
            match key.0.as_str() {
                // On x64 dump_syms strips a leading underscore as if it were an x86
                // decoration (`__C_specific_handler` becomes `_C_specific_handler`); ours
                // keeps the real name.
                "PUBLIC" if arch != "x86" && ours.replacen(" _", " ", 1) == *theirs => {}
                // Old FPO records' last field (EBP is the frame pointer) differs where the
                // pdb crate dump_syms uses reads bit 10 of FPO_DATA's attributes, part of the
                // saved-register count; winnt.h puts fUseBP at bit 12, which we read.
                k if k.starts_with("STACK WIN 0") && ours != theirs => bp_differs += 1,
                // Otherwise the same size, parameter size and name; same line and file.
                _ => assert_eq!(ours, theirs, "{name} {key:?}"),
            }
        }
        assert_eq!(bp_differs, fpo_bp, "{name}");

        // The Breakpad parser takes all of it and finds the same functions.
        let parsed = breakpad_symbols::SymbolFile::from_bytes(out.as_bytes()).unwrap();
        assert_eq!(
            parsed.functions.ranges_values().count(),
            counts[0],
            "{name}"
        );
        assert_eq!(
            parsed.corruptions_discarded + parsed.ambiguities_discarded,
            0
        );
        for ((kind, addr), record) in &theirs {
            if kind == "FUNC" {
                let found = parsed.functions.get(*addr).expect("function");
                assert!(
                    record.ends_with(&format!(" {}", found.name)),
                    "{name} {addr:x}"
                );
            }
        }
    }
}

/// The symbol store's `crash.pdb` is no PDB: it is Breakpad text (the module of
/// `crash.sym`) in an uncompressed CAB, as symbol servers may serve files. Both layers are
/// recognized and reported, not parsed as MSF.
#[test]
fn symbol_store_crash_pdb_is_breakpad_text_in_a_cab() {
    let id = "crash.pdb/3249D99D0C4049318610F4E4FB0B69361";
    let cab = std::fs::read(format!("{SYMBOLS}/symstore/{id}/crash.pdb")).unwrap();
    let sym = std::fs::read_to_string(format!("{SYMBOLS}/breakpad/{id}/crash.sym")).unwrap();
    let err = pdb_to_breakpad(&cab, "crash.pdb", "x86").unwrap_err();
    assert!(matches!(err, PdbSymbolError::Compressed), "{err}");
    // One folder of stored (type 0) CFDATA blocks: an 8-byte header each, then the data.
    let (mut pos, blocks) = (usize_at(&cab, 36).unwrap(), u16_at(&cab, 40).unwrap());
    assert_eq!(u16_at(&cab, 42), Some(0), "stored, not compressed");
    let mut inner = Vec::new();
    for _ in 0..blocks {
        let len = usize::from(u16_at(&cab, pos + 4).unwrap());
        inner.extend_from_slice(&cab[pos + 8..pos + 8 + len]);
        pos += 8 + len;
    }
    let err = pdb_to_breakpad(&inner, "crash.pdb", "x86").unwrap_err();
    assert!(matches!(err, PdbSymbolError::BreakpadText), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&inner).lines().next(),
        sym.lines().next()
    );
}

#[test]
fn corrupt_input_gives_an_error_or_a_partial_result_never_a_panic() {
    let Some(dir) = fixtures() else { return };
    let pdb = std::fs::read(format!("{dir}/attach_x86.pdb")).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for len in [
        0,
        1,
        31,
        32,
        56,
        4096,
        4097,
        8192,
        20_000,
        pdb.len() / 3,
        pdb.len() - 1,
    ] {
        inputs.push((format!("truncated to {len}"), pdb[..len].to_vec()));
    }
    for n in 0..300 {
        let mut bad = pdb.clone();
        if n % 3 == 0 {
            // A whole page of random bytes: one stream's records turn to garbage.
            let page = next() % (pdb.len() / 4096) * 4096;
            bad[page..page + 4096]
                .iter_mut()
                .for_each(|b| *b = next() as u8);
        } else {
            for _ in 0..64 {
                let at = next() % bad.len();
                bad[at] ^= 1 << (next() % 8);
            }
        }
        inputs.push((format!("corruption {n}"), bad));
    }
    for n in 0..20 {
        let mut random: Vec<u8> = (0..4096 * (n + 1)).map(|_| next() as u8).collect();
        if n % 2 == 0 {
            random[..56].copy_from_slice(&pdb[..56]); // a real MSF superblock start
        }
        inputs.push((format!("random {n}"), random));
    }
    let mut converted = 0;
    for (what, input) in &inputs {
        let result = std::panic::catch_unwind(|| pdb_to_breakpad(input, "a.pdb", "x86"));
        converted += usize::from(result.unwrap_or_else(|_| panic!("{what}")).is_ok());
    }
    // Most page and bit-flip corruptions leave a readable container and a partial result.
    assert!(converted >= 250, "{converted} of {}", inputs.len());
}

#[test]
fn cyclic_types_and_bad_omap_stay_bounded() {
    // TPI header (56 bytes: header size at 4, first index at 8), then LF_POINTER 0x1000 to
    // itself and LF_PROCEDURE 0x1001 taking argument list 0x1002 = (0x1001, 0x1000).
    let mut tpi = vec![0u8; 56];
    tpi[4] = 56;
    tpi[9] = 0x10;
    for rec in [
        &[2u8, 0x10, 0, 0x10, 0, 0, 0x0a, 0, 0, 0][..],
        &[8, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x10, 0, 0],
    ] {
        tpi.extend_from_slice(&u16::try_from(rec.len()).unwrap().to_le_bytes());
        tpi.extend_from_slice(rec);
    }
    tpi.extend_from_slice(&[14, 0, 1, 0x12, 2, 0, 0, 0, 1, 0x10, 0, 0, 0, 0x10, 0, 0]);
    let types = Types::parse(&tpi);
    let mut name = String::from("f");
    assert!(types.signature(0x1001, &mut name, 0));
    assert!(name.len() < 2 * MAX_NAME && name.contains("..."), "{name}");
    // OMAP: below the first record, removed code (target 0), and overflow are all None.
    let map = AddrMap {
        sections: vec![(0x1000, 0)],
        omap: vec![(0x1000, 0x5000), (0x2000, 0), (0x3000, u32::MAX)],
    };
    assert_eq!(map.rva(1, 0x10), Some(0x5010));
    assert_eq!(
        [
            map.rva(1, 0x1000),
            map.rva(1, 0x2010),
            map.rva(2, 0),
            map.translate(0x10)
        ],
        [None; 4]
    );
}

#[test]
fn undecorates_x86_c_names_only() {
    let cases = [
        ("_memset", true, "memset", 0),
        (
            "_IsProcessorFeaturePresent@4",
            true,
            "IsProcessorFeaturePresent",
            4,
        ),
        (
            "@__security_check_cookie@4",
            true,
            "__security_check_cookie",
            4,
        ),
        ("@x", true, "@x", 0),
        ("__C_specific_handler", false, "__C_specific_handler", 0),
        ("?f@ns@@YAXH@Z", true, "?f@ns@@YAXH@Z", 0),
    ];
    for (name, x86, plain, size) in cases {
        assert_eq!(undecorate(name, x86), (plain.to_owned(), size), "{name}");
    }
}

#[test]
fn rejects_arguments_that_break_the_module_line() {
    for (file, arch) in [
        ("a\nb.pdb", "x86"),
        ("", "x86"),
        ("a.pdb", "x 86"),
        ("a.pdb", ""),
    ] {
        let err = pdb_to_breakpad(b"Microsoft C/C++ MSF 7.00\r\n", file, arch).unwrap_err();
        assert!(matches!(err, PdbSymbolError::BadArgument(_)), "{err}");
    }
}
