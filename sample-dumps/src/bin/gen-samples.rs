//! `gen-samples [DIR]`: write every generated sample dump into `DIR/minidump` and
//! `DIR/kernel` (default DIR: the crate's directory) and print each path.
//!
//! `gen-samples --sparse PATH SIZE`: write the seed scenario as a sparse 64-bit full kernel
//! dump describing SIZE bytes of physical memory (`16GiB`, `64MiB`, or bytes); used by the
//! benchmarks, never committed.
//!
//! `gen-samples --batch DIR COUNT [FIRST_STAMP]`: write COUNT minidumps (the samples in turn,
//! each with its own timestamp, counting from FIRST_STAMP) into DIR for the batch benchmark;
//! never committed.
//!
//! `gen-samples --share-corpus DIR BUCKETS HITS`: write a share-sized CER corpus (buckets,
//! hits, tracking logs, dumpsig's indexes, damaged entries) into DIR; never committed.
//!
//! `gen-samples --arm64 PATH`: write the ARM64 kernel dump (`.pdata`-unwound stack with
//! decoys); never committed.
//!
//! `gen-samples --cab PATH mszip|lzx21 MIB`: write a report CAB holding a MIB-MiB minidump-like
//! file and WER metadata, MSZIP or LZX (2 MiB window), for the CAB extraction benchmark;
//! `gen-samples --cab PATH mszip|lzx21 --holding DUMP`: the same around the file DUMP.

use std::path::PathBuf;
use std::process::ExitCode;

fn parse_size(text: &str) -> Option<u64> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let n: u64 = digits.parse().ok()?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// Prints the path written, or why it could not be.
fn reported(path: &str, written: Result<(), String>) -> ExitCode {
    match written {
        Ok(()) => {
            println!("{path}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("gen-samples: cannot write {path}: {err}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--sparse") {
        let (Some(path), Some(size)) = (args.get(1), args.get(2).and_then(|s| parse_size(s)))
        else {
            eprintln!("usage: gen-samples --sparse PATH SIZE (e.g. 16GiB)");
            return ExitCode::from(2);
        };
        let written = sample_dumps::kernel::sparse_full_dump(&PathBuf::from(path), size);
        return reported(path, written.map_err(|e| e.to_string()));
    }
    if args.first().map(String::as_str) == Some("--arm64") {
        let Some(path) = args.get(1) else {
            eprintln!("usage: gen-samples --arm64 PATH");
            return ExitCode::from(2);
        };
        let written = sample_dumps::kernel::arm64_dump()
            .map_err(|e| e.to_string())
            .and_then(|d| std::fs::write(path, d.bytes).map_err(|e| e.to_string()));
        return reported(path, written);
    }
    if args.first().map(String::as_str) == Some("--cab") {
        let method = match args.get(2).map(String::as_str) {
            Some("mszip") => Some(sample_dumps::cab::Method::MsZip),
            Some("lzx21") => Some(sample_dumps::cab::Method::Lzx(21, false)),
            _ => None,
        };
        let mib: Option<usize> = args.get(3).and_then(|m| m.parse().ok());
        let (Some(path), Some(method)) = (args.get(1), method) else {
            eprintln!("usage: gen-samples --cab PATH mszip|lzx21 (MIB | --holding DUMP)");
            return ExitCode::from(2);
        };
        let cab = match (mib, args.get(3).map(String::as_str), args.get(4)) {
            (Some(mib), _, _) => sample_dumps::cab::report_cab(method, mib << 20),
            (None, Some("--holding"), Some(dump)) => match std::fs::read(dump) {
                Ok(bytes) => sample_dumps::cab::report_cab_holding(method, bytes),
                Err(err) => {
                    eprintln!("gen-samples: cannot read {dump}: {err}");
                    return ExitCode::FAILURE;
                }
            },
            _ => {
                eprintln!("usage: gen-samples --cab PATH mszip|lzx21 (MIB | --holding DUMP)");
                return ExitCode::from(2);
            }
        };
        return match std::fs::write(path, &cab.bytes) {
            Ok(()) => {
                println!("{path}: {} bytes", cab.bytes.len());
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("gen-samples: cannot write {path}: {err}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some("--share-corpus") {
        let parse = |i: usize| args.get(i).and_then(|c| c.parse::<u64>().ok());
        let (Some(dir), Some(buckets), Some(hits)) = (args.get(1), parse(2), parse(3)) else {
            eprintln!("usage: gen-samples --share-corpus DIR BUCKETS HITS");
            return ExitCode::from(2);
        };
        let spec = sample_dumps::share_corpus::CorpusSpec {
            buckets: usize::try_from(buckets).unwrap_or(usize::MAX),
            hits,
            tracking: true,
            damage: true,
        };
        return match sample_dumps::share_corpus::write_corpus(&PathBuf::from(dir), &spec) {
            Ok(s) => {
                println!(
                    "{dir}: {} buckets, {} hits, {} report files, {} damaged entries",
                    s.buckets,
                    s.hits,
                    s.report_files,
                    s.damaged.len()
                );
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("gen-samples: cannot write the corpus into {dir}: {err}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some("--batch") {
        let (Some(dir), Some(count)) = (args.get(1), args.get(2).and_then(|c| c.parse().ok()))
        else {
            eprintln!("usage: gen-samples --batch DIR COUNT [FIRST_STAMP]");
            return ExitCode::from(2);
        };
        let first = args
            .get(3)
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_600_000_000);
        return match sample_dumps::write_batch_from(&PathBuf::from(dir), count, first) {
            Ok(n) => {
                println!("{n} minidumps in {dir}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("gen-samples: cannot write the batch into {dir}: {err}");
                ExitCode::FAILURE
            }
        };
    }
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    match sample_dumps::write_all(&dir) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!(
                "gen-samples: cannot write samples into {}: {err}",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}
