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
    #[command(flatten)]
    batch: BatchArgs,
    /// The share's root folder.
    #[arg(value_name = "SHARE")]
    share: PathBuf,
}

pub(super) fn run(args: ScanArgs) -> ExitCode {
    if args.batch.shard.is_some() {
        return fatal("--shard does not apply to scan: a share is checked as a whole");
    }
    let options = AnalyzeOptions {
        depth: Depth::Signature,
        ..AnalyzeOptions::default()
    };
    let result = match scan_share(&args.share, &options, &args.batch.options()) {
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
