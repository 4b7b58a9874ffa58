//! Turning command-line inputs (files and directories) into the files to analyze, lazily.
//!
//! A directory is listed one level at a time as the walk reaches it, so the first dumps of a
//! share with a million files are analyzed while the rest is still unlisted, and memory holds
//! one listing per open directory level, not the whole tree.

use std::collections::HashSet;
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
    /// A path that is no input: a directory that could not be listed, a special file, a folder
    /// without dumps; with the sentence that says so.
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
/// signature (a CAB only by its `.cab` extension: a symbol store's compressed `x.pd_` or
/// `x.pdb` is no report). Symbolic links are followed, except where they lead back into an
/// argument being walked (that file or folder is reached directly: each real file is analyzed
/// once, and a link to an ancestor cannot loop); a folder reached through links is walked
/// once. Special files (FIFOs, sockets, devices) are refused without being opened, and an
/// argument that yields no dump says so. With a shard, only the inputs whose path below their
/// argument hashes into it are produced.
#[derive(Debug)]
pub struct Discovery {
    /// Arguments not yet started, in reverse (popped from the end).
    arguments: Vec<PathBuf>,
    /// The canonical forms of every directory argument: links into them are not followed.
    roots: Vec<PathBuf>,
    /// The argument being walked and its open directory listings, innermost last; each
    /// listing in reverse order.
    root: PathBuf,
    stack: Vec<Vec<(PathBuf, Option<fs::FileType>)>>,
    shard: Option<Shard>,
    /// Canonical targets already reached through links (folders and files).
    linked: HashSet<PathBuf>,
    /// Whether the current argument produced anything.
    produced: bool,
}

/// What a path is, for the walk.
enum Kind {
    Dir,
    File,
    Special(&'static str),
    Missing,
}

fn kind_of(meta: &fs::Metadata) -> Kind {
    let t = meta.file_type();
    if t.is_dir() {
        return Kind::Dir;
    }
    if t.is_file() {
        return Kind::File;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Kind::Special("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Kind::Special("a socket");
        }
        if t.is_block_device() || t.is_char_device() {
            return Kind::Special("a device");
        }
    }
    Kind::Special("not a regular file")
}

/// The error of a special file: refused without opening it (opening a FIFO blocks).
fn refuse_special(path: &Path, what: &str) -> Input {
    Input::Unreadable(
        path.to_owned(),
        format!("{what}, not a crash dump file: not opened"),
    )
}

impl Discovery {
    /// A walk over `inputs`, optionally limited to one shard.
    pub fn new(inputs: &[PathBuf], shard: Option<Shard>) -> Discovery {
        Discovery {
            arguments: inputs.iter().rev().cloned().collect(),
            roots: inputs
                .iter()
                .filter(|p| p.is_dir())
                .filter_map(|p| fs::canonicalize(p).ok())
                .collect(),
            root: PathBuf::new(),
            stack: Vec::new(),
            shard,
            linked: HashSet::new(),
            produced: false,
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
                // The listing's own file types (d_type on Linux) spare a stat per plain file
                // or folder: in a batch of small dumps those stats were a fifth of the time.
                let mut paths: Vec<(PathBuf, Option<fs::FileType>)> = entries
                    .filter_map(|e| e.ok().map(|e| (e.path(), e.file_type().ok())))
                    .collect();
                // One folder's entries share the folder's path and differ in names without
                // separators: comparing the paths' bytes gives the order comparing their
                // components does, without parsing components on every comparison.
                paths.sort_by(|a, b| b.0.as_os_str().cmp(a.0.as_os_str()));
                self.stack.push(paths);
                None
            }
            Err(e) => Some(Input::Unreadable(
                dir.to_owned(),
                format!("cannot list directory: {e}"),
            )),
        }
    }

    /// For an entry that is a link: whether to follow it (its target lies outside every
    /// argument being walked, and was not reached through another link).
    fn follow_link(&mut self, path: &Path) -> bool {
        let Ok(target) = fs::canonicalize(path) else {
            return false; // dangling: nothing to analyze
        };
        if self.roots.iter().any(|r| target.starts_with(r)) {
            return false;
        }
        self.linked.insert(target)
    }

    /// The input for one entry of a listing, if it is one.
    fn entry(&mut self, path: PathBuf, listed: Option<fs::FileType>) -> Option<Input> {
        let kind = match listed {
            Some(t) if t.is_file() => Kind::File,
            Some(t) if t.is_dir() => Kind::Dir,
            _ => {
                let link = fs::symlink_metadata(&path).ok()?;
                if link.file_type().is_symlink() && !self.follow_link(&path) {
                    return None;
                }
                kind_of(&fs::metadata(&path).ok()?)
            }
        };
        let root = self.root.clone();
        match kind {
            Kind::Dir => self.open(&path).filter(|bad| self.owned(bad.path(), &root)),
            Kind::File => {
                (self.owned(&path, &root) && looks_like_dump(&path)).then_some(Input::File(path))
            }
            Kind::Special(what) => (self.owned(&path, &root)
                && path.extension().is_some_and(|e| {
                    DUMP_EXTENSIONS
                        .iter()
                        .any(|d| e.to_str().is_some_and(|e| d.eq_ignore_ascii_case(e)))
                }))
            .then(|| refuse_special(&path, what)),
            Kind::Missing => None,
        }
    }
}

impl Iterator for Discovery {
    type Item = Input;

    fn next(&mut self) -> Option<Input> {
        loop {
            if let Some(level) = self.stack.last_mut() {
                let Some((path, listed)) = level.pop() else {
                    self.stack.pop();
                    if self.stack.is_empty() && !self.produced && self.shard.is_none() {
                        // The whole argument was walked and held no dump: say so.
                        self.produced = true;
                        return Some(Input::Unreadable(
                            self.root.clone(),
                            "no crash dump or report CAB found in this folder".to_owned(),
                        ));
                    }
                    continue;
                };
                if let Some(input) = self.entry(path, listed) {
                    self.produced = true;
                    return Some(input);
                }
                continue;
            }
            let argument = self.arguments.pop()?;
            self.produced = false;
            let kind = fs::metadata(&argument).map_or(Kind::Missing, |m| kind_of(&m));
            match kind {
                Kind::Dir => {
                    self.root = argument.clone();
                    if let Some(bad) = self.open(&argument) {
                        self.produced = true;
                        return Some(bad);
                    }
                }
                Kind::Special(what) => return Some(refuse_special(&argument, what)),
                Kind::File | Kind::Missing => {
                    if self.owned(&argument, &argument) {
                        return Some(Input::File(argument));
                    }
                }
            }
        }
    }
}

fn looks_like_dump(path: &Path) -> bool {
    let extension = path.extension().and_then(|e| e.to_str());
    let by_extension =
        extension.is_some_and(|e| DUMP_EXTENSIONS.iter().any(|d| d.eq_ignore_ascii_case(e)));
    by_extension || {
        let mut magic = [0u8; 8];
        fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut magic))
            .is_ok()
            // A CAB found in a folder is a report only by its `.cab` name: symbol stores keep
            // compressed symbol files (`crash.pdb`, `x.pd_`) as CABs too.
            && DumpFormat::sniff(&magic).is_some_and(|f| f != DumpFormat::Cab)
    }
}
