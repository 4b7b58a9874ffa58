//! Turning command-line inputs (files and directories) into the files to analyze, lazily.
//!
//! A directory is listed one level at a time as the walk reaches it, so the first dumps of a
//! share with a million files are analyzed while the rest is still unlisted, and memory holds
//! one listing per open directory level, not the whole tree.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::format::DumpFormat;
use crate::shard::Shard;

/// File extensions taken from a directory even when their content is not recognized (so a
/// damaged `.dmp` is reported rather than silently skipped).
const DUMP_EXTENSIONS: [&str; 5] = ["dmp", "mdmp", "hdmp", "cab", "dump"];

/// One discovered input, or a directory that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file to analyze.
    File(PathBuf),
    /// A directory entry that could not be listed, with the reason.
    Unreadable(PathBuf, String),
}

impl Input {
    /// The path, whichever kind.
    pub fn path(&self) -> &Path {
        match self {
            Input::File(p) | Input::Unreadable(p, _) => p,
        }
    }
}

/// Expands the inputs eagerly (see [`Discovery`] for the lazy form).
pub fn discover(inputs: &[PathBuf]) -> Vec<Input> {
    Discovery::new(inputs, None).collect()
}

/// The lazy walk: a file argument is taken as given; a directory is walked recursively in
/// sorted order (deterministic output), taking files with a dump extension or a recognized
/// signature. Symbolic links to directories are not followed (no cycles). With a shard, only
/// the inputs whose path below their argument hashes into it are produced.
#[derive(Debug)]
pub struct Discovery {
    /// Arguments not yet started, in reverse (popped from the end).
    arguments: Vec<PathBuf>,
    /// The argument being walked and its open directory listings, innermost last; each
    /// listing in reverse order.
    root: PathBuf,
    stack: Vec<Vec<PathBuf>>,
    shard: Option<Shard>,
}

impl Discovery {
    /// A walk over `inputs`, optionally limited to one shard.
    pub fn new(inputs: &[PathBuf], shard: Option<Shard>) -> Discovery {
        Discovery {
            arguments: inputs.iter().rev().cloned().collect(),
            root: PathBuf::new(),
            stack: Vec::new(),
            shard,
        }
    }

    fn owned(&self, path: &Path, root: &Path) -> bool {
        let Some(shard) = self.shard else {
            return true;
        };
        let relative = match path.strip_prefix(root) {
            Ok(r) if !r.as_os_str().is_empty() => r,
            // A file argument: its own name.
            _ => path.file_name().map_or(path, Path::new),
        };
        shard.owns(&relative.to_string_lossy())
    }

    /// Lists `dir` and pushes its sorted entries; an unreadable directory is an input.
    fn open(&mut self, dir: &Path) -> Option<Input> {
        match fs::read_dir(dir) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> =
                    entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                paths.sort();
                paths.reverse();
                self.stack.push(paths);
                None
            }
            Err(e) => Some(Input::Unreadable(dir.to_owned(), e.to_string())),
        }
    }
}

impl Iterator for Discovery {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        loop {
            if let Some(level) = self.stack.last_mut() {
                let Some(path) = level.pop() else {
                    self.stack.pop();
                    continue;
                };
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.is_dir() {
                    if let Some(bad) = self.open(&path) {
                        if self.owned(bad.path(), &self.root.clone()) {
                            return Some(bad);
                        }
                    }
                } else if meta.is_file()
                    && self.owned(&path, &self.root.clone())
                    && looks_like_dump(&path)
                {
                    return Some(Input::File(path));
                }
                continue;
            }
            let argument = self.arguments.pop()?;
            if argument.is_dir() {
                self.root = argument.clone();
                if let Some(bad) = self.open(&argument) {
                    return Some(bad);
                }
            } else if self.owned(&argument, &argument) {
                return Some(Input::File(argument));
            }
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
