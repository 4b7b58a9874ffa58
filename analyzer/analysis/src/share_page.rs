//! `report --share`: a CER share on the page, with hits counted from each bucket's
//! `count.txt`, not from the report files it happened to keep (a share keeps at most a few per
//! bucket and counts the rest).
//!
//! Each report file is analyzed once and dropped: only the buckets' tallies stay in memory,
//! plus the full JSON of one report in each of the [`DETAILED_SUBPATHS`] subpaths with the most
//! hits (the page shows those). Hits a `count.txt` counted beyond the files kept go to the
//! failure bucket of the first report file of that subpath that could be analyzed (everything
//! filed under one application subpath shares the signature tuple); hits that cannot be
//! attributed so (the `blue` and `shutdown` folders, which mix failure buckets, or a subpath
//! with no analyzable report file) get a row of their own, named for the subpath.

use std::collections::HashSet;
use std::path::Path;

use crate::analyze::{analyze_all, AnalyzeOptions};
use crate::batch::BatchOptions;
use crate::inputs::Input;
use crate::report::html::PageBuilder;

/// Subpaths (by hits) whose first report's full JSON is kept for the page's details.
pub const DETAILED_SUBPATHS: usize = 100;

/// What reading the share found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareRead {
    /// Report files analyzed.
    pub files: usize,
    /// Report files that could not be analyzed (named on stderr by the caller's callback).
    pub failed: Vec<(String, String)>,
    /// Hits counted in count.txt files.
    pub counted_hits: u64,
}

/// Every report file of a scanned share with the index of its bucket, in scan order.
pub fn report_files(scan: &cer_share::ShareScan) -> Vec<(usize, &Path)> {
    scan.buckets
        .iter()
        .enumerate()
        .flat_map(|(i, b)| b.reports.iter().map(move |r| (i, r.as_path())))
        .collect()
}

/// The row name of hits that no analyzed report file attributes to a failure bucket.
pub fn unattributed_row(subpath: &str) -> String {
    format!("(hits without an analyzed report file) {subpath}")
}

/// Adds the share at `root` to `page`.
pub fn add_share(
    root: &Path,
    options: &AnalyzeOptions,
    batch: &BatchOptions,
    page: &mut PageBuilder,
) -> Result<ShareRead, String> {
    let source = root.display().to_string();
    let scan = cer_share::scan(root).map_err(|e| format!("{source}: {e}"))?;
    let hits_of = |i: usize| -> u64 {
        scan.buckets
            .get(i)
            .and_then(|b| b.count.as_ref())
            .and_then(|c| c.total_hits)
            .unwrap_or(0)
    };
    let mut by_hits: Vec<usize> = (0..scan.buckets.len()).collect();
    by_hits.sort_by_key(|&i| std::cmp::Reverse(hits_of(i)));
    let detailed: HashSet<usize> = by_hits.into_iter().take(DETAILED_SUBPATHS).collect();
    let files = report_files(&scan);
    let mut first: Vec<Option<(String, String)>> = vec![None; scan.buckets.len()];
    let mut read = ShareRead::default();
    let mut next = 0usize;
    let inputs = files.iter().map(|(_, p)| Input::File(p.to_path_buf()));
    analyze_all(inputs, options, batch, |_, report| {
        let bucket = files.get(next).map(|(i, _)| *i);
        next += 1;
        read.files += 1;
        if let Some(e) = &report.error {
            read.failed.push((report.path.clone(), e.clone()));
        }
        let kind = report
            .kind
            .map(|k| k.as_str().to_owned())
            .unwrap_or_default();
        let value = serde_json::to_value(&report).unwrap_or_default();
        let keep = bucket.is_some_and(|i| detailed.contains(&i));
        let failure_bucket = page.add_report(value, keep);
        if let (Some(fb), Some(slot)) = (failure_bucket, bucket.and_then(|i| first.get_mut(i))) {
            if slot.is_none() {
                *slot = Some((fb, kind));
            }
        }
    })
    .map_err(|e| format!("{source}: {e}"))?;
    for (i, (b, first)) in scan.buckets.iter().zip(first).enumerate() {
        let hits = hits_of(i);
        read.counted_hits += hits;
        let extra = usize::try_from(hits.saturating_sub(b.reports.len() as u64)).unwrap_or(0);
        match first.filter(|_| !b.bucket.is_special()) {
            Some((fb, kind)) => page.add_hits(&fb, &kind, &b.subpath, extra),
            None => page.add_hits(&unattributed_row(&b.subpath), "share", &b.subpath, extra),
        }
    }
    Ok(read)
}
