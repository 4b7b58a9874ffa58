//! A generated share corpus (`sample_dumps::share_corpus`, the generator behind
//! `bench/share-scale.sh`'s million hits), small enough for CI: `report --share` counts hits
//! from count.txt, shows the top buckets and writes every bucket to a CSV; `scan` and `regress`
//! get through its damaged entries.

use sample_dumps::share_corpus::{write_corpus, CorpusSpec};

use crate::support::{run, scratch_dir, BIN};

#[test]
fn report_share_counts_hits_from_count_txt_and_cuts_the_table() {
    let dir = scratch_dir("share-scale");
    let share = dir.join("share");
    let spec = CorpusSpec {
        buckets: 700,
        hits: 30_000,
        tracking: true,
        damage: true,
    };
    let summary = write_corpus(&share, &spec).unwrap();
    assert_eq!(summary.hits, 30_000);
    let page = dir.join("page.html");
    let r = run(
        BIN,
        &[
            "report",
            "--no-progress",
            "--html",
            page.to_str().unwrap(),
            "--share",
            share.to_str().unwrap(),
        ],
    );
    // The corpus's truncated report file fails; the others are analyzed.
    assert_eq!(r.code(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("truncated.dmp"), "{}", r.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    // Every valid count.txt's hits: the corpus's plus the damaged-log bucket's 2000.
    let hits = summary.hits + 2000;
    assert!(
        html.contains(&format!("id=\"total-hits\"><b>{hits}</b>")),
        "total hits {hits} not on the page"
    );
    assert_eq!(
        html.matches("<tr id=\"row-").count(),
        500,
        "the table is cut at 500"
    );
    assert!(html.contains("id=\"more-buckets\""));
    let csv = std::fs::read_to_string(dir.join("page-buckets.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows.len() > 500, "every bucket in the CSV ({})", rows.len());
    let csv_hits: u64 = rows
        .iter()
        .map(|l| {
            // Hits is the 4th field; the bucket name before it may be quoted.
            let fields = split_csv(l);
            fields[3].parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(
        csv_hits, hits,
        "the CSV's hits add up to the count.txt files'"
    );
    let blue = rows
        .iter()
        .find(|l| l.contains("(hits without an analyzed report file) blue"))
        .expect("blue's unattributed hits have a row");
    assert!(split_csv(blue)[3].parse::<u64>().unwrap() > 0);

    let scan = run(BIN, &["scan", "--json", share.to_str().unwrap()]);
    assert!(scan.code() <= 1, "{}", scan.stderr);
    for damaged in ["damaged.exe", "huge.exe", "stray.txt", "dumpsig-tmp"] {
        assert!(scan.stdout.contains(damaged), "scan names {damaged}");
    }
    let regress = run(
        BIN,
        &[
            "regress",
            "--no-progress",
            "--baseline",
            share.to_str().unwrap(),
            "--current",
            share.to_str().unwrap(),
        ],
    );
    assert_eq!(regress.code(), 0, "{}{}", regress.stdout, regress.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The fields of one CSV line (quotes doubled inside quoted fields).
fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}
