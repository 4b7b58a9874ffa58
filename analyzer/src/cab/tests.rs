//! Tests over the real report CABs in `shared/real-dumps/cab`, generated
//! cabinets, malformed cabinets and mutations.

use std::path::PathBuf;
use std::process::Command;

use super::*;

/// `shared/real-dumps` beside the project, or the fixed fallback.
fn real_dumps() -> PathBuf {
    let near = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/real-dumps");
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

fn have_cabextract() -> bool {
    let ok = Command::new("cabextract").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipping the cabextract comparison: cabextract is not installed (apt-get install cabextract)");
    }
    ok
}

/// Extracts with cabextract into a fresh temp dir; returns (name, bytes).
fn cabextract(path: &std::path::Path, tag: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("dumpsig-cab-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = Command::new("cabextract").arg("-q").arg("-d").arg(&dir).arg(path).status().unwrap();
    assert!(st.success(), "cabextract failed on {}", path.display());
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
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
            println!("{}: {} {} bytes {:?}", path.display(), f.name, f.data.len(), e.date_time());
        }
        if check {
            let mut ours: Vec<(String, Vec<u8>)> = files.into_iter().map(|f| (f.name, f.data)).collect();
            ours.sort();
            let theirs = cabextract(path, &format!("real{i}"));
            assert_eq!(ours.len(), theirs.len());
            for (a, b) in ours.iter().zip(&theirs) {
                assert_eq!(a.0, b.0);
                assert!(a.1 == b.1, "{} differs from cabextract in {}", a.0, path.display());
            }
        }
    }
}
