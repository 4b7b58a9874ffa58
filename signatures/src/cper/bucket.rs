//! The Stop 0x124 bucket tokens: `0x124_<P1 decimal>_<vendor>_<CLASS>_<TYPE>` with the location
//! `IMAGE_<vendor>.sys`, as the debugger writes them (`shared/spec/cper.md`).
//!
//! `<CLASS>_<TYPE>` comes from the record: `PROCESSOR_CACHE` (processor generic error type or the
//! MCA error code class), `MEMORY_MULTI_BIT_ECC` (platform memory), `PCIE_UNKNOWN`; a record
//! without a section of a decoded type gives an empty class and `UNKNOWN`, hence the double
//! underscore of the published vector `0x124_16_GenuineIntel__UNKNOWN_IMAGE_GenuineIntel.sys`.

use serde::Serialize;

use super::{SectionBody, WheaFacts};

/// Vendor used when neither the CPU nor the record names one.
pub const UNKNOWN_VENDOR: &str = "UnknownVendor";

/// The parts of a 0x124 bucket and where they came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WheaBucket {
    /// P1, the error source type.
    pub error_source: u64,
    /// CPU vendor token (`GenuineIntel`, `AuthenticAMD`, [`UNKNOWN_VENDOR`]).
    pub vendor: String,
    /// `PROCESSOR`, `MEMORY`, `PCIE` or empty.
    pub class: String,
    /// `CACHE`, `TLB`, `BUS`, `MAE`, a memory error type, or `UNKNOWN`.
    pub error_type: String,
    /// Index of the section that gave class and type.
    pub section: Option<usize>,
    /// `0x124_<P1>_<vendor>_<CLASS>_<TYPE>`.
    pub prefix: String,
    /// `<vendor>.sys`, the debugger's pseudo image.
    pub image: String,
    /// Where vendor and type came from, in words.
    pub reason: String,
}

fn vendor_of_brand(brand: &str) -> Option<&'static str> {
    if brand.contains("Intel") {
        Some("GenuineIntel")
    } else if brand.contains("AMD") {
        Some("AuthenticAMD")
    } else {
        None
    }
}

fn clean_vendor(v: &str) -> Option<String> {
    let v: String = v.chars().filter(char::is_ascii_alphanumeric).collect();
    (!v.is_empty()).then_some(v)
}

/// The vendor and where it came from.
fn vendor(whea: Option<&WheaFacts>) -> (String, &'static str) {
    if let Some(v) = whea
        .and_then(|w| w.cpu_vendor.as_deref())
        .and_then(clean_vendor)
    {
        return (v, "the CPUID vendor string");
    }
    let sections = whea
        .and_then(|w| w.record.as_ref())
        .map_or(&[][..], |r| &r.sections[..]);
    for s in sections {
        match &s.body {
            SectionBody::ProcessorGeneric(p) => {
                if let Some(v) = p.brand_string.as_deref().and_then(vendor_of_brand) {
                    return (v.to_owned(), "the processor brand string");
                }
            }
            SectionBody::WindowsMca(m) => {
                if let Some(v) = m.cpu_vendor {
                    return (v.to_owned(), "the MCA section's CPU vendor");
                }
            }
            _ => {}
        }
    }
    (UNKNOWN_VENDOR.to_owned(), "no vendor known")
}

/// Class and type from the record's sections, by priority.
fn error_kind(whea: Option<&WheaFacts>) -> (String, String, Option<usize>) {
    let sections = whea
        .and_then(|w| w.record.as_ref())
        .map_or(&[][..], |r| &r.sections[..]);
    let found = |want: fn(&SectionBody) -> Option<(&'static str, String)>| {
        sections
            .iter()
            .find_map(|s| want(&s.body).map(|(c, t)| (c.to_owned(), t, Some(s.index))))
    };
    found(|b| match b {
        SectionBody::ProcessorGeneric(p) => p.error_type_name.map(|t| ("PROCESSOR", t.to_owned())),
        _ => None,
    })
    .or_else(|| {
        found(|b| match b {
            SectionBody::WindowsMca(m) if m.status.valid && m.status.class != "NO_ERROR" => {
                Some(("PROCESSOR", m.status.class.to_owned()))
            }
            _ => None,
        })
    })
    .or_else(|| {
        found(|b| match b {
            SectionBody::Memory(m) => {
                Some(("MEMORY", m.error_type_name.unwrap_or("UNKNOWN").to_owned()))
            }
            _ => None,
        })
    })
    .or_else(|| {
        sections
            .iter()
            .find(|s| s.section_type.name == Some("PCI Express"))
            .map(|s| ("PCIE".to_owned(), "UNKNOWN".to_owned(), Some(s.index)))
    })
    .or_else(|| {
        found(|b| match b {
            SectionBody::ProcessorGeneric(_) => Some(("PROCESSOR", "UNKNOWN".to_owned())),
            _ => None,
        })
    })
    .unwrap_or((String::new(), "UNKNOWN".to_owned(), None))
}

/// The 0x124 bucket parts for error source `p1` and the record (if any).
pub fn whea_bucket(p1: u64, whea: Option<&WheaFacts>) -> WheaBucket {
    let (vendor, vendor_from) = vendor(whea);
    let (class, error_type, section) = error_kind(whea);
    let kind_from = match (section, whea.and_then(|w| w.record.as_ref())) {
        (Some(i), _) => format!("section {i} gave {class}_{error_type}"),
        (None, Some(_)) => "no section of a decoded type: UNKNOWN".to_owned(),
        (None, None) => "no WHEA record could be read: UNKNOWN".to_owned(),
    };
    WheaBucket {
        error_source: p1,
        prefix: format!("0x124_{p1}_{vendor}_{class}_{error_type}"),
        image: format!("{vendor}.sys"),
        reason: format!("vendor {vendor} from {vendor_from}; {kind_from}"),
        vendor,
        class,
        error_type,
        section,
    }
}
