//! The per-line view of a report record: only the fields `regress` reads.

use serde::Deserialize;

// The per-line view of a record: serde skips every other field without keeping it.
#[derive(Deserialize, Clone)]
#[serde(expecting = "a JSON object with a `path`")]
pub(super) struct Line {
    pub(super) path: String,
    pub(super) schema_version: Option<u64>,
    pub(super) error: Option<String>,
    pub(super) failure_bucket: Option<String>,
    pub(super) cer_subpath: Option<String>,
    pub(super) known_issues: Option<Vec<IssueLine>>,
    pub(super) kernel: Option<KernelLine>,
    pub(super) kernel_signature: Option<KernelSignatureLine>,
    pub(super) minidump: Option<MinidumpLine>,
    pub(super) signature: Option<SignatureLine>,
}

#[derive(Deserialize, Clone)]
pub(super) struct IssueLine {
    pub(super) id: String,
    pub(super) title: Option<String>,
    pub(super) verdict: String,
    pub(super) reason: Option<String>,
}

#[derive(Deserialize, Clone)]
pub(super) struct NamedCode {
    pub(super) code: Option<String>,
    pub(super) name: Option<String>,
}

#[derive(Deserialize, Clone)]
pub(super) struct KernelLine {
    pub(super) bugcheck: Option<NamedCode>,
}

#[derive(Deserialize, Clone)]
pub(super) struct KernelSignatureLine {
    pub(super) stop_code: Option<StopCodeLine>,
}

#[derive(Deserialize, Clone)]
pub(super) struct StopCodeLine {
    pub(super) base_code: Option<u64>,
}

#[derive(Deserialize, Clone)]
pub(super) struct MinidumpLine {
    pub(super) exception: Option<NamedCode>,
}

#[derive(Deserialize, Clone)]
pub(super) struct SignatureLine {
    pub(super) exception_code: Option<String>,
    pub(super) fault_location: Option<String>,
}
