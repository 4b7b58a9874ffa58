//! Parses one kernel dump with kdmp-parser and prints what a bucket needs from its header:
//! the stop code, its parameters, and how many kernel modules the dump lists.
use kdmp_parser::parse::KernelDumpParser;

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: kdmp-peer DUMP");
        return std::process::ExitCode::from(2);
    };
    match KernelDumpParser::new(&path) {
        Ok(parser) => {
            let h = parser.headers();
            println!(
                "{path}: stop {:#x} parameters {:x?}, {} kernel modules",
                h.bug_check_code,
                h.bug_check_code_parameters,
                parser.kernel_modules().count()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e:?}");
            std::process::ExitCode::FAILURE
        }
    }
}
