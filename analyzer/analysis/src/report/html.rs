//! HTML rendering of a batch of JSON reports (`docs/json.md`) as one self-contained page: totals,
//! a sortable table of failure buckets, two inline SVG charts drawn here (top buckets by hits;
//! stop/exception codes over time) and a detail section per bucket.
//!
//! The page needs no network at view time: CSS and JS are inlined and a Content-Security-Policy
//! forbids loading anything. Every dump-derived text is HTML-escaped (module names in dumps are
//! attacker-controlled). Output is deterministic: groups live in `BTreeMap`s and sorted `Vec`s.
//! The renderer reads `serde_json::Value`s, so it depends only on the documented schema.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

const CSS: &str = include_str!("html_assets/report.css");
const JS: &str = include_str!("html_assets/report.js");
const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n";
const TABLE_HEAD: &str = "<section id=\"bucket-table\">\n<h2>Failure buckets</h2>\n\
<p class=\"note legend\">Verdicts, worst first: <span class=\"badge v-regression\">regression</span>\
<span class=\"badge v-fix-missing\">fix-missing</span><span class=\"badge v-known\">known</span>\
<span class=\"badge v-not-applicable\">not-applicable</span> (hover a badge for the reason; \
click a bucket for its details, a column header to sort).</p>\n<div class=\"scroll\">\n<table id=\"buckets\">\n<thead><tr><th data-type=\"text\">Bucket</th>\
<th data-type=\"text\">Kind</th><th data-type=\"num\" aria-sort=\"descending\">Hits</th>\
<th data-type=\"date\">First seen</th><th data-type=\"date\">Last seen</th>\
<th data-type=\"text\">CER subpath</th><th data-type=\"text\">FAILURE_ID_HASH</th>\
<th data-type=\"num\">Verdicts</th></tr></thead>\n<tbody>\n";
/// Bars in the top-buckets chart.
const TOP_BUCKETS: usize = 15;
/// Series colors of the codes-over-time chart; the last one is "other" (all less frequent codes).
const PALETTE: [&str; 9] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
    "#9a9a9a",
];
/// Index of the "other" series.
const OTHER: usize = PALETTE.len() - 1;
/// Above this many time bins, only the non-empty ones are drawn.
const MAX_DENSE_BINS: i64 = 80;
/// Verdicts from worst to mildest; unknown verdicts sort after them.
const VERDICTS: [&str; 4] = ["regression", "fix-missing", "known", "not-applicable"];
/// Signature fields in CER order (any other field follows, sorted).
const TUPLE_KEYS: &str = "app_name app_ver app_timestamp mod_name mod_ver mod_timestamp \
exception_code offset fault_address fault_location";
/// What a kernel dump shows in place of the user-mode signature tuple.
const KERNEL_ROWS: [(&str, &str); 10] = [
    ("stop code", "/kernel/bugcheck/code"),
    ("stop name", "/kernel/bugcheck/name"),
    ("P1", "/kernel/bugcheck/parameters/0"),
    ("P2", "/kernel/bugcheck/parameters/1"),
    ("P3", "/kernel/bugcheck/parameters/2"),
    ("P4", "/kernel/bugcheck/parameters/3"),
    ("caused by", "/kernel/caused_by/driver"),
    ("driver version", "/kernel/caused_by/file_version"),
    ("driver offset", "/kernel/caused_by/offset"),
    ("attribution", "/kernel/attribution_rule"),
];
/// Report paths listed per bucket in its details.
const MAX_MEMBERS: usize = 200;
/// Buckets in the table and the details; the others are in the CSV beside the page.
pub const TABLE_ROWS: usize = 500;
const SVG_NS: &str = "xmlns=\"http://www.w3.org/2000/svg\"";

macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{ let _ = write!($out, $($arg)*); }};
}

/// Renders one self-contained HTML page (no network at view time: no external scripts, fonts, or
/// images) for a batch of reports, given in input order. Reports with an `error` or without a
/// `failure_bucket` are listed as "could not be analyzed".
pub fn render_html(reports: &[Value], title: &str, generated_at: &str) -> String {
    let mut page = PageBuilder::new();
    for r in reports {
        page.add_report(r.clone(), true);
    }
    render_page(page, title, generated_at, "").html
}

/// A rendered page, and the CSV of every bucket when the page's table shows only the first
/// [`TABLE_ROWS`].
pub struct Page {
    /// The HTML page.
    pub html: String,
    /// Every bucket as CSV, when the table was cut (`None` otherwise).
    pub csv: Option<String>,
}

/// Renders the page of what `page` gathered. `csv_name` is the file name the page links to for
/// the full table, when it is cut.
pub fn render_page(page: PageBuilder, title: &str, generated_at: &str, csv_name: &str) -> Page {
    let (buckets, failed, timeline, reports, analyzed) = page.into_parts();
    let hits: usize = buckets.iter().map(|b| b.hits).sum();
    let shown = buckets.get(..TABLE_ROWS).unwrap_or(&buckets);
    let (title, mut out) = (esc(title), String::with_capacity(1 << 16));
    w!(
        out,
        "{HEAD}<title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<header>\n"
    );
    w!(
        out,
        "<h1>{title}</h1>\n<p class=\"meta\">Generated {} by dumpsig</p>\n<ul class=\"totals\">",
        esc(generated_at)
    );
    let mut totals = vec![
        ("reports", reports),
        ("analyzed", analyzed),
        ("failed", failed.len()),
        ("buckets", buckets.len()),
    ];
    // A share counts hits beyond the report files it kept.
    if hits != analyzed {
        totals.push(("hits", hits));
    }
    for (label, n) in totals {
        w!(out, "<li id=\"total-{label}\"><b>{n}</b> {label}</li>");
    }
    out.push_str(
        "</ul>\n<nav><a href=\"#charts\">Overview</a> <a href=\"#bucket-table\">Buckets</a> ",
    );
    if !failed.is_empty() {
        out.push_str("<a href=\"#failed\">Could not be analyzed</a> ");
    }
    out.push_str(
        "<a href=\"#details\">Details</a></nav>\n</header>\n<main>\n<section id=\"charts\">\n",
    );
    out.push_str("<h2>Overview</h2>\n<div class=\"charts\">\n<figure>\n<figcaption>Top buckets by hits</figcaption>\n");
    out.push_str(&chart_top_buckets(&buckets));
    out.push_str(
        "</figure>\n<figure>\n<figcaption>Stop codes and exception codes over time</figcaption>\n",
    );
    out.push_str(&chart_codes_over_time(&timeline));
    out.push_str("</figure>\n</div>\n</section>\n");
    render_table(&mut out, shown);
    let csv = (shown.len() < buckets.len()).then(|| {
        w!(
            out,
            "<p class=\"note\" id=\"more-buckets\">The table shows the {} buckets with the most hits \
             of {}; every bucket is in <a href=\"{}\">{}</a>.</p>\n",
            shown.len(),
            buckets.len(),
            esc(csv_name),
            esc(csv_name)
        );
        buckets_csv(&buckets)
    });
    render_failed(&mut out, &failed);
    out.push_str("<section id=\"details\">\n<h2>Bucket details</h2>\n");
    for (i, bucket) in shown.iter().enumerate() {
        render_detail(&mut out, i + 1, bucket);
    }
    if buckets.is_empty() {
        out.push_str("<p class=\"note\">No buckets.</p>\n");
    }
    w!(
        out,
        "</section>\n</main>\n<script>\n{JS}</script>\n</body>\n</html>\n"
    );
    Page { html: out, csv }
}

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer)?.as_str()
}

fn severity(verdict: &str) -> usize {
    VERDICTS
        .iter()
        .position(|v| *v == verdict)
        .unwrap_or(VERDICTS.len())
}

/// Escapes text for element content and quoted attributes; control characters other than tab
/// and newline become U+FFFD.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, ending with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    s.chars().take(max.saturating_sub(1)).chain(['…']).collect()
}

/// The minidump header's time (also inside a CAB), else the kernel dump's.
fn crash_time(r: &Value) -> Option<Stamp> {
    text(r, "/minidump/dump_time")
        .or_else(|| text(r, "/kernel/crash_time"))
        .and_then(parse_time)
}

/// `0xD1` for a stop code, `c0000005` for an exception code.
fn crash_code(r: &Value) -> String {
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    if let Some(c) = text(r, "/kernel/bugcheck/code") {
        return hex(c).map_or_else(|| c.to_owned(), |n| format!("0x{n:X}"));
    }
    if r.pointer("/minidump/exception").is_some_and(Value::is_null) {
        return "no exception".to_owned();
    }
    let code = text(r, "/minidump/exception/code").or_else(|| text(r, "/signature/exception_code"));
    code.map_or_else(
        || "unknown".to_owned(),
        |c| hex(c).map_or_else(|| c.to_owned(), |n| format!("{n:08x}")),
    )
}

fn time_cell(out: &mut String, time: Option<Stamp>) {
    match time {
        Some(t) => w!(
            out,
            "<td class=\"time\" data-sort=\"{}.{:09}\">{}</td>",
            t.0,
            t.1,
            t.display()
        ),
        None => out.push_str("<td class=\"time unknown\" data-sort=\"\">—</td>"),
    }
}

/// The first value, plus a `+N` marker listing the others in its tooltip.
fn multi_cell(out: &mut String, class: &str, values: &[String]) {
    let first = esc(values.first().map_or("", String::as_str));
    let shown = if first.is_empty() { "—" } else { &first };
    w!(out, "<td class=\"{class}\" data-sort=\"{first}\">{shown}");
    if let Some(others) = values.get(1..).filter(|o| !o.is_empty()) {
        let list: Vec<String> = others.iter().map(|v| esc(v)).collect();
        w!(
            out,
            " <span class=\"more\" title=\"{}\">+{}</span>",
            list.join("&#10;"),
            list.len()
        );
    }
    out.push_str("</td>");
}

/// A verdict badge: colored by verdict, labeled with the rule id; the reason is the tooltip.
fn badge(out: &mut String, issue: &Value) {
    let verdict = text(issue, "/verdict").unwrap_or("unknown");
    let class = if severity(verdict) < VERDICTS.len() {
        verdict
    } else {
        "other"
    };
    let (reason, id) = (
        text(issue, "/reason").unwrap_or(""),
        text(issue, "/id").unwrap_or("?"),
    );
    w!(
        out,
        "<span class=\"badge v-{class}\" title=\"{}\"><b>{}</b> {}</span>",
        esc(reason),
        esc(verdict),
        esc(id)
    );
}

fn render_table(out: &mut String, buckets: &[Bucket]) {
    out.push_str(TABLE_HEAD);
    for (i, b) in buckets.iter().enumerate() {
        let (n, name, short) = (i + 1, esc(&b.name), esc(&clip(&b.name, 160)));
        let (kinds, hits) = (esc(&b.kinds.join(", ")), b.hits);
        w!(
            out,
            "<tr id=\"row-{n}\" data-order=\"{n}\"><td class=\"bucket\" data-sort=\"{name}\">"
        );
        w!(out, "<a href=\"#bucket-{n}\" title=\"{name}\">{short}</a></td><td data-sort=\"{kinds}\">{kinds}</td>");
        w!(out, "<td class=\"num\" data-sort=\"{hits}\">{hits}</td>");
        time_cell(out, b.first);
        time_cell(out, b.last);
        multi_cell(out, "path", &b.subpaths);
        multi_cell(out, "hash", &b.hashes);
        let verdicts = b.verdicts();
        let worst = verdicts
            .first()
            .and_then(|v| text(v, "/verdict"))
            .map_or(VERDICTS.len() + 1, severity);
        // Descending order on this column puts the worst verdicts first.
        w!(
            out,
            "<td class=\"verdicts\" data-sort=\"{}\">",
            VERDICTS.len() + 1 - worst
        );
        verdicts.iter().for_each(|v| badge(out, v));
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    if buckets.is_empty() {
        out.push_str("<p class=\"note\">No report could be analyzed: there are no buckets.</p>\n");
    }
    out.push_str("</section>\n");
}

fn render_failed(out: &mut String, failed: &[Failed]) {
    if failed.is_empty() {
        return;
    }
    w!(
        out,
        "<section id=\"failed\">\n<h2>Could not be analyzed ({})</h2>\n<ul>\n",
        failed.len()
    );
    for r in failed {
        let (path, kind, error) = (esc(&r.path), esc(&r.kind), esc(&r.error));
        w!(out, "<li><code>{path}</code> <span class=\"kind\">{kind}</span><br><span class=\"error\">{error}</span></li>\n");
    }
    out.push_str("</ul>\n</section>\n");
}

/// A two-column table of labels and (escaped) values.
fn rows_table(out: &mut String, class: &str, rows: &[(&str, String)]) {
    w!(out, "<table class=\"{class}\">\n");
    for (label, value) in rows {
        w!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>\n",
            esc(label),
            esc(value)
        );
    }
    out.push_str("</table>\n");
}

fn render_detail(out: &mut String, n: usize, bucket: &Bucket) {
    let (verdicts, hits) = (bucket.verdicts(), bucket.hits);
    w!(
        out,
        "<details class=\"bucket\" id=\"bucket-{n}\">\n<summary><span class=\"rank\">#{n}</span> "
    );
    w!(
        out,
        "<code>{}</code> <span class=\"hits\">{hits} hit(s)</span>",
        esc(&bucket.name)
    );
    verdicts.iter().for_each(|v| badge(out, v));
    out.push_str("</summary>\n<div class=\"body\">\n");
    let Some((r, time, code)) = &bucket.representative else {
        render_summary_only(out, bucket);
        return;
    };
    let get = |pointer: &str| text(r, pointer).unwrap_or("—").to_owned();
    let facts = [
        ("Representative", get("/path")),
        ("Kind", get("/kind")),
        (
            "File size",
            r.get("file_size")
                .and_then(Value::as_u64)
                .map_or("—".to_owned(), |s| format!("{s} bytes")),
        ),
        (
            "Crash time",
            time.map_or("unknown".to_owned(), |t| format!("{} UTC", t.display())),
        ),
        ("Code", code.clone()),
        ("CER subpath", get("/cer_subpath")),
        ("FAILURE_ID_HASH", get("/failure_id_hash")),
    ];
    rows_table(out, "facts", &facts);
    let mut rows: Vec<(&str, String)> = Vec::new();
    if let Some(sig) = r.get("signature").and_then(Value::as_object) {
        let known = TUPLE_KEYS.split(' ').filter(|k| sig.contains_key(*k));
        for key in known.chain(
            sig.keys()
                .map(String::as_str)
                .filter(|k| !TUPLE_KEYS.split(' ').any(|t| t == *k)),
        ) {
            let value = sig.get(key).map_or_else(String::new, |v| {
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            });
            rows.push((key, value));
        }
    } else {
        rows.extend(
            KERNEL_ROWS
                .iter()
                .filter_map(|(label, p)| Some((*label, text(r, p)?.to_owned()))),
        );
    }
    if !rows.is_empty() {
        out.push_str("<h4>Signature</h4>\n");
        rows_table(out, "signature", &rows);
    }
    if let Some(frames) = r
        .get("crash_state")
        .and_then(Value::as_array)
        .filter(|f| !f.is_empty())
    {
        out.push_str("<h4>Crash state</h4>\n<ol class=\"frames\">");
        frames.iter().for_each(|f| {
            w!(
                out,
                "<li><code>{}</code></li>",
                esc(f.as_str().unwrap_or("?"))
            )
        });
        out.push_str("</ol>\n");
    }
    if !verdicts.is_empty() {
        out.push_str("<h4>Known issues</h4>\n<ul class=\"issues\">\n");
        for v in &verdicts {
            out.push_str("<li>");
            badge(out, v);
            let (title, reason) = (
                text(v, "/title").unwrap_or(""),
                text(v, "/reason").unwrap_or(""),
            );
            w!(
                out,
                " {}<br><span class=\"reason\">{}</span>",
                esc(title),
                esc(reason)
            );
            let context = v
                .get("context")
                .and_then(Value::as_array)
                .into_iter()
                .flatten();
            let context: Vec<String> = context.filter_map(Value::as_str).map(esc).collect();
            if !context.is_empty() {
                w!(
                    out,
                    "<br><span class=\"context\">{}</span>",
                    context.join(" · ")
                );
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    render_members(out, bucket);
    let json = esc(&serde_json::to_string_pretty(r).unwrap_or_default());
    out.push_str("<details class=\"json\"><summary>Full JSON of the representative</summary>");
    w!(out, "<pre>{json}</pre></details>\n</div>\n</details>\n");
}

/// The report files of a bucket: the first [`MAX_MEMBERS`], then a count of the others.
fn render_members(out: &mut String, bucket: &Bucket) {
    let files = bucket.files;
    if files == bucket.hits {
        w!(
            out,
            "<h4>Reports in this bucket ({files})</h4>\n<ul class=\"members\">\n"
        );
    } else {
        w!(
            out,
            "<h4>Report files kept in this bucket ({files} of {} hits)</h4>\n<ul class=\"members\">\n",
            bucket.hits
        );
    }
    for (path, time) in &bucket.members {
        let when = time.map_or("time unknown".to_owned(), |t| t.display());
        w!(
            out,
            "<li><code>{}</code> <span class=\"when\">{when}</span></li>\n",
            esc(path)
        );
    }
    if files > bucket.members.len() {
        w!(
            out,
            "<li>… and {} more</li>\n",
            files - bucket.members.len()
        );
    }
    out.push_str("</ul>\n");
}

/// The details of a bucket whose representative was not kept (a share's bucket outside the
/// top, or hits without a report file): what the bucket counted.
fn render_summary_only(out: &mut String, bucket: &Bucket) {
    let facts = [
        ("Kind", bucket.kinds.join(", ")),
        ("Hits", bucket.hits.to_string()),
        ("CER subpath", bucket.subpaths.join(" · ")),
        ("FAILURE_ID_HASH", bucket.hashes.join(" · ")),
    ];
    rows_table(out, "facts", &facts);
    if bucket.files > 0 {
        render_members(out, bucket);
    } else {
        out.push_str("<p class=\"note\">No report file was kept for these hits.</p>\n");
    }
    out.push_str("</div>\n</details>\n");
}

/// Every bucket, one CSV row each, most hits first.
fn buckets_csv(buckets: &[Bucket]) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let time = |t: Option<Stamp>| t.map_or(String::new(), Stamp::display);
    let mut out = String::from(
        "Rank,Failure Bucket,Kind,Hits,Report Files,First Seen,Last Seen,CER Subpaths,Failure ID Hashes,Verdicts\r\n",
    );
    for (i, b) in buckets.iter().enumerate() {
        let verdicts: Vec<String> = b
            .verdicts()
            .iter()
            .map(|v| {
                format!(
                    "{}={}",
                    text(v, "/id").unwrap_or("?"),
                    text(v, "/verdict").unwrap_or("?")
                )
            })
            .collect();
        w!(
            out,
            "{},{},{},{},{},{},{},{},{},{}\r\n",
            i + 1,
            field(&b.name),
            field(&b.kinds.join(";")),
            b.hits,
            b.files,
            time(b.first),
            time(b.last),
            field(&b.subpaths.join(";")),
            field(&b.hashes.join(";")),
            field(&verdicts.join(";"))
        );
    }
    out
}

mod charts;
mod page;
mod stamp;
use charts::{chart_codes_over_time, chart_top_buckets};
pub use page::PageBuilder;
use page::{Bucket, Entry, Failed};
use stamp::{civil_from_days, parse_time, Stamp};

#[cfg(test)]
mod tests;
