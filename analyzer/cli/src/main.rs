//! `dumpsig`: crash-dump analyzer for Windows dumps. See `dumpsig --help`.
//!
//! The command line only: arguments, the progress bar, output and exit statuses. The work is
//! in `dumpsig-analysis` and the crates below it (ARCHITECTURE.md).

/// glibc's allocator for a one-file run, mimalloc for a batch ([`allocator`]).
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

mod allocator;
mod analyze;
mod bucket;
mod regress;
mod report;
mod scan;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use analysis::batch::{BatchOptions, Progress};
use analysis::minidump::stackwalk::Symbols;
use analysis::shard::Shard;
use analysis::{AnalyzeOptions, Depth};
use symbols::image_store::ImageStore;
use symbols::store::SymbolPath;

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
    Analyze(analyze::AnalyzeArgs),
    /// File dumps and report CABs into a Corporate Error Reporting (CER) share.
    #[command(after_help = EXIT_CODES)]
    Bucket(bucket::BucketArgs),
    /// Read a CER share: per-bucket summary, report files that disagree with their folder,
    /// damaged count.txt or log lines, counts that disagree with the report files.
    #[command(after_help = scan::SCAN_EXIT_CODES)]
    Scan(scan::ScanArgs),
    /// Compare a current run with a baseline: new, gone and grown buckets, known issues that
    /// turned into regressions, stop or exception codes that reappeared.
    #[command(after_help = regress::REGRESS_EXIT_CODES)]
    Regress(regress::RegressArgs),
    /// Write one self-contained HTML page for a batch: sortable bucket table, charts, details.
    #[command(after_help = EXIT_CODES)]
    Report(report::ReportArgs),
}

impl Command {
    /// True for `analyze` of one regular file: the run a hook makes once per crash, which
    /// starts no threads (so mapping a dump costs no other core anything) and is over before
    /// mimalloc's set-up would pay off.
    fn is_one_file(&self) -> bool {
        match self {
            Command::Analyze(args) => match &args.inputs[..] {
                [one] => {
                    args.batch.files_from.is_none()
                        && std::fs::metadata(one).is_ok_and(|m| m.is_file())
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// How a batch runs: threads, sharding, progress.
#[derive(Args, Debug, Clone)]
struct BatchArgs {
    /// Worker threads: 0 or absent is the number of CPUs; at most 256 (more only waits on the
    /// same cores).
    #[arg(long, short = 'j', value_name = "N", value_parser = parse_jobs)]
    jobs: Option<usize>,
    /// Read input paths from FILE, one per line (`-` for standard input, as `find ... |`
    /// pipelines give them), after the INPUT arguments.
    #[arg(long, value_name = "FILE")]
    files_from: Option<PathBuf>,
    /// Take only part K of N of the inputs. Inputs are split by a hash of their path below
    /// the argument they were found under, so N machines (or the N tasks of a Kubernetes
    /// indexed Job or a Slurm array: `--shard $((JOB_COMPLETION_INDEX+1))/N`) running the same
    /// command split one input set without overlap.
    #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
    shard: Option<Shard>,
    /// Never draw a progress bar (one is drawn on stderr only when it is a terminal).
    #[arg(long)]
    no_progress: bool,
}

/// Most worker threads.
const MAX_JOBS: usize = 256;

/// `--jobs N`: 0 is "the number of CPUs"; above [`MAX_JOBS`] is refused.
pub(crate) fn parse_jobs(text: &str) -> Result<usize, String> {
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of threads"))?;
    if n > MAX_JOBS {
        return Err(format!("{n} threads is over the limit of {MAX_JOBS}"));
    }
    Ok(n)
}

impl BatchArgs {
    /// The inputs: `given`, then the lines of `--files-from` (blank lines skipped).
    fn inputs(&self, given: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
        if given.iter().any(|p| p.as_os_str() == "-") {
            return Err(
                "`-` is not a file: to read input paths from standard input, use --files-from -"
                    .to_owned(),
            );
        }
        let mut all = given.to_vec();
        if let Some(file) = &self.files_from {
            let text = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .map_err(|e| format!("--files-from -: cannot read standard input: {e}"))?;
                text
            } else {
                std::fs::read_to_string(file)
                    .map_err(|e| format!("--files-from {}: {e}", file.display()))?
            };
            all.extend(
                text.lines()
                    .map(|l| l.trim_end_matches('\r'))
                    .filter(|l| !l.is_empty())
                    .map(PathBuf::from),
            );
        }
        if all.is_empty() {
            return Err("no input: give INPUT paths or --files-from FILE".to_owned());
        }
        Ok(all)
    }

    fn options(&self) -> BatchOptions {
        BatchOptions {
            jobs: self.jobs.filter(|&n| n > 0).map(|n| n.min(MAX_JOBS)),
            progress: (!self.no_progress && std::io::stderr().is_terminal())
                .then_some(progress_bar as fn() -> Box<dyn Progress>),
        }
    }
}

/// What the analysis draws on: rules, image stores, symbols.
#[derive(Args, Debug, Clone, Default)]
struct AnalysisArgs {
    /// A file of known-issue rules added to the built-in ones (same id replaces a built-in
    /// rule). A malformed rule is reported with its line; the others still apply.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Option<PathBuf>,
    /// An image store (a folder, an http(s):// URL, or srv*CACHE*URL) searched by
    /// `<name>/<TIMESTAMP><SIZE>/<name>` for binaries whose version a dump lacks (triage
    /// dumps); repeatable, searched in order.
    #[arg(long = "image-store", value_name = "DIR_OR_URL")]
    image_store: Vec<String>,
    /// A Breakpad symbol directory (<name>.pdb/<DEBUGID>/<name>.sym); repeatable.
    #[arg(long = "symbols", value_name = "DIR")]
    symbols: Vec<PathBuf>,
    /// A symbol path for PDBs: folders and symbol servers, `;`-separated, in the debuggers'
    /// syntax (`srv*C:\cache*https://msdl.microsoft.com/download/symbols`). The
    /// _NT_SYMBOL_PATH environment variable is searched after it.
    #[arg(long = "symbol-path", value_name = "PATH")]
    symbol_path: Vec<String>,
}

impl AnalysisArgs {
    /// Analysis options at `depth`, or the message of a usage error.
    fn options(&self, depth: Depth) -> Result<AnalyzeOptions, String> {
        Ok(AnalyzeOptions {
            depth,
            symbols: self.symbols()?,
            rules: load_rules(self.rules.as_deref())?,
            image_store: image_store(&self.image_store)?,
            frames: analysis::minidump::stackwalk::REPORT_FRAMES,
            read_limit: analysis::source::READ_LIMIT,
        })
    }

    fn symbols(&self) -> Result<Symbols, String> {
        for dir in &self.symbols {
            if !dir.is_dir() {
                return Err(format!("--symbols {}: no such folder", dir.display()));
            }
        }
        let mut path = SymbolPath::default();
        for p in &self.symbol_path {
            path.extend(p).map_err(|e| format!("--symbol-path: {e}"))?;
        }
        if let Ok(env) = std::env::var("_NT_SYMBOL_PATH") {
            path.extend(&env)
                .map_err(|e| format!("_NT_SYMBOL_PATH: {e}"))?;
        }
        Ok(Symbols::new(self.symbols.clone(), path))
    }
}

/// The built-in known-issue rules plus those of `file`. Malformed rules are reported on stderr
/// with their line numbers and skipped; an unreadable file stops the run.
fn load_rules(file: Option<&Path>) -> Result<Vec<signatures::known_issues::Rule>, String> {
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
fn image_store(values: &[String]) -> Result<Option<ImageStore>, String> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut path = SymbolPath::default();
    for v in values {
        path.extend(v).map_err(|e| format!("--image-store: {e}"))?;
    }
    for entry in path.entries() {
        if let symbols::store::StoreEntry::Folder(dir) = entry {
            if !dir.is_dir() {
                return Err(format!("--image-store {}: no such folder", dir.display()));
            }
        }
    }
    Ok(Some(ImageStore::new(path)))
}

/// Prints a usage-level error and returns exit status 2.
fn fatal(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("dumpsig: error: {message}");
    ExitCode::from(2)
}

/// A write to stdout failed: quietly for a closed pipe (`dumpsig ... | head`), else say so.
fn output_failed(e: &std::io::Error) -> ExitCode {
    if e.kind() != std::io::ErrorKind::BrokenPipe {
        eprintln!("dumpsig: error: writing output: {e}");
    }
    ExitCode::from(2)
}

/// A spinner on stderr counting finished inputs.
struct ProgressBar(indicatif::ProgressBar);

impl Progress for ProgressBar {
    fn inc(&self) {
        self.0.inc(1);
    }

    fn finish(self: Box<Self>) {
        self.0.finish_and_clear();
    }
}

fn progress_bar() -> Box<dyn Progress> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {human_pos} inputs done in {elapsed} ({per_sec})",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Box::new(ProgressBar(bar))
}

/// Runs the command line with the process arguments and returns the exit status.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let one_file = cli.command.is_one_file();
    if !one_file {
        allocator::use_mimalloc();
    }
    match cli.command {
        Command::Analyze(args) => analyze::run(args, one_file),
        Command::Bucket(args) => bucket::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Regress(args) => regress::run(args),
        Command::Report(args) => report::run(args),
    }
}
