//! The share through the binary: links planted in it are reported and never followed, and
//! `scan` reads gigabyte-sized damaged files in bounded memory.

use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use crate::support::{real_dump, require, run, scratch_dir, BIN};

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

const SUBPATH: &str = "test_app.exe/0.0.0.0/test_app.exe/0.0.0.0/0000429e";

/// A share holding one filed report of `minidump/test.dmp`, tracking on.
fn share_with_one_report(tag: &str) -> (PathBuf, PathBuf) {
    let dir = scratch_dir(tag);
    let share = dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("policy.txt"), "Tracking=YES\r\n").unwrap();
    crate::support::file_test_dump(&share);
    (dir, share)
}

#[test]
fn a_linked_bucket_folder_is_reported_by_bucket_and_scan_and_never_written() {
    let (dir, share) = share_with_one_report("jail-cli");
    let outside = dir.join("outside");
    let bucket = share.join("cabs").join(SUBPATH);
    std::fs::rename(&bucket, &outside).unwrap();
    symlink(&outside, &bucket).unwrap();
    let listing = || {
        let mut names: Vec<(String, Vec<u8>)> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                (s(&p), std::fs::read(&p).unwrap())
            })
            .collect();
        names.sort();
        names
    };
    let before = listing();
    // The same crash again (another file, so not already filed) and a dump of another bucket.
    let copy = dir.join("again.dmp");
    let mut bytes = std::fs::read(real_dump("minidump/test.dmp")).unwrap();
    bytes.extend_from_slice(b"tail"); // another content id, same crash
    std::fs::File::create(&copy)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let other = real_dump("minidump/linux-mini.dmp");
    let r = run(
        BIN,
        &["bucket", "--share", &s(&share), &s(&copy), &s(&other)],
    );
    assert_eq!(r.code(), 1, "{}{}", r.stdout, r.stderr);
    let expected = format!(
        "{} is a symbolic link inside the share, where a folder or file of the share belongs: \
         not followed, left alone",
        bucket.display()
    );
    assert!(r.stderr.contains(&expected), "{}", r.stderr);
    assert!(
        r.stderr.contains("1 filed"),
        "the other dump is filed: {}",
        r.stderr
    );
    assert_eq!(listing(), before, "nothing written through the link");
    assert!(std::fs::symlink_metadata(&bucket)
        .unwrap()
        .file_type()
        .is_symlink());

    let r = run(BIN, &["scan", &s(&share)]);
    assert_eq!(r.code(), 1, "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!(
            "{}: symbolic link, not followed",
            bucket.display()
        )),
        "{}",
        r.stdout
    );
    assert_eq!(listing(), before);
}

/// Peak resident memory of one run of the binary, in KiB, from GNU time.
fn peak_kib(args: &[&str]) -> (i32, String, u64) {
    let mut all = vec!["-f", "PEAK_KIB=%M", BIN];
    all.extend_from_slice(args);
    let r = run("/usr/bin/time", &all);
    let peak = r
        .stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("PEAK_KIB="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak from time: {}", r.stderr));
    (r.code(), r.stdout, peak)
}

#[test]
fn scan_reads_gigabyte_damaged_files_in_bounded_memory() {
    if !require(
        Path::new("/usr/bin/time").exists(),
        "GNU time",
        "peak memory",
    ) {
        return;
    }
    let (dir, share) = share_with_one_report("scan-gigabytes");
    const GIB: u64 = 1 << 30;
    // count.txt: a gigabyte of nothing (sparse: costs no disk).
    let count = share.join("counts").join(SUBPATH).join("count.txt");
    std::fs::File::create(&count).unwrap().set_len(GIB).unwrap();
    // hits.log: a gigabyte of damaged lines of every kind, written for real.
    let hits = share.join("cabs").join(SUBPATH).join("hits.log");
    let mut block = Vec::with_capacity(1 << 20);
    let mut n = 0u64;
    while block.len() < (1 << 20) - 200 {
        n += 1;
        match n % 3 {
            0 => block.extend_from_slice(format!("garbage line {n}\r\n").as_bytes()),
            1 => block.extend_from_slice(format!("bare LF {n}\n").as_bytes()),
            _ => block.extend_from_slice(&[b'x'; 150]),
        }
    }
    block.extend_from_slice(b"\r\n");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&hits).unwrap());
    let mut written = 0u64;
    while written < GIB {
        file.write_all(&block).unwrap();
        written += block.len() as u64;
    }
    file.flush().unwrap();
    drop(file);
    // crash.log: one gigabyte-long line without a break (sparse too).
    std::fs::File::create(share.join("crash.log"))
        .unwrap()
        .set_len(GIB)
        .unwrap();

    for format in [&["--json"][..], &[][..]] {
        let mut args = vec!["scan"];
        args.extend_from_slice(format);
        let share_arg = s(&share);
        args.push(&share_arg);
        let (code, stdout, peak) = peak_kib(&args);
        assert_eq!(
            code,
            1,
            "damage is reported: {}",
            &stdout[..stdout.len().min(2000)]
        );
        assert!(
            peak < 64 * 1024,
            "scan {format:?} peaked at {peak} KiB on gigabyte files"
        );
        assert!(
            stdout.len() < 256 * 1024,
            "a few examples, not every line: {} bytes",
            stdout.len()
        );
        assert!(
            stdout.contains("count.txt is 1073741824 bytes, far more than two counters: not read"),
            "{}",
            &stdout[..stdout.len().min(4000)]
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
