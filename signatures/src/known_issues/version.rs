//! Dotted-quad file versions, OS build lines and servicing branches.
//!
//! A Windows file version `6.1.7600.16385` is `major.minor.build.revision`. The first three
//! parts are the OS build line (`6.1.7600` = Windows 7 / Server 2008 R2 RTM). The revision's
//! ten-thousands digit is the servicing branch (`shared/spec/known-issues.md`, seed 001's file
//! tables): `1xxxx` is GDR (general distribution: 6.0.6002.18xxx, 6.1.7600.16xxx), `2xxxx` is
//! LDR (limited distribution, where hotfixes go: 6.0.6002.22xxx, 6.1.7600.20xxx). Two versions
//! are on the same servicing line when their first three parts and their branch are equal.

use std::cmp::Ordering;
use std::fmt;

use serde::{Serialize, Serializer};

/// A four-part file version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pub [u32; 4]);

impl Version {
    /// Parses `a.b.c.d` (anything after the first whitespace, like `(win7_rtm.090713-1255)`,
    /// is ignored). Exactly four numeric parts are required.
    pub fn parse(text: &str) -> Option<Version> {
        let first = text.split_whitespace().next()?;
        let parts: Vec<u32> = first
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let quad: [u32; 4] = parts.try_into().ok()?;
        Some(Version(quad))
    }

    /// The OS build line: `6.1.7600`.
    pub fn line(&self) -> String {
        let [a, b, c, _] = self.0;
        format!("{a}.{b}.{c}")
    }

    /// The servicing branch: the revision's ten-thousands digit.
    pub fn branch(&self) -> u32 {
        self.0[3] / 10_000
    }

    /// The branch in words: `16xxx`-style pattern and GDR/LDR where the convention applies.
    pub fn branch_words(&self) -> String {
        let name = match self.branch() {
            1 => " (GDR)",
            2 => " (LDR)",
            _ => "",
        };
        format!("{}xxxx{name}", self.branch())
    }

    /// Same first three parts and same branch.
    pub fn same_servicing_line(&self, other: &Version) -> bool {
        self.line() == other.line() && self.branch() == other.branch()
    }
}

impl PartialOrd<[u32; 4]> for Version {
    fn partial_cmp(&self, other: &[u32; 4]) -> Option<Ordering> {
        Some(self.0.cmp(other))
    }
}

impl PartialEq<[u32; 4]> for Version {
    fn eq(&self, other: &[u32; 4]) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Normalizes an OS build line: the first three numeric parts of `text` (`6.1.7600.16385` ->
/// `6.1.7600`), `None` when there are fewer than three.
pub fn os_line(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.trim().split('.').take(3).collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.parse::<u32>().is_ok());
    ok.then(|| parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_compare_and_branches() {
        let v = |s| Version::parse(s).unwrap_or(Version([0; 4]));
        assert_eq!(
            v("6.1.7600.16385 (win7_rtm.090713-1255)"),
            Version([6, 1, 7600, 16385])
        );
        assert!(Version::parse("6.1.7600").is_none());
        assert!(Version::parse("6.1.x.1").is_none());
        assert!(v("6.1.7600.20882") > v("6.1.7600.16385"));
        assert!(v("6.0.6002.22588") > v("6.0.6002.18005"));
        assert_eq!(v("6.1.7600.16385").branch_words(), "1xxxx (GDR)");
        assert!(v("6.1.7600.20882").same_servicing_line(&v("6.1.7600.20999")));
        assert!(v("6.1.7600.20882").same_servicing_line(&v("6.1.7600.21001")));
        assert!(!v("6.1.7600.20882").same_servicing_line(&v("6.1.7600.16385")));
        assert!(!v("6.1.7600.20882").same_servicing_line(&v("6.1.7601.20882")));
        assert_eq!(os_line("6.1.7600.16385").as_deref(), Some("6.1.7600"));
        assert_eq!(os_line("6.1"), None);
    }
}
