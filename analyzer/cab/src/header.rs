//! CFHEADER, CFFOLDER and CFFILE: the cabinet's directory, parsed zero-copy
//! from a byte slice. Every count and offset is checked against the file size
//! before it is used to loop or to index.

use le_bytes::Reader;

use super::{decode_cp1252, CabError};

/// `flags` bit: a previous cabinet exists.
const FLAG_PREV_CABINET: u16 = 0x0001;
/// `flags` bit: a next cabinet exists.
const FLAG_NEXT_CABINET: u16 = 0x0002;
/// `flags` bit: the reserve sizes are present.
const FLAG_RESERVE_PRESENT: u16 = 0x0004;
/// `attribs` bit: the name is UTF-8 (otherwise the code page, CP-1252 here).
const ATTR_NAME_IS_UTF: u16 = 0x0080;
/// Size of the fixed part of CFHEADER.
const HEADER_LEN: usize = 36;
/// Size of the fixed part of CFFOLDER.
const FOLDER_LEN: usize = 8;
/// Size of the fixed part of CFFILE.
const FILE_LEN: usize = 16;
/// Longest file name the format allows, NUL included.
const MAX_NAME: usize = 256;

/// Compression method of a folder (`typeCompress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored.
    None,
    /// MSZIP: deflate blocks prefixed with `CK`.
    MsZip,
    /// Quantum (not decoded).
    Quantum,
    /// LZX with a window of `2^window_bits` bytes (15..=21).
    Lzx {
        /// Window size exponent.
        window_bits: u8,
    },
    /// Anything else (not decoded).
    Unknown(u16),
}

impl Compression {
    fn from_raw(raw: u16) -> Self {
        match raw & 0x000f {
            0 => Self::None,
            1 => Self::MsZip,
            2 => Self::Quantum,
            3 => {
                let bits = ((raw >> 8) & 0x1f) as u8;
                if (15..=21).contains(&bits) {
                    Self::Lzx { window_bits: bits }
                } else {
                    Self::Unknown(raw)
                }
            }
            _ => Self::Unknown(raw),
        }
    }
}

/// One CFFOLDER entry: a run of data blocks compressed as one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Offset of the first CFDATA block.
    pub data_offset: u32,
    /// Number of CFDATA blocks (`cCFData`).
    pub data_blocks: u16,
    /// Raw `typeCompress`.
    pub compression_raw: u16,
    /// Decoded compression method.
    pub compression: Compression,
    /// Offset of this CFFOLDER entry in the file.
    pub entry_offset: u32,
}

/// An MS-DOS date and time as stored in CFFILE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DosDateTime {
    /// Year (1980..=2107).
    pub year: u16,
    /// Month 1..=12 (0 when the field is zero).
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
    /// Hour 0..=23.
    pub hour: u8,
    /// Minute 0..=59.
    pub minute: u8,
    /// Second (even) 0..=58.
    pub second: u8,
}

impl DosDateTime {
    /// Splits the raw CFFILE `date` and `time` words.
    pub fn from_raw(date: u16, time: u16) -> Self {
        Self {
            year: 1980 + (date >> 9),
            month: ((date >> 5) & 0x0f) as u8,
            day: (date & 0x1f) as u8,
            hour: (time >> 11) as u8,
            minute: ((time >> 5) & 0x3f) as u8,
            second: ((time & 0x1f) * 2) as u8,
        }
    }

    /// The raw `(date, time)` words.
    pub fn to_raw(self) -> (u16, u16) {
        let date = (self.year.saturating_sub(1980).min(127) << 9)
            | (u16::from(self.month & 0x0f) << 5)
            | u16::from(self.day & 0x1f);
        let time = (u16::from(self.hour & 0x1f) << 11)
            | (u16::from(self.minute & 0x3f) << 5)
            | u16::from((self.second / 2) & 0x1f);
        (date, time)
    }
}

/// One CFFILE entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Position in the cabinet's file list.
    pub index: usize,
    /// The name, decoded as UTF-8 when the name-is-UTF attribute is set and
    /// as CP-1252 otherwise (invalid UTF-8 is replaced, never an error).
    pub name: String,
    /// Folder holding the file.
    pub folder: usize,
    /// Offset of the file in the folder's uncompressed stream.
    pub folder_offset: u32,
    /// Declared uncompressed size (`cbFile`).
    pub size: u32,
    /// Raw MS-DOS date.
    pub date: u16,
    /// Raw MS-DOS time.
    pub time: u16,
    /// Raw attributes.
    pub attributes: u16,
    /// Offset of this CFFILE entry in the file.
    pub entry_offset: u32,
}

impl FileEntry {
    /// The file's date and time.
    pub fn date_time(&self) -> DosDateTime {
        DosDateTime::from_raw(self.date, self.time)
    }

    /// End of the file in its folder's uncompressed stream.
    pub fn folder_end(&self) -> u64 {
        u64::from(self.folder_offset) + u64::from(self.size)
    }
}

/// A parsed cabinet borrowing the file's bytes.
#[derive(Debug, Clone)]
pub struct Cabinet<'a> {
    pub(crate) data: &'a [u8],
    folders: Vec<Folder>,
    files: Vec<FileEntry>,
    /// Reserved bytes after each CFDATA header.
    pub(crate) data_reserve: usize,
    set_id: u16,
    version: (u8, u8),
}

impl<'a> Cabinet<'a> {
    /// Parses the directory of a cabinet (no decompression).
    ///
    /// Refuses files that are not cabinets, are shorter than their header
    /// says, belong to a multi-cabinet set, or whose folder and file tables
    /// lie outside the file.
    pub fn parse(data: &'a [u8]) -> Result<Self, CabError> {
        let b = Reader::new(data);
        if data.get(..4) != Some(b"MSCF".as_slice()) {
            return Err(CabError::NotACabinet {
                found: data.iter().take(4).copied().collect(),
            });
        }
        b.slice("CFHEADER", 0, HEADER_LEN)?;
        let declared = u64::from(b.u32("cbCabinet", 8)?);
        if declared > data.len() as u64 {
            return Err(CabError::Truncated {
                declared,
                actual: data.len() as u64,
            });
        }
        let coff_files = b.u32("coffFiles", 16)? as usize;
        let version = (b.u8("versionMajor", 25)?, b.u8("versionMinor", 24)?);
        let n_folders = usize::from(b.u16("cFolders", 26)?);
        let n_files = usize::from(b.u16("cFiles", 28)?);
        let flags = b.u16("flags", 30)?;
        let set_id = b.u16("setID", 32)?;
        if flags & FLAG_PREV_CABINET != 0 {
            return Err(CabError::MultiCabinet {
                detail: "the header says a previous cabinet exists",
                offset: 30,
            });
        }
        if flags & FLAG_NEXT_CABINET != 0 {
            return Err(CabError::MultiCabinet {
                detail: "the header says a next cabinet exists",
                offset: 30,
            });
        }
        let mut pos = HEADER_LEN;
        let (folder_reserve, data_reserve) = if flags & FLAG_RESERVE_PRESENT != 0 {
            let header_reserve = usize::from(b.u16("cbCFHeader", pos)?);
            let folder_reserve = usize::from(b.u8("cbCFFolder", pos + 2)?);
            let data_reserve = usize::from(b.u8("cbCFData", pos + 3)?);
            b.slice("CFHEADER reserved area", pos + 4, header_reserve)?;
            pos += 4 + header_reserve;
            (folder_reserve, data_reserve)
        } else {
            (0, 0)
        };
        if n_files > 0 && n_folders == 0 {
            return Err(CabError::Corrupt {
                detail: format!("{n_files} files but no folder"),
                offset: 26,
            });
        }
        // The whole folder table must fit before we loop over it.
        let folder_stride = FOLDER_LEN + folder_reserve;
        b.slice("CFFOLDER table", pos, n_folders * folder_stride)?;
        let mut folders = Vec::with_capacity(n_folders);
        for _ in 0..n_folders {
            let compression_raw = b.u16("typeCompress", pos + 6)?;
            folders.push(Folder {
                data_offset: b.u32("coffCabStart", pos)?,
                data_blocks: b.u16("cCFData", pos + 4)?,
                compression_raw,
                compression: Compression::from_raw(compression_raw),
                entry_offset: pos as u32,
            });
            pos += folder_stride;
        }
        // Each CFFILE is at least 17 bytes: a cheap bound before the loop.
        b.slice("CFFILE table", coff_files, n_files * (FILE_LEN + 1))?;
        let mut files = Vec::with_capacity(n_files);
        let mut pos = coff_files;
        for index in 0..n_files {
            let size = b.u32("cbFile", pos)?;
            let folder_offset = b.u32("uoffFolderStart", pos + 4)?;
            let folder = b.u16("iFolder", pos + 8)?;
            let date = b.u16("date", pos + 10)?;
            let time = b.u16("time", pos + 12)?;
            let attributes = b.u16("attribs", pos + 14)?;
            let name_at = pos + FILE_LEN;
            let avail = data.len().saturating_sub(name_at).min(MAX_NAME);
            let raw = b.slice("CFFILE name", name_at, avail)?;
            let Some(nul) = raw.iter().position(|&c| c == 0) else {
                return Err(CabError::Corrupt {
                    detail: format!(
                        "name of file {index} is not NUL-terminated within {MAX_NAME} bytes"
                    ),
                    offset: name_at as u64,
                });
            };
            let raw = raw.get(..nul).unwrap_or_default();
            let name = if attributes & ATTR_NAME_IS_UTF != 0 {
                String::from_utf8_lossy(raw).into_owned()
            } else {
                decode_cp1252(raw)
            };
            if folder >= 0xfffd {
                return Err(CabError::MultiCabinet {
                    detail: "a file continues from or into another cabinet",
                    offset: (pos + 8) as u64,
                });
            }
            let folder = usize::from(folder);
            if folder >= n_folders {
                return Err(CabError::Corrupt {
                    detail: format!(
                        "file {name:?} is in folder {folder}, but the cabinet has {n_folders}"
                    ),
                    offset: (pos + 8) as u64,
                });
            }
            files.push(FileEntry {
                index,
                name,
                folder,
                folder_offset,
                size,
                date,
                time,
                attributes,
                entry_offset: pos as u32,
            });
            pos = name_at + nul + 1;
        }
        Ok(Self {
            data,
            folders,
            files,
            data_reserve,
            set_id,
            version,
        })
    }

    /// The file entries in cabinet order.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The folder entries in cabinet order.
    pub fn folders(&self) -> &[Folder] {
        &self.folders
    }

    /// `setID` from the header.
    pub fn set_id(&self) -> u16 {
        self.set_id
    }

    /// Format version `(major, minor)`, normally `(1, 3)`.
    pub fn version(&self) -> (u8, u8) {
        self.version
    }
}

/// One CFDATA block located in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DataBlock<'a> {
    /// Offset of the CFDATA header.
    pub(crate) offset: usize,
    /// Stored checksum.
    pub(crate) checksum: u32,
    /// The 4 bytes `cbData`, `cbUncomp` (covered by the checksum).
    pub(crate) sizes: &'a [u8],
    /// The reserved bytes.
    pub(crate) reserve: &'a [u8],
    /// The compressed bytes.
    pub(crate) payload: &'a [u8],
    /// `cbUncomp`.
    pub(crate) uncompressed: usize,
}

impl<'a> Cabinet<'a> {
    /// Locates every data block of `folder`, checking each against the file.
    pub(crate) fn data_blocks(&self, folder: usize) -> Result<Vec<DataBlock<'a>>, CabError> {
        let b = Reader::new(self.data);
        let Some(f) = self.folders.get(folder) else {
            return Ok(Vec::new());
        };
        let count = usize::from(f.data_blocks);
        let mut pos = f.data_offset as usize;
        // Each block needs at least its 8-byte header: bound before allocating.
        b.slice("CFDATA blocks", pos, count * (8 + self.data_reserve))?;
        let mut blocks = Vec::with_capacity(count);
        for block in 0..count {
            let checksum = b.u32("CFDATA header", pos)?;
            let sizes = b.slice("CFDATA header", pos + 4, 4)?;
            let compressed = usize::from(b.u16("cbData", pos + 4)?);
            let uncompressed = usize::from(b.u16("cbUncomp", pos + 6)?);
            let reserve = b.slice("CFDATA reserved area", pos + 8, self.data_reserve)?;
            let payload = b.slice("CFDATA payload", pos + 8 + self.data_reserve, compressed)?;
            if uncompressed == 0 || uncompressed > 0x8000 {
                return Err(CabError::BadDataBlock {
                    folder,
                    block,
                    offset: pos as u64,
                    detail: format!("uncompressed size {uncompressed} is not in 1..=32768 (a block split across cabinets is not supported)"),
                });
            }
            blocks.push(DataBlock {
                offset: pos,
                checksum,
                sizes,
                reserve,
                payload,
                uncompressed,
            });
            pos += 8 + self.data_reserve + compressed;
        }
        Ok(blocks)
    }
}

/// The cabinet checksum: XOR of little-endian 32-bit words, with the 1..3
/// trailing bytes folded in most-significant first, seeded with `seed`.
pub(crate) fn checksum(data: &[u8], seed: u32) -> u32 {
    let mut sum = seed;
    let mut words = data.chunks_exact(4);
    for w in words.by_ref() {
        let mut b = [0u8; 4];
        b.copy_from_slice(w);
        sum ^= u32::from_le_bytes(b);
    }
    let tail = words
        .remainder()
        .iter()
        .fold(0u32, |acc, &x| (acc << 8) | u32::from(x));
    sum ^ tail
}

impl DataBlock<'_> {
    /// The checksum of the block as Microsoft's tools compute it: the
    /// payload, then `cbData`/`cbUncomp`. The reserved bytes are not covered
    /// (as libmspack reads it); [`Self::checksum_matches`] also accepts them covered.
    pub(crate) fn computed_checksum(&self) -> u32 {
        checksum(self.sizes, checksum(self.payload, 0))
    }

    /// Whether the stored checksum is zero or matches.
    pub(crate) fn checksum_matches(&self) -> bool {
        if self.checksum == 0 || self.checksum == self.computed_checksum() {
            return true;
        }
        // Also accept a checksum that covers the reserved bytes.
        !self.reserve.is_empty() && {
            let mut all = Vec::with_capacity(self.reserve.len() + self.payload.len());
            all.extend_from_slice(self.reserve);
            all.extend_from_slice(self.payload);
            self.checksum == checksum(self.sizes, checksum(&all, 0))
        }
    }
}
