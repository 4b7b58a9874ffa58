//! GUIDs of CPER records: notify types, section types and creators, with their names
//! (`shared/spec/cper.md`).

use std::fmt;

use serde::{Serialize, Serializer};

/// A GUID in the Windows memory layout: Data1 u32 LE, Data2 u16 LE, Data3 u16 LE, Data4 as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Parses the text form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub fn parse(text: &str) -> Option<Guid> {
        let parts: Vec<&str> = text.trim().split('-').collect();
        let [d1, d2, d3, d4, d5] = parts.as_slice() else {
            return None;
        };
        if [d1.len(), d2.len(), d3.len(), d4.len(), d5.len()] != [8, 4, 4, 4, 12] {
            return None;
        }
        let mut out = [0u8; 16];
        let d1 = u32::from_str_radix(d1, 16).ok()?.to_le_bytes();
        let d2 = u16::from_str_radix(d2, 16).ok()?.to_le_bytes();
        let d3 = u16::from_str_radix(d3, 16).ok()?.to_le_bytes();
        let tail = format!("{d4}{d5}");
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = match i {
                0..=3 => *d1.get(i)?,
                4..=5 => *d2.get(i - 4)?,
                6..=7 => *d3.get(i - 6)?,
                _ => {
                    let at = (i - 8) * 2;
                    u8::from_str_radix(tail.get(at..at + 2)?, 16).ok()?
                }
            };
        }
        Some(Guid(out))
    }

    /// True for the all-zero GUID.
    pub fn is_nil(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a0, a1, a2, a3, b0, b1, c0, c1, rest @ ..] = self.0;
        let d1 = u32::from_le_bytes([a0, a1, a2, a3]);
        let d2 = u16::from_le_bytes([b0, b1]);
        let d3 = u16::from_le_bytes([c0, c1]);
        let [r0, r1, r2, r3, r4, r5, r6, r7] = rest;
        write!(
            f,
            "{d1:08x}-{d2:04x}-{d3:04x}-{r0:02x}{r1:02x}-{r2:02x}{r3:02x}{r4:02x}{r5:02x}{r6:02x}{r7:02x}"
        )
    }
}

impl Serialize for Guid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A GUID with its name when it is a known one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedGuid {
    /// The GUID.
    pub guid: Guid,
    /// Its name, e.g. `MCE` or `processor generic`.
    pub name: Option<&'static str>,
}

/// Notify types (`WHEA_ERROR_RECORD_HEADER.NotifyType`).
pub const NOTIFY_TYPES: &[(&str, &str)] = &[
    ("2dce8bb1-bdd7-450e-b9ad-9cf4ebd4f890", "CMC"),
    ("4e292f96-d843-4a55-a8c2-d481f27ebeee", "CPE"),
    ("e8f56ffe-919c-4cc5-ba88-65abe14913bb", "MCE"),
    ("cf93c01f-1a16-4dfc-b8bc-9c4daf67c104", "PCIe"),
    ("cc5263e8-9308-454a-89d0-340bd39bc98e", "INIT"),
    ("5bad89ff-b7e6-42c9-814a-cf2485d6e98a", "NMI"),
    ("3d61a466-ab40-409a-a698-f362d464b38f", "BOOT"),
    ("9a78788a-bbe8-11e4-809e-67611e5d46b0", "SEA"),
    ("5c284c81-b0ae-4e87-a322-b04c85624323", "SEI"),
    ("0033f803-2e70-4e88-992c-6f26daf3db7a", "device driver"),
    ("3e62a467-ab40-409a-a698-f362d464b38f", "generic"),
    ("487565ba-6494-4367-95ca-4eff893522f6", "BMC"),
];

/// Section types (`WHEA_ERROR_RECORD_SECTION_DESCRIPTOR.SectionType`).
pub const SECTION_TYPES: &[(&str, &str)] = &[
    (PROCESSOR_GENERIC, "processor generic"),
    (
        "dc3ea0b0-a144-4797-b95b-53fa242b6e1d",
        "x86/x64 processor specific",
    ),
    (
        "e429faf1-3cb7-11d4-bca7-0080c73c8881",
        "IA-64 processor specific",
    ),
    ("e19e3d16-bc11-11e4-9caa-c2051d5d46b0", "ARM processor"),
    (PLATFORM_MEMORY, "platform memory"),
    (PCI_EXPRESS, "PCI Express"),
    ("c5753963-3b84-4095-bf78-eddad3f9c9dd", "PCI/PCI-X bus"),
    ("eb5e4685-ca66-4769-b6a2-26068b001326", "PCI component"),
    (
        "81212a96-09ed-4996-9471-8d729c8e69ed",
        "firmware error record reference",
    ),
    (WINDOWS_MCA, "Windows x86/x64 MCA"),
    ("e71254e8-c1b9-4940-ab76-909703a4320f", "Windows generic"),
    ("e71254e7-c1b9-4940-ab76-909703a4320f", "Windows NMI"),
];

/// Creators (`WHEA_ERROR_RECORD_HEADER.CreatorId`).
pub const CREATORS: &[(&str, &str)] = &[
    ("cf07c4bd-b789-4e18-b3c4-1f732cb57131", "Windows kernel"),
    (
        "57217c8d-5e66-44fb-8033-9b74cacedf5b",
        "default device driver",
    ),
];

/// The processor generic section.
pub const PROCESSOR_GENERIC: &str = "9876ccad-47b4-4bdb-b65e-16f193c4f3db";
/// The platform memory section.
pub const PLATFORM_MEMORY: &str = "a5bc1114-6f64-4ede-b863-3e83ed7c83b1";
/// The PCI Express section.
pub const PCI_EXPRESS: &str = "d995e954-bbc1-430f-ad91-b44dcb3c6f35";
/// Windows' x86/x64 MCA section (`WHEA_XPF_MCA_SECTION`).
pub const WINDOWS_MCA: &str = "8a1e1d01-42f9-4557-9c33-565e5cc3f7e8";

/// Names `guid` from `table`.
pub fn name_in(table: &[(&str, &'static str)], guid: Guid) -> NamedGuid {
    let text = guid.to_string();
    NamedGuid {
        guid,
        name: table.iter().find(|(g, _)| *g == text).map(|(_, n)| *n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tables_are_valid() {
        for (text, _) in NOTIFY_TYPES.iter().chain(SECTION_TYPES).chain(CREATORS) {
            let g = Guid::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(g.to_string(), *text);
        }
        let g = Guid::parse(PROCESSOR_GENERIC).unwrap_or_default();
        // Data1 is little-endian in memory.
        assert_eq!(g.0[..4], [0xad, 0xcc, 0x76, 0x98]);
        assert_eq!(name_in(SECTION_TYPES, g).name, Some("processor generic"));
        assert_eq!(Guid::parse("not-a-guid"), None);
        assert!(Guid::default().is_nil());
    }
}
