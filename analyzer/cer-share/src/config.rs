//! policy.txt and status.txt (MS-CER 2.2.4, 2.2.5; cer-share.md rules 6, 7, 8, 9).
//!
//! Each entry is checked on its own: one that does not conform is not honoured, the rest of the
//! file still is, and every such entry is reported with its line number. The first occurrence of
//! a parameter wins; a repeat is reported and ignored (the ABNF allows each term once).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::text::{decode_ansi, LineIssue};

/// Which of the two configuration files is read: they allow different parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigKind {
    /// `<root>\policy.txt`.
    Policy,
    /// `<root>\status\<subpath>\status.txt`.
    Status,
}

/// The honoured parameters of one file; `None` when absent or not honoured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// `Tracking=`.
    pub tracking: Option<bool>,
    /// `Crashes per bucket=`.
    pub crashes_per_bucket: Option<u64>,
    /// `URLLaunch=`.
    pub url_launch: Option<String>,
    /// `NoSecondLevelCollection=`.
    pub no_second_level_collection: Option<bool>,
    /// `NoFileCollection=`.
    pub no_file_collection: Option<bool>,
    /// `NoExternalURL=`.
    pub no_external_url: Option<bool>,
    /// `FileTreeRoot=` (policy.txt only).
    pub file_tree_root: Option<String>,
    /// `Response=` (status.txt only): `1` or a URL.
    pub response: Option<String>,
    /// `Bucket=` (status.txt only): the BucketID.
    pub bucket_id: Option<u64>,
    /// `iData=` (status.txt only).
    pub idata: Option<bool>,
    /// `MemoryDump=` (status.txt only).
    pub memory_dump: Option<bool>,
    /// `RegKey=` (status.txt only), the raw `;`-separated list.
    pub reg_key: Option<String>,
    /// `fDoc=` (status.txt only).
    pub fdoc: Option<bool>,
    /// `WQL=` (status.txt only), the raw `;`-separated list.
    pub wql: Option<String>,
    /// `GetFile=` (status.txt only), the raw `;`-separated list.
    pub get_file: Option<String>,
    /// `GetFileVersion=` (status.txt only), the raw `;`-separated list.
    pub get_file_version: Option<String>,
}

/// A policy.txt or status.txt as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Which file it is.
    pub kind: ConfigKind,
    /// What is honoured.
    pub settings: Settings,
    /// Entries not honoured, and why.
    pub not_honoured: Vec<LineIssue>,
    /// Deviations tolerated (LF-only lines, a missing final CRLF); the entries still count.
    pub warnings: Vec<LineIssue>,
}

/// The value types of the parameters.
#[derive(Clone, Copy)]
enum Type {
    Bool,
    Counter,
    BucketId,
    /// Non-empty text (a URL, a path, a `;` list).
    Text,
    /// Text that may be empty (status.txt URLLaunch, appendix note 6).
    OptionalText,
    /// `1` or a URL.
    Response,
    /// 1..260 characters.
    TreeRoot,
}

/// Parameters both files accept.
const COMMON: [(&str, Type); 6] = [
    ("Tracking", Type::Bool),
    ("Crashes per bucket", Type::Counter),
    ("URLLaunch", Type::Text),
    ("NoSecondLevelCollection", Type::Bool),
    ("NoFileCollection", Type::Bool),
    ("NoExternalURL", Type::Bool),
];
/// Parameters only status.txt accepts.
const STATUS_ONLY: [(&str, Type); 9] = [
    ("Response", Type::Response),
    ("Bucket", Type::BucketId),
    ("iData", Type::Bool),
    ("MemoryDump", Type::Bool),
    ("RegKey", Type::Text),
    ("fDoc", Type::Bool),
    ("WQL", Type::Text),
    ("GetFile", Type::Text),
    ("GetFileVersion", Type::Text),
];

enum Value {
    Bool(bool),
    Number(u64),
    Text(String),
}

fn parse_bool(value: &str) -> Option<bool> {
    let upper = value.to_ascii_uppercase();
    match upper.as_str() {
        "YES" | "TRUE" | "1" => Some(true),
        "NO" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

fn parse_value(kind: Type, value: &str) -> Result<Value, &'static str> {
    let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    match kind {
        Type::Bool => parse_bool(value)
            .map(Value::Bool)
            .ok_or("not a CER boolean (YES TRUE 1 NO FALSE 0)"),
        Type::Counter | Type::BucketId => {
            if !digits {
                return Err("not a decimal integer");
            }
            let n = value.parse::<u64>().map_err(|_| "number too large")?;
            if n.to_string() != value {
                Err("leading zeros are not allowed")
            } else if n == 0 && matches!(kind, Type::BucketId) {
                Err("a BucketID must not be 0")
            } else {
                Ok(Value::Number(n))
            }
        }
        Type::Text | Type::OptionalText | Type::Response | Type::TreeRoot => {
            if value.chars().any(char::is_control) {
                return Err("control character in the value");
            }
            if value.is_empty() && !matches!(kind, Type::OptionalText) {
                return Err("empty value");
            }
            if matches!(kind, Type::TreeRoot) && value.chars().count() > 260 {
                return Err("path longer than 260 characters");
            }
            if matches!(kind, Type::TreeRoot) && !Path::new(value).is_absolute() {
                return Err("not an absolute path on this platform");
            }
            Ok(Value::Text(value.to_owned()))
        }
    }
}

fn lookup(kind: ConfigKind, name: &str) -> Result<Type, &'static str> {
    let common = COMMON.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
    let status = STATUS_ONLY
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t);
    match (kind, common, status, name) {
        (ConfigKind::Status, Some(Type::Text), _, "URLLaunch") => Ok(Type::OptionalText),
        (_, Some(t), _, _) => Ok(t),
        (ConfigKind::Status, None, Some(t), _) => Ok(t),
        (ConfigKind::Policy, None, Some(_), _) => {
            Err("a status.txt parameter, not honoured in policy.txt")
        }
        (ConfigKind::Policy, None, None, "FileTreeRoot") => Ok(Type::TreeRoot),
        (ConfigKind::Status, None, None, "FileTreeRoot") => {
            Err("FileTreeRoot is honoured only in policy.txt")
        }
        _ if COMMON
            .iter()
            .chain(STATUS_ONLY.iter())
            .any(|(n, _)| n.eq_ignore_ascii_case(name.trim())) =>
        {
            Err("unknown parameter name (names are case-sensitive and take no spaces)")
        }
        _ => Err("unknown parameter name"),
    }
}

fn store(settings: &mut Settings, name: &str, value: Value) -> bool {
    fn set<T>(slot: &mut Option<T>, value: Option<T>) -> bool {
        if slot.is_some() {
            return false;
        }
        *slot = value;
        true
    }
    let (b, n, t) = match value {
        Value::Bool(b) => (Some(b), None, None),
        Value::Number(n) => (None, Some(n), None),
        Value::Text(t) => (None, None, Some(t)),
    };
    match name {
        "Tracking" => set(&mut settings.tracking, b),
        "Crashes per bucket" => set(&mut settings.crashes_per_bucket, n),
        "URLLaunch" => set(&mut settings.url_launch, t),
        "NoSecondLevelCollection" => set(&mut settings.no_second_level_collection, b),
        "NoFileCollection" => set(&mut settings.no_file_collection, b),
        "NoExternalURL" => set(&mut settings.no_external_url, b),
        "FileTreeRoot" => set(&mut settings.file_tree_root, t),
        "Response" => set(&mut settings.response, t),
        "Bucket" => set(&mut settings.bucket_id, n),
        "iData" => set(&mut settings.idata, b),
        "MemoryDump" => set(&mut settings.memory_dump, b),
        "RegKey" => set(&mut settings.reg_key, t),
        "fDoc" => set(&mut settings.fdoc, b),
        "WQL" => set(&mut settings.wql, t),
        "GetFile" => set(&mut settings.get_file, t),
        "GetFileVersion" => set(&mut settings.get_file_version, t),
        _ => false,
    }
}

/// Parses the bytes of a policy.txt or status.txt.
pub fn parse_config(path: &Path, kind: ConfigKind, bytes: &[u8]) -> ConfigFile {
    let mut file = ConfigFile {
        path: path.to_owned(),
        kind,
        settings: Settings::default(),
        not_honoured: Vec::new(),
        warnings: Vec::new(),
    };
    let text = decode_ansi(bytes);
    let segments: Vec<&str> = text.split('\n').collect();
    let last = segments.len();
    let mut warned_lf = false;
    for (index, segment) in segments.into_iter().enumerate() {
        let number = index + 1;
        let line = match segment.strip_suffix('\r') {
            Some(line) if number < last => line,
            _ if number == last => {
                if !segment.is_empty() {
                    file.warnings.push(LineIssue::new(
                        number,
                        segment,
                        "last entry has no CRLF; honoured",
                    ));
                }
                segment
            }
            _ => {
                if !warned_lf {
                    warned_lf = true;
                    file.warnings.push(LineIssue::new(
                        number,
                        segment,
                        "LF-only line ends accepted (the protocol requires CRLF)",
                    ));
                }
                segment
            }
        };
        if line.is_empty() {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            file.not_honoured
                .push(LineIssue::new(number, line, "not a Name=Value entry"));
            continue;
        };
        let parsed = lookup(kind, name).and_then(|t| parse_value(t, value));
        match parsed {
            Ok(value) => {
                if !store(&mut file.settings, name, value) {
                    file.not_honoured.push(LineIssue::new(
                        number,
                        line,
                        "repeated parameter; the first occurrence is honoured",
                    ));
                }
            }
            Err(reason) => file.not_honoured.push(LineIssue::new(number, line, reason)),
        }
    }
    file
}

/// Reads and parses a configuration file; `Ok(None)` when it does not exist.
pub(crate) fn read_config(
    root: &Path,
    path: &Path,
    kind: ConfigKind,
) -> Result<Option<ConfigFile>, super::ShareError> {
    match super::jail::read(root, path) {
        Ok(bytes) => Ok(Some(parse_config(path, kind, &bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(super::error::io_err(path)(e)),
    }
}

/// The parameters in force for one bucket: status.txt over policy.txt over the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// Whether hits.log and crash.log are written (default NO).
    pub tracking: bool,
    /// Most report files to keep; `None` is no limit (the default for `blue` and `shutdown`).
    pub crashes_per_bucket: Option<u64>,
    /// Whether a report file is wanted (`iData`, default yes).
    pub report_wanted: bool,
    /// status.txt `Bucket=`, written to crash.log instead of the subpath.
    pub bucket_id: Option<u64>,
}

/// Default `Crashes per bucket` for application buckets.
pub const DEFAULT_CRASHES_PER_BUCKET: u64 = 5;

/// Combines the two files; `special` is true for `blue` and `shutdown` (no default limit).
pub fn effective(policy: Option<&Settings>, status: Option<&Settings>, special: bool) -> Effective {
    let pick = |f: fn(&Settings) -> Option<u64>| status.and_then(f).or_else(|| policy.and_then(f));
    let pick_bool =
        |f: fn(&Settings) -> Option<bool>| status.and_then(f).or_else(|| policy.and_then(f));
    let default_limit = (!special).then_some(DEFAULT_CRASHES_PER_BUCKET);
    Effective {
        tracking: pick_bool(|s| s.tracking).unwrap_or(false),
        crashes_per_bucket: pick(|s| s.crashes_per_bucket).or(default_limit),
        report_wanted: status.and_then(|s| s.idata).unwrap_or(true),
        bucket_id: status.and_then(|s| s.bucket_id),
    }
}
