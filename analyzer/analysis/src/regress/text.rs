//! The text form of a [`RegressReport`]: a headline, both runs' totals, then each non-empty
//! section.

use super::*;

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Dump-supplied text may hold control characters; escape them so a line stays one line.
fn clean(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn list(items: &[String], max: usize) -> String {
    let shown: Vec<String> = items.iter().take(max).map(|s| clean(s)).collect();
    let more = items.len().saturating_sub(max);
    let more = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(", "))
}

impl RegressReport {
    /// A human-readable summary: a headline, both runs' totals, then each non-empty section.
    pub fn to_text(&self) -> String {
        let counts: Vec<String> = [
            (self.new_buckets.len(), "new bucket"),
            (self.grown_buckets.len(), "grown bucket"),
            (self.verdict_regressions.len(), "verdict regression"),
            (self.reappeared_codes.len(), "reappeared code"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| count(n, what))
        .collect();
        let mut out = vec![match self.regressed {
            true => format!("REGRESSED: {}", counts.join(", ")),
            false => "no regression".to_owned(),
        }];
        // `reports` is the largest count of a run, so its width fits every column.
        let w = self
            .baseline
            .reports
            .max(self.current.reports)
            .to_string()
            .len();
        for (label, r) in [("baseline", &self.baseline), ("current", &self.current)] {
            let (n, a, f, b) = (r.reports, r.analyzed, r.failed, r.buckets);
            let source = clean(&r.source);
            out.push(format!(
                "{label:<9}{n:>w$} reports, {a:>w$} analyzed, {f:>w$} failed, {b:>w$} buckets  {source}"
            ));
        }
        out.push(format!(
            "threshold {:.1} points of share, and at least {MIN_EXCESS_HITS} hits above the baseline share",
            self.threshold * 100.0
        ));
        bucket_section(&mut out, "new buckets", &self.new_buckets);
        bucket_section(&mut out, "grown buckets", &self.grown_buckets);
        bucket_section(&mut out, "gone buckets, not counted", &self.gone_buckets);
        verdict_section(&mut out, "verdict regressions", &self.verdict_regressions);
        verdict_section(
            &mut out,
            "still regressed, not counted",
            &self.still_regressed,
        );
        if !self.reappeared_codes.is_empty() {
            out.push(format!(
                "\nreappeared codes ({})",
                self.reappeared_codes.len()
            ));
            let most = self.reappeared_codes.iter().map(|c| c.hits).max();
            let w = most.unwrap_or(0).to_string().len();
            for c in &self.reappeared_codes {
                let kind = format!("{:?}", c.kind).to_lowercase();
                let name = c
                    .name
                    .as_deref()
                    .map(|n| format!(" {}", clean(n)))
                    .unwrap_or_default();
                let (code, hits, buckets) = (&c.code, c.hits, list(&c.buckets, 3));
                out.push(format!("  {hits:>w$}× {kind:<9} {code}{name}: {buckets}"));
            }
        }
        if !self.notes.is_empty() {
            out.push("\nnotes".to_owned());
            out.extend(
                self.notes
                    .iter()
                    .map(|n| format!("  - {}", clean(&n.to_string()))),
            );
        }
        out.push(String::new());
        out.join("\n")
    }
}

fn bucket_section(out: &mut Vec<String>, title: &str, changes: &[BucketChange]) {
    if changes.is_empty() {
        return;
    }
    let most = changes
        .iter()
        .map(|c| c.baseline_hits.max(c.current_hits))
        .max();
    let w = most.unwrap_or(0).to_string().len().max(3);
    let pct = |share: f64| format!("{:.1}%", share * 100.0);
    out.push(format!("\n{title} ({})", changes.len()));
    out.push(format!(
        "  {:>w$} {:>6}   {:>w$} {:>6}  {:>8}  bucket",
        "was", "share", "now", "share", "change"
    ));
    for c in changes {
        let (was, now) = (pct(c.baseline_share), pct(c.current_share));
        let delta = format!("{:+.1}pt", c.share_delta * 100.0);
        out.push(format!(
            "  {:>w$} {was:>6} → {:>w$} {now:>6}  {delta:>8}  {}",
            c.baseline_hits,
            c.current_hits,
            clean(&c.bucket)
        ));
    }
}

fn verdict_section(out: &mut Vec<String>, title: &str, changes: &[VerdictChange]) {
    if changes.is_empty() {
        return;
    }
    out.push(format!("\n{title} ({})", changes.len()));
    for v in changes {
        let was: Vec<String> = v
            .baseline_verdicts
            .iter()
            .map(|(k, n)| format!("{} ×{n}", clean(k)))
            .collect();
        let was = if was.is_empty() {
            "absent".to_owned()
        } else {
            was.join(", ")
        };
        out.push(format!(
            "  {}: {} (baseline: {was})",
            clean(&v.id),
            count(v.reports, "report")
        ));
        out.push(format!("    in      {}", list(&v.buckets, 3)));
        if let Some(reason) = &v.reason {
            out.push(format!("    reason  {}", clean(reason)));
        }
        out.push(format!("    e.g.    {}", clean(&v.example_path)));
    }
}
