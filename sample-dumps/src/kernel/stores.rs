//! The stores beside the seed scenario's samples: the diskdump.sys binaries of both builds as
//! an image store, and their Breakpad symbols as a symbol store.

use super::samples::{win7_seed, DISKDUMP_16385, DISKDUMP_20882, WIN7_RAM};
use super::GenError;

/// The dump_diskdump.sys images of the seed scenario's two builds (16385, then 20882).
fn seed_diskdump_images() -> Result<Vec<super::pe_image::ImageSpec>, GenError> {
    let mut out = Vec::new();
    for dd in [DISKDUMP_16385, DISKDUMP_20882] {
        let spec = win7_seed(dd, &WIN7_RAM);
        let module = spec
            .modules
            .iter()
            .find(|m| m.name == "dump_diskdump.sys")
            .ok_or_else(|| GenError::new("the seed system has no dump_diskdump.sys"))?;
        out.push(module.image.clone());
    }
    Ok(out)
}

/// The binaries of the generated image store: each diskdump.sys build of the seed samples as a
/// PE file, under `diskdump.sys/<TIMESTAMP %08X><SizeOfImage %x>/diskdump.sys`.
pub(crate) fn image_store() -> Result<Vec<(String, Vec<u8>)>, GenError> {
    Ok(seed_diskdump_images()?
        .iter()
        .map(|image| {
            let key = format!("{:08X}{:x}", image.timestamp, image.size);
            (
                format!("diskdump.sys/{key}/diskdump.sys"),
                image.file_image(),
            )
        })
        .collect())
}

/// Breakpad symbols of the seed scenario's dump_diskdump.sys builds, as a symbol store.
pub(crate) fn symbol_store() -> Result<Vec<(String, Vec<u8>)>, GenError> {
    Ok(seed_diskdump_images()?
        .iter()
        .map(super::symbols::store_entry)
        .collect())
}
