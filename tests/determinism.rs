//! The same command prints the same bytes at `--jobs 1` and `--jobs 8`: over every generated
//! sample, every real dump and CAB, as text, JSON and CSV, on both paths, with symbols and an
//! image store (whose caches and notes must not depend on which input ran first).

use crate::support::{real_dump, run, workspace_root, BIN};

/// stderr without the closing line's elapsed time.
fn stable_stderr(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| match l.rsplit_once(" in ") {
            Some((head, tail)) if l.starts_with("dumpsig: ") && tail.ends_with('s') => {
                head.to_owned()
            }
            _ => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn outputs_do_not_depend_on_the_number_of_jobs() {
    let root = workspace_root();
    let s = |p: std::path::PathBuf| p.to_str().expect("utf-8").to_owned();
    let inputs = [s(root.join("sample-dumps")), s(real_dump(""))];
    let with_symbols = [
        "--symbols".to_owned(),
        s(real_dump("symbols/breakpad")),
        "--symbols".to_owned(),
        s(root.join("sample-dumps/symbols")),
        "--image-store".to_owned(),
        s(root.join("sample-dumps/image-store")),
    ];
    let formats: [&[&str]; 4] = [
        &[],
        &["--json"],
        &["--csv"],
        &["--json", "--signature-only"],
    ];
    for format in formats {
        for symbols in [&[][..], &with_symbols[..]] {
            let outputs: Vec<(String, String, i32)> = ["1", "8"]
                .iter()
                .map(|jobs| {
                    let mut args: Vec<String> =
                        vec!["analyze".into(), "--jobs".into(), (*jobs).into()];
                    args.extend(format.iter().map(|a| (*a).to_owned()));
                    args.extend(symbols.iter().cloned());
                    args.extend(inputs.iter().cloned());
                    let r = run(BIN, &args);
                    let code = r.code();
                    (r.stdout, stable_stderr(&r.stderr), code)
                })
                .collect();
            assert!(
                outputs[0].0.len() > 10_000,
                "{format:?}: {} bytes",
                outputs[0].0.len()
            );
            assert!(
                outputs[0] == outputs[1],
                "{format:?} {symbols:?}: --jobs 1 and --jobs 8 differ"
            );
        }
    }
}
