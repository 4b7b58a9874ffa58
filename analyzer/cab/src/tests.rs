//! Tests over the real report CABs in `shared/real-dumps/cab`, generated
//! cabinets, malformed cabinets and mutations.

use std::path::PathBuf;
use std::process::Command;

use super::*;

/// `shared/real-dumps` beside the project, or the fixed fallback.
fn real_dumps() -> PathBuf {
    let near = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/real-dumps");
    if near.is_dir() {
        near
    } else {
        PathBuf::from("/work/shared/real-dumps")
    }
}

fn real_cabs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(real_dumps().join("cab"))
        .expect("real-dumps/cab")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("cab")))
        .collect();
    v.sort();
    assert_eq!(v.len(), 4, "expected the four real CABs");
    v
}

/// The generated cabinets, built once (the LZX encoder is slow in debug builds).
fn samples() -> &'static [sample_dumps::cab::CabSample] {
    static SAMPLES: std::sync::OnceLock<Vec<sample_dumps::cab::CabSample>> =
        std::sync::OnceLock::new();
    SAMPLES.get_or_init(sample_dumps::cab::cab_samples)
}

fn have_cabextract() -> bool {
    let ok = Command::new("cabextract")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        // CI installs it (.ci/run): there the comparison may not be skipped.
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true" || v == "1"),
            "cabextract is not installed (CI=true: the comparison may not be skipped)"
        );
        eprintln!("skipped the cabextract comparison: cabextract is not installed (apt-get install cabextract)");
    }
    ok
}

/// Extracts with cabextract into a fresh temp dir; returns (name, bytes).
fn cabextract(path: &std::path::Path, tag: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("dumpsig-cab-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(&dir)
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "cabextract failed on {}", path.display());
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn real_cabs_match_cabextract() {
    let check = have_cabextract();
    for (i, path) in real_cabs().iter().enumerate() {
        let bytes = std::fs::read(path).unwrap();
        let cab = Cabinet::parse(&bytes).unwrap();
        let files = cab.extract_all(&ExtractLimits::default()).unwrap();
        assert_eq!(files.len(), cab.files().len());
        for (f, e) in files.iter().zip(cab.files()) {
            assert_eq!(f.data.len() as u64, u64::from(e.size));
            println!(
                "{}: {} {} bytes {:?}",
                path.display(),
                f.name,
                f.data.len(),
                e.date_time()
            );
        }
        if check {
            let mut ours: Vec<(String, Vec<u8>)> = files
                .into_iter()
                .map(|f| (f.name, f.data.into_vec()))
                .collect();
            ours.sort();
            let theirs = cabextract(path, &format!("real{i}"));
            assert_eq!(ours.len(), theirs.len());
            for (a, b) in ours.iter().zip(&theirs) {
                assert_eq!(a.0, b.0);
                assert!(
                    a.1 == b.1,
                    "{} differs from cabextract in {}",
                    a.0,
                    path.display()
                );
            }
        }
    }
}

#[test]
fn real_cab_metadata_and_tuple() {
    for path in real_cabs() {
        let bytes = std::fs::read(&path).unwrap();
        let cab = Cabinet::parse(&bytes).unwrap();
        // Only the metadata: the dump before it is decoded but not kept.
        let files = cab
            .extract_matching(&ExtractLimits::default(), |f| {
                wer::is_metadata_file(&f.name)
            })
            .unwrap();
        assert!(!files.is_empty(), "{}: no metadata file", path.display());
        let meta = wer::WerMetadata::from_files(
            files.iter().map(|f| (f.name.as_str(), f.data.as_slice())),
        );
        println!("{}:\n{meta:#?}\n{:?}", path.display(), meta.cer_fields());
        assert!(
            meta.os_version.is_some(),
            "{}: no OS version",
            path.display()
        );
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("1535419857-") {
            assert_eq!(meta.event_type.as_deref(), Some("BEX"));
            let Some(wer::CerFields::App {
                fields,
                exception_data,
                ..
            }) = meta.cer_fields()
            else {
                panic!("no app tuple");
            };
            // WER's parameter order for BEX: Parameter6 is the offset, Parameter7 the code.
            let raw: Vec<&str> = meta
                .parameters
                .iter()
                .take(8)
                .map(|(_, v)| v.as_str())
                .collect();
            assert_eq!(
                raw.join(" "),
                "NativeCrashy.exe 1.2.3.4 4cd2f6ba StackHash_0a9e 0.0.0.0 00000000 002a4800 c0000005"
            );
            assert_eq!(
                fields.join(" "),
                "NativeCrashy.exe 1.2.3.4 4cd2f6ba StackHash_0a9e 0.0.0.0 00000000 c0000005 002a4800",
                "mapped to AppName..ModTimeStamp, ExceptionCode, Offset"
            );
            assert_eq!(exception_data.as_deref(), Some("00000008"));
            assert_eq!(meta.os_version.as_deref(), Some("6.1"));
            assert_eq!(meta.build.as_deref(), Some("7600"));
            assert_eq!(meta.architecture.as_deref(), Some("X64"));
            // Our tuple from the README: unknown module, raw address.
            let ours = [
                "NativeCrashy.exe",
                "1.2.3.4",
                "4cd2f6ba",
                "unknown",
                "0.0.0.0",
                "00000000",
                "c0000005",
                "002a4800",
            ];
            let cmp = meta.compare_with(ours);
            assert_eq!(cmp.len(), 8);
            assert!(cmp.iter().all(|c| c.agrees), "{cmp:#?}");
            let m = &cmp[3];
            assert_eq!((m.field, m.theirs.as_str()), ("ModName", "StackHash_0a9e"));
            assert!(m.note.as_deref().unwrap().contains("expected difference"));
            let mut wrong = ours;
            wrong[7] = "002a4801";
            assert!(!meta.compare_with(wrong)[7].agrees);
        }
        if name.starts_with("1641909485-") {
            assert_eq!(
                (meta.os_version.as_deref(), meta.build.as_deref()),
                (Some("5.1"), Some("2600"))
            );
        }
        if name.starts_with("2045056648-") {
            assert_eq!(meta.os_version.as_deref(), Some("6.0"));
            assert_eq!(meta.service_pack.as_deref(), Some("2"));
            assert_eq!(meta.architecture.as_deref(), Some("X64"));
        }
    }
}

#[test]
fn generated_cabs_round_trip_and_malformed_ones_fail_clearly() {
    for s in samples() {
        let result =
            Cabinet::parse(&s.bytes).and_then(|c| c.extract_all(&ExtractLimits::default()));
        if s.malformed {
            let err = result.expect_err(&s.file_name);
            println!("{}: {err}", s.file_name);
            continue;
        }
        let files = result.unwrap_or_else(|e| panic!("{}: {e}", s.file_name));
        assert_eq!(files.len(), s.files.len(), "{}", s.file_name);
        for (got, (name, data)) in files.iter().zip(&s.files) {
            assert_eq!(&got.name, name, "{}", s.file_name);
            assert!(&got.data == data, "{name} in {} differs", s.file_name);
        }
    }
}

#[test]
fn specific_errors_for_malformed_generated_cabs() {
    let samples = samples();
    let get = |n: &str| Cabinet::parse(&samples.iter().find(|s| s.file_name == n).unwrap().bytes);
    let lim = ExtractLimits::default();
    assert!(matches!(
        get("zero-length.cab"),
        Err(CabError::NotACabinet { .. })
    ));
    assert!(matches!(
        get("truncated.cab"),
        Err(CabError::Truncated { .. })
    ));
    assert!(matches!(
        get("multi-cabinet.cab"),
        Err(CabError::MultiCabinet { .. })
    ));
    assert!(matches!(
        get("bad-file-offset.cab"),
        Err(CabError::OutOfBounds { .. })
    ));
    let e = get("too-few-blocks.cab")
        .unwrap()
        .extract_all(&lim)
        .unwrap_err();
    assert!(
        matches!(&e, CabError::FolderTooShort { name, .. } if name == "minidump.mdmp"),
        "{e}"
    );
    let e = get("bomb-file.cab").unwrap().extract_all(&lim).unwrap_err();
    assert!(matches!(e, CabError::FileTooLarge { .. }), "{e}");
    let e = get("bomb-within-limits.cab")
        .unwrap()
        .extract_all(&lim)
        .unwrap_err();
    assert!(matches!(e, CabError::FolderTooShort { .. }), "{e}");
    let e = get("quantum.cab").unwrap().extract_all(&lim).unwrap_err();
    assert!(
        matches!(
            e,
            CabError::UnsupportedCompression {
                method: "Quantum",
                ..
            }
        ),
        "{e}"
    );
    let e = get("bad-checksum.cab")
        .unwrap()
        .extract_all(&lim)
        .unwrap_err();
    assert!(matches!(e, CabError::Checksum { block: 0, .. }), "{e}");
    // Without checksum verification the damage reaches the decoder, which must fail cleanly
    // or produce the declared sizes.
    let lax = ExtractLimits {
        verify_checksums: false,
        ..lim
    };
    if let Ok(files) = get("bad-checksum.cab").unwrap().extract_all(&lax) {
        assert!(files.iter().all(|f| !f.data.is_empty()));
    }
    // Limits refuse before decoding.
    let small = ExtractLimits {
        max_total_bytes: 1000,
        ..lim
    };
    let e = get("mszip.cab").unwrap().extract_all(&small).unwrap_err();
    assert!(matches!(e, CabError::TotalTooLarge { .. }), "{e}");
}

#[test]
fn extract_matching_takes_only_what_is_asked() {
    let samples = samples();
    let s = samples
        .iter()
        .find(|s| s.file_name == "two-folders.cab")
        .unwrap();
    let cab = Cabinet::parse(&s.bytes).unwrap();
    let got = cab
        .extract_matching(&ExtractLimits::default(), |f| f.name == "Version.txt")
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, s.files[2].1);
    let meta = wer::WerMetadata::from_files([("Version.txt", got[0].data.as_slice())]);
    assert_eq!(meta.os_version.as_deref(), Some("6.0"));
    // The first file only: decoding stops at its end, even with the rest cut off.
    let mszip = &samples
        .iter()
        .find(|s| s.file_name == "mszip.cab")
        .unwrap()
        .bytes;
    let cab = Cabinet::parse(mszip).unwrap();
    let first = cab
        .extract_matching(&ExtractLimits::default(), |f| f.index == 0)
        .unwrap();
    assert_eq!(first.len(), 1);
    let s = samples.iter().find(|s| s.file_name == "mszip.cab").unwrap();
    assert_eq!(first[0].data, s.files[0].1);
    // Generated WER metadata maps APPCRASH in its own order.
    let meta = wer::WerMetadata::from_files([("WERInternalMetadata.xml", s.files[2].1.as_slice())]);
    let Some(wer::CerFields::App { fields, .. }) = meta.cer_fields() else {
        panic!()
    };
    assert_eq!(fields[6], "c0000005");
    assert_eq!(fields[7], "0000abcd");
}

#[test]
fn wer_text_and_xml_are_tolerant() {
    assert_eq!(
        wer::decode_text(b"Windows NT  Version 5.1 Build: 2600\0junk"),
        "Windows NT  Version 5.1 Build: 2600"
    );
    assert_eq!(wer::decode_text(b"caf\xe9"), "caf\u{e9}");
    let leaves =
        wer::xml_leaves("<?xml?><a><!-- x --><b>1 &amp; &#x41;</b><c/><d><e>2</e></d><f>unclosed");
    assert_eq!(
        leaves,
        vec![
            ("a/b".into(), "1 & A".into()),
            ("a/c".into(), String::new()),
            ("a/d/e".into(), "2".into())
        ]
    );
    for junk in [
        "<",
        "<<<>>>",
        "</x>",
        "<a></b></a>",
        "&&&;",
        "<a>&#xFFFFFFFF;</a>",
        "<!--",
        "<![CDATA[",
        "",
    ] {
        let _ = wer::xml_leaves(junk);
    }
    let m = wer::WerMetadata::from_files([(
        "sysdata.xml",
        b"<SYSTEM><OSVersion>10.0</OSVersion></SYSTEM>".as_slice(),
    )]);
    assert_eq!(
        m.other,
        vec![("SYSTEM/OSVersion".to_owned(), "10.0".to_owned())]
    );
    let bs = "<WERReportMetadata><ProblemSignatures><EventType>BlueScreen</EventType>\
        <Parameter0>1000007e</Parameter0><Parameter1>ffffffffc0000005</Parameter1><Parameter5>6_1_7601</Parameter5>\
        <Parameter6>1_0</Parameter6><Parameter7>256_1</Parameter7></ProblemSignatures></WERReportMetadata>";
    let m = wer::WerMetadata::from_files([("WERInternalMetadata.xml", bs.as_bytes())]);
    let Some(wer::CerFields::BlueScreen {
        code,
        parameters,
        os_version,
        ..
    }) = m.cer_fields()
    else {
        panic!()
    };
    assert_eq!(
        (code.as_str(), parameters[0].as_str(), os_version.as_str()),
        ("1000007e", "ffffffffc0000005", "6_1_7601")
    );
    assert!(m.compare_with(["a"; 8]).is_empty());
}
