//! What the page is drawn from, gathered one report at a time so that a share of a million
//! hits costs memory per bucket, not per report: each failure bucket's hits, times, subpaths,
//! verdicts, the first [`MAX_MEMBERS`] report paths and one representative report.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{crash_code, crash_time, severity, text, Stamp, MAX_MEMBERS};

/// Distinct subpaths or hashes kept per bucket (the table shows the first and a count).
const MAX_DISTINCT: usize = 64;

/// One dated crash code, for the codes-over-time chart.
pub(super) struct Entry {
    pub(super) time: Option<Stamp>,
    pub(super) code: String,
    pub(super) hits: usize,
}

/// A report that could not be analyzed.
pub(super) struct Failed {
    pub(super) path: String,
    pub(super) kind: String,
    pub(super) error: String,
}

/// One failure bucket as the page shows it.
pub(super) struct Bucket {
    pub(super) name: String,
    /// Hits: one per report, plus what a share's count.txt counted beyond its report files.
    pub(super) hits: usize,
    /// Report files in the bucket.
    pub(super) files: usize,
    pub(super) kinds: Vec<String>,
    pub(super) subpaths: Vec<String>,
    pub(super) hashes: Vec<String>,
    pub(super) first: Option<Stamp>,
    pub(super) last: Option<Stamp>,
    verdicts: BTreeMap<(usize, String, String), Value>,
    pub(super) members: Vec<(String, Option<Stamp>)>,
    /// The first report of the bucket, with its time and code, when it was kept.
    pub(super) representative: Option<(Value, Option<Stamp>, String)>,
}

impl Bucket {
    fn new(name: &str) -> Bucket {
        Bucket {
            name: name.to_owned(),
            hits: 0,
            files: 0,
            kinds: Vec::new(),
            subpaths: Vec::new(),
            hashes: Vec::new(),
            first: None,
            last: None,
            verdicts: BTreeMap::new(),
            members: Vec::new(),
            representative: None,
        }
    }

    /// Known-issue verdicts of all its reports, one per (verdict, rule): worst first, then by id.
    pub(super) fn verdicts(&self) -> Vec<&Value> {
        self.verdicts.values().collect()
    }
}

fn push_distinct(list: &mut Vec<String>, value: Option<&str>) {
    if let Some(v) = value {
        if list.len() < MAX_DISTINCT && !list.iter().any(|x| x == v) {
            list.push(v.to_owned());
        }
    }
}

/// Gathers reports into buckets.
#[derive(Default)]
pub struct PageBuilder {
    buckets: BTreeMap<String, Bucket>,
    pub(super) failed: Vec<Failed>,
    pub(super) timeline: Vec<Entry>,
    pub(super) reports: usize,
    pub(super) analyzed: usize,
}

impl PageBuilder {
    /// An empty page.
    pub fn new() -> PageBuilder {
        PageBuilder::default()
    }

    /// Adds one report (`docs/json.md`). Its full JSON is kept as the bucket's representative
    /// when it is the bucket's first report and `keep` says so. Returns the report's failure
    /// bucket, `None` when it could not be analyzed.
    pub fn add_report(&mut self, r: Value, keep: bool) -> Option<String> {
        self.reports += 1;
        let bucket = match text(&r, "/failure_bucket") {
            Some(b) if text(&r, "/error").is_none() => b.to_owned(),
            _ => {
                self.failed.push(Failed {
                    path: text(&r, "/path").unwrap_or("(no path)").to_owned(),
                    kind: text(&r, "/kind").unwrap_or("unrecognized").to_owned(),
                    error: text(&r, "/error")
                        .unwrap_or("no failure bucket in the report")
                        .to_owned(),
                });
                return None;
            }
        };
        self.analyzed += 1;
        let (time, code) = (crash_time(&r), crash_code(&r));
        self.timeline.push(Entry {
            time,
            code: code.clone(),
            hits: 1,
        });
        let b = self
            .buckets
            .entry(bucket.clone())
            .or_insert_with(|| Bucket::new(&bucket));
        b.hits += 1;
        b.files += 1;
        push_distinct(&mut b.kinds, text(&r, "/kind"));
        push_distinct(&mut b.subpaths, text(&r, "/cer_subpath"));
        push_distinct(&mut b.hashes, text(&r, "/failure_id_hash"));
        b.first = match (b.first, time) {
            (Some(a), Some(t)) => Some(a.min(t)),
            (a, t) => a.or(t),
        };
        b.last = b.last.max(time);
        let issues = r.get("known_issues").and_then(Value::as_array);
        for issue in issues.into_iter().flatten() {
            let verdict = text(issue, "/verdict").unwrap_or("").to_owned();
            let id = text(issue, "/id").unwrap_or("").to_owned();
            b.verdicts
                .entry((severity(&verdict), verdict, id))
                .or_insert_with(|| issue.clone());
        }
        if b.members.len() < MAX_MEMBERS {
            b.members
                .push((text(&r, "/path").unwrap_or("?").to_owned(), time));
        }
        if keep && b.files == 1 {
            b.representative = Some((r, time, code));
        }
        Some(bucket)
    }

    /// Adds hits a share counted beyond its report files to an existing bucket, or to a bucket
    /// of its own (`name`, `kind`, `subpath`) when there is none.
    pub fn add_hits(&mut self, name: &str, kind: &str, subpath: &str, hits: usize) {
        if hits == 0 {
            return;
        }
        let b = self
            .buckets
            .entry(name.to_owned())
            .or_insert_with(|| Bucket::new(name));
        b.hits += hits;
        push_distinct(&mut b.kinds, Some(kind));
        push_distinct(&mut b.subpaths, Some(subpath));
    }

    /// Reports added so far.
    pub fn reports(&self) -> usize {
        self.reports
    }

    /// The buckets, most hits first, then by name.
    pub(super) fn into_parts(self) -> (Vec<Bucket>, Vec<Failed>, Vec<Entry>, usize, usize) {
        let mut buckets: Vec<Bucket> = self.buckets.into_values().collect();
        for b in &mut buckets {
            b.kinds.sort_unstable();
        }
        // Stable: equal hits keep the map's name order.
        buckets.sort_by_key(|b| std::cmp::Reverse(b.hits));
        (
            buckets,
            self.failed,
            self.timeline,
            self.reports,
            self.analyzed,
        )
    }
}
