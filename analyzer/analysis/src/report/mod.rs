//! The per-input report: the three signature keys plus the format's details, as one JSON
//! object (documented in `docs/json.md`) or as text for a person.

pub mod csv;
pub mod html;
pub(crate) mod kernel_text;
mod text;

use serde::Serialize;
use signatures::{CerTuple, CrashState, FailureBucket};

use crate::kernel::signature::KernelSignature;
use crate::kernel::KernelReport;
use crate::minidump::details::MinidumpDetails;
use crate::minidump::MinidumpWarning;
use signatures::known_issues::Verdict;

use crate::format::InputKind;
use cab::wer::{FieldAgreement, WerMetadata};

/// Frames of the crashing thread the text report shows by default (`--frames`).
pub const TEXT_FRAMES: usize = 10;

/// Version of the JSON schema in `docs/json.md`; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 3;

/// The analysis of one input. Inputs that failed carry `error` and nothing else but the path.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The input as given (or as found under a given directory).
    pub path: String,
    /// `minidump`, `kernel`, `cab`, or `null` when the format was not recognized.
    pub kind: Option<InputKind>,
    /// File size in bytes, when the file could be opened.
    pub file_size: Option<u64>,
    /// `null`, or why the input could not be analyzed.
    pub error: Option<String>,
    /// The CER error subpath, backslash-separated.
    pub cer_subpath: Option<String>,
    /// The failure bucket in the debugger's grammar.
    pub failure_bucket: Option<String>,
    /// Its FAILURE_ID_HASH.
    pub failure_id_hash: Option<String>,
    /// Top relevant frames; `null` when the stack was not walked (signature-only).
    pub crash_state: Option<Vec<String>>,
    /// The WER/CER tuple the subpath was built from (unsanitized values).
    pub signature: Option<CerTuple>,
    /// Minidump details (`kind` = `minidump`); `null` on the signature-only path.
    pub minidump: Option<MinidumpDetails>,
    /// Kernel dump details (`kind` = `kernel`).
    pub kernel: Option<KernelReport>,
    /// How the kernel keys were derived: the stop code explained, the module selection and
    /// its reasoning, the bucket's attributes, the decoded WHEA record (`kind` = `kernel`).
    pub kernel_signature: Option<KernelSignature>,
    /// For a report CAB: its members, the analyzed dump's name, the WER metadata and its
    /// agreement with our tuple.
    pub cab: Option<CabDetails>,
    /// Known-issue verdicts: `[{id, title, references, verdict, reason, context}]`.
    pub known_issues: Vec<Verdict>,
    /// What a minidump holds damaged or lacks while its keys could be computed:
    /// `[{kind, ..., message}]` (docs/json.md).
    pub warnings: Vec<MinidumpWarning>,
}

impl Report {
    /// A report for an input that could not be analyzed.
    pub fn failed(
        path: String,
        kind: Option<InputKind>,
        file_size: Option<u64>,
        error: String,
    ) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            path,
            kind,
            file_size,
            error: Some(error),
            cer_subpath: None,
            failure_bucket: None,
            failure_id_hash: None,
            crash_state: None,
            signature: None,
            minidump: None,
            kernel: None,
            kernel_signature: None,
            cab: None,
            known_issues: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A user-mode report from its signature keys and details.
    pub fn user_mode(
        path: String,
        file_size: u64,
        tuple: CerTuple,
        bucket: FailureBucket,
        state: Option<CrashState>,
        details: Option<MinidumpDetails>,
    ) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            path,
            kind: Some(InputKind::Minidump),
            file_size: Some(file_size),
            error: None,
            cer_subpath: Some(tuple.subpath()),
            failure_bucket: Some(bucket.bucket),
            failure_id_hash: Some(bucket.failure_id_hash),
            crash_state: state.map(|s| s.frames),
            signature: Some(tuple),
            minidump: details,
            kernel: None,
            kernel_signature: None,
            cab: None,
            known_issues: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A kernel report: every kernel crash files under the CER subpath `blue`.
    pub fn kernel(
        path: String,
        file_size: u64,
        details: KernelReport,
        signature: KernelSignature,
        known_issues: Vec<Verdict>,
    ) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            path,
            kind: Some(InputKind::Kernel),
            file_size: Some(file_size),
            error: None,
            cer_subpath: Some(cer_share::BucketPath::Blue.windows_subpath()),
            failure_bucket: Some(signature.bucket.failure.bucket.clone()),
            failure_id_hash: Some(signature.bucket.failure.failure_id_hash.clone()),
            crash_state: Some(signature.bucket.crash_state.frames.clone()),
            signature: None,
            minidump: None,
            kernel: Some(details),
            kernel_signature: Some(signature),
            cab: None,
            known_issues,
            warnings: Vec::new(),
        }
    }

    /// One JSON Lines record (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serializing plain data with string keys cannot fail; keep a record either way.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!(
                "{{\"schema_version\":{SCHEMA_VERSION},\"path\":{},\"error\":\"cannot serialize report: {e}\"}}",
                serde_json::Value::String(self.path.clone())
            )
        })
    }

    /// The human-readable report, with the first [`TEXT_FRAMES`] frames of the crashing
    /// thread.
    pub fn to_text(&self) -> String {
        self.to_text_with_frames(TEXT_FRAMES)
    }

    /// The human-readable report with up to `frames` frames of the crashing thread (0: every
    /// frame the report kept); a line says how many more there are.
    pub fn to_text_with_frames(&self, frames: usize) -> String {
        let mut out = String::new();
        text::render(self, frames, &mut out);
        out
    }
}

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
