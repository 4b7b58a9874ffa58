//! The `dumpsig` command line, built inside the test package so the end-to-end tests can run it
//! as a process (Cargo only exposes binaries of the package under test).

fn main() -> std::process::ExitCode {
    analyzer::cli::main()
}
