//! Installed file versions from an image store, for dumps that do not carry them.
//!
//! A triage dump lists each driver's name, timestamp and SizeOfImage but holds none of its
//! pages, so the version resource a known-issue verdict needs is not in the dump. Symbol
//! stores index binaries by `<name>/<TIMESTAMP as %08X><SizeOfImage as %x>/<name>`; the
//! binary found there is checked against the timestamp and size (a store can hold a
//! different build under a flat folder) and its VS_FIXEDFILEINFO gives the version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::note::StoreNote;
use crate::store::{StoreClient, SymbolPath};
use kernel_dump::pe_file::PeFile;

/// A version read from a stored binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// `a.b.c.d` from VS_FIXEDFILEINFO.
    pub version: String,
    /// Where the binary was found and under which key, for the verdict's reason.
    pub source: String,
}

/// Image stores searched for binaries, with the answers of this run remembered.
#[derive(Debug)]
pub struct ImageStore {
    client: StoreClient,
    /// One slot per key: threads analyzing dumps with the same driver build wait for the
    /// first lookup instead of asking the store again.
    answers: Mutex<HashMap<ImageKey, Arc<OnceLock<Answer>>>>,
    /// Image files fetched for their unwind data and code, one slot per (name, timestamp,
    /// size), kept for the run: a batch reads each driver build once.
    files: Mutex<HashMap<ImageKey, Arc<OnceLock<Option<ImageFile>>>>>,
}

/// File name and loaded name, timestamp, SizeOfImage.
type ImageKey = (String, u32, u64);

/// An image file's bytes, shared by the threads that unwind through it.
pub type ImageFile = Arc<Vec<u8>>;

/// A lookup's outcome: the version (if found) and the notes of the search.
type Answer = (Option<StoredVersion>, Vec<StoreNote>);

/// The store key's id part: timestamp `%08X` then SizeOfImage `%x`.
pub fn image_id(timestamp: u32, size: u64) -> String {
    format!("{timestamp:08X}{size:x}")
}

/// Names a binary may be stored under: the rule's file name first, then the loaded name,
/// then the loaded name without the dump-stack prefix (`dump_diskdump.sys` is a copy of
/// `diskdump.sys` the kernel loads for writing dumps; `hiber_` likewise for hibernation).
fn candidate_names(file: &str, loaded: &str) -> Vec<String> {
    let mut names: Vec<String> = vec![file.to_owned(), loaded.to_owned()];
    let lower = loaded.to_ascii_lowercase();
    for prefix in ["dump_", "hiber_"] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            names.push(rest.to_owned());
        }
    }
    let mut seen: Vec<String> = Vec::new();
    names.retain(|n| {
        let key = n.to_ascii_lowercase();
        let fresh = !n.is_empty() && !seen.contains(&key);
        seen.push(key);
        fresh
    });
    names
}

/// The PE facts of `bytes` when they are the build with this timestamp and SizeOfImage; why not
/// otherwise (what a store's wrong answer is reported as).
fn same_build(bytes: &[u8], timestamp: u32, size: u64) -> Result<kernel_dump::pe::PeInfo, String> {
    let info = PeFile::parse(bytes)
        .and_then(|pe| pe.info())
        .map_err(|e| format!("not a readable PE image: {e}"))?;
    if info.timestamp != timestamp || u64::from(info.size_of_image) != size {
        return Err(format!(
            "timestamp {:08X} and SizeOfImage {:x}, wanted {timestamp:08X} and {size:x}",
            info.timestamp, info.size_of_image
        ));
    }
    Ok(info)
}

impl ImageStore {
    /// Image stores from `--image-store` values: each a folder, a URL, or a symbol-path
    /// element such as `srv*CACHE*URL`.
    pub fn new(path: SymbolPath) -> ImageStore {
        ImageStore {
            client: StoreClient::new(path),
            answers: Mutex::new(HashMap::new()),
            files: Mutex::new(HashMap::new()),
        }
    }

    /// The places searched.
    pub fn path(&self) -> &SymbolPath {
        self.client.path()
    }

    /// The version of the binary `file` (loaded as `loaded`) with this timestamp and size,
    /// and the notes of the search (each store that failed or held a different build).
    pub fn version_of(
        &self,
        file: &str,
        loaded: &str,
        timestamp: u32,
        size: u64,
    ) -> (Option<StoredVersion>, Vec<StoreNote>) {
        // Keyed by exactly what the search uses (both names, as given): the answer and its
        // notes cannot depend on which dump asked first.
        let key = (format!("{file}\n{loaded}"), timestamp, size);
        let slot = match self.answers.lock() {
            Ok(mut a) => Arc::clone(a.entry(key).or_default()),
            Err(_) => Arc::new(OnceLock::new()),
        };
        slot.get_or_init(|| self.search(file, loaded, timestamp, size))
            .clone()
    }

    /// The image file of the module loaded as `loaded` with this timestamp and SizeOfImage,
    /// when a store holds it: what a small dump lacks to unwind through the module (its
    /// headers, exception directory, unwind data). `None` when no store has that build.
    pub fn image_file(&self, loaded: &str, timestamp: u32, size: u64) -> Option<ImageFile> {
        let key = (loaded.to_owned(), timestamp, size);
        let slot = match self.files.lock() {
            Ok(mut f) => Arc::clone(f.entry(key).or_default()),
            Err(_) => Arc::new(OnceLock::new()),
        };
        slot.get_or_init(|| {
            let id = image_id(timestamp, size);
            let accept = |bytes: &[u8]| same_build(bytes, timestamp, size).map(|_| ());
            candidate_names(loaded, loaded)
                .into_iter()
                .find_map(|name| {
                    self.client
                        .fetch(&name, &id, &accept)
                        .found
                        .map(|found| Arc::new(found.bytes))
                })
        })
        .clone()
    }

    fn search(&self, file: &str, loaded: &str, timestamp: u32, size: u64) -> Answer {
        let id = image_id(timestamp, size);
        let accept = |bytes: &[u8]| -> Result<(), String> {
            let info = same_build(bytes, timestamp, size)?;
            if info.file_version.is_none() {
                return Err("the image has no readable version resource".into());
            }
            Ok(())
        };
        let mut notes = Vec::new();
        let mut answer = None;
        for name in candidate_names(file, loaded) {
            let lookup = self.client.fetch(&name, &id, &accept);
            notes.extend(lookup.notes);
            if let Some(found) = lookup.found {
                let version = PeFile::parse(&found.bytes)
                    .and_then(|pe| pe.info())
                    .ok()
                    .and_then(|i| i.file_version);
                answer = version.map(|version| StoredVersion {
                    version,
                    source: format!("image store {}, key {name}/{id}/{name}", found.source),
                });
                break;
            }
        }
        if answer.is_none() {
            notes.push(StoreNote::ImageNotFound {
                loaded: loaded.to_owned(),
                stores: self.client.path().to_string(),
                key: format!("{file}/{id}/{file}"),
            });
        }
        (answer, notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names() {
        assert_eq!(image_id(0x4A5B_C26E, 0x1E000), "4A5BC26E1e000");
        assert_eq!(image_id(0x1, 0x6980), "000000016980");
        assert_eq!(
            candidate_names("diskdump.sys", "dump_diskdump.sys"),
            ["diskdump.sys", "dump_diskdump.sys"]
        );
        assert_eq!(
            candidate_names("diskdump.sys", "hiber_DiskDump.sys"),
            ["diskdump.sys", "hiber_DiskDump.sys"]
        );
        assert_eq!(
            candidate_names("x.sys", "dump_y.sys"),
            ["x.sys", "dump_y.sys", "y.sys"]
        );
    }
}
