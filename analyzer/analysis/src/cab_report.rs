//! Report CABs as analyzer inputs: the dump inside is analyzed from memory, and the WER
//! metadata beside it is compared with our own signature.

use std::path::PathBuf;

use serde::Serialize;

use crate::analyze::{analyze_source, AnalyzeOptions};
use crate::error::{AnalyzeError, Result};
use crate::format::DumpFormat;
use crate::report::Report;
use crate::source::DumpSource;
use cab::wer::{is_metadata_file, FieldAgreement, WerMetadata};
use cab::{Cabinet, ExtractLimits};

/// A member of the CAB.
#[derive(Debug, Clone, Serialize)]
pub struct CabMember {
    /// File name inside the CAB.
    pub name: String,
    /// Declared size in bytes.
    pub size: u64,
}

/// What a report CAB held and what its WER metadata says.
#[derive(Debug, Clone, Serialize)]
pub struct CabDetails {
    /// Every file of the CAB.
    pub files: Vec<CabMember>,
    /// The member that was analyzed.
    pub dump_file: String,
    /// The parsed metadata files (`WERInternalMetadata.xml`, `Version.txt`, `sysdata.xml`).
    pub wer: Option<WerMetadata>,
    /// Our tuple against WER's problem signature, field by field (empty when the metadata has
    /// no application problem signature).
    pub wer_agreement: Vec<FieldAgreement>,
}

/// Ranks the dump candidates of a CAB: the minidump first, a kernel dump next, a heap dump last.
fn dump_rank(name: &str) -> Option<u8> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".mdmp") {
        Some(0)
    } else if lower.ends_with(".dmp") {
        Some(1)
    } else if lower.ends_with(".hdmp") {
        Some(2)
    } else {
        None
    }
}

/// Analyzes the dump inside a report CAB. The report keeps the CAB's path and kind `cab`;
/// its signature keys are those of the dump inside.
pub fn analyze_cab(source: &DumpSource, options: &AnalyzeOptions) -> Result<Report> {
    let cab = Cabinet::parse(source.bytes())?;
    let dump = cab
        .files()
        .iter()
        .filter_map(|f| dump_rank(&f.name).map(|rank| (rank, f)))
        .min_by_key(|(rank, f)| (*rank, f.index))
        .map(|(_, f)| f.clone())
        .ok_or_else(|| AnalyzeError::Malformed {
            what: "report CAB",
            offset: 0,
            reason: "it holds no .mdmp, .dmp or .hdmp file".to_owned(),
        })?;
    let extracted = cab.extract_matching(&ExtractLimits::default(), |f| {
        f.index == dump.index || is_metadata_file(&f.name)
    })?;
    let wer = WerMetadata::from_files(
        extracted
            .iter()
            .map(|f| (f.name.as_str(), f.data.as_slice())),
    );
    let wer = (!wer.sources.is_empty()).then_some(wer);
    let data = extracted
        .into_iter()
        .find(|f| f.index == dump.index)
        .map(|f| f.data)
        .ok_or_else(|| AnalyzeError::Internal(format!("{} was not extracted", dump.name)))?;
    // A CAB inside a CAB is not a report format; refuse rather than recurse.
    if DumpFormat::sniff(&data) == Some(DumpFormat::Cab) {
        return Err(AnalyzeError::Malformed {
            what: "report CAB",
            offset: 0,
            reason: format!("{} is itself a CAB", dump.name),
        });
    }
    let inner = DumpSource::from_bytes(
        PathBuf::from(format!("{}!{}", source.path().display(), dump.name)),
        data,
    );
    let mut report = analyze_source(&inner, options).map_err(|e| AnalyzeError::InCab {
        member: dump.name.clone(),
        source: Box::new(e),
    })?;
    let wer_agreement = match (&wer, &report.signature) {
        (Some(w), Some(tuple)) => {
            let p = tuple.wer_parameters();
            w.compare_with(p.map(|(_, v)| v))
        }
        _ => Vec::new(),
    };
    report.path = source.path().display().to_string();
    report.kind = Some("cab");
    report.file_size = Some(source.len());
    report.cab = Some(CabDetails {
        files: cab
            .files()
            .iter()
            .map(|f| CabMember {
                name: f.name.clone(),
                size: u64::from(f.size),
            })
            .collect(),
        dump_file: dump.name,
        wer,
        wer_agreement,
    });
    Ok(report)
}
