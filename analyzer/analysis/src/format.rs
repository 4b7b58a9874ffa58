//! Recognizing a dump's format from its first bytes.

use serde::Serialize;

/// The kinds of input dumpsig recognizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DumpFormat {
    /// A user-mode minidump (`MDMP`).
    Minidump,
    /// A 32-bit kernel dump (`PAGEDUMP`).
    Kernel32,
    /// A 64-bit kernel dump (`PAGEDU64`).
    Kernel64,
    /// A cabinet file (`MSCF`), as WER report CABs are.
    Cab,
}

impl DumpFormat {
    /// Recognizes the format from the file's first bytes.
    pub fn sniff(bytes: &[u8]) -> Option<DumpFormat> {
        if bytes.starts_with(b"MDMP") {
            Some(DumpFormat::Minidump)
        } else if bytes.starts_with(b"PAGEDUMP") {
            Some(DumpFormat::Kernel32)
        } else if bytes.starts_with(b"PAGEDU64") {
            Some(DumpFormat::Kernel64)
        } else if bytes.starts_with(b"MSCF") {
            Some(DumpFormat::Cab)
        } else {
            None
        }
    }

    /// The `kind` value reports carry for this format.
    pub fn kind(self) -> &'static str {
        match self {
            DumpFormat::Minidump => "minidump",
            DumpFormat::Kernel32 | DumpFormat::Kernel64 => "kernel",
            DumpFormat::Cab => "cab",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_every_signature() {
        assert_eq!(
            DumpFormat::sniff(b"MDMP\x93\xa7"),
            Some(DumpFormat::Minidump)
        );
        assert_eq!(
            DumpFormat::sniff(b"PAGEDUMP...."),
            Some(DumpFormat::Kernel32)
        );
        assert_eq!(
            DumpFormat::sniff(b"PAGEDU64...."),
            Some(DumpFormat::Kernel64)
        );
        assert_eq!(DumpFormat::sniff(b"MSCF\0\0\0\0"), Some(DumpFormat::Cab));
        assert_eq!(DumpFormat::sniff(b"PAGE"), None);
        assert_eq!(DumpFormat::sniff(b""), None);
    }
}
