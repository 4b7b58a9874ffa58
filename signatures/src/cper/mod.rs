//! WHEA error records (UEFI Common Platform Error Records) of Stop 0x124.
//!
//! For Stop 0x124, P2 is the virtual address of a `WHEA_ERROR_RECORD` (seed `002_*.txt`,
//! `shared/spec/cper.md`). The analyzer reads the bytes through dump memory and hands them to
//! [`decode_record`]; this module never touches a dump. How many bytes to read: first
//! [`HEADER_LEN`], then [`bytes_to_read`] of that header (the record's `Length`, capped at
//! [`MAX_RECORD_LEN`]).
//!
//! A record comes from firmware and drivers and may be malformed: bad lengths, sections outside
//! the record, absurd counts. Decoding never fails and never panics; whatever is wrong goes into
//! [`WheaRecord::notes`], and everything that can still be read is decoded. The 0x124 bucket
//! tokens come from [`bucket::whea_bucket`].

pub mod bucket;
pub mod guids;
pub mod sections;
mod timestamp;

use serde::Serialize;

pub use bucket::{whea_bucket, WheaBucket};
pub use guids::{Guid, NamedGuid};
pub use sections::{McaStatus, MemoryError, ProcessorGeneric, WindowsMca};
pub use timestamp::{TimestampEncoding, WheaTimestamp};

use guids::{name_in, CREATORS, NOTIFY_TYPES, SECTION_TYPES};
use le_bytes::{array, hex_prefix, u16_at, u32_at, u64_at, u8_at};

/// Size of `WHEA_ERROR_RECORD_HEADER`.
pub const HEADER_LEN: usize = 128;
/// Size of one `WHEA_ERROR_RECORD_SECTION_DESCRIPTOR`.
pub const DESCRIPTOR_LEN: usize = 72;
/// The most bytes of a record the analyzer should read (real records are a few KiB).
pub const MAX_RECORD_LEN: usize = 64 * 1024;
/// How many leading bytes of an undecoded section body a report shows.
pub const RAW_PREVIEW: usize = 64;

/// The CPU vendor and the record, as the analyzer found them for a Stop 0x124.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheaFacts {
    /// The decoded record, when the bytes at P2 could be read.
    pub record: Option<WheaRecord>,
    /// The CPUID vendor string of the crashing machine (`GenuineIntel`), e.g. from the KPRCB.
    pub cpu_vendor: Option<String>,
}

/// How many bytes of the record to read, given its first [`HEADER_LEN`] (or more) bytes:
/// the record's `Length`, at least the header, at most [`MAX_RECORD_LEN`].
pub fn bytes_to_read(header: &[u8]) -> usize {
    u32_at(header, 20).map_or(HEADER_LEN, |len| {
        usize::try_from(len)
            .unwrap_or(MAX_RECORD_LEN)
            .clamp(HEADER_LEN, MAX_RECORD_LEN)
    })
}

/// WHEA_REVISION: minor, major.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// Major revision.
    pub major: u8,
    /// Minor revision.
    pub minor: u8,
}

/// An error severity with its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Severity {
    /// The raw value.
    pub value: u32,
    /// `recoverable`, `fatal`, `corrected`, `informational` or `unknown`.
    pub name: &'static str,
}

impl Severity {
    /// Names a severity value.
    pub fn new(value: u32) -> Severity {
        let name = match value {
            0 => "recoverable",
            1 => "fatal",
            2 => "corrected",
            3 => "informational",
            _ => "unknown",
        };
        Severity { value, name }
    }
}

/// `WHEA_ERROR_RECORD_HEADER`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordHeader {
    /// The signature as ASCII when printable, else hex (`CPER` expected).
    pub signature: String,
    /// True when the signature is `CPER` and SignatureEnd is 0xFFFFFFFF.
    pub signature_valid: bool,
    /// Revision (not validated strictly: Windows 2.16, UEFI 1.1, Linux 1.0).
    pub revision: Revision,
    /// SignatureEnd.
    pub signature_end: u32,
    /// SectionCount as recorded.
    pub section_count: u16,
    /// Severity.
    pub severity: Severity,
    /// ValidBits: bit0 PlatformId, bit1 Timestamp, bit2 PartitionId.
    pub valid_bits: u32,
    /// Length of the whole record as recorded.
    pub length: u32,
    /// The timestamp, when its valid bit is set.
    pub timestamp: Option<WheaTimestamp>,
    /// PlatformId, when valid.
    pub platform_id: Option<Guid>,
    /// PartitionId, when valid.
    pub partition_id: Option<Guid>,
    /// CreatorId with its name.
    pub creator_id: NamedGuid,
    /// NotifyType with its name.
    pub notify_type: NamedGuid,
    /// RecordId.
    pub record_id: u64,
    /// Flags.
    pub flags: u32,
    /// Names of the flag bits set.
    pub flag_names: Vec<&'static str>,
    /// PersistenceInfo.
    pub persistence_info: u64,
    /// OsBuildNumber (the first 4 reserved bytes on recent Windows; 0 when not written).
    pub os_build_number: u32,
}

/// A section body, decoded when its type is one the report summarizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SectionBody {
    /// Processor generic.
    ProcessorGeneric(ProcessorGeneric),
    /// Platform memory.
    Memory(MemoryError),
    /// Windows x86/x64 MCA.
    WindowsMca(WindowsMca),
    /// Any other type (or a body too short to decode): the first bytes in hex.
    Raw {
        /// Up to [`RAW_PREVIEW`] bytes.
        first_bytes: String,
    },
    /// The body lies outside the record.
    Missing,
}

/// One section: its descriptor and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Index in the descriptor table.
    pub index: usize,
    /// SectionOffset from the start of the record.
    pub offset: u32,
    /// SectionLength.
    pub length: u32,
    /// Revision.
    pub revision: Revision,
    /// ValidBits: bit0 FRUId, bit1 FRUText.
    pub valid_bits: u8,
    /// Flags.
    pub flags: u32,
    /// Names of the flag bits set (`primary`, `containment_warning`, ...).
    pub flag_names: Vec<&'static str>,
    /// SectionType with its name.
    pub section_type: NamedGuid,
    /// FRUId, when valid.
    pub fru_id: Option<Guid>,
    /// FRUText, when valid.
    pub fru_text: Option<String>,
    /// SectionSeverity.
    pub severity: Severity,
    /// The body.
    pub body: SectionBody,
}

/// A decoded record: whatever could be read, and notes on whatever is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheaRecord {
    /// The header, `None` when fewer than [`HEADER_LEN`] bytes were given.
    pub header: Option<RecordHeader>,
    /// The sections whose descriptors lie inside the record.
    pub sections: Vec<Section>,
    /// What is malformed or missing, in words.
    pub notes: Vec<String>,
}

impl WheaRecord {
    /// The section flagged primary, else the first.
    pub fn primary_section(&self) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.flags & 1 != 0)
            .or_else(|| self.sections.first())
    }
}

const HEADER_FLAGS: &[&str] = &[
    "recovered",
    "previous_error",
    "simulated",
    "device_driver",
    "critical_event",
    "persist_pfn",
    "sections_truncated",
    "recovery_in_progress",
    "throttle",
];

const SECTION_FLAGS: &[&str] = &[
    "primary",
    "containment_warning",
    "reset",
    "threshold_exceeded",
    "resource_not_available",
    "latent_error",
];

fn flag_names(flags: u32, names: &[&'static str]) -> Vec<&'static str> {
    names
        .iter()
        .zip(0u32..)
        .filter(|(_, bit)| flags >> bit & 1 == 1)
        .map(|(n, _)| *n)
        .collect()
}

fn guid_at(b: &[u8], off: usize) -> Guid {
    Guid(array(b, off).unwrap_or_default())
}

/// Decodes a WHEA error record from its bytes. Never fails: problems become notes.
pub fn decode_record(bytes: &[u8]) -> WheaRecord {
    let mut notes = Vec::new();
    if bytes.len() < HEADER_LEN {
        notes.push(format!(
            "only {} bytes given: the record header needs {HEADER_LEN}",
            bytes.len()
        ));
        return WheaRecord {
            header: None,
            sections: Vec::new(),
            notes,
        };
    }
    let header = decode_header(bytes, &mut notes);
    let declared = usize::try_from(header.length).unwrap_or(usize::MAX);
    let mut end = bytes.len();
    if declared < HEADER_LEN {
        notes.push(format!(
            "Length {declared} is smaller than the {HEADER_LEN}-byte header: using the {} bytes given",
            bytes.len()
        ));
    } else if declared > bytes.len() {
        notes.push(format!(
            "Length {declared} but only {} bytes were available: the rest is missing",
            bytes.len()
        ));
    } else {
        end = declared;
    }
    let record = bytes.get(..end).unwrap_or(bytes);
    let count = usize::from(header.section_count);
    let fits = (record.len() - HEADER_LEN.min(record.len())) / DESCRIPTOR_LEN;
    if count > fits {
        notes.push(format!(
            "SectionCount {count} but only {fits} descriptors fit in {} bytes: decoding {fits}",
            record.len()
        ));
    }
    if declared >= HEADER_LEN && declared < HEADER_LEN + DESCRIPTOR_LEN * count {
        notes.push(format!(
            "Length {declared} is below 128 + 72 * SectionCount = {}",
            HEADER_LEN + DESCRIPTOR_LEN * count
        ));
    }
    let descriptors_end = HEADER_LEN + DESCRIPTOR_LEN * count.min(fits);
    let sections = (0..count.min(fits))
        .map(|i| decode_section(record, i, descriptors_end, &mut notes))
        .collect();
    WheaRecord {
        header: Some(header),
        sections,
        notes,
    }
}

fn decode_header(b: &[u8], notes: &mut Vec<String>) -> RecordHeader {
    let sig: [u8; 4] = array(b, 0).unwrap_or_default();
    let signature = if sig.iter().all(|c| c.is_ascii_graphic()) {
        String::from_utf8_lossy(&sig).into_owned()
    } else {
        hex_prefix(&sig, 4)
    };
    let signature_end = u32_at(b, 6).unwrap_or(0);
    if &sig != b"CPER" {
        notes.push(format!("signature is {signature:?}, not \"CPER\""));
    }
    if signature_end != 0xFFFF_FFFF {
        notes.push(format!(
            "SignatureEnd is 0x{signature_end:08x}, not 0xffffffff"
        ));
    }
    let valid_bits = u32_at(b, 16).unwrap_or(0);
    let severity = Severity::new(u32_at(b, 12).unwrap_or(0));
    if severity.name == "unknown" {
        notes.push(format!("unknown severity {}", severity.value));
    }
    let timestamp = (valid_bits & 2 != 0).then(|| {
        let t = WheaTimestamp::decode(u64_at(b, 24).unwrap_or(0));
        if t.encoding == TimestampEncoding::Invalid {
            notes.push(
                "the timestamp is valid per ValidBits but is no date in binary or BCD".into(),
            );
        }
        t
    });
    let flags = u32_at(b, 104).unwrap_or(0);
    RecordHeader {
        signature_valid: &sig == b"CPER" && signature_end == 0xFFFF_FFFF,
        signature,
        revision: Revision {
            minor: u8_at(b, 4).unwrap_or(0),
            major: u8_at(b, 5).unwrap_or(0),
        },
        signature_end,
        section_count: u16_at(b, 10).unwrap_or(0),
        severity,
        valid_bits,
        length: u32_at(b, 20).unwrap_or(0),
        timestamp,
        platform_id: (valid_bits & 1 != 0).then(|| guid_at(b, 32)),
        partition_id: (valid_bits & 4 != 0).then(|| guid_at(b, 48)),
        creator_id: name_in(CREATORS, guid_at(b, 64)),
        notify_type: name_in(NOTIFY_TYPES, guid_at(b, 80)),
        record_id: u64_at(b, 96).unwrap_or(0),
        flags,
        flag_names: flag_names(flags, HEADER_FLAGS),
        persistence_info: u64_at(b, 108).unwrap_or(0),
        os_build_number: u32_at(b, 116).unwrap_or(0),
    }
}

fn decode_section(
    record: &[u8],
    index: usize,
    descriptors_end: usize,
    notes: &mut Vec<String>,
) -> Section {
    let d = record
        .get(HEADER_LEN + DESCRIPTOR_LEN * index..)
        .unwrap_or(&[]);
    let offset = u32_at(d, 0).unwrap_or(0);
    let length = u32_at(d, 4).unwrap_or(0);
    let valid_bits = u8_at(d, 10).unwrap_or(0);
    let flags = u32_at(d, 12).unwrap_or(0);
    let section_type = name_in(SECTION_TYPES, guid_at(d, 16));
    let fru_text = (valid_bits & 2 != 0).then(|| {
        let raw = d.get(52..72).unwrap_or(&[]);
        let end = raw.iter().position(|c| *c == 0).unwrap_or(raw.len());
        String::from_utf8_lossy(raw.get(..end).unwrap_or(raw))
            .trim()
            .to_owned()
    });
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    let stop = start.saturating_add(usize::try_from(length).unwrap_or(usize::MAX));
    let body_bytes = if start >= record.len() {
        notes.push(format!(
            "section {index}: offset {offset} lies outside the {}-byte record",
            record.len()
        ));
        None
    } else {
        if stop > record.len() {
            notes.push(format!(
                "section {index}: offset {offset} + length {length} runs past the {}-byte record: truncated",
                record.len()
            ));
        }
        if start < descriptors_end {
            notes.push(format!(
                "section {index}: offset {offset} overlaps the header or descriptors (end {descriptors_end})"
            ));
        }
        record.get(start..stop.min(record.len()))
    };
    let body = match body_bytes {
        None => SectionBody::Missing,
        Some(b) => decode_body(&section_type, b, index, notes),
    };
    Section {
        index,
        offset,
        length,
        revision: Revision {
            minor: u8_at(d, 8).unwrap_or(0),
            major: u8_at(d, 9).unwrap_or(0),
        },
        valid_bits,
        flags,
        flag_names: flag_names(flags, SECTION_FLAGS),
        section_type,
        fru_id: (valid_bits & 1 != 0).then(|| guid_at(d, 32)),
        fru_text,
        severity: Severity::new(u32_at(d, 48).unwrap_or(0)),
        body,
    }
}

fn decode_body(kind: &NamedGuid, b: &[u8], index: usize, notes: &mut Vec<String>) -> SectionBody {
    let decoded = match kind.name {
        Some("processor generic") => {
            sections::processor_generic(b).map(SectionBody::ProcessorGeneric)
        }
        Some("platform memory") => sections::memory_error(b).map(SectionBody::Memory),
        Some("Windows x86/x64 MCA") => sections::windows_mca(b).map(SectionBody::WindowsMca),
        _ => {
            return SectionBody::Raw {
                first_bytes: hex_prefix(b, RAW_PREVIEW),
            }
        }
    };
    decoded.unwrap_or_else(|| {
        notes.push(format!(
            "section {index}: {} body of {} bytes is too short to decode",
            kind.name.unwrap_or("?"),
            b.len()
        ));
        SectionBody::Raw {
            first_bytes: hex_prefix(b, RAW_PREVIEW),
        }
    })
}

#[cfg(test)]
mod tests;
