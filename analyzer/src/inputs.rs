//! Turning command-line inputs (files and directories) into the list of files to analyze.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::format::DumpFormat;

/// File extensions taken from a directory even when their content is not recognized (so a
/// damaged `.dmp` is reported rather than silently skipped).
const DUMP_EXTENSIONS: [&str; 5] = ["dmp", "mdmp", "hdmp", "cab", "dump"];

/// One discovered input, or a directory that could not be read.
#[derive(Debug)]
pub enum Input {
    /// A file to analyze.
    File(PathBuf),
    /// A directory entry that could not be listed, with the reason.
    Unreadable(PathBuf, String),
}

/// Expands the inputs: a file is taken as given; a directory is walked recursively in sorted
/// order (deterministic output), taking files with a dump extension or a recognized
/// signature. Symbolic links to directories are not followed (no cycles).
pub fn discover(inputs: &[PathBuf]) -> Vec<Input> {
    let mut found = Vec::new();
    for input in inputs {
        if input.is_dir() {
            walk(input, &mut found);
        } else {
            found.push(Input::File(input.clone()));
        }
    }
    found
}

fn walk(dir: &Path, found: &mut Vec<Input>) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            found.push(Input::Unreadable(dir.to_owned(), e.to_string()));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            walk(&path, found);
        } else if meta.is_file() && looks_like_dump(&path) {
            found.push(Input::File(path));
        }
    }
}

fn looks_like_dump(path: &Path) -> bool {
    let by_extension = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| DUMP_EXTENSIONS.iter().any(|d| d.eq_ignore_ascii_case(e)));
    by_extension || {
        let mut magic = [0u8; 8];
        fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok()
            && DumpFormat::sniff(&magic).is_some()
    }
}
