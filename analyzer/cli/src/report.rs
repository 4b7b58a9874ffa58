//! `dumpsig report --html`: one self-contained page for a batch.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{fatal, AnalysisArgs, BatchArgs};
use analysis::analyze::analyze_all;
use analysis::inputs::Discovery;
use analysis::report::html::{render_page, PageBuilder};
use analysis::share_page::add_share;
use analysis::Depth;

#[derive(Args)]
pub(super) struct ReportArgs {
    /// The HTML file to write.
    #[arg(long, value_name = "OUT")]
    html: PathBuf,
    /// The page title.
    #[arg(long, value_name = "TEXT", default_value = "dumpsig crash report")]
    title: String,
    /// Report on a CER share: its report files are analyzed and each bucket counts the hits of
    /// its count.txt. The page's table shows the 500 buckets with the most hits; when there are
    /// more, every bucket is written to `<OUT stem>-buckets.csv` beside the page.
    #[arg(long, value_name = "DIR")]
    share: Option<PathBuf>,
    #[command(flatten)]
    analysis: AnalysisArgs,
    #[command(flatten)]
    batch: BatchArgs,
    /// Dumps, report CABs, folders of them, or `.jsonl` results of `dumpsig analyze --json`.
    #[arg(value_name = "INPUT", required_unless_present = "share")]
    inputs: Vec<PathBuf>,
}

/// `<dir>/<stem>-buckets.csv` beside the page.
fn csv_beside(html: &Path) -> PathBuf {
    let stem = html
        .file_stem()
        .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
    html.with_file_name(format!("{stem}-buckets.csv"))
}

fn is_results(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("json"))
}

pub(super) fn run(args: ReportArgs) -> ExitCode {
    let mut page = PageBuilder::new();
    let mut to_analyze: Vec<PathBuf> = Vec::new();
    let given = if args.batch.files_from.is_some() {
        match args.batch.inputs(&args.inputs) {
            Ok(all) => all,
            Err(message) => return fatal(message),
        }
    } else {
        args.inputs.clone()
    };
    for input in &given {
        if !is_results(input) {
            to_analyze.push(input.clone());
            continue;
        }
        let text = match std::fs::read_to_string(input) {
            Ok(t) => t,
            Err(e) => return fatal(format!("{}: {e}", input.display())),
        };
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            match serde_json::from_str(line) {
                Ok(v) => {
                    page.add_report(v, true);
                }
                Err(e) => {
                    return fatal(format!(
                        "{}, line {}: not JSON: {e}",
                        input.display(),
                        n + 1
                    ))
                }
            }
        }
    }
    let mut failed = 0usize;
    if args.share.is_some() || !to_analyze.is_empty() {
        let options = match args.analysis.options(Depth::Full) {
            Ok(o) => o,
            Err(message) => return fatal(message),
        };
        if let Some(share) = &args.share {
            match add_share(share, &options, &args.batch.options(), &mut page) {
                Ok(read) => {
                    for (path, error) in &read.failed {
                        eprintln!("dumpsig: error: {path}: {error}");
                    }
                    failed += read.failed.len();
                }
                Err(e) => return fatal(e),
            }
        }
        let inputs = Discovery::new(&to_analyze, args.batch.shard);
        let run = analyze_all(inputs, &options, &args.batch.options(), |_, report| {
            if let Some(e) = &report.error {
                failed += 1;
                eprintln!("dumpsig: error: {}: {e}", report.path);
            }
            page.add_report(serde_json::to_value(&report).unwrap_or_default(), true);
        });
        if let Err(e) = run {
            return fatal(e);
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let generated = signatures::time::rfc3339_from_unix(i64::try_from(now).unwrap_or(0));
    let reports = page.reports();
    let csv_path = csv_beside(&args.html);
    let csv_name = csv_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rendered = render_page(page, &args.title, &generated, &csv_name);
    if let Some(csv) = &rendered.csv {
        if let Err(e) = symbols::store::write_atomically(&csv_path, csv.as_bytes()) {
            return fatal(format!("{}: {e}", csv_path.display()));
        }
    }
    if let Err(e) = symbols::store::write_atomically(&args.html, rendered.html.as_bytes()) {
        return fatal(format!("{}: {e}", args.html.display()));
    }
    eprintln!(
        "dumpsig: wrote {} ({reports} reports, {failed} failed){}",
        args.html.display(),
        if rendered.csv.is_some() {
            format!(" and {}", csv_path.display())
        } else {
            String::new()
        }
    );
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
