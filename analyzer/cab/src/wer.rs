//! The metadata Windows Error Reporting puts next to the dump in a report
//! CAB, read as an independent oracle for our own CER tuple.
//!
//! * `WERInternalMetadata.xml` (Vista and later; UTF-16LE with BOM, UTF-8
//!   accepted): event type, `Parameter0..`, OS version information.
//! * `Version.txt` / `version.txt`: on XP/2003 CER clients ANSI and
//!   NUL-terminated (`Windows NT  Version 5.1 Build: 2600`); on Vista UTF-16LE
//!   `Key: value` lines.
//! * `sysdata.xml` (kernel reports): its leaf elements are kept as they are.
//!
//! The XML is read by a small tolerant scanner (no XML crate): it records the
//! text of leaf elements by path, ignores what it does not understand and
//! never panics, so a damaged report still yields whatever it holds.

/// What the metadata files of one report say.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WerMetadata {
    /// `ProblemSignatures/EventType` (`APPCRASH`, `BEX`, `BEX64`, `BlueScreen`...).
    pub event_type: Option<String>,
    /// `ProblemSignatures/ParameterN` as `("Parameter0", value)`, by number.
    pub parameters: Vec<(String, String)>,
    /// `DynamicSignatures/ParameterN`.
    pub dynamic_parameters: Vec<(String, String)>,
    /// Windows NT version (`6.1`, `5.1`).
    pub os_version: Option<String>,
    /// Build number (`7600`).
    pub build: Option<String>,
    /// Full build string (`7600.16695.amd64fre.win7_gdr.101026-1503`).
    pub build_string: Option<String>,
    /// Service pack (`2`, from `Version.txt`), when stated.
    pub service_pack: Option<String>,
    /// Product name.
    pub product: Option<String>,
    /// Architecture (`X64`, `X86`).
    pub architecture: Option<String>,
    /// Locale id.
    pub lcid: Option<String>,
    /// Every other leaf or key seen, as `(path, value)`.
    pub other: Vec<(String, String)>,
    /// The metadata files that were read.
    pub sources: Vec<String>,
}

/// Whether a CAB member is one of the metadata files this module reads.
pub fn is_metadata_file(name: &str) -> bool {
    let base = name
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    matches!(
        base.as_str(),
        "werinternalmetadata.xml" | "version.txt" | "sysdata.xml"
    )
}

/// Decodes a text file: UTF-16LE/BE by BOM (or by the look of its NULs),
/// UTF-8 with or without BOM, else CP-1252; stops at the first NUL.
pub fn decode_text(bytes: &[u8]) -> String {
    let utf16 = |rest: &[u8], le: bool| -> String {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| match c {
                [a, b] if le => u16::from_le_bytes([*a, *b]),
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            })
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    };
    if let Some(rest) = bytes.strip_prefix(&[0xff, 0xfe]) {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xfe, 0xff]) {
        return utf16(rest, false);
    }
    let bytes = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(bytes);
    let sample = bytes.iter().take(64);
    let odd_nuls = sample
        .clone()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    if bytes.len() >= 4 && odd_nuls * 2 >= bytes.len().min(64) / 2 {
        return utf16(bytes, true);
    }
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    match std::str::from_utf8(text) {
        Ok(s) => s.to_owned(),
        Err(_) => super::decode_cp1252(text),
    }
}

/// Leaf elements of an XML document as `(path, text)`, path joined with
/// `/`, in document order. Tolerant: unknown constructs are skipped, and at
/// most 64 levels and 10,000 leaves are kept.
pub fn xml_leaves(xml: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut text_start: Option<usize> = None;
    let mut had_child = false;
    let mut rest = xml;
    let mut pos = 0usize;
    while let Some(lt) = rest.find('<') {
        let after = rest.get(lt + 1..).unwrap_or_default();
        let tag_at = pos + lt;
        let skip_to = |s: &str, end: &str| s.find(end).map(|i| i + end.len());
        let consumed = if after.starts_with("!--") {
            skip_to(after, "-->")
        } else if after.starts_with("![CDATA[") {
            skip_to(after, "]]>")
        } else {
            skip_to(after, ">")
        };
        let Some(consumed) = consumed else { break };
        let inner = after.get(..consumed.saturating_sub(1)).unwrap_or_default();
        let next_pos = tag_at + 1 + consumed;
        if let Some(close) = inner.strip_prefix('/') {
            let name = close.trim();
            if let Some(depth) = stack.iter().rposition(|n| n == name) {
                if depth + 1 == stack.len() && !had_child {
                    if let Some(start) = text_start {
                        let raw = xml.get(start..tag_at).unwrap_or_default();
                        if out.len() < 10_000 {
                            out.push((stack.join("/"), unescape(raw.trim())));
                        }
                    }
                }
                stack.truncate(depth);
                had_child = true;
            }
            text_start = None;
        } else if !(inner.starts_with('?') || inner.starts_with('!')) {
            let self_closing = inner.ends_with('/');
            let name = inner
                .trim_end_matches('/')
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or_default();
            if !name.is_empty() && stack.len() < 64 {
                if self_closing {
                    if out.len() < 10_000 {
                        let mut path = stack.join("/");
                        if !path.is_empty() {
                            path.push('/');
                        }
                        path.push_str(name);
                        out.push((path, String::new()));
                    }
                    had_child = true;
                } else {
                    stack.push(name.to_owned());
                    had_child = false;
                    text_start = Some(next_pos);
                }
            }
        }
        pos = next_pos;
        rest = xml.get(pos..).unwrap_or_default();
    }
    out
}

/// Replaces the five predefined entities and numeric character references.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp).unwrap_or_default());
        let tail = rest.get(amp..).unwrap_or_default();
        let Some(semi) = tail.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = tail.get(1..).unwrap_or_default();
            continue;
        };
        let entity = tail.get(1..semi).unwrap_or_default();
        let ch = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = tail.get(semi + 1..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Numeric suffix of `ParameterN`, for ordering.
fn parameter_number(name: &str) -> Option<u32> {
    name.strip_prefix("Parameter").and_then(|n| n.parse().ok())
}

fn set(slot: &mut Option<String>, value: &str) {
    let v = value.trim();
    if slot.is_none() && !v.is_empty() {
        *slot = Some(v.to_owned());
    }
}

impl WerMetadata {
    /// Reads every metadata file among `files` (`(name, bytes)` pairs; other
    /// names are ignored). Values from `WERInternalMetadata.xml` win over
    /// those of `Version.txt` and `sysdata.xml`.
    pub fn from_files<'f, I>(files: I) -> Self
    where
        I: IntoIterator<Item = (&'f str, &'f [u8])>,
    {
        let mut files: Vec<(&str, &[u8])> = files
            .into_iter()
            .filter(|(n, _)| is_metadata_file(n))
            .collect();
        let rank = |n: &str| !n.to_ascii_lowercase().ends_with("werinternalmetadata.xml");
        files.sort_by_key(|(n, _)| rank(n));
        let mut meta = Self::default();
        for (name, bytes) in files {
            meta.sources.push(name.to_owned());
            let text = decode_text(bytes);
            if name.to_ascii_lowercase().ends_with(".xml") {
                meta.add_xml(&text);
            } else {
                meta.add_version_txt(&text);
            }
        }
        meta.parameters.sort_by_key(|(k, _)| parameter_number(k));
        meta.dynamic_parameters
            .sort_by_key(|(k, _)| parameter_number(k));
        meta
    }

    /// Adds what an XML file (`WERInternalMetadata.xml`, `sysdata.xml`) says.
    pub fn add_xml(&mut self, xml: &str) {
        for (path, value) in xml_leaves(xml) {
            let mut parts = path.rsplit('/');
            let leaf = parts.next().unwrap_or_default();
            let parent = parts.next().unwrap_or_default();
            match (parent, leaf) {
                ("ProblemSignatures", "EventType") => set(&mut self.event_type, &value),
                ("ProblemSignatures", p) if parameter_number(p).is_some() => {
                    if !self.parameters.iter().any(|(k, _)| k == p) {
                        self.parameters
                            .push((p.to_owned(), value.trim().to_owned()));
                    }
                }
                ("DynamicSignatures", p) if parameter_number(p).is_some() => {
                    self.dynamic_parameters
                        .push((p.to_owned(), value.trim().to_owned()));
                }
                ("OSVersionInformation", "WindowsNTVersion") => set(&mut self.os_version, &value),
                ("OSVersionInformation", "Build") => set(&mut self.build, &value),
                ("OSVersionInformation", "BuildString") => set(&mut self.build_string, &value),
                ("OSVersionInformation", "Product") => set(&mut self.product, &value),
                ("OSVersionInformation", "Architecture") => set(&mut self.architecture, &value),
                ("OSVersionInformation", "LCID") => set(&mut self.lcid, &value),
                _ => self.other.push((path, value)),
            }
        }
    }

    /// Adds what a `Version.txt` says: the `Windows NT  Version X Build: N
    /// [Service Pack S]` line and `Key: value` lines.
    pub fn add_version_txt(&mut self, text: &str) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("Windows NT") {
                let words: Vec<&str> = rest.split_whitespace().collect();
                let after = |key: &str| {
                    words
                        .iter()
                        .position(|w| w.trim_end_matches(':').eq_ignore_ascii_case(key))
                        .and_then(|i| words.get(i + 1))
                        .copied()
                };
                if let Some(v) = after("Version") {
                    set(&mut self.os_version, v);
                }
                if let Some(v) = after("Build") {
                    set(&mut self.build, v);
                }
                if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("Pack")) {
                    if let Some(v) = words.get(i + 1) {
                        set(&mut self.service_pack, v);
                    }
                }
                continue;
            }
            let Some((key, value)) = line.split_once(':').or_else(|| line.split_once('=')) else {
                self.other.push((String::new(), line.to_owned()));
                continue;
            };
            let key = key.trim();
            match key.to_ascii_lowercase().as_str() {
                "buildstring" => set(&mut self.build_string, value),
                "architecture" => set(&mut self.architecture, value),
                "lcid" => set(&mut self.lcid, value),
                k if k.starts_with("product") => set(&mut self.product, value),
                _ => self.other.push((key.to_owned(), value.trim().to_owned())),
            }
        }
    }

    /// `ParameterN` of the problem signature.
    pub fn parameter(&self, n: u32) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(k, _)| parameter_number(k) == Some(n))
            .map(|(_, v)| v.as_str())
    }
}

mod cer;
pub use cer::{CerFields, FieldAgreement, CER_FIELD_NAMES};
