//! [`FileVersion`]: the four-part version of `VS_FIXEDFILEINFO` (PE version resources,
//! minidump module records), formatted one way everywhere.

use std::fmt;

/// `FileVersionMS` / `FileVersionLS` as `major.minor.build.revision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileVersion {
    /// `dwFileVersionMS`: major in the high word, minor in the low.
    pub ms: u32,
    /// `dwFileVersionLS`: build in the high word, revision in the low.
    pub ls: u32,
}

impl FileVersion {
    /// From the two 32-bit halves as stored.
    pub fn new(ms: u32, ls: u32) -> FileVersion {
        FileVersion { ms, ls }
    }

    /// The four parts.
    pub fn parts(self) -> [u32; 4] {
        [
            self.ms >> 16,
            self.ms & 0xFFFF,
            self.ls >> 16,
            self.ls & 0xFFFF,
        ]
    }
}

impl fmt::Display for FileVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.parts();
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_four_parts() {
        assert_eq!(
            FileVersion::new(0x0006_0001, 0x1DB1_4E62).to_string(),
            "6.1.7601.20066"
        );
    }
}
