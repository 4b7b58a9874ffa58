//! `dumpsig bucket`: file dumps and report CABs into a CER share.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{fatal, output_failed, AnalysisArgs, BatchArgs};
use analysis::bucket::{bucket_all, FilingOptions};
use analysis::inputs::Discovery;
use analysis::Depth;
use cer_share::{CerShare, Durability, FileOutcome};

#[derive(Args)]
pub(super) struct BucketArgs {
    /// The share's root folder (created if missing); policy.txt there is honoured.
    #[arg(long, value_name = "DIR")]
    share: PathBuf,
    /// Print one JSON object per input per line (JSON Lines; schema in docs/json.md).
    #[arg(long)]
    json: bool,
    /// For a bucket whose report matches a known issue, create status.txt (`Bucket=<id>`,
    /// `Response=known issue <id>: <reference>`) where none exists; never changes one.
    #[arg(long)]
    create_status: bool,
    /// Machine name for hits.log / crash.log when a report does not name one (WER metadata);
    /// otherwise UNKNOWN. At most 15 characters are kept.
    #[arg(long, value_name = "NAME")]
    machine: Option<String>,
    /// User name for the logs when a report does not name one; otherwise `unknown user`.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Do not flush filings to disk (by default each group of filings flushes the files and
    /// folders it wrote, and nothing else, before its journal is removed). The share stays
    /// consistent if dumpsig is killed, but a power loss may lose the last filings: for
    /// scratch shares and benchmarks.
    #[arg(long)]
    no_sync: bool,
    #[command(flatten)]
    analysis: AnalysisArgs,
    #[command(flatten)]
    batch: BatchArgs,
    /// Dump files, report CABs, or directories searched recursively for them (or
    /// `--files-from`).
    #[arg(value_name = "INPUT")]
    inputs: Vec<PathBuf>,
}

pub(super) fn run(args: BucketArgs) -> ExitCode {
    let options = match args.analysis.options(Depth::Signature) {
        Ok(o) => o,
        Err(message) => return fatal(message),
    };
    // The share is checked once, before any analysis: one error, exit 2, not one per input.
    if args.share.exists() && !args.share.is_dir() {
        return fatal(format!(
            "{}: is a file, not a share folder",
            args.share.display()
        ));
    }
    if let Err(e) = std::fs::create_dir_all(&args.share) {
        return fatal(format!(
            "{}: cannot create the share: {e}",
            args.share.display()
        ));
    }
    let durability = if args.no_sync {
        Durability::Unflushed
    } else {
        Durability::Flushed
    };
    let share = match CerShare::open(&args.share) {
        Ok(s) => s.with_durability(durability),
        Err(e) => return fatal(format!("{}: {e}", args.share.display())),
    };
    if let Err(e) = share.check_writable() {
        return fatal(format!(
            "{}: the share is not writable: {e}",
            args.share.display()
        ));
    }
    let filing = FilingOptions {
        create_status: args.create_status,
        machine: args.machine.clone(),
        user: args.user.clone(),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut write_error = None;
    let inputs = match args.batch.inputs(&args.inputs) {
        Ok(all) => Discovery::new(&all, args.batch.shard),
        Err(message) => return fatal(message),
    };
    let run = bucket_all(
        &share,
        inputs,
        &options,
        &args.batch.options(),
        &filing,
        |record| {
            if let Some(error) = &record.error {
                eprintln!("dumpsig: error: {}: {error}", record.path);
            }
            let line = if args.json {
                serde_json::to_string(record).unwrap_or_default()
            } else {
                let subpath = record.cer_subpath.as_deref().unwrap_or("-");
                let what = match &record.outcome {
                    Some(FileOutcome::Filed { .. }) => "filed".to_owned(),
                    Some(FileOutcome::CountedOnly { reason, .. }) => {
                        format!("counted only ({reason})")
                    }
                    Some(FileOutcome::AlreadyFiled { .. }) => "already filed".to_owned(),
                    Some(FileOutcome::Discarded { chars, .. }) => {
                        format!("discarded (a path of {chars} characters, over 260)")
                    }
                    None => "failed".to_owned(),
                };
                let status = record
                    .status
                    .as_deref()
                    .map(|s| format!(" [status.txt: {s}]"))
                    .unwrap_or_default();
                format!("{what:<18} {} -> {subpath}{status}", record.path)
            };
            if write_error.is_none() {
                if let Err(e) = writeln!(out, "{line}") {
                    write_error = Some(e);
                }
            }
        },
    );
    let summary = match run {
        Ok(summary) => summary,
        Err(e) => return fatal(e),
    };
    if let Some(e) = write_error.or_else(|| out.flush().err()) {
        return output_failed(&e);
    }
    eprintln!(
        "dumpsig: {} filed, {} counted only, {} already filed, {} discarded, {} failed{}",
        summary.filed,
        summary.counted_only,
        summary.already_filed,
        summary.discarded,
        summary.failed,
        if args.create_status {
            format!(", {} status.txt created", summary.status_created)
        } else {
            String::new()
        }
    );
    if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
