//! The symbol-path syntax debuggers use, for symbol servers and image stores.
//!
//! `srv*C:\cache*https://msdl.microsoft.com/download/symbols;D:\symbols` is a list separated by
//! `;`. An element is a plain folder (searched as a store and flat), a URL (a server without a
//! cache), `srv*[cache*...]*url` or `symsrv*symsrv.dll*[cache*...]*url` (a server whose files
//! are kept in each cache folder, the first of which also keeps the misses), or `cache*dir`
//! (a cache used by every server element after it that names none of its own).

use std::fmt;
use std::path::PathBuf;

/// One place to look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEntry {
    /// A local folder: a store laid out `<name>/<id>/<name>`, or files side by side.
    Folder(PathBuf),
    /// An HTTP(S) symbol server, with the local caches that keep what it served.
    Server {
        /// Folders (laid out as a store) that keep fetched files and negative results.
        caches: Vec<PathBuf>,
        /// Base URL without a trailing `/`.
        url: String,
    },
}

impl fmt::Display for StoreEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreEntry::Folder(dir) => write!(f, "{}", dir.display()),
            StoreEntry::Server { caches, url } if caches.is_empty() => write!(f, "{url}"),
            StoreEntry::Server { caches, url } => {
                let caches: Vec<String> = caches.iter().map(|c| c.display().to_string()).collect();
                write!(f, "srv*{}*{url}", caches.join("*"))
            }
        }
    }
}

/// A parsed symbol path: the places searched, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SymbolPath {
    entries: Vec<StoreEntry>,
}

fn is_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

impl SymbolPath {
    /// Parses a symbol path. An element that is a `srv*` list without a URL, or has an
    /// unsupported scheme, is an error naming the element.
    pub fn parse(text: &str) -> Result<SymbolPath, String> {
        let mut out = SymbolPath::default();
        out.extend(text)?;
        Ok(out)
    }

    /// Appends the elements of another symbol path (a repeated option, an environment
    /// variable after the command line's own).
    pub fn extend(&mut self, text: &str) -> Result<(), String> {
        let mut default_caches: Vec<PathBuf> = Vec::new();
        for element in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let parts: Vec<&str> = element.split('*').collect();
            let head = parts.first().map(|p| p.to_ascii_lowercase());
            match head.as_deref() {
                Some("srv") | Some("symsrv") => {
                    // symsrv*symsrv.dll*...: the DLL name is the debugger's, not a cache.
                    let skip = if head.as_deref() == Some("symsrv") { 2 } else { 1 };
                    let rest: Vec<&str> = parts.iter().skip(skip).copied().collect();
                    let Some((url, caches)) = rest.split_last() else {
                        return Err(format!("symbol path element `{element}` names no server"));
                    };
                    if !is_url(url) {
                        return Err(format!(
                            "symbol path element `{element}`: `{url}` is not an http:// or https:// URL"
                        ));
                    }
                    let mut caches: Vec<PathBuf> = caches
                        .iter()
                        .filter(|c| !c.is_empty())
                        .map(PathBuf::from)
                        .collect();
                    if caches.is_empty() {
                        caches = default_caches.clone();
                    }
                    self.entries.push(StoreEntry::Server {
                        caches,
                        url: url.trim_end_matches('/').to_owned(),
                    });
                }
                Some("cache") => {
                    default_caches = parts
                        .iter()
                        .skip(1)
                        .filter(|c| !c.is_empty())
                        .map(PathBuf::from)
                        .collect();
                }
                _ if is_url(element) => self.entries.push(StoreEntry::Server {
                    caches: default_caches.clone(),
                    url: element.trim_end_matches('/').to_owned(),
                }),
                _ if parts.len() > 1 => {
                    return Err(format!(
                        "symbol path element `{element}`: unknown form (expected a folder, a URL, srv*CACHE*URL or cache*DIR)"
                    ))
                }
                _ => self.entries.push(StoreEntry::Folder(PathBuf::from(element))),
            }
        }
        Ok(())
    }

    /// The places, in search order.
    pub fn entries(&self) -> &[StoreEntry] {
        &self.entries
    }

    /// True when nothing is searched.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for SymbolPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.entries.iter().map(ToString::to_string).collect();
        write!(f, "{}", parts.join(";"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_familiar_forms() {
        let p = SymbolPath::parse(
            "srv*/tmp/cache*https://msdl.microsoft.com/download/symbols/; /opt/syms ;http://h:8080/s",
        )
        .unwrap();
        assert_eq!(
            p.entries(),
            &[
                StoreEntry::Server {
                    caches: vec![PathBuf::from("/tmp/cache")],
                    url: "https://msdl.microsoft.com/download/symbols".into()
                },
                StoreEntry::Folder(PathBuf::from("/opt/syms")),
                StoreEntry::Server {
                    caches: vec![],
                    url: "http://h:8080/s".into()
                },
            ]
        );
        assert_eq!(
            p.to_string(),
            "srv*/tmp/cache*https://msdl.microsoft.com/download/symbols;/opt/syms;http://h:8080/s"
        );
    }

    #[test]
    fn symsrv_dll_and_cache_elements() {
        let p = SymbolPath::parse("cache*/c;symsrv*symsrv.dll*/d*http://x/y;srv*http://z").unwrap();
        assert_eq!(
            p.entries(),
            &[
                StoreEntry::Server {
                    caches: vec![PathBuf::from("/d")],
                    url: "http://x/y".into()
                },
                StoreEntry::Server {
                    caches: vec![PathBuf::from("/c")],
                    url: "http://z".into()
                },
            ]
        );
    }

    #[test]
    fn malformed_elements_are_named() {
        let e = SymbolPath::parse("srv*/only/a/cache").unwrap_err();
        assert!(e.contains("srv*/only/a/cache"), "{e}");
        assert!(SymbolPath::parse("srv*").is_err());
        assert!(SymbolPath::parse("foo*bar")
            .unwrap_err()
            .contains("unknown form"));
        assert!(SymbolPath::parse(" ; ;").unwrap().is_empty());
    }
}
