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

    /// The kind of input reports carry for this format.
    pub fn kind(self) -> InputKind {
        match self {
            DumpFormat::Minidump => InputKind::Minidump,
            DumpFormat::Kernel32 | DumpFormat::Kernel64 => InputKind::Kernel,
            DumpFormat::Cab => InputKind::Cab,
        }
    }
}

/// What an input is, as a report's `kind` says it: `minidump`, `kernel` or `cab`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// A user-mode minidump.
    Minidump,
    /// A kernel dump (either width).
    Kernel,
    /// A report CAB.
    Cab,
}

impl InputKind {
    /// The word in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Minidump => "minidump",
            InputKind::Kernel => "kernel",
            InputKind::Cab => "cab",
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
