#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use cab::writer::{write_cabinet, CabInput, WriteCompression};

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dumpsig-store-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn accept_prefix(prefix: &'static [u8]) -> impl Fn(&[u8]) -> Result<(), String> {
    move |b: &[u8]| {
        if b.starts_with(prefix) {
            Ok(())
        } else {
            Err("wrong content".into())
        }
    }
}

#[test]
fn folder_store_plain_compressed_and_flat() {
    let dir = scratch("folder");
    let key = dir.join("a.sys").join("4A5BC26E1e000");
    std::fs::create_dir_all(&key).unwrap();
    std::fs::write(key.join("a.sys"), b"GOOD plain").unwrap();
    let packed_key = dir.join("b.sys").join("0000000110000");
    std::fs::create_dir_all(&packed_key).unwrap();
    let cab = write_cabinet(
        &[CabInput {
            name: "b.sys",
            data: b"GOOD packed",
            modified: cab::DosDateTime::from_raw(0x21, 0),
        }],
        WriteCompression::MsZip,
    )
    .unwrap();
    std::fs::write(packed_key.join("b.sy_"), &cab).unwrap();
    std::fs::write(dir.join("c.sys"), b"BAD flat").unwrap();

    let client = StoreClient::new(SymbolPath::parse(&dir.display().to_string()).unwrap());
    let a = client.fetch("a.sys", "4A5BC26E1e000", &accept_prefix(b"GOOD"));
    assert_eq!(a.found.unwrap().bytes, b"GOOD plain");
    let b = client.fetch("b.sys", "0000000110000", &accept_prefix(b"GOOD"));
    assert_eq!(b.found.unwrap().bytes, b"GOOD packed");
    let c = client.fetch("c.sys", "0000000110000", &accept_prefix(b"GOOD"));
    assert!(c.found.is_none());
    assert!(
        c.notes
            .iter()
            .any(|n| matches!(n, StoreNote::WrongFile { .. })),
        "{:?}",
        c.notes
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_keys_are_not_looked_up() {
    let client = StoreClient::new(SymbolPath::parse("/").unwrap());
    for (name, id) in [
        ("../etc", "1"),
        ("a/b", "1"),
        ("a", ".."),
        ("", "1"),
        ("a\\b", "1"),
    ] {
        let l = client.fetch(name, id, &|_| Ok(()));
        assert!(l.found.is_none());
        assert!(
            l.notes
                .iter()
                .any(|n| matches!(n, StoreNote::InvalidKey { .. })),
            "{name}"
        );
    }
}

#[test]
fn atomic_write_replaces_whole_files() {
    let dir = scratch("atomic");
    let f = dir.join("x").join("y").join("z");
    write_atomically(&f, b"one").unwrap();
    write_atomically(&f, b"two").unwrap();
    assert_eq!(std::fs::read(&f).unwrap(), b"two");
    let leftovers: Vec<_> = std::fs::read_dir(f.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".dumpsig-tmp"))
        .collect();
    assert!(leftovers.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compressed_name_replaces_the_last_character() {
    assert_eq!(compressed_name("crash.pdb"), "crash.pd_");
    assert_eq!(compressed_name("diskdump.sys"), "diskdump.sy_");
}
