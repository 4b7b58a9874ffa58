//! Generator of format-correct Windows crash dumps for dumpsig's tests and demos.
//!
//! This crate writes sample dump files byte by byte from the published file
//! formats, without depending on the `minidump` crates (or any other parser),
//! so that dumpsig's parser and analyzer are tested against data produced by
//! an independent implementation. Output is fully deterministic: no clock, no
//! randomness, no hash-map ordering, so regenerating yields identical bytes and
//! the committed files can be checked against a fresh build.
//!
//! Each [`Sample`] also states the CER signature subpath
//! (`<AppName>\<AppVer>\<ModName>\<ModVer>\<Offset>`) the generator intends
//! the dump to produce, computed by [`cer`] from the sample's own description.
//!
//! Modules:
//! * [`bytes`]: the little-endian byte writer;
//! * [`cer`]: the expected-signature helper (placeholder sanitizing rules);
//! * [`minidump`]: user-mode MINIDUMP layout and the sample catalogue;
//! * [`cab`]: cabinet files (stored, MSZIP, LZX; malformed variants) written by an
//!   encoder of its own, for the CAB reader's tests;
//! * [`kernel`]: kernel dumps (full, PAE, bitmap, triage, the seed's 0xD1 dump-path pair,
//!   a WHEA 0x124, a truncated dump) and the sparse 16 GiB dump for benchmarks.

pub mod bytes;
pub mod cab;
pub mod cer;
pub mod kernel;
pub mod minidump;
pub mod share_corpus;

use std::path::{Path, PathBuf};

/// One generated sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// File name to write the sample under (no directory part).
    pub file_name: String,
    /// One-line description of what the sample exercises.
    pub description: String,
    /// The complete file contents.
    pub bytes: Vec<u8>,
    /// The CER subpath `<AppName>\<AppVer>\<ModName>\<ModVer>\<Offset>` the
    /// generator intends this dump to produce.
    pub expected_cer_subpath: String,
}

/// Generate every user-mode minidump sample, in a fixed order.
pub fn minidump_samples() -> Vec<Sample> {
    minidump::samples::specs()
        .into_iter()
        .map(|s| Sample {
            file_name: s.file_name.to_string(),
            description: s.description.to_string(),
            bytes: minidump::build(&s.spec),
            expected_cer_subpath: s.spec.expected_cer_subpath(),
        })
        .collect()
}

/// Write every minidump sample into `<root>/minidump`, every kernel sample into
/// `<root>/kernel`, the image store into `<root>/image-store` and the kernel symbols into
/// `<root>/symbols` (creating them), return the paths written.
pub fn write_all(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = write_samples(&root.join("minidump"))?;
    written.extend(kernel::write_kernel_samples(&root.join("kernel"))?);
    written.extend(kernel::write_image_store(&root.join("image-store"))?);
    written.extend(kernel::write_symbol_store(&root.join("symbols"))?);
    Ok(written)
}

/// Write `count` minidumps for batch benchmarks into `dir/NNN/` folders of 1000: the minidump
/// samples in turn, each copy with its own header TimeDateStamp (offset 20) so every file has
/// distinct content, as a real batch does. Returns the number written.
pub fn write_batch(dir: &Path, count: usize) -> std::io::Result<usize> {
    write_batch_from(dir, count, 1_600_000_000)
}

/// [`write_batch`] with the first copy's TimeDateStamp given: batches written from different
/// stamps have no file in common (a new batch for a share that holds an earlier one).
pub fn write_batch_from(dir: &Path, count: usize, first_stamp: u32) -> std::io::Result<usize> {
    let samples = minidump_samples();
    for i in 0..count {
        let Some(sample) = samples.get(i % samples.len().max(1)) else {
            break;
        };
        let mut bytes = sample.bytes.clone();
        let stamp = first_stamp.wrapping_add(i as u32);
        if let Some(field) = bytes.get_mut(20..24) {
            field.copy_from_slice(&stamp.to_le_bytes());
        }
        let folder = dir.join(format!("{:03}", i / 1000));
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join(format!("{i:05}-{}", sample.file_name)), bytes)?;
    }
    Ok(count)
}

/// Write every minidump sample into `dir` (create it), return the paths written.
pub fn write_samples(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for sample in minidump_samples() {
        let path = dir.join(&sample.file_name);
        std::fs::write(&path, &sample.bytes)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic() {
        assert_eq!(minidump_samples(), minidump_samples());
    }

    #[test]
    fn samples_start_with_a_minidump_header() {
        for s in minidump_samples() {
            assert_eq!(s.bytes.get(..4), Some(&b"MDMP"[..]), "{}", s.file_name);
            assert_eq!(s.bytes.len() % 4, 0, "{}", s.file_name);
        }
    }
}
