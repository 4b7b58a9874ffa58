//! `dumpsig analyze`: one report per input, as text, JSON Lines or CSV.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};

use super::{fatal, output_failed, AnalysisArgs, BatchArgs};
use analysis::analyze::analyze_all_rendered;
use analysis::inputs::Discovery;
use analysis::minidump::stackwalk::REPORT_FRAMES;
use analysis::report::csv::{csv_row, CSV_HEADER};
use analysis::report::{Report, TEXT_FRAMES};
use analysis::Depth;

/// Output formats of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    /// A readable report per input.
    Text,
    /// One JSON object per input per line (docs/json.md).
    Json,
    /// One CSV row per input: BlueScreenView's columns, then dumpsig's keys.
    Csv,
}

#[derive(Args)]
pub(super) struct AnalyzeArgs {
    /// Print JSON Lines (the same as --format json).
    #[arg(long, conflicts_with_all = ["csv", "format"])]
    json: bool,
    /// Print CSV (the same as --format csv).
    #[arg(long, conflicts_with = "format")]
    csv: bool,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// Compute only the keys (no stack walk, no crash state): fast. With symbols, one lookup
    /// names the faulting function, so the keys equal those of the full analysis.
    #[arg(long)]
    signature_only: bool,
    /// Frames of the crashing thread the text report shows (0: all). The JSON keeps at
    /// least 32, and all with 0.
    #[arg(long, value_name = "N", default_value_t = TEXT_FRAMES)]
    frames: usize,
    #[command(flatten)]
    analysis: AnalysisArgs,
    #[command(flatten)]
    pub(super) batch: BatchArgs,
    /// Dump files, report CABs, or directories searched recursively for them (or
    /// `--files-from`).
    #[arg(value_name = "INPUT")]
    pub(super) inputs: Vec<PathBuf>,
}

/// One report as the output needs it.
struct Rendered {
    /// Its text, line or row (`None` for a failed input in text form).
    text: Option<String>,
    /// The error line for standard error, when the input failed.
    error: Option<String>,
}

/// Runs `analyze`; `one_file` when the run is one regular file ([`super::Command`]).
pub(super) fn run(args: AnalyzeArgs, one_file: bool) -> ExitCode {
    let format = match (args.json, args.csv, args.format) {
        (true, _, _) => Format::Json,
        (_, true, _) => Format::Csv,
        (_, _, Some(f)) => f,
        _ => Format::Text,
    };
    let depth = if args.signature_only {
        Depth::Signature
    } else {
        Depth::Full
    };
    let mut options = match args.analysis.options(depth) {
        Ok(o) => o,
        Err(message) => return fatal(message),
    };
    if one_file {
        options.read_limit = analysis::source::READ_LIMIT_ALONE;
    }
    options.frames = match args.frames {
        0 => usize::MAX,
        n => n.max(REPORT_FRAMES),
    };
    let batch = args.batch.options();
    let started = Instant::now();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    if format == Format::Csv {
        if let Err(e) = writeln!(out, "{CSV_HEADER}") {
            return output_failed(&e);
        }
    }
    let (mut analyzed, mut failed) = (0usize, 0usize);
    let mut write_error = None;
    // What the output needs of one report, made on the worker that analyzed it.
    let frames = args.frames;
    let render = |report: Report| -> Rendered {
        let text = match format {
            Format::Json => Some(report.to_json_line()),
            Format::Csv => {
                let value = serde_json::to_value(&report).unwrap_or_default();
                Some(csv_row(&value))
            }
            Format::Text if report.error.is_none() => Some(report.to_text_with_frames(frames)),
            Format::Text => None,
        };
        let error = report
            .error
            .as_ref()
            .map(|error| format!("dumpsig: error: {}: {error}\n", report.path));
        Rendered { text, error }
    };
    let mut emit = |rendered: Rendered, out: &mut dyn Write| {
        if let Some(line) = &rendered.error {
            failed += 1;
            eprint!("{line}");
        } else {
            analyzed += 1;
        }
        let Some(text) = rendered.text else {
            return Ok(());
        };
        writeln!(out, "{text}")?;
        if format == Format::Text {
            // A terminal reader wants each report as it comes, not when the buffer fills.
            out.flush()?;
        }
        Ok(())
    };
    let inputs = match args.batch.inputs(&args.inputs) {
        Ok(all) => Discovery::new(&all, args.batch.shard),
        Err(message) => return fatal(message),
    };
    let run = analyze_all_rendered(inputs, &options, &batch, render, |_, rendered| {
        if write_error.is_none() {
            if let Err(e) = emit(rendered, &mut out) {
                write_error = Some(e);
            }
        }
    });
    if let Err(e) = run {
        return fatal(e);
    }
    if let Some(e) = write_error.or_else(|| out.flush().err()) {
        return output_failed(&e);
    }
    for note in options.symbols.source().lookup_notes() {
        eprintln!("dumpsig: symbols: {note}");
    }
    // Formatted first: standard error is unbuffered, and the pieces of a formatted line would
    // each be a write of their own (ten system calls in a one-file run).
    let summary = format!(
        "dumpsig: {analyzed} analyzed, {failed} failed in {:.2}s{}\n",
        started.elapsed().as_secs_f64(),
        args.batch
            .shard
            .map(|s| format!(" (shard {}/{})", s.index, s.count))
            .unwrap_or_default()
    );
    eprint!("{summary}");
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
