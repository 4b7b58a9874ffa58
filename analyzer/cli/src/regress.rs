//! `dumpsig regress`: compare a current run with a baseline and gate a pipeline on it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{output_failed, AnalysisArgs, BatchArgs};
use analysis::analyze::analyze_all;
use analysis::inputs::Discovery;
use analysis::regress::{compare, is_share, load_jsonl, load_share, parse_threshold, RunData};
use analysis::Depth;

pub(super) const REGRESS_EXIT_CODES: &str = "\
Exit status:
  0  nothing regressed
  1  something regressed: a new or grown bucket, a known issue whose verdict became
     `regression`, or a stop/exception code that reappeared
  2  an input could not be read, or a usage error";

#[derive(Args)]
pub(super) struct RegressArgs {
    /// The earlier run: JSON Lines from `dumpsig analyze --json` or `bucket --json`, or a
    /// folder (a CER share or a folder of dumps), which is analyzed first; a share's buckets
    /// count the hits of their count.txt.
    #[arg(long, value_name = "RUN")]
    baseline: PathBuf,
    /// The run to check, in the same forms.
    #[arg(long, value_name = "RUN")]
    current: PathBuf,
    /// How far a bucket's share of all hits may grow: `5%` or `0.05` (five percentage points).
    #[arg(long, value_name = "SHARE", value_parser = parse_threshold, default_value = "5%")]
    threshold: f64,
    /// Print the comparison as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    analysis: AnalysisArgs,
    #[command(flatten)]
    batch: BatchArgs,
}

/// A run's records: the file's lines, or the analysis of a folder.
fn load_run(path: &Path, args: &RegressArgs) -> Result<RunData, String> {
    let source = path.display().to_string();
    if !path.is_dir() {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{source}: {e}"))?;
        return load_jsonl(&text, &source).map_err(|e| e.to_string());
    }
    let options = args.analysis.options(Depth::Signature)?;
    if is_share(path) {
        // A share counts hits in count.txt; its report files are only the ones it kept.
        return load_share(path, &options, &args.batch.options());
    }
    let mut text = String::new();
    let inputs = Discovery::new(&[path.to_owned()], args.batch.shard);
    analyze_all(inputs, &options, &args.batch.options(), |_, report| {
        text.push_str(&report.to_json_line());
        text.push('\n');
    })
    .map_err(|e| format!("{source}: {e}"))?;
    load_jsonl(&text, &source).map_err(|e| e.to_string())
}

pub(super) fn run(args: RegressArgs) -> ExitCode {
    let runs = load_run(&args.baseline, &args)
        .and_then(|b| load_run(&args.current, &args).map(|c| (b, c)));
    let (baseline, current) = match runs {
        Ok(r) => r,
        Err(message) => {
            eprintln!("dumpsig: error: {message}");
            return ExitCode::from(2);
        }
    };
    let result = compare(&baseline, &current, args.threshold);
    let text = if args.json {
        format!("{}\n", serde_json::to_string(&result).unwrap_or_default())
    } else {
        result.to_text()
    };
    if let Err(e) = io::stdout().lock().write_all(text.as_bytes()) {
        return output_failed(&e);
    }
    if result.regressed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
