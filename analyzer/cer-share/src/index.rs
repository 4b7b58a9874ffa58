//! dumpsig's own files at the share root, outside the CER paths (cer-share.md "Beyond the
//! protocol"). All are UTF-8, CRLF, tab-separated and append-only, written under the share lock
//! through the journal:
//!
//! - `dumpsig-buckets.tsv`: `<BucketID> TAB <failure bucket>`, one stable positive integer per
//!   failure bucket, never renumbered;
//! - `dumpsig-blue-index.tsv`: `<failure bucket> TAB <BucketID> TAB <report file or No CAB> TAB
//!   <content id>`, one line per kernel hit, so a person can tell the crashes in `blue` apart;
//! - `dumpsig-seen\<x>.tsv` (x = first hex digit of the content id):
//!   `<content id> TAB <error subpath>`, one line per counted hit. This is what makes a second
//!   run over the same dumps change nothing, even for hits that were only counted. Sixteen
//!   shards, not more: a group of filings appends to nearly every shard, one file operation
//!   each, and a million hits still make shards of only about 10 MB to read.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Serialize;

use super::error::io_err;
use super::jail;
use super::lines::{CrlfLines, Damage};
use super::text::{LineIssue, NO_CAB};
use super::ShareError;

/// BucketID registry file at the share root.
pub const REGISTRY_FILE: &str = "dumpsig-buckets.tsv";
/// Index of kernel reports by failure bucket at the share root.
pub const BLUE_INDEX_FILE: &str = "dumpsig-blue-index.tsv";
/// Folder of the seen-hit shards at the share root.
pub const SEEN_DIR: &str = "dumpsig-seen";

/// One BucketID assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryEntry {
    /// The BucketID.
    pub bucket_id: u64,
    /// The failure bucket it stands for.
    pub failure_bucket: String,
}

/// One line of the kernel index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlueIndexEntry {
    /// The failure bucket of the kernel crash.
    pub failure_bucket: String,
    /// Its BucketID.
    pub bucket_id: u64,
    /// The report file in `cabs\blue`, or `No CAB`.
    pub report_file: String,
    /// The content id of the dump.
    pub content_id: String,
}

/// A failure bucket as stored: TAB, CR and LF become `_` so it stays one field.
pub(crate) fn clean_key(failure_bucket: &str) -> String {
    failure_bucket
        .chars()
        .map(|c| {
            if matches!(c, '\t' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// One of our files opened for reading line by line; `None` when it does not exist.
fn open_lines(root: &Path, path: &Path) -> Result<Option<BufReader<std::fs::File>>, ShareError> {
    match jail::open(root, path, jail::Mode::Read) {
        Ok(file) => Ok(Some(BufReader::with_capacity(64 * 1024, file))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Calls `each` with the well-framed lines of `reader` (the file `path`), line by line;
/// framing damage goes to `damage`.
fn for_each_line(
    reader: impl BufRead,
    path: &Path,
    damage: &mut Damage,
    mut each: impl FnMut(usize, &str, &mut Damage),
) -> Result<(), ShareError> {
    for line in CrlfLines::utf8(reader) {
        let line = line.map_err(io_err(path))?;
        match line.framing {
            Some(reason) => damage.push(line.number, &line.text, reason),
            None => each(line.number, &line.text, damage),
        }
    }
    Ok(())
}

/// Reads the registry; damaged lines are reported and skipped.
pub fn read_registry(root: &Path) -> Result<(Vec<RegistryEntry>, Vec<LineIssue>), ShareError> {
    let path = root.join(REGISTRY_FILE);
    match open_lines(root, &path)? {
        Some(reader) => registry_from(reader, &path),
        None => Ok((Vec::new(), Vec::new())),
    }
}

/// The registry in `bytes`, as [`read_registry`] reads it from the share.
pub fn parse_registry(bytes: &[u8]) -> (Vec<RegistryEntry>, Vec<LineIssue>) {
    registry_from(bytes, Path::new(REGISTRY_FILE)).unwrap_or_default()
}

fn registry_from(
    reader: impl BufRead,
    path: &Path,
) -> Result<(Vec<RegistryEntry>, Vec<LineIssue>), ShareError> {
    let mut entries = Vec::new();
    let mut damage = Damage::default();
    for_each_line(reader, path, &mut damage, |number, line, damage| {
        let parsed = line.split_once('\t').and_then(|(id, bucket)| {
            let id = id.parse::<u64>().ok().filter(|&n| n > 0)?;
            (!bucket.is_empty() && !bucket.contains('\t')).then_some((id, bucket))
        });
        match parsed {
            Some((bucket_id, bucket)) => entries.push(RegistryEntry {
                bucket_id,
                failure_bucket: bucket.to_owned(),
            }),
            None => damage.push(number, line, "not `<BucketID> TAB <failure bucket>`"),
        }
    })?;
    Ok((entries, damage.into_issues()))
}

/// Reads the kernel index; damaged lines are reported and skipped.
pub fn read_blue_index(root: &Path) -> Result<(Vec<BlueIndexEntry>, Vec<LineIssue>), ShareError> {
    let path = root.join(BLUE_INDEX_FILE);
    match open_lines(root, &path)? {
        Some(reader) => blue_index_from(reader, &path),
        None => Ok((Vec::new(), Vec::new())),
    }
}

/// The kernel index in `bytes`, as [`read_blue_index`] reads it from the share.
pub fn parse_blue_index(bytes: &[u8]) -> (Vec<BlueIndexEntry>, Vec<LineIssue>) {
    blue_index_from(bytes, Path::new(BLUE_INDEX_FILE)).unwrap_or_default()
}

fn blue_index_from(
    reader: impl BufRead,
    path: &Path,
) -> Result<(Vec<BlueIndexEntry>, Vec<LineIssue>), ShareError> {
    let mut entries = Vec::new();
    let mut damage = Damage::default();
    for_each_line(reader, path, &mut damage, |number, line, damage| {
        let fields: Vec<&str> = line.split('\t').collect();
        let parsed = match fields.as_slice() {
            [bucket, id, report, content] if !bucket.is_empty() => {
                id.parse::<u64>().ok().map(|bucket_id| BlueIndexEntry {
                    failure_bucket: (*bucket).to_owned(),
                    bucket_id,
                    report_file: (*report).to_owned(),
                    content_id: (*content).to_owned(),
                })
            }
            _ => None,
        };
        match parsed {
            Some(entry) => entries.push(entry),
            None => damage.push(
                number,
                line,
                "not `<failure bucket> TAB <BucketID> TAB <report file> TAB <content id>`",
            ),
        }
    })?;
    Ok((entries, damage.into_issues()))
}

/// The index line of one kernel hit.
pub(crate) fn blue_index_line(
    failure_bucket: &str,
    bucket_id: u64,
    report_file: Option<&str>,
    content_id: &str,
) -> String {
    format!(
        "{}\t{bucket_id}\t{}\t{content_id}\r\n",
        clean_key(failure_bucket),
        report_file.unwrap_or(NO_CAB)
    )
}

/// The seen shard of a content id, relative to the root.
pub(crate) fn seen_rel(content_id: &str) -> Vec<String> {
    let shard = content_id.get(..1).unwrap_or("0");
    vec![SEEN_DIR.to_owned(), format!("{shard}.tsv")]
}

/// A seen-index line without its CRLF.
pub(crate) fn seen_entry(content_id: &str, subpath: &str) -> String {
    format!("{content_id}\t{subpath}")
}
