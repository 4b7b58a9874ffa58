//! Writes single-folder cabinets, stored or MSZIP, the way Windows Error
//! Reporting packs a report: used by the CER share writer to store a raw dump
//! as a report CAB.
//!
//! Each MSZIP block is compressed on its own (no history from the previous
//! block) with fixed-Huffman deflate blocks only. Why fixed: `miniz_oxide`'s
//! dynamic blocks may carry a distance tree with a single code (an incomplete
//! Huffman tree, which zlib never writes), and libmspack (`cabextract`)
//! rejects those as a decompression error; fixed trees are always complete.
//! The cost, measured on the largest real minidump (7.4 MB): 36.4 % of the
//! input instead of 30.9 %. Checksums are computed.

use miniz_oxide::deflate::core::{
    compress, create_comp_flags_from_zip_params, deflate_flags, CompressorOxide, TDEFLFlush,
    TDEFLStatus,
};

use super::header::checksum;
use super::{CabError, DosDateTime};

/// Largest uncompressed CFDATA block.
const BLOCK: usize = 32 * 1024;
/// `attribs` bit: the name is UTF-8.
const ATTR_NAME_IS_UTF: u16 = 0x0080;
/// `attribs` bit: archive.
const ATTR_ARCHIVE: u16 = 0x0020;

/// How the folder's data is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteCompression {
    /// Stored blocks.
    None,
    /// MSZIP (deflate), as WER writes on XP and for kernel reports.
    #[default]
    MsZip,
}

/// One file to put in the cabinet.
#[derive(Debug, Clone, Copy)]
pub struct CabInput<'a> {
    /// The name stored in the cabinet (at most 255 bytes of UTF-8; non-ASCII
    /// names are stored as UTF-8 with the name-is-UTF attribute).
    pub name: &'a str,
    /// The contents.
    pub data: &'a [u8],
    /// The modification date and time.
    pub modified: DosDateTime,
}

/// Builds a cabinet holding `files` in one folder, with 32 KiB blocks.
///
/// Fails when the input cannot fit the format: more than 65535 files, a name
/// over 255 bytes or containing NUL, more than 65535 blocks (2 GiB) in the
/// folder, or a cabinet over 4 GiB.
pub fn write_cabinet(
    files: &[CabInput<'_>],
    compression: WriteCompression,
) -> Result<Vec<u8>, CabError> {
    let err = |m: String| CabError::Write(m);
    let n_files = u16::try_from(files.len())
        .map_err(|_| err(format!("{} files, at most 65535", files.len())))?;
    let total: u64 = files.iter().map(|f| f.data.len() as u64).sum();
    let n_blocks = total.div_ceil(BLOCK as u64);
    let n_blocks = u16::try_from(n_blocks).map_err(|_| {
        err(format!(
            "{total} bytes need {n_blocks} data blocks, a folder holds at most 65535"
        ))
    })?;

    // The directory: CFHEADER (36), one CFFOLDER (8), the CFFILEs.
    let mut dir: Vec<u8> = Vec::new();
    let mut file_entries: Vec<u8> = Vec::new();
    let mut offset = 0u32;
    for f in files {
        let bytes = f.name.as_bytes();
        if bytes.is_empty() || bytes.len() > 255 || bytes.contains(&0) {
            return Err(err(format!(
                "file name {:?} must be 1..=255 bytes without NUL",
                f.name
            )));
        }
        let size =
            u32::try_from(f.data.len()).map_err(|_| err(format!("{:?} is over 4 GiB", f.name)))?;
        let (date, time) = f.modified.to_raw();
        let attribs = ATTR_ARCHIVE
            | if f.name.is_ascii() {
                0
            } else {
                ATTR_NAME_IS_UTF
            };
        file_entries.extend_from_slice(&size.to_le_bytes());
        file_entries.extend_from_slice(&offset.to_le_bytes());
        file_entries.extend_from_slice(&0u16.to_le_bytes());
        file_entries.extend_from_slice(&date.to_le_bytes());
        file_entries.extend_from_slice(&time.to_le_bytes());
        file_entries.extend_from_slice(&attribs.to_le_bytes());
        file_entries.extend_from_slice(bytes);
        file_entries.push(0);
        offset = offset
            .checked_add(size)
            .ok_or_else(|| err("the files add up to more than 4 GiB".to_owned()))?;
    }
    let coff_files = 36u32 + 8;
    let data_start = coff_files as usize + file_entries.len();

    // The data blocks, streaming the files' bytes through one 32 KiB buffer.
    let mut data: Vec<u8> = Vec::new();
    let mut block: Vec<u8> = Vec::with_capacity(BLOCK);
    let flags =
        create_comp_flags_from_zip_params(6, -15, 0) | deflate_flags::TDEFL_FORCE_ALL_STATIC_BLOCKS;
    let mut deflater = Box::new(CompressorOxide::new(flags));
    // Fixed-Huffman output of 32 KiB is at most about 36.6 KiB.
    let mut scratch = vec![0u8; 2 * BLOCK];
    let mut flush = |block: &mut Vec<u8>, data: &mut Vec<u8>| -> Result<(), CabError> {
        let payload = match compression {
            WriteCompression::None => block.clone(),
            WriteCompression::MsZip => {
                deflater.reset();
                let (status, read, written) =
                    compress(&mut deflater, block, &mut scratch, TDEFLFlush::Finish);
                if status != TDEFLStatus::Done || read != block.len() {
                    return Err(err(format!(
                        "deflate stopped with {status:?} after {read} bytes"
                    )));
                }
                let mut p = b"CK".to_vec();
                p.extend_from_slice(scratch.get(..written).unwrap_or_default());
                p
            }
        };
        let cb_data = u16::try_from(payload.len())
            .map_err(|_| err("a compressed block exceeds 64 KiB".to_owned()))?;
        let cb_uncomp =
            u16::try_from(block.len()).map_err(|_| err("a block exceeds 64 KiB".to_owned()))?;
        let ([a, b], [c, d]) = (cb_data.to_le_bytes(), cb_uncomp.to_le_bytes());
        let sizes = [a, b, c, d];
        let csum = checksum(&sizes, checksum(&payload, 0));
        data.extend_from_slice(&csum.to_le_bytes());
        data.extend_from_slice(&sizes);
        data.extend_from_slice(&payload);
        block.clear();
        Ok(())
    };
    for f in files {
        let mut rest = f.data;
        while !rest.is_empty() {
            let take = (BLOCK - block.len()).min(rest.len());
            let (now, later) = rest.split_at(take);
            block.extend_from_slice(now);
            rest = later;
            if block.len() == BLOCK {
                flush(&mut block, &mut data)?;
            }
        }
    }
    if !block.is_empty() {
        flush(&mut block, &mut data)?;
    }

    let cab_len = data_start + data.len();
    let cb_cabinet = u32::try_from(cab_len)
        .map_err(|_| err(format!("the cabinet would be {cab_len} bytes, over 4 GiB")))?;
    let type_compress: u16 = match compression {
        WriteCompression::None => 0,
        WriteCompression::MsZip => 1,
    };
    dir.extend_from_slice(b"MSCF");
    dir.extend_from_slice(&0u32.to_le_bytes());
    dir.extend_from_slice(&cb_cabinet.to_le_bytes());
    dir.extend_from_slice(&0u32.to_le_bytes());
    dir.extend_from_slice(&coff_files.to_le_bytes());
    dir.extend_from_slice(&0u32.to_le_bytes());
    dir.extend_from_slice(&[3, 1]); // version 1.3
    dir.extend_from_slice(&1u16.to_le_bytes()); // cFolders
    dir.extend_from_slice(&n_files.to_le_bytes());
    dir.extend_from_slice(&0u16.to_le_bytes()); // flags
    dir.extend_from_slice(&0u16.to_le_bytes()); // setID
    dir.extend_from_slice(&0u16.to_le_bytes()); // iCabinet
    let data_offset =
        u32::try_from(data_start).map_err(|_| err("directory over 4 GiB".to_owned()))?;
    dir.extend_from_slice(&data_offset.to_le_bytes());
    dir.extend_from_slice(&n_blocks.to_le_bytes());
    dir.extend_from_slice(&type_compress.to_le_bytes());
    dir.extend_from_slice(&file_entries);
    dir.extend_from_slice(&data);
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cabinet, ExtractLimits};

    fn sample() -> Vec<(String, Vec<u8>)> {
        let mut x = 0x1234_5678u32;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        let text: Vec<u8> = b"MDMP Windows report line\r\n"
            .iter()
            .copied()
            .cycle()
            .take(200_000)
            .collect();
        vec![
            ("minidump.mdmp".into(), text),
            ("empty.txt".into(), Vec::new()),
            ("Caf\u{e9}-\u{442}.bin".into(), noise),
            ("WERInternalMetadata.xml".into(), b"<x/>".to_vec()),
        ]
    }

    #[test]
    fn round_trip_through_reader_and_cabextract() {
        let files = sample();
        let when = DosDateTime::from_raw(0x3e61, 0x8945);
        let inputs: Vec<CabInput> = files
            .iter()
            .map(|(n, d)| CabInput {
                name: n,
                data: d,
                modified: when,
            })
            .collect();
        for compression in [WriteCompression::None, WriteCompression::MsZip] {
            let cab = write_cabinet(&inputs, compression).unwrap();
            let parsed = Cabinet::parse(&cab).unwrap();
            let out = parsed.extract_all(&ExtractLimits::default()).unwrap();
            assert_eq!(out.len(), files.len());
            for ((n, d), got) in files.iter().zip(&out) {
                assert_eq!(&got.name, n);
                assert!(&got.data == d, "{n} differs after {compression:?}");
            }
            assert_eq!(parsed.files()[0].date_time(), when);
            if compression == WriteCompression::MsZip {
                assert!(cab.len() < 200_000, "MSZIP did not compress: {}", cab.len());
            }
            let path = std::env::temp_dir().join(format!(
                "dumpsig-writer-{}-{compression:?}.cab",
                std::process::id()
            ));
            std::fs::write(&path, &cab).unwrap();
            match std::process::Command::new("cabextract")
                .arg("-t")
                .arg(&path)
                .output()
            {
                Ok(o) => assert!(
                    o.status.success(),
                    "cabextract -t rejects our {compression:?} cabinet: {o:?}"
                ),
                Err(e) => eprintln!("skipping cabextract -t: cabextract is not installed ({e})"),
            }
            let _ = std::fs::remove_file(&path);
        }
    }

    #[test]
    fn refuses_what_a_cabinet_cannot_hold() {
        let when = DosDateTime::from_raw(0, 0);
        let long = "x".repeat(256);
        let bad = [CabInput {
            name: &long,
            data: b"",
            modified: when,
        }];
        assert!(matches!(
            write_cabinet(&bad, WriteCompression::None),
            Err(CabError::Write(_))
        ));
        let nul = [CabInput {
            name: "a\0b",
            data: b"",
            modified: when,
        }];
        assert!(write_cabinet(&nul, WriteCompression::MsZip).is_err());
        let empty = write_cabinet(&[], WriteCompression::MsZip).unwrap();
        assert!(Cabinet::parse(&empty).unwrap().files().is_empty());
    }
}
