//! The `dumpsig` command line: argument parsing and output only; the work is in the modules
//! of this library. It lives in the library so every binary that embeds it (the installed
//! `dumpsig`, the test harness's copy) runs the same code.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::analyze::analyze_all;
use crate::inputs::{discover, Input};
use crate::minidump::stackwalk::Symbols;
use crate::report::Report;
use crate::{AnalyzeOptions, Depth};
use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit status:
  0  every input was analyzed
  1  at least one input could not be analyzed (each is named on stderr; the others were still analyzed)
  2  usage error or a failure that stopped the whole run";

/// Crash-dump analyzer for Windows dumps: WER/CER bucket signatures, failure buckets and
/// readable reports.
#[derive(Parser)]
#[command(name = "dumpsig", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyze dumps and print a report per input (files or directories, recursive).
    #[command(after_help = EXIT_CODES)]
    Analyze(AnalyzeArgs),
    /// File dumps and report CABs into a Corporate Error Reporting (CER) share.
    #[command(after_help = EXIT_CODES)]
    Bucket(BucketArgs),
    /// Read a CER share: per-bucket summary, report files that disagree with their folder,
    /// damaged count.txt or log lines, counts that disagree with the report files.
    #[command(after_help = SCAN_EXIT_CODES)]
    Scan(ScanArgs),
}

const SCAN_EXIT_CODES: &str = "\
Exit status:
  0  the share is consistent
  1  problems were found (each is listed)
  2  the share could not be read, or a usage error";

#[derive(Args)]
struct ScanArgs {
    /// Print the whole scan as one JSON object.
    #[arg(long)]
    json: bool,
    /// Worker threads for analyzing the report files (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// The share's root folder.
    #[arg(value_name = "SHARE")]
    share: PathBuf,
}

#[derive(Args)]
struct BucketArgs {
    /// The share's root folder (created if missing); policy.txt there is honoured.
    #[arg(long, value_name = "DIR")]
    share: PathBuf,
    /// Print one JSON object per input per line (JSON Lines; schema in docs/json.md).
    #[arg(long)]
    json: bool,
    /// Known-issue rules added to the built-in ones.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Option<PathBuf>,
    /// An image store (a folder, an http(s):// URL, or srv*CACHE*URL) searched by
    /// `<name>/<TIMESTAMP><SIZE>/<name>` for binaries whose version a dump lacks (triage
    /// dumps); repeatable, searched in order.
    #[arg(long = "image-store", value_name = "DIR_OR_URL")]
    image_store: Vec<String>,
    /// Worker threads (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Dumps, report CABs, or directories searched recursively for them.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
}

#[derive(Args)]
struct AnalyzeArgs {
    /// Print one JSON object per input per line (JSON Lines; schema in docs/json.md).
    #[arg(long)]
    json: bool,
    /// Compute only the signature keys (no stack walk, no symbols, no crash state): fast.
    #[arg(long)]
    signature_only: bool,
    /// A Breakpad symbol directory (<name>.pdb/<DEBUGID>/<name>.sym); repeatable.
    #[arg(long = "symbols", value_name = "DIR")]
    symbols: Vec<PathBuf>,
    /// A file of known-issue rules added to the built-in ones (same id replaces a built-in
    /// rule). A malformed rule is reported with its line; the others still apply.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Option<PathBuf>,
    /// An image store (a folder, an http(s):// URL, or srv*CACHE*URL) searched by
    /// `<name>/<TIMESTAMP><SIZE>/<name>` for binaries whose version a dump lacks (triage
    /// dumps); repeatable, searched in order.
    #[arg(long = "image-store", value_name = "DIR_OR_URL")]
    image_store: Vec<String>,
    /// Worker threads (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Dump files, or directories searched recursively for dumps.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
}

/// The built-in known-issue rules plus those of `file`. Malformed rules are reported on stderr
/// with their line numbers and skipped; an unreadable file stops the run.
fn load_rules(
    file: Option<&std::path::Path>,
) -> Result<Vec<signatures::known_issues::Rule>, String> {
    use signatures::known_issues::{parse_rules, with_builtin};
    let Some(path) = file else {
        return Ok(with_builtin(Vec::new()));
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read rules: {e}", path.display()))?;
    let (rules, errors) = parse_rules(&text);
    for e in &errors {
        eprintln!(
            "dumpsig: warning: {}:{}: {} (rule skipped)",
            path.display(),
            e.line,
            e.message
        );
    }
    Ok(with_builtin(rules))
}

/// The image stores of `--image-store` values, or `None` when none was given.
fn image_store(values: &[String]) -> Result<Option<crate::image_store::ImageStore>, String> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut path = crate::store::SymbolPath::default();
    for v in values {
        path.extend(v).map_err(|e| format!("--image-store: {e}"))?;
    }
    Ok(Some(crate::image_store::ImageStore::new(path)))
}

/// Runs the command line with the process arguments and returns the exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Analyze(args) => analyze(args),
        Command::Bucket(args) => bucket(args),
        Command::Scan(args) => scan(args),
    }
}

fn scan(args: ScanArgs) -> ExitCode {
    let options = AnalyzeOptions {
        depth: Depth::Signature,
        ..AnalyzeOptions::default()
    };
    let result = match crate::share_scan::scan_share(&args.share, &options, default_jobs(args.jobs))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dumpsig: error: {}: {e}", args.share.display());
            return ExitCode::from(2);
        }
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let written = if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&result).unwrap_or_default()
        )
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
        write!(out, "{text}")
    };
    if written.is_err() {
        return ExitCode::from(2);
    }
    if result.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn default_jobs(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn bucket(args: BucketArgs) -> ExitCode {
    use crate::bucket::bucket_all;
    use crate::share::{CerShare, FileOutcome};
    let rules = match load_rules(args.rules.as_deref()) {
        Ok(rules) => rules,
        Err(message) => {
            eprintln!("dumpsig: error: {message}");
            return ExitCode::from(2);
        }
    };
    let image_store = match image_store(&args.image_store) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("dumpsig: error: {message}");
            return ExitCode::from(2);
        }
    };
    let options = AnalyzeOptions {
        depth: Depth::Signature,
        rules,
        image_store,
        ..AnalyzeOptions::default()
    };
    if let Err(e) = std::fs::create_dir_all(&args.share) {
        eprintln!(
            "dumpsig: error: {}: cannot create the share: {e}",
            args.share.display()
        );
        return ExitCode::from(2);
    }
    let share = match CerShare::open(&args.share) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dumpsig: error: {}: {e}", args.share.display());
            return ExitCode::from(2);
        }
    };
    let mut files = Vec::new();
    for input in discover(&args.inputs) {
        match input {
            Input::File(path) => files.push(path),
            Input::Unreadable(path, why) => eprintln!(
                "dumpsig: error: {}: cannot list directory: {why}",
                path.display()
            ),
        }
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut write_failed = false;
    let run = bucket_all(
        &share,
        &files,
        &options,
        default_jobs(args.jobs),
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
                format!("{what:<18} {} -> {subpath}", record.path)
            };
            if !write_failed && writeln!(out, "{line}").is_err() {
                write_failed = true;
            }
        },
    );
    let summary = match run {
        Ok(summary) => summary,
        Err(e) => {
            eprintln!("dumpsig: error: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "dumpsig: {} filed, {} counted only, {} already filed, {} discarded, {} failed",
        summary.filed,
        summary.counted_only,
        summary.already_filed,
        summary.discarded,
        summary.failed
    );
    if write_failed {
        ExitCode::from(2)
    } else if summary.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn analyze(args: AnalyzeArgs) -> ExitCode {
    let options = AnalyzeOptions {
        depth: if args.signature_only {
            Depth::Signature
        } else {
            Depth::Full
        },
        symbols: Symbols::breakpad(args.symbols),
        rules: match load_rules(args.rules.as_deref()) {
            Ok(rules) => rules,
            Err(message) => {
                eprintln!("dumpsig: error: {message}");
                return ExitCode::from(2);
            }
        },
        image_store: match image_store(&args.image_store) {
            Ok(s) => s,
            Err(message) => {
                eprintln!("dumpsig: error: {message}");
                return ExitCode::from(2);
            }
        },
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut files = Vec::new();
    let mut failed = 0usize;
    let mut analyzed = 0usize;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut emit = |report: Report, out: &mut io::StdoutLock<'_>| -> io::Result<()> {
        if let Some(error) = &report.error {
            failed += 1;
            eprintln!("dumpsig: error: {}: {error}", report.path);
        } else {
            analyzed += 1;
        }
        if args.json {
            writeln!(out, "{}", report.to_json_line())
        } else if report.error.is_none() {
            writeln!(out, "{}", report.to_text())
        } else {
            Ok(())
        }
    };
    for input in discover(&args.inputs) {
        match input {
            Input::File(path) => files.push(path),
            Input::Unreadable(path, why) => {
                let report = Report::failed(
                    path.display().to_string(),
                    None,
                    None,
                    format!("cannot list directory: {why}"),
                );
                if emit(report, &mut out).is_err() {
                    return ExitCode::from(2);
                }
            }
        }
    }
    let mut write_error = None;
    let run = analyze_all(&files, &options, jobs, |report| {
        if write_error.is_none() {
            if let Err(e) = emit(report, &mut out) {
                write_error = Some(e);
            }
        }
    });
    if let Err(e) = run {
        eprintln!("dumpsig: error: {e}");
        return ExitCode::from(2);
    }
    if let Some(e) = write_error {
        // A closed pipe (`dumpsig ... | head`) is not worth a message.
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("dumpsig: error: writing output: {e}");
        }
        return ExitCode::from(2);
    }
    drop(out);
    if !args.json {
        eprintln!("dumpsig: {analyzed} analyzed, {failed} failed");
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
