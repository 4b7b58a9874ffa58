//! Report CABs as analyzer inputs: the dump inside is analyzed from memory, and the WER
//! metadata beside it is compared with our own signature.

use std::path::PathBuf;

use crate::error::{AnalyzeError, Result};
use crate::format::DumpFormat;
use crate::report::{CabDetails, CabMember, Report};
use crate::source::DumpSource;
use cab::wer::{is_metadata_file, WerMetadata};
use cab::{Cabinet, ExtractLimits};

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

/// A report CAB opened: the dump member to analyze, and what the CAB says beside it.
pub struct ReportCab {
    /// The dump member, named `<cab>!<member>`.
    pub inner: DumpSource,
    /// The member's name in the CAB.
    pub member: String,
    files: Vec<CabMember>,
    wer: Option<WerMetadata>,
}

/// Opens a report CAB and extracts its dump (the minidump first, a kernel dump next, a heap
/// dump last) and its WER metadata. The caller analyzes [`ReportCab::inner`] like any input
/// and hands the report to [`ReportCab::into_report`].
pub fn open_report_cab(source: &DumpSource) -> Result<ReportCab> {
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
    Ok(ReportCab {
        inner,
        member: dump.name,
        files: cab
            .files()
            .iter()
            .map(|f| CabMember {
                name: f.name.clone(),
                size: u64::from(f.size),
            })
            .collect(),
        wer,
    })
}

impl ReportCab {
    /// The report of the CAB from the report of its dump: the CAB's path, size and kind
    /// `cab`, the dump's keys, and the CAB's members and WER metadata compared with our tuple.
    pub fn into_report(self, mut report: Report, source: &DumpSource) -> Report {
        let wer_agreement = match (&self.wer, &report.signature) {
            (Some(w), Some(tuple)) => {
                let p = tuple.wer_parameters();
                w.compare_with(p.map(|(_, v)| v))
            }
            _ => Vec::new(),
        };
        report.path = source.path().display().to_string();
        report.kind = Some(crate::format::InputKind::Cab);
        report.file_size = Some(source.len());
        report.cab = Some(CabDetails {
            files: self.files,
            dump_file: self.member,
            wer: self.wer,
            wer_agreement,
        });
        report
    }
}
