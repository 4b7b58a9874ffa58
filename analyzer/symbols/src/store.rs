//! Symbol stores and image stores: fetching a file by `<name>/<id>/<name>` from local folders
//! and HTTP symbol servers, with local caches shared safely between processes.
//!
//! The same layout serves PDBs (id = GUID + age) and binaries (id = TimeDateStamp as `%08X`
//! followed by SizeOfImage as `%x`). A server may also hold the file CAB-compressed under its
//! name with the last character replaced by `_` (`crash.pd_`), which is unpacked here.
//!
//! Caching: a served file is written to every cache of its element through a temporary file
//! and a rename, so a concurrent reader sees the whole file or none. A miss is remembered in
//! memory for the process and as a marker file in the first cache for [`NEGATIVE_TTL`], so a
//! batch of thousands of dumps asks the server once per missing file, not once per dump.

mod path;

pub use path::{StoreEntry, SymbolPath};

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use cab::{Cabinet, ExtractLimits};

use crate::note::StoreNote;

/// How long a recorded miss keeps a server from being asked again.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Largest file accepted from a store (a PDB of a big module is a few hundred MiB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Connect and whole-request timeouts for servers.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Name of the miss marker inside `<cache>/<name>/<id>/`.
const MISS_MARKER: &str = ".dumpsig-miss";

/// A file found in a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Where it came from, for reports: a path, or a URL (and the cache it was put in).
    pub source: String,
}

/// The outcome of a lookup: the file (if any store had it) and what went wrong on the way
/// (unreachable servers, rejected files), which the report shows without failing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The file, or `None` when no store has it.
    pub found: Option<Fetched>,
    /// Problems met, each naming the store.
    pub notes: Vec<StoreNote>,
}

/// Fetches files from the elements of a symbol path. One instance serves a whole batch
/// (threads share its HTTP connections and its memory of misses).
pub struct StoreClient {
    path: SymbolPath,
    agent: ureq::Agent,
    misses: Mutex<HashSet<String>>,
    max_file_bytes: u64,
}

impl std::fmt::Debug for StoreClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreClient")
            .field("path", &self.path)
            .finish()
    }
}

/// A path component from a dump is used only when it cannot leave the store: no separators,
/// no `..`, no control characters, not empty, not absurdly long.
pub fn safe_component(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 255
        && text != "."
        && text != ".."
        && !text
            .chars()
            .any(|c| c == '/' || c == '\\' || c == ':' || c.is_control())
}

/// The compressed name a symbol server may use: the last character replaced by `_`.
fn compressed_name(name: &str) -> String {
    let mut out: String = name.chars().collect();
    out.pop();
    out.push('_');
    out
}

impl StoreClient {
    /// A client for the given places.
    pub fn new(path: SymbolPath) -> StoreClient {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("dumpsig/", env!("CARGO_PKG_VERSION")))
            .build();
        StoreClient {
            path,
            agent,
            misses: Mutex::new(HashSet::new()),
            max_file_bytes: MAX_FILE_BYTES,
        }
    }

    /// The same client with a lower cap on the size of one downloaded file (tests).
    pub fn with_max_file_bytes(mut self, limit: u64) -> StoreClient {
        self.max_file_bytes = limit.min(MAX_FILE_BYTES);
        self
    }

    /// The places searched.
    pub fn path(&self) -> &SymbolPath {
        &self.path
    }

    /// Looks up `<name>/<id>/<name>` in each place in order. `accept` checks that a candidate
    /// is the wanted file (right timestamp and size, right GUID); a rejected candidate is
    /// noted and the search goes on.
    pub fn fetch(
        &self,
        name: &str,
        id: &str,
        accept: &dyn Fn(&[u8]) -> Result<(), String>,
    ) -> Lookup {
        let mut lookup = Lookup::default();
        if !safe_component(name) || !safe_component(id) {
            lookup.notes.push(StoreNote::InvalidKey {
                name: name.to_owned(),
                id: id.to_owned(),
            });
            return lookup;
        }
        for entry in self.path.entries() {
            let found = match entry {
                StoreEntry::Folder(dir) => {
                    self.search_folder(dir, name, id, accept, &mut lookup.notes)
                }
                StoreEntry::Server { caches, url } => {
                    self.search_server(caches, url, name, id, accept, &mut lookup.notes)
                }
            };
            if found.is_some() {
                lookup.found = found;
                break;
            }
        }
        lookup
    }

    fn search_folder(
        &self,
        dir: &Path,
        name: &str,
        id: &str,
        accept: &dyn Fn(&[u8]) -> Result<(), String>,
        notes: &mut Vec<StoreNote>,
    ) -> Option<Fetched> {
        let candidates = [
            (dir.join(name).join(id).join(name), false),
            (dir.join(name).join(id).join(compressed_name(name)), true),
            (dir.join(name), false),
        ];
        for (file, compressed) in candidates {
            let Some(bytes) = read_limited(&file, notes) else {
                continue;
            };
            let bytes = match maybe_unpack(bytes, name, compressed) {
                Ok(b) => b,
                Err(e) => {
                    notes.push(StoreNote::Unreadable {
                        location: file.display().to_string(),
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            match accept(&bytes) {
                Ok(()) => {
                    return Some(Fetched {
                        bytes,
                        source: file.display().to_string(),
                    })
                }
                // A flat folder holds whatever version was copied there last: not an error.
                Err(why) => notes.push(StoreNote::WrongFile {
                    location: file.display().to_string(),
                    why,
                }),
            }
        }
        None
    }

    fn search_server(
        &self,
        caches: &[PathBuf],
        url: &str,
        name: &str,
        id: &str,
        accept: &dyn Fn(&[u8]) -> Result<(), String>,
        notes: &mut Vec<StoreNote>,
    ) -> Option<Fetched> {
        for cache in caches {
            let file = cache.join(name).join(id).join(name);
            if let Some(bytes) = read_limited(&file, notes) {
                match accept(&bytes) {
                    Ok(()) => {
                        return Some(Fetched {
                            bytes,
                            source: format!("{} (cached from {url})", file.display()),
                        })
                    }
                    Err(why) => notes.push(StoreNote::CachedRejected {
                        location: file.display().to_string(),
                        why,
                    }),
                }
            }
        }
        let miss_key = format!("{url}/{name}/{id}");
        if self
            .misses
            .lock()
            .map(|m| m.contains(&miss_key))
            .unwrap_or(false)
        {
            return None;
        }
        if let Some(first) = caches.first() {
            if miss_is_fresh(&first.join(name).join(id).join(MISS_MARKER)) {
                return None;
            }
        }
        let plain = format!("{url}/{name}/{id}/{name}");
        let packed = format!("{url}/{name}/{id}/{}", compressed_name(name));
        let mut reachable = true;
        // Downloads go to disk as they arrive: into the first cache's folder for the file (so
        // the finished file is renamed into place), or the temp folder without a cache.
        let landing = caches
            .first()
            .map_or_else(std::env::temp_dir, |c| c.join(name).join(id));
        for (target, compressed) in [(plain, false), (packed, true)] {
            match self.download(&target, &landing) {
                Ok(Some(download)) => {
                    let body = match read_limited(download.path(), notes) {
                        Some(body) => body,
                        None => continue,
                    };
                    let packed = needs_unpack(&body, name, compressed);
                    let bytes = match maybe_unpack(body, name, compressed) {
                        Ok(b) => b,
                        Err(e) => {
                            notes.push(StoreNote::Unreadable {
                                location: target.clone(),
                                error: e.to_string(),
                            });
                            continue;
                        }
                    };
                    if let Err(why) = accept(&bytes) {
                        notes.push(StoreNote::ServedRejected {
                            location: target.clone(),
                            why,
                        });
                        continue;
                    }
                    let mut source = target.clone();
                    // The download itself becomes the first cache's file when it is the file
                    // (not a compressed one): no second copy is written.
                    let mut download = (!packed).then_some(download);
                    for cache in caches {
                        let file = cache.join(name).join(id).join(name);
                        let placed = match download.take() {
                            Some(download) => download.keep_as(&file),
                            None => write_atomically(&file, &bytes),
                        };
                        match placed {
                            Ok(()) => source = format!("{target} (cached in {})", file.display()),
                            Err(e) => notes.push(StoreNote::CannotCache {
                                location: file.display().to_string(),
                                error: e.to_string(),
                            }),
                        }
                    }
                    return Some(Fetched { bytes, source });
                }
                Ok(None) => {}
                Err(e) => {
                    notes.push(StoreNote::Unreadable {
                        location: target.clone(),
                        error: e.to_string(),
                    });
                    reachable = false;
                    break;
                }
            }
        }
        // An unreachable server is not a miss: it may answer next time.
        if reachable {
            if let Ok(mut m) = self.misses.lock() {
                m.insert(miss_key);
            }
            if let Some(first) = caches.first() {
                let marker = first.join(name).join(id).join(MISS_MARKER);
                if let Err(e) = write_atomically(&marker, b"not on the server\n") {
                    notes.push(StoreNote::CannotRecordMiss {
                        location: marker.display().to_string(),
                        error: e.to_string(),
                    });
                }
            }
        }
        None
    }

    /// GET a URL into a temporary file in `dir`: `Ok(None)` on 404/410, the file on 200, an
    /// error otherwise. The body goes to disk as it arrives, never past the size cap (a
    /// declared length over it is refused before reading; a body that runs past it is cut
    /// off and removed).
    fn download(&self, url: &str, dir: &Path) -> Result<Option<Download>, String> {
        let limit = self.max_file_bytes;
        match self.agent.get(url).call() {
            Ok(resp) => {
                let declared: Option<u64> =
                    resp.header("Content-Length").and_then(|v| v.parse().ok());
                if let Some(n) = declared.filter(|n| *n > limit) {
                    return Err(format!("the server offers {n} bytes (limit {limit})"));
                }
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
                let download = Download::new(dir);
                let mut file = std::fs::File::create(download.path())
                    .map_err(|e| format!("cannot write {}: {e}", download.path().display()))?;
                let copied = std::io::copy(&mut resp.into_reader().take(limit + 1), &mut file)
                    .map_err(|e| format!("reading the response failed: {e}"))?;
                if copied > limit {
                    return Err(format!("the response exceeds {limit} bytes"));
                }
                Ok(Some(download))
            }
            Err(ureq::Error::Status(404 | 410, _)) => Ok(None),
            Err(ureq::Error::Status(code, _)) => Err(format!("HTTP status {code}")),
            Err(e) => Err(format!("request failed: {e}")),
        }
    }
}

/// Reads a file if it exists and is not over [`MAX_FILE_BYTES`]; other problems are noted.
fn read_limited(file: &Path, notes: &mut Vec<StoreNote>) -> Option<Vec<u8>> {
    let meta = std::fs::metadata(file).ok()?;
    if !meta.is_file() {
        return None;
    }
    if meta.len() > MAX_FILE_BYTES {
        notes.push(StoreNote::TooLarge {
            location: file.display().to_string(),
            len: meta.len(),
            limit: MAX_FILE_BYTES,
        });
        return None;
    }
    match std::fs::read(file) {
        Ok(b) => Some(b),
        Err(e) => {
            notes.push(StoreNote::Unreadable {
                location: file.display().to_string(),
                error: e.to_string(),
            });
            None
        }
    }
}

/// A download in its temporary file; removed when dropped unless kept.
struct Download {
    path: PathBuf,
    kept: bool,
}

impl Download {
    fn new(dir: &Path) -> Download {
        Download {
            path: dir.join(unique_temp_name()),
            kept: false,
        }
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the download into place as `file`.
    fn keep_as(mut self, file: &Path) -> std::io::Result<()> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::rename(&self.path, file)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A temp file name no other thread or process uses at the same time.
fn unique_temp_name() -> String {
    let unique = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        ".dumpsig-tmp-{}-{unique}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )
}

/// A miss marker younger than [`NEGATIVE_TTL`].
fn miss_is_fresh(marker: &Path) -> bool {
    std::fs::metadata(marker)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age < NEGATIVE_TTL)
}

/// Writes through a temporary file in the same folder and renames it into place, so readers
/// in other processes never see a partial file; concurrent writers of the same file write
/// the same bytes, and the last rename wins.
pub fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = file
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent folder"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(unique_temp_name());
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// The file itself, or its content when the store keeps it CAB-compressed: always under the
/// `_` name, and also under the plain name on stores that compress in place (`symstore
/// /compress` output copied as is). A wanted `.cab` is never unpacked. Every answer of a store
/// goes through this before the file is checked.
pub fn maybe_unpack(bytes: Vec<u8>, name: &str, compressed_name: bool) -> Result<Vec<u8>, String> {
    if needs_unpack(&bytes, name, compressed_name) {
        unpack(&bytes, name)
    } else {
        Ok(bytes)
    }
}

/// Whether [`maybe_unpack`] unpacks these bytes.
fn needs_unpack(bytes: &[u8], name: &str, compressed_name: bool) -> bool {
    let is_cab = bytes.starts_with(b"MSCF");
    let wants_cab = name.to_ascii_lowercase().ends_with(".cab");
    compressed_name || (is_cab && !wants_cab)
}

/// The member of a compressed store file (`crash.pd_`) named `name`, or its only member.
fn unpack(bytes: &[u8], name: &str) -> Result<Vec<u8>, String> {
    let cab =
        Cabinet::parse(bytes).map_err(|e| format!("compressed file is not a valid CAB: {e}"))?;
    let limits = ExtractLimits {
        max_total_bytes: MAX_FILE_BYTES,
        max_file_bytes: MAX_FILE_BYTES,
        verify_checksums: true,
    };
    let only_one = cab.files().len() == 1;
    let mut files = cab
        .extract_matching(&limits, |f| only_one || f.name.eq_ignore_ascii_case(name))
        .map_err(|e| format!("compressed file cannot be unpacked: {e}"))?;
    files
        .pop()
        .map(|f| f.data.into_vec())
        .ok_or_else(|| format!("compressed file holds no `{name}`"))
}

#[cfg(test)]
mod tests;
