#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::*;
use serde_json::json;

/// A user-mode report of `x.dll` in bucket `U`, or a kernel report of stop 0xD1 in bucket `K`.
fn report(path: &str, kernel: bool, time: Option<&str>) -> Value {
    if kernel {
        return json!({"path": path, "kind": "kernel", "error": null, "cer_subpath": "blue",
            "failure_bucket": "K", "failure_id_hash": "km:x", "crash_state": null, "signature": null,
            "minidump": null, "kernel": {"crash_time": time, "bugcheck": {"code": "0x000000d1"}},
            "known_issues": []});
    }
    json!({"path": path, "kind": "minidump", "file_size": 100, "error": null,
        "cer_subpath": "app.exe\\1.0\\x.dll\\2.0\\00001234", "failure_bucket": "U",
        "failure_id_hash": "1111-2222", "crash_state": ["x.dll+0x1234"],
        "signature": {"app_name": "app.exe", "mod_name": "x.dll", "exception_code": "c0000005"},
        "minidump": {"dump_time": time, "exception": {"code": "0xc0000005"}}, "known_issues": []})
}

fn sample() -> Vec<Value> {
    let mut k1 = report("k1.dmp", true, Some("2021-03-02T10:00:00.0000000Z"));
    k1["known_issues"] = json!([
        {"id": "rule-b", "verdict": "known", "reason": "known reason"},
        {"id": "rule-a", "verdict": "regression", "reason": "regressed"},
        {"id": "rule-c", "verdict": "fix-missing", "reason": "fix missing"}]);
    vec![
        k1,
        report("u1.dmp", false, Some("2021-03-05T01:00:00Z")),
        report("k2.dmp", true, Some("2021-03-01T09:00:00.5Z")),
        report("u2.dmp", false, None),
        report("k3.dmp", true, Some("2021-03-04T23:59:59Z")),
        json!({"path": "bad.dmp", "kind": "minidump", "error": "truncated: <oops>"}),
    ]
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html.find(start).unwrap();
    &html[from..from + html[from..].find(end).unwrap()]
}

fn rows(html: &str) -> Vec<&str> {
    between(html, "<tbody>", "</tbody>")
        .split("<tr ")
        .skip(1)
        .collect()
}

#[test]
fn table_has_one_row_per_bucket_with_hits_and_times() {
    let html = render_html(&sample(), "t", "now");
    let rows = rows(&html);
    assert_eq!(rows.len(), 2);
    assert!(rows[0].contains(">K</a>") && rows[0].contains("data-sort=\"3\">3</td>"));
    assert!(rows[0].contains(">2021-03-01 09:00:00<") && rows[0].contains(">2021-03-04 23:59:59<"));
    assert!(rows[1].contains(">U</a>") && rows[1].contains("data-sort=\"2\">2</td>"));
    assert_eq!(rows[1].matches(">2021-03-05 01:00:00</td>").count(), 2);
    assert!(html.contains("<li id=\"total-reports\"><b>6</b> reports</li>"));
    assert!(html.contains("<b>5</b> analyzed") && html.contains("<b>1</b> failed"));
    assert!(html.contains("<b>2</b> buckets") && html.contains("truncated: &lt;oops&gt;"));
    assert!(html.contains("<details class=\"bucket\" id=\"bucket-2\">"));
    // The representative is the first report of the bucket in input order.
    assert!(between(&html, "id=\"bucket-1\"", "</table>").contains("k1.dmp"));
}

#[test]
fn verdicts_worst_first() {
    let html = render_html(&sample(), "t", "now");
    let row = rows(&html)[0];
    let (a, c, b) = (
        row.find("rule-a").unwrap(),
        row.find("rule-c").unwrap(),
        row.find("rule-b").unwrap(),
    );
    assert!(a < c && c < b);
    assert!(row.contains(
        "<span class=\"badge v-regression\" title=\"regressed\"><b>regression</b> rule-a"
    ));
}

#[test]
fn charts_have_the_right_bars() {
    let html = render_html(&sample(), "t", "now");
    let top = between(&html, "<svg id=\"chart-top-buckets\"", "</svg>");
    assert_eq!(top.matches("<rect class=\"bar\"").count(), 2);
    // Days 03-01, 03-02, 03-04 and 03-05 hold one code each (03-03 is empty), then "unknown".
    let codes = between(&html, "<svg id=\"chart-codes-over-time\"", "</svg>");
    assert_eq!(codes.matches("<rect class=\"seg\"").count(), 5);
    assert_eq!(codes.matches("<rect class=\"swatch\"").count(), 2);
    assert!(codes.contains(">2021-03-01<") && codes.contains(">unknown<"));
    assert!(codes.contains("0xD1 (3)") && codes.contains("c0000005 (2)"));
    assert!(html.contains("One bar per day, 2021-03-01 to 2021-03-05."));
}

#[test]
fn hostile_names_are_escaped() {
    let evil = "<script>alert(\"x\")</script>'&日本語\u{1}";
    let mut r = report(evil, false, Some("2020-01-01T00:00:00Z"));
    r["failure_bucket"] = json!(evil);
    r["signature"]["mod_name"] = json!(evil);
    r["crash_state"] = json!([evil]);
    r["known_issues"] = json!([{"id": evil, "verdict": evil, "reason": evil, "title": evil}]);
    let html = render_html(&[r], evil, evil);
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(!html.contains("alert(\"x\")") && !html.contains("'&日") && !html.contains('\u{1}'));
    let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;日本語\u{FFFD}";
    assert!(html.matches(escaped).count() >= 8);
    assert!(html.contains("class=\"badge v-other\""));
}

#[test]
fn deterministic_and_empty() {
    assert_eq!(
        render_html(&sample(), "t", "now"),
        render_html(&sample(), "t", "now")
    );
    let empty = render_html(&[], "t", "now");
    assert!(empty.contains("<b>0</b> reports") && empty.contains("No analyzed reports"));
    assert!(rows(&empty).is_empty() && !empty.contains("<svg"));
}

#[test]
fn times_codes_and_bins() {
    let t = parse_time("2011-01-10T03:12:45.0000000Z").unwrap();
    assert_eq!((t.display(), t.1), ("2011-01-10 03:12:45".to_owned(), 0));
    assert_eq!(
        parse_time("2011-01-10T03:12:45.5Z").unwrap(),
        Stamp(t.0, 500_000_000)
    );
    for bad in [
        "2011-02-30T00:00:00Z",
        "2011-01-10T03:12:45",
        "2011-01-10T03:12:45.Z",
        "junk",
    ] {
        assert!(parse_time(bad).is_none(), "{bad}");
    }
    let year = |y: &str| report("y", true, Some(&format!("{y}-05-05T01:00:00Z")));
    let long = render_html(&[year("2005"), year("2011")], "t", "now");
    assert!(long.contains("One bar per year") && long.contains(">2008<"));
    let months = render_html(&[year("2010"), year("2011")], "t", "now");
    assert!(months.contains("One bar per month") && months.contains(">2010-05<"));
    let mut one = report("k", true, Some("2020-05-05T01:00:00Z"));
    one["kernel"]["bugcheck"]["code"] = json!("0x1000007e");
    let single = render_html(&[one], "t", "now");
    assert!(
        single.contains("All dated crashes are on 2020-05-05") && single.contains("0x1000007E (1)")
    );
}
