//! `dumpsig`: crash-dump analyzer for Windows dumps. See `dumpsig --help`.

fn main() -> std::process::ExitCode {
    analyzer::cli::main()
}
