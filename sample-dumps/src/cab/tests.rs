//! The generated cabinets are deterministic, and `cabextract` (when
//! installed) agrees with each well-formed one and refuses the malformed ones
//! it can detect.

use super::*;

#[test]
fn deterministic_and_named_uniquely() {
    let a = cab_samples();
    let b = cab_samples();
    assert_eq!(a, b);
    let mut names: Vec<&str> = a.iter().map(|s| s.file_name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), a.len());
    for s in &a {
        assert_eq!(
            s.malformed,
            s.files.is_empty() && s.file_name != "empty-folder.cab",
            "{}",
            s.file_name
        );
    }
}

#[test]
fn cabextract_agrees() {
    if std::process::Command::new("cabextract")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: cabextract is not installed (apt-get install cabextract)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("dumpsig-cabgen-{}", std::process::id()));
    for s in cab_samples() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(&s.file_name);
        std::fs::write(&path, &s.bytes).unwrap();
        let out_dir = dir.join("out");
        let st = std::process::Command::new("cabextract")
            .arg("-q")
            .arg("-d")
            .arg(&out_dir)
            .arg(&path)
            .output()
            .unwrap();
        if s.malformed {
            println!(
                "{}: cabextract says {:?}",
                s.file_name,
                String::from_utf8_lossy(&st.stderr).trim()
            );
            continue;
        }
        assert!(
            st.status.success(),
            "cabextract refuses {}: {st:?}",
            s.file_name
        );
        for (name, data) in &s.files {
            let got = std::fs::read(out_dir.join(name)).unwrap();
            assert!(&got == data, "{} in {} differs", name, s.file_name);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
