//! `dumpsig scan`: read a CER share and check it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{fatal, output_failed, BatchArgs};
use analysis::scan::scan_share;
use analysis::{AnalyzeOptions, Depth};

pub(super) const SCAN_EXIT_CODES: &str = "\
Exit status:
  0  the share is consistent
  1  problems were found (each is listed)
  2  the share could not be read, or a usage error";

#[derive(Args)]
pub(super) struct ScanArgs {
    /// Print the whole scan as one JSON object.
    #[arg(long)]
    json: bool,
    /// Worker threads for the report files: 0 or absent is the number of CPUs; at most 256.
    #[arg(long, short = 'j', value_name = "N", value_parser = super::parse_jobs)]
    jobs: Option<usize>,
    /// Never draw a progress bar (one is drawn on stderr only when it is a terminal).
    #[arg(long)]
    no_progress: bool,
    /// The share's root folder.
    #[arg(value_name = "SHARE")]
    share: PathBuf,
}

pub(super) fn run(args: ScanArgs) -> ExitCode {
    if !args.share.is_dir() {
        return fatal(format!("{}: no such folder", args.share.display()));
    }
    if !analysis::regress::is_share(&args.share) {
        return fatal(format!(
            "{}: not a CER share (it has no `cabs`, `counts` or `status` folder and no policy.txt)",
            args.share.display()
        ));
    }
    let batch = BatchArgs {
        jobs: args.jobs,
        shard: None,
        files_from: None,
        no_progress: args.no_progress,
    };
    let options = AnalyzeOptions {
        depth: Depth::Signature,
        ..AnalyzeOptions::default()
    };
    let result = match scan_share(&args.share, &options, &batch.options()) {
        Ok(r) => r,
        Err(e) => return fatal(format!("{}: {e}", args.share.display())),
    };
    let text = if args.json {
        format!("{}\n", serde_json::to_string(&result).unwrap_or_default())
    } else {
        let mut text = format!("Share {}\n", result.share.root.display());
        text.push_str(&format!(
            "{:>6} {:>6} {:>8}  subpath\n",
            "hits", "cabs", "reports"
        ));
        for b in &result.share.buckets {
            let counts = b.count.as_ref().and_then(|c| c.counts());
            let (hits, cabs) = counts.map_or(("?".to_owned(), "?".to_owned()), |c| {
                (c.total_hits.to_string(), c.cabs_gathered.to_string())
            });
            text.push_str(&format!(
                "{hits:>6} {cabs:>6} {:>8}  {}\n",
                b.reports.len(),
                b.subpath
            ));
        }
        text.push_str(&format!(
            "{} report file(s) analyzed, {} problem(s)\n",
            result.reports_analyzed,
            result.problems.len()
        ));
        for p in &result.problems {
            text.push_str(&format!("  problem: {p}\n"));
        }
        text
    };
    if let Err(e) = io::stdout().lock().write_all(text.as_bytes()) {
        return output_failed(&e);
    }
    if result.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
