//! A run read from a CER share: the share's report files analyzed, and every bucket's hits
//! taken from its `count.txt`, not from the number of report files it kept.

use std::path::Path;

use crate::analyze::{analyze_all, AnalyzeOptions};
use crate::batch::BatchOptions;
use crate::inputs::Input;

use super::{Line, RunData, RunNote};

/// Whether `root` is laid out as a CER share (it has the `cabs`, `counts` or `status` tree,
/// or a `policy.txt`), rather than a folder of dumps.
pub fn is_share(root: &Path) -> bool {
    ["cabs", "counts", "status"]
        .iter()
        .any(|d| root.join(d).is_dir())
        || root.join("policy.txt").is_file()
}

/// Reads the share at `root` as a run. Each report file is analyzed and counts as one hit. An
/// application bucket whose `count.txt` counted more hits than it kept files adds the rest to
/// the failure bucket of its first report file that could be analyzed (everything filed under
/// one application subpath shares the tuple). Hits that cannot be attributed so (the `blue`
/// and `shutdown` folders, which mix many failure buckets, or a folder without an analyzable
/// report file) are left out and named in a note. A bucket without a readable count counts
/// its files.
pub fn load_share(
    root: &Path,
    options: &AnalyzeOptions,
    batch: &BatchOptions,
) -> Result<RunData, String> {
    let source = root.display().to_string();
    let scan = cer_share::scan(root).map_err(|e| format!("{source}: {e}"))?;
    let mut run = RunData {
        source: source.clone(),
        ..RunData::default()
    };
    let files = crate::share_page::report_files(&scan);
    let mut first: Vec<Option<Line>> = vec![None; scan.buckets.len()];
    let mut next = 0usize;
    let mut bad: Option<String> = None;
    let inputs = files.iter().map(|(_, p)| Input::File(p.to_path_buf()));
    analyze_all(inputs, options, batch, |_, report| {
        let bucket = files.get(next).map(|(i, _)| *i);
        next += 1;
        match serde_json::from_str::<Line>(&report.to_json_line()) {
            Ok(line) => {
                run.add_hits(&line, 1);
                if let Some(slot) = bucket.and_then(|i| first.get_mut(i)) {
                    if slot.is_none() && line.error.is_none() {
                        *slot = Some(line);
                    }
                }
            }
            Err(e) => bad = bad.take().or(Some(format!("{}: {e}", report.path))),
        }
    })
    .map_err(|e| format!("{source}: {e}"))?;
    if let Some(e) = bad {
        return Err(e);
    }
    for (bucket, first) in scan.buckets.iter().zip(first) {
        let kept = bucket.reports.len();
        let Some(hits) = bucket
            .count
            .as_ref()
            .and_then(|c| c.total_hits)
            .and_then(|h| usize::try_from(h).ok())
        else {
            continue;
        };
        let extra = hits.saturating_sub(kept);
        match first.filter(|_| !bucket.bucket.is_special()) {
            Some(line) => run.add_hits(&line, extra),
            None if extra > 0 => run.notes.push(RunNote::UnattributedHits {
                source: source.clone(),
                subpath: bucket.subpath.clone(),
                hits: extra,
            }),
            None => {}
        }
    }
    Ok(run)
}
