//! `gen-samples [DIR]`: write every generated sample dump into `DIR/minidump` and
//! `DIR/kernel` (default DIR: the crate's directory) and print each path.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    match sample_dumps::write_all(&dir) {
        Ok(paths) => {
            for path in paths {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!(
                "gen-samples: cannot write samples into {}: {err}",
                dir.display()
            );
            ExitCode::FAILURE
        }
    }
}
