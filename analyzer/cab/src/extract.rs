//! One decompression pass per folder, filling every wanted file of the
//! folder as its bytes come out, with sizes and limits checked before any
//! allocation.

use super::decode::{BlockId, FolderDecoder};
use super::header::{Cabinet, FileEntry};
use super::{CabError, ExtractLimits};
use crate::OwnedBytes;

/// A file taken out of a cabinet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedFile {
    /// Position in the cabinet's file list.
    pub index: usize,
    /// The file's name (see [`FileEntry::name`]).
    pub name: String,
    /// Its contents, exactly as long as the cabinet declares (a large file sits in huge
    /// pages; see [`OwnedBytes`]).
    pub data: OwnedBytes,
}

/// A file being filled during a folder pass.
struct Pending<'e> {
    entry: &'e FileEntry,
    data: OwnedBytes,
}

impl<'a> Cabinet<'a> {
    /// Extracts every file, decoding each folder once.
    pub fn extract_all(&self, limits: &ExtractLimits) -> Result<Vec<ExtractedFile>, CabError> {
        self.extract_matching(limits, |_| true)
    }

    /// Extracts the files for which `wanted` returns true, in cabinet order.
    ///
    /// Each folder holding a wanted file is decoded once, from its start up to
    /// the end of the last wanted file in it (decoding stops early once all
    /// are out); folders holding none are not decoded. Before anything is
    /// allocated, each wanted file is checked against
    /// [`ExtractLimits::max_file_bytes`], their sum and the decoding depth
    /// against [`ExtractLimits::max_total_bytes`], and the folder's data
    /// blocks must declare enough output to cover every wanted file
    /// ([`CabError::FolderTooShort`] otherwise).
    pub fn extract_matching<F>(
        &self,
        limits: &ExtractLimits,
        mut wanted: F,
    ) -> Result<Vec<ExtractedFile>, CabError>
    where
        F: FnMut(&FileEntry) -> bool,
    {
        let chosen: Vec<&FileEntry> = self.files().iter().filter(|f| wanted(f)).collect();
        let mut total = 0u64;
        for f in &chosen {
            let size = u64::from(f.size);
            if size > limits.max_file_bytes {
                return Err(CabError::FileTooLarge {
                    name: f.name.clone(),
                    size,
                    limit: limits.max_file_bytes,
                });
            }
            total += size;
        }
        if total > limits.max_total_bytes {
            return Err(CabError::TotalTooLarge {
                what: format!("the {} requested files", chosen.len()),
                size: total,
                limit: limits.max_total_bytes,
            });
        }
        let mut out: Vec<ExtractedFile> = Vec::with_capacity(chosen.len());
        for folder in 0..self.folders().len() {
            let mut in_folder: Vec<&FileEntry> = chosen
                .iter()
                .copied()
                .filter(|f| f.folder == folder)
                .collect();
            if in_folder.is_empty() {
                continue;
            }
            in_folder.sort_by_key(|f| (f.folder_offset, f.index));
            for (entry, data) in self.decode_folder(folder, &in_folder, limits)? {
                out.push(ExtractedFile {
                    index: entry.index,
                    name: entry.name.clone(),
                    data,
                });
            }
        }
        out.sort_by_key(|f| f.index);
        Ok(out)
    }

    /// Decodes `folder` once, filling `files` (sorted by folder offset).
    fn decode_folder<'e>(
        &self,
        folder: usize,
        files: &[&'e FileEntry],
        limits: &ExtractLimits,
    ) -> Result<Vec<(&'e FileEntry, OwnedBytes)>, CabError> {
        let Some(info) = self.folders().get(folder) else {
            return Ok(Vec::new());
        };
        // Empty files need no data, wherever they claim to be.
        let needed_end = files
            .iter()
            .filter(|f| f.size > 0)
            .map(|f| f.folder_end())
            .max()
            .unwrap_or(0);
        if needed_end > limits.max_total_bytes {
            return Err(CabError::TotalTooLarge {
                what: format!("decoding folder {folder} up to the end of its last requested file"),
                size: needed_end,
                limit: limits.max_total_bytes,
            });
        }
        if needed_end == 0 {
            return Ok(files
                .iter()
                .map(|f| (*f, OwnedBytes::from(Vec::new())))
                .collect());
        }
        let blocks = self.data_blocks(folder)?;
        let available: u64 = blocks.iter().map(|b| b.uncompressed as u64).sum();
        if let Some(short) = files
            .iter()
            .find(|f| f.size > 0 && f.folder_end() > available)
        {
            return Err(CabError::FolderTooShort {
                name: short.name.clone(),
                folder,
                needed: short.folder_end(),
                available,
                blocks: blocks.len(),
            });
        }
        let mut done: Vec<(&'e FileEntry, OwnedBytes)> = Vec::with_capacity(files.len());
        let mut waiting = files.iter().copied().peekable();
        let mut decoder = FolderDecoder::new(
            info.compression,
            info.compression_raw,
            folder,
            info.entry_offset,
        )?;
        let mut active: Vec<Pending<'e>> = Vec::new();
        let mut pos = 0u64;
        for (index, block) in blocks.iter().enumerate() {
            if pos >= needed_end {
                break;
            }
            let id = BlockId {
                folder,
                block: index,
                offset: block.offset,
            };
            if limits.verify_checksums && !block.checksum_matches() {
                return Err(CabError::Checksum {
                    folder,
                    block: index,
                    offset: block.offset as u64,
                    stored: block.checksum,
                    computed: block.computed_checksum(),
                });
            }
            let chunk = decoder.block(id, block)?;
            let chunk_end = pos + chunk.len() as u64;
            while let Some(f) =
                waiting.next_if(|f| u64::from(f.folder_offset) < chunk_end || f.size == 0)
            {
                active.push(Pending {
                    entry: f,
                    data: OwnedBytes::with_capacity(f.size as usize),
                });
            }
            for p in &mut active {
                let from = u64::from(p.entry.folder_offset).max(pos);
                let to = p.entry.folder_end().min(chunk_end);
                if from < to {
                    let part = chunk
                        .get((from - pos) as usize..(to - pos) as usize)
                        .unwrap_or_default();
                    p.data.extend_from_slice(part);
                }
            }
            let (finished, still): (Vec<_>, Vec<_>) = active
                .into_iter()
                .partition(|p| p.entry.folder_end() <= chunk_end);
            active = still;
            done.extend(finished.into_iter().map(|p| (p.entry, p.data)));
            pos = chunk_end;
        }
        for f in waiting {
            active.push(Pending {
                entry: f,
                data: OwnedBytes::from(Vec::new()),
            });
        }
        done.extend(active.into_iter().map(|p| (p.entry, p.data)));
        for (entry, data) in &done {
            if data.len() as u64 != u64::from(entry.size) {
                return Err(CabError::SizeMismatch {
                    name: entry.name.clone(),
                    declared: u64::from(entry.size),
                    got: data.len() as u64,
                });
            }
        }
        Ok(done)
    }
}
