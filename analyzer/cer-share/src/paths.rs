//! Bucket subpaths, the defensive component check, and the 260-character rule (MS-CER 2.2.3;
//! cer-share.md rules 1 and 2).
//!
//! Components arrive already sanitized (the `signatures` crate maps rule 1); this module only
//! *checks*, and rejects rather than repairs: a value that fails here is a bug upstream or a
//! hostile input, and no input may ever place a file outside the share root.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ShareError;

/// Where a report is filed: the error subpath.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketPath {
    /// Application fault or hang: `AppName, AppVer, ModName, ModVer, Offset`, each already
    /// sanitized by rule 1 (for example with `CerTuple::subpath_components`).
    App([String; 5]),
    /// Kernel fault: `blue`.
    Blue,
    /// Unplanned shutdown: `shutdown`.
    Shutdown,
}

/// Names of the five application components, for error messages.
const APP_PARTS: [&str; 5] = ["AppName", "AppVer", "ModName", "ModVer", "Offset"];

/// Device names Windows reserves in every directory, with or without an extension.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Longest single path component accepted (NTFS and most file systems: 255).
const MAX_COMPONENT: usize = 255;

/// Checks one path component against rule 1; `Err` names the first violation.
pub fn check_component(what: &'static str, value: &str) -> Result<(), ShareError> {
    let reason = if value.is_empty() {
        Some("empty")
    } else if value == "." || value == ".." {
        Some("a relative path component")
    } else if !value.is_ascii() {
        Some("not ASCII")
    } else if value
        .chars()
        .any(|c| c.is_ascii_control() || "<>:\"/\\|?*".contains(c))
    {
        Some("contains a character the file system prohibits")
    } else if value.ends_with('.') || value.ends_with(' ') {
        Some("ends in a dot or a space")
    } else if value.len() > MAX_COMPONENT {
        Some("longer than 255 characters")
    } else if is_reserved(value) {
        Some("a reserved device name")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ShareError::InvalidInput {
            what,
            value: value.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn is_reserved(value: &str) -> bool {
    let stem = value
        .split('.')
        .next()
        .unwrap_or(value)
        .trim_end_matches(' ');
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem))
}

/// Checks a report content id: 16..=64 lowercase hex digits.
pub fn check_content_id(id: &str) -> Result<(), ShareError> {
    let ok = (16..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ShareError::InvalidInput {
            what: "content id",
            value: id.to_owned(),
            reason: "not 16..64 lowercase hex digits",
        })
    }
}

impl BucketPath {
    /// The subpath's folder names, checked by rule 1.
    pub fn checked_components(&self) -> Result<Vec<&str>, ShareError> {
        match self {
            BucketPath::App(parts) => {
                for (what, part) in APP_PARTS.iter().zip(parts.iter()) {
                    check_component(what, part)?;
                }
                Ok(parts.iter().map(String::as_str).collect())
            }
            BucketPath::Blue => Ok(vec!["blue"]),
            BucketPath::Shutdown => Ok(vec!["shutdown"]),
        }
    }

    /// True for `blue` and `shutdown`, which have no default report limit.
    pub fn is_special(&self) -> bool {
        !matches!(self, BucketPath::App(_))
    }

    /// The error subpath in Windows form (`app\1.0\mod\1.0\0000abcd`, `blue`), unchecked.
    pub fn windows_subpath(&self) -> String {
        match self {
            BucketPath::App(parts) => parts.join("\\"),
            BucketPath::Blue => "blue".to_owned(),
            BucketPath::Shutdown => "shutdown".to_owned(),
        }
    }

    /// Builds a bucket back from folder names found in a share.
    pub(crate) fn from_components(parts: &[String]) -> Option<BucketPath> {
        match parts {
            [one] if one == "blue" => Some(BucketPath::Blue),
            [one] if one == "shutdown" => Some(BucketPath::Shutdown),
            [a, b, c, d, e] => Some(BucketPath::App([
                a.clone(),
                b.clone(),
                c.clone(),
                d.clone(),
                e.clone(),
            ])),
            _ => None,
        }
    }
}

/// The share root in the Windows form the 260-character rule is measured on.
///
/// **Decision:** the root counted is the *absolute* form of the root in use (after any
/// FileTreeRoot redirect), without resolving symbolic links, with every `/` written as `\` and
/// trailing separators removed. `/srv/cer` counts as `\srv\cer` (8 characters); on Windows
/// `\\server\share` counts as itself. A relative root counts as its absolute form because that
/// is the path the file system sees.
pub fn windows_root(root: &Path) -> String {
    let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let text = absolute.to_string_lossy().replace('/', "\\");
    let trimmed = text.trim_end_matches('\\');
    if trimmed.is_empty() {
        // The file-system root itself: its files are `\cabs\...`.
        String::new()
    } else {
        trimmed.to_owned()
    }
}

/// The four signature-specific files of a bucket (MS-CER 2.2.3).
#[derive(Debug, Clone)]
pub(crate) struct BucketFiles {
    /// `cabs\<subpath>` folder.
    pub cabs_dir: PathBuf,
    /// `cabs\<subpath>\hits.log`.
    pub hits_log: PathBuf,
    /// `status\<subpath>\status.txt`.
    pub status_txt: PathBuf,
    /// `counts\<subpath>\count.txt`.
    pub count_txt: PathBuf,
    /// Components relative to the root, for the journal: `cabs\<subpath>` and
    /// `counts\<subpath>`.
    pub cabs_rel: Vec<String>,
    pub counts_rel: Vec<String>,
}

impl BucketFiles {
    pub(crate) fn new(root: &Path, components: &[&str]) -> BucketFiles {
        let under = |top: &str| {
            let mut dir = root.join(top);
            dir.extend(components);
            dir
        };
        let rel = |top: &str| {
            std::iter::once(top)
                .chain(components.iter().copied())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let cabs_dir = under("cabs");
        BucketFiles {
            hits_log: cabs_dir.join("hits.log"),
            status_txt: under("status").join("status.txt"),
            count_txt: under("counts").join("count.txt"),
            cabs_dir,
            cabs_rel: rel("cabs"),
            counts_rel: rel("counts"),
        }
    }
}

/// The longest Windows-form path the filing would generate, and its length in characters.
/// `report_name` is included only when a report file is supplied.
pub(crate) fn longest_path(
    windows_root: &str,
    subpath: &str,
    report_name: Option<&str>,
) -> (String, usize) {
    let mut candidates = vec![
        format!("{windows_root}\\cabs\\{subpath}\\hits.log"),
        format!("{windows_root}\\status\\{subpath}\\status.txt"),
        format!("{windows_root}\\counts\\{subpath}\\count.txt"),
    ];
    if let Some(name) = report_name {
        candidates.push(format!("{windows_root}\\cabs\\{subpath}\\{name}"));
    }
    candidates
        .into_iter()
        .map(|p| {
            let n = p.chars().count();
            (p, n)
        })
        .max_by_key(|(_, n)| *n)
        .unwrap_or_default()
}

/// Longest generated path MS-CER 2.2.3 allows.
pub const MAX_PATH_CHARS: usize = 260;
