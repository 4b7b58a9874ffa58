//! The generator's own statement of the CER signature it intends a sample to
//! produce: `<AppName>\<AppVer>\<ModName>\<ModVer>\<Offset>`.
//!
//! This is deliberately written from the rules in the brief, independently of
//! the `dumpsig-signatures` crate, so that the committed samples act as an
//! outside check on the real implementation rather than an echo of it.
//!
//! Placeholder rules applied to every value:
//! * each char in `< > : " / \ | ? *`, every control char and every non-ASCII
//!   Unicode scalar becomes `_`;
//! * names are cut to 64 chars, versions to 24;
//! * a trailing `.` or space is replaced by `_` (only the last char);
//! * an empty value becomes `unknown`;
//! * a reserved device stem (`CON PRN AUX NUL COM1-9 LPT1-9`, case-insensitive,
//!   the part before the first `.`) gets `_` inserted right after it.

/// Longest name placeholder (AppName, ModName), in chars.
pub const MAX_NAME_CHARS: usize = 64;
/// Longest version placeholder (AppVer, ModVer), in chars.
pub const MAX_VERSION_CHARS: usize = 24;
/// Version used for modules without a `VS_FIXEDFILEINFO` signature.
pub const NO_VERSION: &str = "0.0.0.0";
/// ModName used when the fault address is in no module.
pub const UNKNOWN_MODULE: &str = "unknown";
/// ModName used for hang reports (no exception stream).
pub const HANG_MODULE: &str = "hungapp";

/// Pointer width of the crashed process, which fixes the offset's digit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointerWidth {
    /// 32-bit process: offsets are 8 hex digits.
    Bits32,
    /// 64-bit process: offsets are 16 hex digits.
    Bits64,
}

impl PointerWidth {
    /// Number of lowercase hex digits used for the offset placeholder.
    pub fn hex_digits(self) -> usize {
        match self {
            PointerWidth::Bits32 => 8,
            PointerWidth::Bits64 => 16,
        }
    }
}

/// The file-name part of a module path: everything after the last `\` or `/`.
pub fn file_name(path: &str) -> &str {
    match path.rfind(['\\', '/']) {
        Some(idx) => path.get(idx + 1..).unwrap_or(""),
        None => path,
    }
}

/// Format a four-part file version (`a.b.c.d`), or [`NO_VERSION`] when absent.
pub fn version_string(version: Option<[u16; 4]>) -> String {
    match version {
        Some([a, b, c, d]) => format!("{a}.{b}.{c}.{d}"),
        None => NO_VERSION.to_string(),
    }
}

/// Format an offset as lowercase hex zero-padded to the width's digit count.
pub fn offset_string(offset: u64, width: PointerWidth) -> String {
    format!("{:0digits$x}", offset, digits = width.hex_digits())
}

fn is_forbidden(c: char) -> bool {
    matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*')
        || c.is_control()
        || !c.is_ascii()
}

fn is_reserved_stem(stem: &str) -> bool {
    let upper = stem.to_ascii_uppercase();
    matches!(
        upper.as_bytes(),
        b"CON"
            | b"PRN"
            | b"AUX"
            | b"NUL"
            | [b'C', b'O', b'M', b'1'..=b'9']
            | [b'L', b'P', b'T', b'1'..=b'9']
    )
}

/// Apply the placeholder rules to `value`, cutting it to `max_chars`.
pub fn sanitize(value: &str, max_chars: usize) -> String {
    let mut out: String = value
        .chars()
        .map(|c| if is_forbidden(c) { '_' } else { c })
        .take(max_chars)
        .collect();
    if out.ends_with('.') || out.ends_with(' ') {
        out.pop();
        out.push('_');
    }
    if out.is_empty() {
        out.push_str(UNKNOWN_MODULE);
    }
    let stem_len = out.find('.').unwrap_or(out.len());
    if out.get(..stem_len).is_some_and(is_reserved_stem) {
        out.insert(stem_len, '_');
    }
    out
}

/// Sanitize a name placeholder (AppName, ModName).
pub fn sanitize_name(value: &str) -> String {
    sanitize(value, MAX_NAME_CHARS)
}

/// Sanitize a version placeholder (AppVer, ModVer).
pub fn sanitize_version(value: &str) -> String {
    sanitize(value, MAX_VERSION_CHARS)
}

/// Where the fault is, as far as the signature is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultSite<'a> {
    /// A crash inside a module: its path, version and the offset from its base.
    InModule {
        /// Full module path as stored in the dump.
        path: &'a str,
        /// `VS_FIXEDFILEINFO` file version, if the module has one.
        version: Option<[u16; 4]>,
        /// Fault address minus module base.
        offset: u64,
    },
    /// A crash at an address no module contains.
    Unmapped {
        /// The raw fault address.
        address: u64,
    },
    /// No exception stream at all: a hang report.
    Hang,
}

/// Build the expected `<AppName>\<AppVer>\<ModName>\<ModVer>\<Offset>` string.
pub fn expected_subpath(
    app_path: &str,
    app_version: Option<[u16; 4]>,
    site: &FaultSite<'_>,
    width: PointerWidth,
) -> String {
    let app_name = sanitize_name(file_name(app_path));
    let app_ver = sanitize_version(&version_string(app_version));
    let (mod_name, mod_ver, offset) = match site {
        FaultSite::InModule {
            path,
            version,
            offset,
        } => (
            sanitize_name(file_name(path)),
            sanitize_version(&version_string(*version)),
            *offset,
        ),
        FaultSite::Unmapped { address } => {
            (UNKNOWN_MODULE.to_string(), NO_VERSION.to_string(), *address)
        }
        FaultSite::Hang => (HANG_MODULE.to_string(), NO_VERSION.to_string(), 0),
    };
    format!(
        "{app_name}\\{app_ver}\\{mod_name}\\{mod_ver}\\{}",
        offset_string(offset, width)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_takes_text_after_last_separator() {
        assert_eq!(
            file_name(r"C:\Program Files\Contoso\contoso.exe"),
            "contoso.exe"
        );
        assert_eq!(file_name("/usr/lib/libc.so"), "libc.so");
        assert_eq!(file_name(r"..\..\evil.dll"), "evil.dll");
        assert_eq!(file_name(r"C:\apps\.."), "..");
        assert_eq!(file_name(r"C:\dir\"), "");
        assert_eq!(file_name("plain.dll"), "plain.dll");
    }

    #[test]
    fn forbidden_control_and_non_ascii_chars_become_underscores() {
        assert_eq!(sanitize_name(r#"bad<>:"|?*name.exe"#), "bad_______name.exe");
        assert_eq!(sanitize_name("a/b\\c"), "a_b_c");
        assert_eq!(sanitize_name("tab\there\u{7f}"), "tab_here_");
        assert_eq!(sanitize_name("Ünïcødé.exe"), "_n_c_d_.exe");
        assert_eq!(sanitize_name("日本語.dll"), "___.dll");
        assert_eq!(sanitize_name("\u{1f600}.dll"), "_.dll");
    }

    #[test]
    fn truncation_limits_names_and_versions() {
        let long = format!("{}.dll", "a".repeat(296));
        assert_eq!(sanitize_name(&long), "a".repeat(64));
        assert_eq!(sanitize_version(&"1".repeat(30)), "1".repeat(24));
        // Non-ASCII is replaced before cutting, so the cut counts scalars.
        assert_eq!(sanitize_name(&"é".repeat(70)), "_".repeat(64));
    }

    #[test]
    fn trailing_dot_or_space_and_empty_values() {
        assert_eq!(sanitize_name(".."), "._");
        assert_eq!(sanitize_name("."), "_");
        assert_eq!(sanitize_name("app "), "app_");
        assert_eq!(sanitize_name("app. "), "app._");
        assert_eq!(sanitize_name(""), "unknown");
        assert_eq!(sanitize_version(""), "unknown");
    }

    #[test]
    fn reserved_device_stems_get_an_underscore() {
        assert_eq!(sanitize_name("CON"), "CON_");
        assert_eq!(sanitize_name("nul.dll"), "nul_.dll");
        assert_eq!(sanitize_name("Com7.tar.gz"), "Com7_.tar.gz");
        assert_eq!(sanitize_name("lpt9"), "lpt9_");
        assert_eq!(sanitize_name("aux.x"), "aux_.x");
        assert_eq!(sanitize_name("prn"), "prn_");
        assert_eq!(sanitize_name("COM0"), "COM0");
        assert_eq!(sanitize_name("COM10"), "COM10");
        assert_eq!(sanitize_name("CONSOLE.exe"), "CONSOLE.exe");
        assert_eq!(sanitize_name("xcon.dll"), "xcon.dll");
    }

    #[test]
    fn offsets_are_padded_per_pointer_width() {
        assert_eq!(offset_string(0x1234, PointerWidth::Bits32), "00001234");
        assert_eq!(
            offset_string(0x1abcd, PointerWidth::Bits64),
            "000000000001abcd"
        );
        assert_eq!(version_string(None), "0.0.0.0");
        assert_eq!(
            version_string(Some([10, 0, 19041, 3636])),
            "10.0.19041.3636"
        );
    }

    #[test]
    fn subpaths_for_each_fault_site() {
        let site = FaultSite::InModule {
            path: r"C:\Program Files\Contoso\render.dll",
            version: Some([2, 7, 1828, 18]),
            offset: 0x1234,
        };
        assert_eq!(
            expected_subpath(
                r"C:\Program Files\Contoso\contoso.exe",
                Some([3, 1, 4, 1]),
                &site,
                PointerWidth::Bits32
            ),
            r"contoso.exe\3.1.4.1\render.dll\2.7.1828.18\00001234"
        );
        assert_eq!(
            expected_subpath(
                "fabrikam.exe",
                Some([12, 0, 3, 4]),
                &FaultSite::Unmapped {
                    address: 0x1234_5678
                },
                PointerWidth::Bits64
            ),
            r"fabrikam.exe\12.0.3.4\unknown\0.0.0.0\0000000012345678"
        );
        assert_eq!(
            expected_subpath("app.exe", None, &FaultSite::Hang, PointerWidth::Bits32),
            r"app.exe\0.0.0.0\hungapp\0.0.0.0\00000000"
        );
        let unversioned = FaultSite::InModule {
            path: "x.dll",
            version: None,
            offset: 1,
        };
        assert_eq!(
            expected_subpath(
                "a.exe",
                Some([1, 0, 0, 0]),
                &unversioned,
                PointerWidth::Bits32
            ),
            r"a.exe\1.0.0.0\x.dll\0.0.0.0\00000001"
        );
    }
}
