//! The report's two SVG charts: the top buckets as bars, and stop or exception codes over
//! time.

use std::fmt::Write;

use super::*;

/// Horizontal bars, one per bucket, each linking to the bucket's details.
pub(super) fn chart_top_buckets(buckets: &[Bucket]) -> String {
    let Some(max) = buckets.iter().map(|b| b.hits).max() else {
        return "<p class=\"note\">No buckets to chart.</p>\n".to_owned();
    };
    let top = buckets.get(..TOP_BUCKETS).unwrap_or(buckets);
    // Labels end at x = 292, bars start at 300 and are at most 290 wide.
    let (n, height) = (top.len(), top.len() * 22 + 8);
    let mut out =
        format!("<svg id=\"chart-top-buckets\" class=\"chart\" viewBox=\"0 0 640 {height}\" ");
    w!(
        out,
        "width=\"100%\" role=\"img\" aria-label=\"Top {n} buckets by hits\" {SVG_NS}>\n"
    );
    for (i, b) in top.iter().enumerate() {
        let (n, y, ty, hits, name) = (i + 1, 4 + i * 22, 16 + i * 22, b.hits, esc(&b.name));
        let bar = (hits as f64 / max as f64 * 290.0).max(2.0);
        let (value_x, short) = (306.0 + bar, esc(&clip(&b.name, 44)));
        w!(
            out,
            "<a href=\"#bucket-{n}\"><g><title>{name}: {hits} hits</title>"
        );
        w!(
            out,
            "<text class=\"label\" x=\"292\" y=\"{ty}\" text-anchor=\"end\">{short}</text>"
        );
        w!(
            out,
            "<rect class=\"bar\" x=\"300\" y=\"{y}\" width=\"{bar:.1}\" height=\"16\" rx=\"2\" "
        );
        w!(out, "fill=\"#4e79a7\"/><text class=\"value\" x=\"{value_x:.1}\" y=\"{ty}\">{hits}</text></g></a>\n");
    }
    out.push_str("</svg>\n");
    out
}

/// Time bins of the codes-over-time chart.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Bins {
    Day,
    Month,
    Year,
}

impl Bins {
    fn of(self, t: Stamp) -> i64 {
        let (y, m, _) = civil_from_days(t.day());
        match self {
            Bins::Day => t.day(),
            Bins::Month => y * 12 + m - 1,
            Bins::Year => y,
        }
    }
    fn label(self, bin: i64) -> String {
        match self {
            Bins::Day => Stamp(bin * 86_400, 0).date(),
            Bins::Month => format!("{:04}-{:02}", bin.div_euclid(12), bin.rem_euclid(12) + 1),
            Bins::Year => format!("{bin:04}"),
        }
    }
}

/// Stacked bars of crash codes per day (spans up to 2 months), month (up to 4 years) or year,
/// the unknown-time reports in a last bar, and a legend.
pub(super) fn chart_codes_over_time(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "<p class=\"note\">No analyzed reports: no codes to chart.</p>\n".to_owned();
    }
    // Series: codes by frequency, then name; the less frequent ones share "other".
    let mut totals: BTreeMap<&str, usize> = BTreeMap::new();
    entries
        .iter()
        .for_each(|e| *totals.entry(e.code.as_str()).or_default() += e.hits);
    let mut codes: Vec<(&str, usize)> = totals.into_iter().collect();
    codes.sort_by_key(|c| std::cmp::Reverse(c.1));
    let mut series: Vec<(&str, usize)> = Vec::new();
    for (i, (code, n)) in codes.iter().enumerate() {
        match series.get_mut(OTHER) {
            Some(other) => other.1 += n,
            None => series.push((if i < OTHER { *code } else { "other" }, *n)),
        }
    }
    let series_of = |code: &str| {
        codes
            .iter()
            .position(|c| c.0 == code)
            .unwrap_or(0)
            .min(OTHER)
    };
    let (first, last) = (
        entries.iter().filter_map(|e| e.time).min(),
        entries.iter().filter_map(|e| e.time).max(),
    );
    let bins = match (first, last) {
        (Some(f), Some(l)) if l.day() - f.day() <= 62 => Bins::Day,
        (Some(f), Some(l)) if Bins::Month.of(l) - Bins::Month.of(f) < 48 => Bins::Month,
        (Some(_), Some(_)) => Bins::Year,
        _ => Bins::Day,
    };
    // counts[bin][series]; unknown times go to bin i64::MAX, the last one.
    let mut counts: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    if let (Some(f), Some(l)) = (first, last) {
        if bins.of(l) - bins.of(f) < MAX_DENSE_BINS {
            for bin in bins.of(f)..=bins.of(l) {
                counts.insert(bin, vec![0; series.len()]);
            }
        }
    }
    for e in entries {
        let row = counts
            .entry(e.time.map_or(i64::MAX, |t| bins.of(t)))
            .or_insert_with(|| vec![0; series.len()]);
        if let Some(count) = row.get_mut(series_of(&e.code)) {
            *count += e.hits;
        }
    }
    let unit = format!("{bins:?}").to_lowercase();
    let mut note = match (first, last) {
        (Some(f), Some(l)) if f.day() == l.day() => {
            format!("All dated crashes are on {}.", f.date())
        }
        (Some(f), Some(l)) => format!("One bar per {unit}, {} to {}.", f.date(), l.date()),
        _ => "No report has a known crash time.".to_owned(),
    };
    let unknown: usize = entries
        .iter()
        .filter(|e| e.time.is_none())
        .map(|e| e.hits)
        .sum();
    if unknown > 0 {
        w!(
            note,
            " The last bar holds {unknown} report(s) with no known time."
        );
    }
    // Geometry: plot area, y ticks at 1/2/5 steps, x labels thinned to fit.
    let (left, top, plot_h, plot_w) = (34.0, 10.0, 200.0, 598.0);
    let legend_y = top + plot_h + 30.0;
    let height = legend_y + series.len().div_ceil(4) as f64 * 20.0;
    let max = counts
        .values()
        .map(|c| c.iter().sum::<usize>())
        .max()
        .unwrap_or(1)
        .max(1);
    let steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];
    let step = steps
        .into_iter()
        .find(|s| max.div_ceil(*s) <= 5)
        .unwrap_or(max.div_ceil(5));
    let y_max = (max.div_ceil(step) * step) as f64;
    let y_of = |v: usize| top + plot_h - v as f64 / y_max * plot_h;
    let slot = plot_w / counts.len().max(1) as f64;
    let bar_w = (slot * 0.72).clamp(1.0, 60.0);
    let every = ((bins.label(0).len() as f64 * 6.5 + 8.0) / slot)
        .ceil()
        .max(1.0) as usize;
    let mut out = format!("<p class=\"note\">{}</p>\n", esc(&note));
    w!(
        out,
        "<svg id=\"chart-codes-over-time\" class=\"chart\" viewBox=\"0 0 640 {height}\" "
    );
    w!(
        out,
        "width=\"100%\" role=\"img\" aria-label=\"Crash codes per {unit}\" {SVG_NS}>\n"
    );
    for tick in (0..=max.div_ceil(step)).map(|k| k * step) {
        let (y, right, label_x) = (y_of(tick), left + plot_w, left - 6.0);
        w!(
            out,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>"
        );
        w!(
            out,
            "<text class=\"tick\" x=\"{label_x}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text>\n",
            y + 4.0
        );
    }
    for (i, (bin, row)) in counts.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bar_w) / 2.0;
        let label = if *bin == i64::MAX {
            "unknown".to_owned()
        } else {
            bins.label(*bin)
        };
        let mut base = 0;
        for (s, n) in row.iter().enumerate().filter(|(_, n)| **n > 0) {
            let (y0, y1) = (y_of(base), y_of(base + n));
            let (h, code) = (y0 - y1, esc(series.get(s).map_or("?", |c| c.0)));
            let (color, label) = (PALETTE.get(s).unwrap_or(&"#999"), esc(&label));
            w!(out, "<rect class=\"seg\" x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\" ");
            w!(
                out,
                "fill=\"{color}\"><title>{label}: {code} × {n}</title></rect>\n"
            );
            base += n;
        }
        if i % every == 0 || *bin == i64::MAX {
            let (mid, y, label) = (x + bar_w / 2.0, top + plot_h + 16.0, esc(&label));
            w!(out, "<text class=\"tick\" x=\"{mid:.1}\" y=\"{y}\" text-anchor=\"middle\">{label}</text>\n");
        }
    }
    let (right, y) = (left + plot_w, top + plot_h);
    w!(
        out,
        "<line class=\"axis\" x1=\"{left}\" x2=\"{right}\" y1=\"{y}\" y2=\"{y}\"/>\n"
    );
    for (i, ((code, total), color)) in series.iter().zip(PALETTE).enumerate() {
        let x = left + (i % 4) as f64 * plot_w / 4.0;
        let (y, text_x, code) = (legend_y + (i / 4) as f64 * 20.0, x + 17.0, esc(code));
        w!(
            out,
            "<rect class=\"swatch\" x=\"{x:.1}\" y=\"{}\" width=\"12\" height=\"12\" ",
            y - 10.0
        );
        w!(out, "fill=\"{color}\"/><text class=\"legend\" x=\"{text_x:.1}\" y=\"{y}\">{code} ({total})</text>\n");
    }
    out.push_str("</svg>\n");
    out
}
