//! Signature-only path versus the full report path on the real minidumps of
//! `../shared/real-dumps/minidump` (the Windows ones the CER table covers).
//!
//! Run: `cargo bench -p dumpsig-analysis --bench signature`. Figures go to BENCHMARKS.md.
// Test code: a panic is a failed test with its message.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::path::PathBuf;
use std::time::Duration;

use analysis::{analyze_source, AnalyzeOptions, Depth, DumpSource};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

fn real_minidumps() -> Vec<DumpSource> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/real-dumps/minidump");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("../shared/real-dumps/minidump beside the workspace")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Bad inputs fail before any work; they would only dilute the comparison.
            !name.starts_with("invalid-r")
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| DumpSource::open(p).expect("open dump"))
        .collect()
}

fn options(depth: Depth) -> AnalyzeOptions {
    AnalyzeOptions {
        depth,
        ..AnalyzeOptions::default()
    }
}

fn bench(c: &mut Criterion) {
    let sources = real_minidumps();
    let signature = options(Depth::Signature);
    let full = options(Depth::Full);

    let mut all = c.benchmark_group("all-real-minidumps");
    all.sample_size(20).measurement_time(Duration::from_secs(4));
    all.bench_function("signature", |b| {
        b.iter(|| {
            sources
                .iter()
                .map(|s| analyze_source(s, &signature).is_ok() as usize)
                .sum::<usize>()
        })
    });
    all.bench_function("full", |b| {
        b.iter(|| {
            sources
                .iter()
                .map(|s| analyze_source(s, &full).is_ok() as usize)
                .sum::<usize>()
        })
    });
    all.finish();

    let mut each = c.benchmark_group("per-dump");
    each.sample_size(20)
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(300));
    for s in &sources {
        let name = s
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        each.bench_with_input(BenchmarkId::new("signature", &name), s, |b, s| {
            b.iter(|| analyze_source(s, &signature))
        });
        each.bench_with_input(BenchmarkId::new("full", &name), s, |b, s| {
            b.iter(|| analyze_source(s, &full))
        });
    }
    each.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
