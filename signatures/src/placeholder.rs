//! Sanitizing of CER placeholder values (`cer-share.md` rule 1).
//!
//! Every value of a CER subpath becomes a directory name on a Windows share, and the values come
//! from the dump, which may be hostile. The mapping here guarantees a value can never be `.` or
//! `..`, never contains a separator, and never names a device, so no input can place a file
//! outside the share root.

/// Longest AppName / ModName the protocol allows.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest AppVer / ModVer the protocol allows.
pub const MAX_VERSION_CHARS: usize = 24;

/// Device names Windows reserves in every directory, with or without an extension.
const RESERVED_STEMS: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// A sanitized value together with a note of whether anything had to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanitized {
    /// The value safe to use as one path component.
    pub value: String,
    /// True when the input was changed (a report may want to say so).
    pub changed: bool,
}

/// Sanitizes an AppName or ModName (at most 64 characters).
pub fn sanitize_name(raw: &str) -> Sanitized {
    sanitize(raw, MAX_NAME_CHARS)
}

/// Sanitizes an AppVer or ModVer (at most 24 characters).
pub fn sanitize_version(raw: &str) -> Sanitized {
    sanitize(raw, MAX_VERSION_CHARS)
}

fn is_prohibited(c: char) -> bool {
    !c.is_ascii()
        || c.is_ascii_control()
        || matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
}

fn sanitize(raw: &str, max_chars: usize) -> Sanitized {
    // Map first, then truncate: every char is ASCII after mapping, so the cut is by characters
    // and bytes alike.
    let mut value: String = raw
        .chars()
        .map(|c| if is_prohibited(c) { '_' } else { c })
        .take(max_chars)
        .collect();
    if value.is_empty() {
        value.push_str("unknown");
    }
    // A trailing dot or space is dropped by Windows path normalization, which would turn `..`
    // into a parent reference or make two values collide; replacing the last one is enough.
    if value.ends_with('.') || value.ends_with(' ') {
        value.pop();
        value.push('_');
    }
    if let Some(stem_len) = reserved_stem_len(&value) {
        // Insert after the stem so `nul.dll` becomes `nul_.dll`, which Windows no longer treats
        // as the device; the result may be one char over the cap, which the protocol tolerates
        // better than a device name.
        value.insert(stem_len, '_');
        if value.len() > max_chars {
            value.truncate(max_chars);
        }
    }
    let changed = value != raw;
    Sanitized { value, changed }
}

/// Length of the reserved device-name stem at the start of `value`, if it has one.
fn reserved_stem_len(value: &str) -> Option<usize> {
    let stem = value.split('.').next().unwrap_or(value);
    let trimmed = stem.trim_end_matches(' ');
    RESERVED_STEMS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(trimmed))
        .then_some(trimmed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> String {
        sanitize_name(s).value
    }

    #[test]
    fn plain_names_pass_unchanged() {
        let s = sanitize_name("contoso.exe");
        assert_eq!(s.value, "contoso.exe");
        assert!(!s.changed);
    }

    #[test]
    fn dots_never_make_a_parent_reference() {
        assert_eq!(name(".."), "._");
        assert_eq!(name("."), "_");
        assert_eq!(name("evil."), "evil_");
        assert_eq!(name("trailing "), "trailing_");
    }

    #[test]
    fn separators_and_prohibited_characters_are_mapped() {
        assert_eq!(name("..\\..\\evil.dll"), ".._.._evil.dll");
        assert_eq!(name("a/b"), "a_b");
        assert_eq!(name("bad<>:\"|?*name.exe"), "bad_______name.exe");
        assert_eq!(name("tab\there"), "tab_here");
    }

    #[test]
    fn non_ascii_becomes_one_underscore_per_character() {
        assert_eq!(name("Ünïcødé.exe"), "_n_c_d_.exe");
        assert_eq!(name("日本語.dll"), "___.dll");
    }

    #[test]
    fn reserved_device_names_get_an_underscore_after_the_stem() {
        assert_eq!(name("CON"), "CON_");
        assert_eq!(name("nul.dll"), "nul_.dll");
        assert_eq!(name("com7.txt.bak"), "com7_.txt.bak");
        assert_eq!(name("lpt9"), "lpt9_");
        assert_eq!(name("CONSOLE.exe"), "CONSOLE.exe");
        assert_eq!(name("COM10"), "COM10");
    }

    #[test]
    fn lengths_are_capped() {
        let long = format!("{}.dll", "a".repeat(296));
        assert_eq!(name(&long), "a".repeat(64));
        let v = sanitize_version("1.2.3.4.5.6.7.8.9.10.11.12");
        assert_eq!(v.value.len(), 24);
        assert_eq!(v.value, "1.2.3.4.5.6.7.8.9.10.11_");
    }

    #[test]
    fn empty_value_is_unknown() {
        assert_eq!(name(""), "unknown");
    }
}
