//! `dumpsig regress`: compares two batch results, a baseline run and a current run.
//!
//! Both runs are JSON Lines as printed by `dumpsig analyze --json` (see `docs/json.md`); the
//! shorter `dumpsig bucket --json` records are accepted as well, though they carry no known-issue
//! verdicts and no stop or exception codes. Each line is decoded into the few fields used here and
//! dropped, so memory grows with the number of distinct buckets, issues and codes, not of reports.
//!
//! How the runs are read:
//! - A record whose `error` is set and which has no bucket is a **failed input**: counted in
//!   `failed`, never in a bucket. A `bucket --json` record can carry both an error and a bucket
//!   (the dump was analyzed but filing it failed); it counts toward its bucket. A record without
//!   `known_issues` (any `bucket --json` record) counts in `summary_only`.
//! - The **bucket** of an analyzed record is `failure_bucket`, else `cer_subpath`, else
//!   [`NO_BUCKET`]. Every record is one hit; the same path listed twice is two hits.
//! - A bucket's **share** is its hits divided by the run's analyzed records.
//! - The **code** of a kernel report is its stop code (`kernel_signature.stop_code.base_code`, so
//!   `0x1000007E` counts as `0x7E`, else `kernel.bugcheck.code`); that of a minidump or report CAB
//!   is its exception code (`minidump.exception.code`, else `signature.exception_code` unless the
//!   dump has no exception). A hang dump has no code. Stop and exception codes are kept apart.
//!
//! What is reported:
//! - **new buckets**: in the current run, not in the baseline; **gone buckets**: the reverse.
//! - **grown buckets**: in both, and the current share exceeds the baseline share by more than
//!   the threshold (a fraction: `0.05`, or `5%`, means five percentage points; a bare `5` is
//!   refused; default [`DEFAULT_THRESHOLD`]). So that one stray dump in a small run is not called
//!   growth, the growth must also amount to at least [`MIN_EXCESS_HITS`] hits more than the
//!   baseline share predicts for the current run's size (share growth × current analyzed records).
//! - **verdict regressions**: known issues with at least one `regression` verdict in the current
//!   run and none in the baseline. Issues already `regression` in the baseline are listed as
//!   **still regressed** and do not count. When no baseline record carries verdicts (a
//!   `bucket --json` baseline), every current `regression` verdict counts, since the verdict
//!   itself says the issue is back (a gate should fail safe); a note says the baseline was blind.
//! - **reappeared codes**: stop or exception codes seen in the current run and absent from the
//!   baseline. Skipped, with a note, when no baseline record carries codes (each would be "new").
//!   A baseline mixing both record kinds is compared as it is, with a note.
//!
//! The comparison **regressed** when any new bucket, grown bucket, verdict regression or
//! reappeared code exists; `regressed_by` names which, and the CLI exits non-zero. Gone buckets,
//! still-regressed issues and a rise in failed inputs are shown or counted but do not regress.
//!
//! Ordering is deterministic: new and gone buckets by hits (descending) then name, grown buckets
//! by share growth then name, issues by id, codes by hits then kind and value.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

mod line;
mod note;
mod share;
mod text;

use line::Line;
pub use note::RunNote;
pub use share::{is_share, load_share};

#[cfg(test)]
mod tests;

/// The default growth threshold: five percentage points of share.
pub const DEFAULT_THRESHOLD: f64 = 0.05;

/// How many hits a share growth must be worth in the current run to count as grown.
pub const MIN_EXCESS_HITS: f64 = 2.0;

/// The bucket of an analyzed record that has neither `failure_bucket` nor `cer_subpath`.
pub const NO_BUCKET: &str = "(no bucket)";

/// Why a run could not be read: the first bad line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input}, line {line}: {message}")]
pub struct RegressError {
    /// The run's file name, as given.
    pub input: String,
    /// 1-based line number.
    pub line: usize,
    /// `malformed JSON: …`, `not a dumpsig report: …` or `unsupported schema_version …`.
    pub message: String,
}

/// Whether a code is a kernel stop code or a user-mode exception code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    /// A bug check (stop) code of a kernel dump.
    Stop,
    /// An exception code of a minidump or report CAB.
    Exception,
}

/// One run, reduced to the counts the comparison needs. Built by [`load_jsonl`].
#[derive(Debug, Clone, Default)]
pub struct RunData {
    source: String,
    reports: usize,
    failed: usize,
    summary_only: usize,
    /// Bucket → (hits, first path).
    buckets: BTreeMap<String, (usize, String)>,
    issues: BTreeMap<String, IssueStat>,
    codes: BTreeMap<(CodeKind, u64), CodeStat>,
    /// Caveats found while reading the run (a share's unattributed hits).
    notes: Vec<RunNote>,
    /// Kernel records written before schema version 3, whose buckets use the older grammar.
    old_kernel_grammar: usize,
    /// Kernel records of schema version 3 or later.
    new_kernel_grammar: usize,
}

#[derive(Debug, Clone, Default)]
struct IssueStat {
    title: Option<String>,
    verdicts: BTreeMap<String, usize>,
    /// Path and reason of the first `regression` verdict.
    first_regression: Option<(String, Option<String>)>,
    regression_buckets: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
struct CodeStat {
    hits: usize,
    name: Option<String>,
    buckets: BTreeSet<String>,
    example: String,
}

impl RunData {
    /// The totals of this run.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            source: self.source.clone(),
            reports: self.reports,
            analyzed: self.analyzed(),
            failed: self.failed,
            buckets: self.buckets.len(),
            summary_only: self.summary_only,
        }
    }

    fn analyzed(&self) -> usize {
        self.reports.saturating_sub(self.failed)
    }

    fn hits(&self, bucket: &str) -> usize {
        self.buckets.get(bucket).map_or(0, |b| b.0)
    }

    fn share(&self, hits: usize) -> f64 {
        match self.analyzed() {
            0 => 0.0,
            n => hits as f64 / n as f64,
        }
    }
}

/// Totals of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    /// The run's file name, as given.
    pub source: String,
    /// Records read.
    pub reports: usize,
    /// Records with a bucket (the denominator of shares).
    pub analyzed: usize,
    /// Failed inputs: records with an error and no bucket.
    pub failed: usize,
    /// Distinct buckets.
    pub buckets: usize,
    /// Records without verdicts or codes (`dumpsig bucket --json` records).
    pub summary_only: usize,
}

/// A bucket that appeared, disappeared or grew.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BucketChange {
    /// The bucket (`failure_bucket`, else `cer_subpath`).
    pub bucket: String,
    /// Hits in the baseline.
    pub baseline_hits: usize,
    /// Hits in the current run.
    pub current_hits: usize,
    /// Share of the baseline's analyzed records, 0..=1.
    pub baseline_share: f64,
    /// Share of the current run's analyzed records, 0..=1.
    pub current_share: f64,
    /// `current_share - baseline_share`.
    pub share_delta: f64,
    /// The first report in this bucket (of the current run; of the baseline for a gone bucket).
    pub example_path: String,
}

/// A known issue with the `regression` verdict in the current run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerdictChange {
    /// The known-issue id (`dump-path-virtual-miniport`).
    pub id: String,
    /// Its title.
    pub title: Option<String>,
    /// Current reports with the `regression` verdict.
    pub reports: usize,
    /// The issue's verdicts in the baseline with their counts; empty when it never matched there.
    pub baseline_verdicts: BTreeMap<String, usize>,
    /// Buckets of the current reports with the `regression` verdict.
    pub buckets: Vec<String>,
    /// The reason given by the first such report.
    pub reason: Option<String>,
    /// The first such report.
    pub example_path: String,
}

/// A stop or exception code seen in the current run and absent from the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeChange {
    /// Stop code or exception code.
    pub kind: CodeKind,
    /// The code as `0x` and 8 hex digits.
    pub code: String,
    /// Its symbolic name when a report gave one.
    pub name: Option<String>,
    /// Current reports with this code.
    pub hits: usize,
    /// Their buckets.
    pub buckets: Vec<String>,
    /// The first such report.
    pub example_path: String,
}

/// The result of [`compare`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegressReport {
    /// True when any new bucket, grown bucket, verdict regression or reappeared code exists.
    pub regressed: bool,
    /// Which of `new_buckets`, `grown_buckets`, `verdict_regressions`, `reappeared_codes` did.
    pub regressed_by: Vec<&'static str>,
    /// Totals of the baseline.
    pub baseline: RunSummary,
    /// Totals of the current run.
    pub current: RunSummary,
    /// The share growth threshold used, as a fraction.
    pub threshold: f64,
    /// Buckets only in the current run.
    pub new_buckets: Vec<BucketChange>,
    /// Buckets only in the baseline (not a regression).
    pub gone_buckets: Vec<BucketChange>,
    /// Buckets whose share grew beyond the threshold.
    pub grown_buckets: Vec<BucketChange>,
    /// Known issues that turned into `regression`.
    pub verdict_regressions: Vec<VerdictChange>,
    /// Known issues already `regression` in the baseline (not counted).
    pub still_regressed: Vec<VerdictChange>,
    /// Stop and exception codes absent from the baseline.
    pub reappeared_codes: Vec<CodeChange>,
    /// Caveats about the inputs (a baseline without verdicts, an empty baseline).
    pub notes: Vec<RunNote>,
}

/// Reads one run from JSON Lines. Blank lines are skipped; `source` names the run in errors.
///
/// Fails on the first line that is not JSON, not an object with a `path`, mistypes a field read
/// here, or carries a `schema_version` other than 1, 2 or 3 (2 only moved the minidump
/// warnings; 3 changed the kernel bucket grammar, which [`compare`] notes when the two runs
/// straddle it).
pub fn load_jsonl(text: &str, source: &str) -> Result<RunData, RegressError> {
    let mut run = RunData {
        source: source.to_owned(),
        ..RunData::default()
    };
    let fail = |line, message| RegressError {
        input: source.to_owned(),
        line,
        message,
    };
    // PowerShell's redirection writes a byte-order mark first; it is not part of the JSON.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (line, raw) in (1..).zip(text.lines()) {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        // serde would also read a struct from a JSON array, by position; a report is an object.
        if !trimmed.starts_with('{') {
            return Err(fail(
                line,
                "not a dumpsig report: expected a JSON object".to_owned(),
            ));
        }
        let record: Line = serde_json::from_str(raw).map_err(|e| fail(line, json_message(&e)))?;
        if let Some(version) = record.schema_version.filter(|v| !matches!(v, 1..=3)) {
            let message =
                format!("unsupported schema_version {version} (this dumpsig reads 1 to 3)");
            return Err(fail(line, message));
        }
        if record.kernel.is_some() {
            match record.schema_version {
                Some(v) if v < 3 => run.old_kernel_grammar += 1,
                _ => run.new_kernel_grammar += 1,
            }
        }
        run.add(record);
    }
    Ok(run)
}

fn json_message(e: &serde_json::Error) -> String {
    // Each line is parsed alone, so serde's "line 1" would mislead: keep only the column.
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let text = text.strip_suffix(&suffix).unwrap_or(&text);
    let what = match e.classify() {
        serde_json::error::Category::Data => "not a dumpsig report",
        _ => "malformed JSON",
    };
    format!("{what}: {text} (column {})", e.column())
}

impl RunData {
    fn add(&mut self, record: Line) {
        self.add_hits(&record, 1);
    }

    /// Adds a record that stands for `hits` crashes (a share's report file stands for the
    /// hits its bucket counted beyond the files kept).
    fn add_hits(&mut self, record: &Line, hits: usize) {
        if hits == 0 {
            return;
        }
        self.reports += hits;
        if record.known_issues.is_none() {
            // A `bucket --json` record, failed or not: it has no verdicts and no codes.
            self.summary_only += hits;
        }
        let key = record
            .failure_bucket
            .as_ref()
            .or(record.cer_subpath.as_ref());
        if record.error.is_some() && key.is_none() {
            self.failed += hits;
            return;
        }
        let bucket = key.map_or(NO_BUCKET, |k| k.as_str()).to_owned();
        let entry = self.buckets.entry(bucket.clone());
        entry.or_insert_with(|| (0, record.path.clone())).0 += hits;
        for issue in record.known_issues.iter().flatten() {
            let stat = self.issues.entry(issue.id.clone()).or_default();
            if stat.title.is_none() {
                stat.title.clone_from(&issue.title);
            }
            *stat.verdicts.entry(issue.verdict.clone()).or_insert(0) += hits;
            if issue.verdict == "regression" {
                stat.regression_buckets.insert(bucket.clone());
                if stat.first_regression.is_none() {
                    stat.first_regression = Some((record.path.clone(), issue.reason.clone()));
                }
            }
        }
        if let Some((kind, code, name)) = code_of(record) {
            let stat = self.codes.entry((kind, code)).or_default();
            if stat.hits == 0 {
                (stat.name, stat.example) = (name, record.path.clone());
            }
            stat.hits += hits;
            stat.buckets.insert(bucket);
        }
    }
}

/// The stop code of a kernel report or the exception code of a user-mode one, with its name.
fn code_of(record: &Line) -> Option<(CodeKind, u64, Option<String>)> {
    if let Some(bugcheck) = record.kernel.as_ref().and_then(|k| k.bugcheck.as_ref()) {
        let raw = bugcheck.code.as_deref().and_then(parse_hex);
        let stop = record
            .kernel_signature
            .as_ref()
            .and_then(|s| s.stop_code.as_ref());
        let code = stop.and_then(|s| s.base_code).or(raw)?;
        let mut name = bugcheck.name.clone();
        // 0x1000007E is named ..._M; its base stop 0x7E has the name without the suffix.
        if raw.is_some_and(|r| r != code) {
            name = name.map(|n| n.strip_suffix("_M").map_or(n.clone(), str::to_owned));
        }
        return Some((CodeKind::Stop, code, name));
    }
    if let Some(minidump) = &record.minidump {
        let exception = minidump.exception.as_ref()?;
        let code = exception.code.as_deref().and_then(parse_hex)?;
        return Some((CodeKind::Exception, code, exception.name.clone()));
    }
    let signature = record.signature.as_ref()?;
    if signature.fault_location.as_deref() == Some("no_exception") {
        return None;
    }
    let code = signature.exception_code.as_deref().and_then(parse_hex)?;
    Some((CodeKind::Exception, code, None))
}

fn parse_hex(text: &str) -> Option<u64> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    u64::from_str_radix(digits, 16).ok()
}

/// Parses a growth threshold: a fraction (`0.05`) or a percentage (`5%`), from 0 to 100%.
pub fn parse_threshold(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    let (number, percent) = match trimmed.strip_suffix('%') {
        Some(n) => (n.trim_end(), true),
        None => (trimmed, false),
    };
    let bad = |why: &str| format!("invalid threshold `{trimmed}`: {why}");
    let value: f64 = number
        .parse()
        .map_err(|_| bad("expected a fraction (0.05) or a percentage (5%)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad("expected a finite number, not negative"));
    }
    let fraction = if percent { value / 100.0 } else { value };
    if fraction > 1.0 && percent {
        return Err(bad("above 100%"));
    } else if fraction > 1.0 {
        return Err(bad(&format!(
            "above 1 (for {value} percentage points write {value}%)"
        )));
    }
    // Adding 0.0 turns a parsed `-0` into plain 0.
    Ok(fraction + 0.0)
}

/// Compares a current run with a baseline; `threshold` is the share growth (a fraction) a bucket
/// must exceed to count as grown (see [`parse_threshold`]); NaN or a negative one means 0.
pub fn compare(baseline: &RunData, current: &RunData, threshold: f64) -> RegressReport {
    // f64::max also maps NaN to 0.
    let threshold = threshold.max(0.0);
    let change = |bucket: &String, example: &String| {
        let (baseline_hits, current_hits) = (baseline.hits(bucket), current.hits(bucket));
        let (baseline_share, current_share) =
            (baseline.share(baseline_hits), current.share(current_hits));
        BucketChange {
            bucket: bucket.clone(),
            baseline_hits,
            current_hits,
            baseline_share,
            current_share,
            share_delta: current_share - baseline_share,
            example_path: example.clone(),
        }
    };
    let (mut new_buckets, mut grown_buckets, mut gone_buckets) = (vec![], vec![], vec![]);
    for (bucket, (_, example)) in &current.buckets {
        let c = change(bucket, example);
        // Growth worth fewer than MIN_EXCESS_HITS hits is noise; the epsilon absorbs rounding.
        let excess = c.share_delta * current.analyzed() as f64;
        if c.baseline_hits == 0 {
            new_buckets.push(c);
        } else if c.share_delta > threshold && excess >= MIN_EXCESS_HITS - 1e-9 {
            grown_buckets.push(c);
        }
    }
    for (bucket, (_, example)) in &baseline.buckets {
        if current.hits(bucket) == 0 {
            gone_buckets.push(change(bucket, example));
        }
    }
    // The maps iterate by name and these sorts are stable: ties stay in name order.
    new_buckets.sort_by_key(|c| Reverse(c.current_hits));
    gone_buckets.sort_by_key(|c| Reverse(c.baseline_hits));
    grown_buckets.sort_by(|a, b| b.share_delta.total_cmp(&a.share_delta));

    let mut notes: Vec<RunNote> = baseline
        .notes
        .iter()
        .chain(&current.notes)
        .cloned()
        .collect();
    let partial = |r: &RunData| RunNote::SummaryOnly {
        source: r.source.clone(),
        summary_only: r.summary_only,
        reports: r.reports,
    };
    let baseline_blind = baseline.summary_only == baseline.reports;
    if baseline.reports == 0 {
        notes.push(RunNote::EmptyBaseline {
            source: baseline.source.clone(),
        });
    } else if baseline_blind {
        notes.push(RunNote::BlindBaseline {
            source: baseline.source.clone(),
        });
    } else if baseline.summary_only > 0 {
        notes.push(partial(baseline));
    }
    if current.summary_only > 0 {
        notes.push(partial(current));
    }
    for (older, other) in [(baseline, current), (current, baseline)] {
        if older.old_kernel_grammar > 0 && other.new_kernel_grammar > 0 {
            notes.push(RunNote::OlderKernelGrammar {
                source: older.source.clone(),
                records: older.old_kernel_grammar,
            });
        }
    }

    let (mut verdict_regressions, mut still_regressed) = (vec![], vec![]);
    for (id, stat) in &current.issues {
        let Some((example_path, reason)) = stat.first_regression.clone() else {
            continue;
        };
        let baseline_verdicts = baseline
            .issues
            .get(id)
            .map(|b| b.verdicts.clone())
            .unwrap_or_default();
        let was_regression = baseline_verdicts.contains_key("regression");
        let v = VerdictChange {
            id: id.clone(),
            title: stat.title.clone(),
            reports: stat.verdicts.get("regression").copied().unwrap_or(0),
            baseline_verdicts,
            buckets: stat.regression_buckets.iter().cloned().collect(),
            reason,
            example_path,
        };
        match was_regression {
            true => still_regressed.push(v),
            false => verdict_regressions.push(v),
        }
    }

    let mut reappeared_codes: Vec<CodeChange> = current
        .codes
        .iter()
        .filter(|(key, _)| !baseline_blind && !baseline.codes.contains_key(*key))
        .map(|((kind, code), stat)| CodeChange {
            kind: *kind,
            code: format!("{code:#010x}"),
            name: stat.name.clone(),
            hits: stat.hits,
            buckets: stat.buckets.iter().cloned().collect(),
            example_path: stat.example.clone(),
        })
        .collect();
    reappeared_codes.sort_by_key(|c| Reverse(c.hits));

    let regressed_by: Vec<&'static str> = [
        ("new_buckets", new_buckets.is_empty()),
        ("grown_buckets", grown_buckets.is_empty()),
        ("verdict_regressions", verdict_regressions.is_empty()),
        ("reappeared_codes", reappeared_codes.is_empty()),
    ]
    .into_iter()
    .filter_map(|(name, empty)| (!empty).then_some(name))
    .collect();
    RegressReport {
        regressed: !regressed_by.is_empty(),
        regressed_by,
        baseline: baseline.summary(),
        current: current.summary(),
        threshold,
        new_buckets,
        gone_buckets,
        grown_buckets,
        verdict_regressions,
        still_regressed,
        reappeared_codes,
        notes,
    }
}
