//! The seen index looked up on disk, so a writer's memory does not grow with the share.
//!
//! Each seen shard `dumpsig-seen/<x>.tsv` stays the append-only log every version of dumpsig
//! reads and writes (one `<content id> TAB <subpath>` line per counted hit). Beside it,
//! `<x>.tsv.sorted` is a sorted table of the SHA-256 digests of the log's lines up to a line
//! boundary the table records (`indexed_len`): a fixed 32-byte record per line, never loaded.
//! A lookup binary-searches the first record of every block of [`BLOCK`] records (read once,
//! 1/256 of the table), then reads the one block that can hold the digest: one positioned read
//! per lookup, on a file opened once per shard. Only the log's lines past `indexed_len`
//! (the tail) are held in memory; when the tail grows past [`COMPACT_AT`] lines, the table is
//! rebuilt by merging it with the tail (temp file, flushed, renamed over), and the tail
//! empties.
//!
//! The table is a cache of the log: a missing, damaged or foreign table (wrong magic, a size
//! that does not match its count, an `indexed_len` past the log's end) is ignored and rebuilt
//! from the log, and a writer that does not know tables (an older dumpsig) keeps working from
//! the log alone. Tables are only rebuilt under the share lock.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::io_err;
use super::jail;
use super::journal::{file_len, temp_path};
use super::ShareError;

/// Suffix of a shard's sorted table.
pub const SORTED_SUFFIX: &str = ".sorted";
/// First bytes of a table.
const MAGIC: &[u8; 16] = b"dumpsig-seen-v1\n";
/// Magic, `indexed_len` (u64 LE), record count (u64 LE).
const HEADER_LEN: u64 = 32;
/// A record: the SHA-256 of a log line (without its line end).
const RECORD_LEN: u64 = 32;
/// Tail lines held in memory before the table is rebuilt: a few hundred KiB per shard.
pub const COMPACT_AT: usize = 4096;
/// Records per block: one lookup reads one block (8 KiB).
const BLOCK: u64 = 256;
/// Most blocks whose first records are held (32 bytes each: 8 MiB at most, for a table of 64
/// million records). A larger table (a share of that size, or a sparse file planted in it) is
/// searched record by record with positioned reads instead, in bounded memory.
const MAX_FENCES: u64 = 1 << 18;

type Record = [u8; 32];

fn digest(line: &str) -> Record {
    Sha256::digest(line.as_bytes()).into()
}

/// The table's header, when the table is usable for a log of `log_len` bytes.
struct Table {
    indexed_len: u64,
    count: u64,
}

/// What a writer knows of one shard: the log length it expects, the table's coverage, and the
/// lines past it.
pub(crate) struct SeenShard {
    /// Length the log has (or will have after our own appends).
    pub(crate) log_len: u64,
    indexed_len: u64,
    count: u64,
    tail: HashSet<String>,
    table: PathBuf,
    /// The table opened, with the first record of each block, once a lookup needed them.
    fences: Option<(std::fs::File, Vec<Record>)>,
}

impl SeenShard {
    /// Opens the shard at `log` (relative path parts joined under `root`): reads the table's
    /// header and the log's tail, rebuilding the table first when the tail is long.
    pub(crate) fn open(root: &Path, log: PathBuf, flush: bool) -> Result<SeenShard, ShareError> {
        let mut table = log.clone().into_os_string();
        table.push(SORTED_SUFFIX);
        let table = PathBuf::from(table);
        let log_len = file_len(root, &log)?;
        let header = read_header(root, &table, log_len);
        let (indexed_len, count) = header.map_or((0, 0), |t| (t.indexed_len, t.count));
        let tail = read_lines_from(root, &log, indexed_len)?;
        let mut shard = SeenShard {
            log_len,
            indexed_len,
            count,
            tail,
            table,
            fences: None,
        };
        if shard.tail.len() > COMPACT_AT {
            shard.compact(root, flush)?;
        }
        Ok(shard)
    }

    /// Whether the shard holds `line`.
    pub(crate) fn contains(&mut self, root: &Path, line: &str) -> Result<bool, ShareError> {
        if self.tail.contains(line) {
            return Ok(true);
        }
        if self.count == 0 {
            return Ok(false);
        }
        let want = digest(line);
        if self.count.div_ceil(BLOCK) > MAX_FENCES {
            return self.search_records(root, &want);
        }
        if self.fences.is_none() {
            self.fences = Some(self.read_fences(root)?);
        }
        let Some((file, fences)) = &self.fences else {
            return Ok(false);
        };
        // The block whose first record is the last one not above `want`.
        let Some(block) = fences.partition_point(|f| *f <= want).checked_sub(1) else {
            return Ok(false);
        };
        let first = block as u64 * BLOCK;
        let records = BLOCK.min(self.count - first);
        // One block on the stack: a lookup allocates nothing.
        let mut block = [[0u8; RECORD_LEN as usize]; BLOCK as usize];
        let block = block.get_mut(..records as usize).unwrap_or_default();
        read_at(
            file,
            block.as_flattened_mut(),
            HEADER_LEN + first * RECORD_LEN,
        )
        .map_err(io_err(&self.table))?;
        Ok(block.binary_search(&want).is_ok())
    }

    /// Binary search over the records themselves, one positioned read a step.
    fn search_records(&self, root: &Path, want: &Record) -> Result<bool, ShareError> {
        let file = jail::open(root, &self.table, jail::Mode::Read).map_err(io_err(&self.table))?;
        let (mut lo, mut hi) = (0u64, self.count);
        let mut record = [0u8; RECORD_LEN as usize];
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            read_at(&file, &mut record, HEADER_LEN + mid * RECORD_LEN)
                .map_err(io_err(&self.table))?;
            match record.cmp(want) {
                std::cmp::Ordering::Equal => return Ok(true),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(false)
    }

    /// Opens the table and reads the first record of each block.
    fn read_fences(&self, root: &Path) -> Result<(std::fs::File, Vec<Record>), ShareError> {
        let file = jail::open(root, &self.table, jail::Mode::Read).map_err(io_err(&self.table))?;
        let blocks = self.count.div_ceil(BLOCK);
        let mut fences = Vec::with_capacity(usize::try_from(blocks).unwrap_or(0));
        for b in 0..blocks {
            let mut record = [0u8; RECORD_LEN as usize];
            read_at(&file, &mut record, HEADER_LEN + b * BLOCK * RECORD_LEN)
                .map_err(io_err(&self.table))?;
            fences.push(record);
        }
        Ok((file, fences))
    }

    /// Records a line our own group appended.
    pub(crate) fn insert(&mut self, line: String) {
        self.tail.insert(line);
    }

    /// Lines held in memory (the tail).
    #[cfg(test)]
    pub(crate) fn tail_len(&self) -> usize {
        self.tail.len()
    }

    /// Rebuilds the table over the whole log as it is now: the old table's records and the
    /// tail's digests, merged, deduplicated, written to a temp file and renamed over.
    fn compact(&mut self, root: &Path, flush: bool) -> Result<(), ShareError> {
        let mut fresh: Vec<Record> = self.tail.iter().map(|l| digest(l)).collect();
        fresh.sort_unstable();
        fresh.dedup();
        let temp = temp_path(&self.table);
        let mut out = std::io::BufWriter::new(super::journal::create_with_parent(root, &temp)?);
        out.write_all(&[0u8; HEADER_LEN as usize])
            .map_err(io_err(&temp))?;
        let mut old = if self.count > 0 {
            let mut f =
                jail::open(root, &self.table, jail::Mode::Read).map_err(io_err(&self.table))?;
            f.seek(SeekFrom::Start(HEADER_LEN))
                .map_err(io_err(&self.table))?;
            Some(BufReader::new(f))
        } else {
            None
        };
        let next_old = |old: &mut Option<BufReader<std::fs::File>>, left: &mut u64| {
            let reader = old.as_mut()?;
            if *left == 0 {
                return None;
            }
            let mut r = [0u8; RECORD_LEN as usize];
            reader.read_exact(&mut r).ok()?;
            *left -= 1;
            Some(r)
        };
        let mut left = self.count;
        let mut a = next_old(&mut old, &mut left);
        let mut fresh_iter = fresh.into_iter().peekable();
        let mut last: Option<Record> = None;
        let mut count = 0u64;
        loop {
            let take = match (a, fresh_iter.peek()) {
                (Some(x), Some(y)) if x <= *y => {
                    a = next_old(&mut old, &mut left);
                    x
                }
                (Some(x), None) => {
                    a = next_old(&mut old, &mut left);
                    x
                }
                (_, Some(_)) => match fresh_iter.next() {
                    Some(y) => y,
                    None => break,
                },
                (None, None) => break,
            };
            if last != Some(take) {
                out.write_all(&take).map_err(io_err(&temp))?;
                count += 1;
                last = Some(take);
            }
        }
        let mut file = out
            .into_inner()
            .map_err(|e| io_err(&temp)(e.into_error()))?;
        let mut header = [0u8; HEADER_LEN as usize];
        header[..16].copy_from_slice(MAGIC);
        header[16..24].copy_from_slice(&self.log_len.to_le_bytes());
        header[24..32].copy_from_slice(&count.to_le_bytes());
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header))
            .map_err(io_err(&temp))?;
        if flush {
            file.sync_data().map_err(io_err(&temp))?;
        }
        drop(file);
        jail::rename(root, &temp, &self.table).map_err(io_err(&self.table))?;
        self.indexed_len = self.log_len;
        self.count = count;
        self.fences = None;
        // A fresh set: clear() would keep the capacity of every line read.
        self.tail = HashSet::new();
        Ok(())
    }

    /// The log length and the record count the table covers.
    #[cfg(test)]
    pub(crate) fn indexed(&self) -> (u64, u64) {
        (self.indexed_len, self.count)
    }
}

/// Fills `buf` from `offset` of `file` (positioned reads: no seek, the file shared by lookups).
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        let mut f = file;
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(buf)
    }
}

/// The table's header when the table is usable with a log of `log_len` bytes; `None` for a
/// missing, damaged or foreign table (it is then rebuilt from the log).
fn read_header(root: &Path, table: &Path, log_len: u64) -> Option<Table> {
    let mut file = jail::open(root, table, jail::Mode::Read).ok()?;
    let len = file.metadata().ok()?.len();
    let mut header = [0u8; HEADER_LEN as usize];
    file.read_exact(&mut header).ok()?;
    if header.get(..16)? != MAGIC {
        return None;
    }
    let indexed_len = u64::from_le_bytes(header.get(16..24)?.try_into().ok()?);
    let count = u64::from_le_bytes(header.get(24..32)?.try_into().ok()?);
    let size_fits = count
        .checked_mul(RECORD_LEN)
        .and_then(|b| b.checked_add(HEADER_LEN))
        == Some(len);
    (size_fits && indexed_len <= log_len).then_some(Table { indexed_len, count })
}

/// The non-empty lines of the log from byte `from` on, without line ends. `from` is a line
/// boundary the table recorded; a table whose boundary falls inside a line (a log rewritten by
/// someone else) would only cost a partial first line, which matches nothing real.
fn read_lines_from(root: &Path, log: &Path, from: u64) -> Result<HashSet<String>, ShareError> {
    let mut file = match jail::open(root, log, jail::Mode::Read) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(io_err(log)(e)),
    };
    file.seek(SeekFrom::Start(from)).map_err(io_err(log))?;
    let mut lines = HashSet::new();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.map_err(io_err(log))?;
        let line = String::from_utf8_lossy(&line);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if !line.is_empty() {
            lines.insert(line.to_owned());
        }
    }
    Ok(lines)
}

#[cfg(test)]
#[path = "tests_seen.rs"]
mod tests;
