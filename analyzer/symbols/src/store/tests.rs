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

/// Answers one request on loopback with `body` (its length declared or not, then the
/// connection closed); returns the server URL.
fn serve_once(body: Vec<u8>, declare_length: bool) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 2 {
            line.clear();
        }
        let mut out = stream;
        let length = if declare_length {
            format!("Content-Length: {}\r\n", body.len())
        } else {
            String::new()
        };
        let head = format!("HTTP/1.1 200 OK\r\n{length}Connection: close\r\n\r\n");
        let _ = out.write_all(head.as_bytes());
        let _ = out.write_all(&body);
    });
    url
}

/// Every file under `dir` (the cache), temp files included.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn downloads_stream_to_the_cache_and_stop_at_the_cap() {
    const CAP: u64 = 1 << 20;
    let accept = accept_prefix(b"GOOD");
    for declare in [false, true] {
        let cache = scratch(&format!("download-cap-{declare}"));
        let mut body = b"GOOD".to_vec();
        body.resize(3 << 20, b'x');
        let url = serve_once(body, declare);
        let path = SymbolPath::parse(&format!("srv*{}*{url}", cache.display())).unwrap();
        let client = StoreClient::new(path).with_max_file_bytes(CAP);
        let lookup = client.fetch("big.pdb", "ABCDEF1", &accept);
        assert!(lookup.found.is_none());
        let said: Vec<String> = lookup.notes.iter().map(ToString::to_string).collect();
        let expected = if declare {
            format!("the server offers {} bytes (limit {CAP})", 3 << 20)
        } else {
            format!("the response exceeds {CAP} bytes")
        };
        assert!(said.iter().any(|n| n.contains(&expected)), "{said:?}");
        assert_eq!(files_under(&cache), Vec::<PathBuf>::new(), "nothing left");
    }

    // Under the cap: the download itself is the cached file, and no temp file stays.
    let cache = scratch("download-ok");
    let url = serve_once(b"GOOD small".to_vec(), false);
    let path = SymbolPath::parse(&format!("srv*{}*{url}", cache.display())).unwrap();
    let client = StoreClient::new(path).with_max_file_bytes(CAP);
    let found = client.fetch("small.pdb", "ABCDEF1", &accept).found.unwrap();
    assert_eq!(found.bytes, b"GOOD small");
    let file = cache.join("small.pdb/ABCDEF1/small.pdb");
    assert_eq!(files_under(&cache), vec![file.clone()]);
    assert_eq!(std::fs::read(&file).unwrap(), b"GOOD small");
}
