//! Seed corpora, made at run time: from the generator (`sample-dumps`) and from the real dumps
//! in `../shared/real-dumps` when they are there (read, never copied into the project).

use std::path::{Path, PathBuf};

/// `../shared/real-dumps` beside the project, if present.
fn real_dumps() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/real-dumps");
    dir.is_dir().then_some(dir)
}

/// Every file under `dir` whose name ends with one of `suffixes`, sorted.
fn files(dir: &Path, suffixes: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if suffixes.iter().any(|s| path.to_string_lossy().ends_with(s)) {
                if let Ok(bytes) = std::fs::read(&path) {
                    out.push((path.display().to_string(), bytes));
                }
            }
        }
    }
    out.sort();
    out
}

fn real(sub: &str, suffixes: &[&str]) -> Vec<(String, Vec<u8>)> {
    real_dumps()
        .map(|d| files(&d.join(sub), suffixes))
        .unwrap_or_default()
}

fn minidumps() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = sample_dumps::minidump_samples()
        .into_iter()
        .map(|s| (s.file_name, s.bytes))
        .collect();
    out.extend(real("minidump", &[".dmp", ".mdmp"]));
    out
}

fn kernel_dumps() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = sample_dumps::kernel::try_kernel_samples()
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.file_name, s.bytes))
        .collect();
    out.extend(real("kernel", &[".dmp"]));
    out
}

fn cabs() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = sample_dumps::cab::cab_samples()
        .into_iter()
        .map(|s| (s.file_name, s.bytes))
        .collect();
    out.extend(real("cab", &[".cab"]));
    out
}

/// A byte chosen by the target's first-byte switch, then the text.
fn tagged(tag: u8, name: &str, text: &[u8]) -> (String, Vec<u8>) {
    let mut bytes = vec![tag];
    bytes.extend_from_slice(text);
    (name.to_owned(), bytes)
}

fn share_texts() -> Vec<(String, Vec<u8>)> {
    vec![
        tagged(0, "count", b"Cabs Gathered=3\r\nTotal Hits=17\r\n"),
        tagged(0, "count-damaged", b"Cabs Gathered=03\nTotal Hits=x\r\nextra"),
        tagged(
            1,
            "hits",
            b"15:32:23  04-23-2007\tTestMachine\tTestUser\t0000000000000011.cab\r\n\
              15:32:24  04-23-2007\tM\tU\tNo CAB\r\n",
        ),
        tagged(
            2,
            "crash",
            b"15:32:23  04-23-2007\tTestMachine\tTestUser\tapp.exe\\1.0.0.0\\m.dll\\2.0.0.0\\0000abcd\r\n",
        ),
        tagged(
            3,
            "policy",
            b"Tracking=YES\r\nCrashes per bucket=7\r\nFileTreeRoot=\\\\server\\share\r\n",
        ),
        tagged(4, "status", b"Bucket=12\r\nResponse=https://example.invalid/fix\r\niData=no\r\n"),
        tagged(5, "registry", b"1\tAV_dump_diskdump!unknown\r\n2\t0xD1_x\r\n"),
        tagged(6, "blue-index", b"0xD1_x\t2\t0000000000000012.cab\t0000000000000012\r\n"),
    ]
}

fn wer_files() -> Vec<(String, Vec<u8>)> {
    let mut out = vec![tagged(
        1,
        "metadata.xml",
        &sample_dumps::cab::wer_metadata_xml(),
    )];
    for (name, bytes) in cabs() {
        let Ok(cabinet) = cab::Cabinet::parse(&bytes) else {
            continue;
        };
        let wanted = |f: &cab::FileEntry| cab::wer::is_metadata_file(&f.name);
        let limits = cab::ExtractLimits::default();
        for file in cabinet
            .extract_matching(&limits, wanted)
            .unwrap_or_default()
        {
            let tag = u8::from(file.name.to_ascii_lowercase().ends_with(".xml"));
            out.push(tagged(tag, &format!("{name}!{}", file.name), &file.data));
        }
    }
    out
}

/// CPER records found inside the generated and real kernel dumps (0x124 keeps one).
fn cper_records() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, bytes) in kernel_dumps() {
        let mut from = 0;
        while let Some(at) = bytes
            .get(from..)
            .and_then(|b| b.windows(4).position(|w| w == b"CPER"))
        {
            let start = from + at;
            let end = (start + 4096).min(bytes.len());
            out.push((
                format!("{name}@{start:#x}"),
                bytes.get(start..end).unwrap_or_default().to_vec(),
            ));
            from = start + 4;
        }
    }
    out
}

fn rules() -> Vec<(String, Vec<u8>)> {
    let builtin =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../signatures/data/known-issues.txt");
    std::fs::read(&builtin)
        .map(|b| vec![("known-issues.txt".to_owned(), b)])
        .unwrap_or_default()
}

fn symbol_paths() -> Vec<(String, Vec<u8>)> {
    [
        "srv*C:\\symbols*https://msdl.microsoft.com/download/symbols",
        "cache*C:\\cache;srv*https://example.invalid/s;D:\\flat",
        "SRV*/var/cache/sym*http://127.0.0.1:8080/store",
        "/srv/symbols;symsrv*symsrv.dll*c:\\x*https://a/b",
    ]
    .iter()
    .enumerate()
    .map(|(i, p)| (format!("path-{i}"), p.as_bytes().to_vec()))
    .collect()
}

fn pdbs() -> Vec<(String, Vec<u8>)> {
    let mut out = real("symbols", &[".pdb"]);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pdb-fixtures");
    out.extend(files(&fixtures, &[".pdb"]));
    out
}

fn store_answers() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> =
        pdbs().into_iter().map(|(n, b)| tagged(0, &n, &b)).collect();
    out.extend(
        real("symbols", &[".sym"])
            .into_iter()
            .map(|(n, b)| tagged(3, &n, &b)),
    );
    if let Ok(images) = sample_dumps::kernel::image_store_files() {
        out.extend(images.into_iter().map(|(n, b)| tagged(2, &n, &b)));
    }
    for (name, bytes) in out.clone().into_iter().take(4) {
        let packed = cab::writer::write_cabinet(
            &[cab::writer::CabInput {
                name: "crash.pdb",
                data: bytes.get(1..).unwrap_or_default(),
                modified: cab::DosDateTime::from_raw(0x21, 0),
            }],
            cab::writer::WriteCompression::MsZip,
        );
        if let Ok(packed) = packed {
            out.push(tagged(1, &format!("{name}.pd_"), &packed));
        }
    }
    out
}

/// Generated kernel images (PE headers, sections) with a stack of their own addresses: RIP at
/// the image's code, RSP at the start.
fn unwind_spaces() -> Vec<(String, Vec<u8>)> {
    let images = sample_dumps::kernel::image_store_files().unwrap_or_default();
    images
        .into_iter()
        .take(4)
        .map(|(name, image)| {
            let mut bytes = vec![0x00, 0x10, 0x00, 0x00, 0x40, 0x00, 0, 0];
            bytes.extend_from_slice(&image);
            (name, bytes)
        })
        .collect()
}

/// The seed inputs of the target `name` (empty for an unknown name).
pub fn seeds(name: &str) -> Vec<(String, Vec<u8>)> {
    match name {
        "minidump_signature" => minidumps(),
        "minidump_full" => {
            let mut all = minidumps();
            all.extend(kernel_dumps().into_iter().take(4));
            all.extend(cabs().into_iter().take(4));
            all
        }
        "kernel_dump" => kernel_dumps(),
        "cab" | "report_cab" => cabs(),
        "wer_metadata" => wer_files(),
        "cper" => cper_records(),
        "share_text" => share_texts(),
        "known_issue_rules" => rules(),
        "symbol_path" => symbol_paths(),
        "pdb_to_breakpad" => pdbs(),
        "store_response" => store_answers(),
        "unwind" => unwind_spaces(),
        _ => Vec::new(),
    }
}
