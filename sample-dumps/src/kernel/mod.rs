//! Generator of Windows kernel memory dumps (`PAGEDUMP` / `PAGEDU64`) for tests and demos.
//!
//! Every structure is written by hand from `shared/spec/kernel-dumps.md` (and `cper.md` for the
//! WHEA record) with this module's own byte writer, independently of the analyzer's reader, so a
//! layout mistake cannot hide in both. The output is deterministic: no clock, no OS randomness,
//! only a fixed-seed PRNG.
//!
//! Each sample simulates a crashed machine: physical memory described by a non-contiguous run
//! list, page tables (x86 non-PAE, x86 PAE or x64 4-level, with one 2 MiB large page and one
//! transition PTE where noted) mapping everything the analysis needs, loaded images with a PE
//! header page, a debug directory with a CodeView RSDS record and an RT_VERSION resource, the
//! `PsLoadedModuleList` chain of loader entries with UTF-16 names, `KDDEBUGGER_DATA64`, the
//! System process on `PsActiveProcessHead`, and a kernel stack whose return addresses point
//! into the modules. The dump header carries the bug check, context and exception records.
//!
//! Pages that exist in the run list but were never written hold the marker `FREEPAGE` and
//! their PFN, so a mistranslated read is easy to recognise.

mod arm64_sample;
mod arm64_stack;
mod arm64_unwind;
mod buckets;
mod catalog;
mod current_thread;
mod dumpfile;
mod header;
mod module_list;
mod paging;
mod pe_image;
mod phys;
mod samples;
mod stores;
mod symbols;
mod system;
#[cfg(test)]
mod tests;
mod triage;
mod unwind_info;
mod whea;
mod writer;
mod x86_frames;
mod x86_stack;

use std::fmt;
use std::path::{Path, PathBuf};

pub use arm64_sample::{arm64_dump, Arm64Dump};
pub use buckets::{kernel_bucket_dump, CaseFrame, CaseParam, KernelBucketCase, KernelBucketDump};
pub use x86_frames::{x86_frame_data_dump, X86FrameDataDump};

/// The raw value of a header field that was never written (`PAGE`), as reported in
/// [`KernelExpected::attributes`] when a sample leaves Attributes unset.
pub const ATTRIBUTES_UNSET: u32 = 0x4547_4150;

/// What an analyzer must find in a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelExpected {
    /// BugCheckCode.
    pub bug_check: u32,
    /// BugCheckParameter1..4 (32-bit dumps: zero-extended).
    pub params: [u64; 4],
    /// BaseDllName of the module containing the address the stop code names (for 0x124 the
    /// CPU vendor the WHEA bucket uses).
    pub faulting_module: String,
    /// Offset of that address into the module (0 for 0x124).
    pub faulting_offset: u64,
    /// 64-bit dump (`PAGEDU64`).
    pub is_64bit: bool,
    /// DumpType (1 full, 4 triage, 5 bitmap).
    pub dump_type: u32,
    /// Attributes as stored; [`ATTRIBUTES_UNSET`] when the header leaves the field `PAGE`.
    pub attributes: u32,
}

/// One generated kernel dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSample {
    /// File name, e.g. `x64-full.dmp`.
    pub file_name: String,
    /// What the sample exercises.
    pub description: String,
    /// The dump file.
    pub bytes: Vec<u8>,
    /// What the analysis must report.
    pub expected: KernelExpected,
}

/// A generator failure (a sample definition that does not fit its memory layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenError(String);

impl GenError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kernel dump generator: {}", self.0)
    }
}

impl std::error::Error for GenError {}

impl From<GenError> for std::io::Error {
    fn from(e: GenError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// Builds every kernel sample, or says which definition failed.
pub fn try_kernel_samples() -> Result<Vec<KernelSample>, GenError> {
    samples::all()
}

/// Builds every kernel sample: `x86-offline-full.dmp`, `x86-pae-full.dmp`, `x64-full.dmp`,
/// `x64-bitmap.dmp`, `x64-triage.dmp`, `win7-d1-dumpstack-16385.dmp`,
/// `win7-d1-dumpstack-20882.dmp`, `win7-d1-triage-16385.dmp`, `win7-d1-triage-20882.dmp`,
/// `x64-whea-124.dmp` and `x64-full-truncated.dmp`.
///
/// The definitions are fixed, so this cannot fail in practice; should a definition ever be
/// broken, the result is empty (use [`try_kernel_samples`] to see why).
pub fn kernel_samples() -> Vec<KernelSample> {
    try_kernel_samples().unwrap_or_default()
}

/// Writes every sample into `dir` (created if missing) and returns the paths written.
pub fn write_kernel_samples(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut paths = Vec::new();
    for s in try_kernel_samples()? {
        let p = dir.join(&s.file_name);
        std::fs::write(&p, &s.bytes)?;
        paths.push(p);
    }
    Ok(paths)
}

/// The generated image store: `(path relative to the store root, PE file bytes)` for the
/// diskdump.sys builds of the seed scenario, laid out `<name>/<TIMESTAMP><SIZE>/<name>` as
/// symbol stores keep binaries. The triage samples' versions resolve through it.
pub fn image_store_files() -> Result<Vec<(String, Vec<u8>)>, GenError> {
    stores::image_store()
}

/// Breakpad symbols for the seed scenario's dump_diskdump.sys builds, `(path relative to the
/// store root, bytes)`, laid out `diskdump.pdb/<DEBUGID>/diskdump.sym` under the debug id of
/// the CodeView record in each image: kernel frames in dump_diskdump.sys symbolize from them.
pub fn symbol_store_files() -> Result<Vec<(String, Vec<u8>)>, GenError> {
    stores::symbol_store()
}

/// Writes [`symbol_store_files`] under `dir` and returns the paths written.
pub fn write_symbol_store(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    write_tree(dir, symbol_store_files()?)
}

/// Writes [`image_store_files`] under `dir` and returns the paths written.
pub fn write_image_store(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    write_tree(dir, image_store_files()?)
}

fn write_tree(dir: &Path, files: Vec<(String, Vec<u8>)>) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for (relative, bytes) in files {
        let p = dir.join(relative);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, bytes)?;
        paths.push(p);
    }
    Ok(paths)
}

/// Writes a 64-bit full dump of the seed scenario (Stop 0xD1 in dump_diskdump.sys 6.1.7600.16385,
/// Windows 7 RTM x64) whose run list covers `total_size` bytes of physical memory (e.g. 16 GiB, or
/// 64 MiB for comparison). The file is created with its full length (`set_len`) and only the
/// header and the pages with content are written, so it is sparse on file systems that support
/// it; the content pages sit at the same low PFNs whatever the size. Needs at least 4 MiB.
pub fn sparse_full_dump(path: &Path, total_size: u64) -> std::io::Result<()> {
    samples::sparse(path, total_size)
}
