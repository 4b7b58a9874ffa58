//! `dumpsig report --html`: one self-contained page for a batch.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{fatal, AnalysisArgs, BatchArgs};
use analysis::analyze::analyze_all;
use analysis::inputs::Discovery;
use analysis::report::html::render_html;
use analysis::Depth;

#[derive(Args)]
pub(super) struct ReportArgs {
    /// The HTML file to write.
    #[arg(long, value_name = "OUT")]
    html: PathBuf,
    /// The page title.
    #[arg(long, value_name = "TEXT", default_value = "dumpsig crash report")]
    title: String,
    /// Report on a CER share: its report files are analyzed (one hit per filed report).
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

fn is_results(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("json"))
}

pub(super) fn run(args: ReportArgs) -> ExitCode {
    let mut reports: Vec<serde_json::Value> = Vec::new();
    let mut to_analyze: Vec<PathBuf> = args.share.iter().cloned().collect();
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
                Ok(v) => reports.push(v),
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
    if !to_analyze.is_empty() {
        let options = match args.analysis.options(Depth::Full) {
            Ok(o) => o,
            Err(message) => return fatal(message),
        };
        let inputs = Discovery::new(&to_analyze, args.batch.shard);
        let run = analyze_all(inputs, &options, &args.batch.options(), |_, report| {
            if let Some(e) = &report.error {
                failed += 1;
                eprintln!("dumpsig: error: {}: {e}", report.path);
            }
            reports.push(serde_json::to_value(&report).unwrap_or_default());
        });
        if let Err(e) = run {
            return fatal(e);
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let generated = signatures::time::rfc3339_from_unix(i64::try_from(now).unwrap_or(0));
    let html = render_html(&reports, &args.title, &generated);
    if let Err(e) = symbols::store::write_atomically(&args.html, html.as_bytes()) {
        return fatal(format!("{}: {e}", args.html.display()));
    }
    eprintln!(
        "dumpsig: wrote {} ({} reports, {failed} failed)",
        args.html.display(),
        reports.len()
    );
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
