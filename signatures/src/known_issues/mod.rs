//! Known-issue rules and regression verdicts (`shared/spec/known-issues.md`).
//!
//! A known issue is a stop code (or exception) plus a place (faulting module, modules present,
//! header attributes) for which a fix exists in a known file version. The rules are data: the
//! built-in ones are embedded from `data/known-issues.txt`, and a user's own file in the same
//! format is parsed with [`parse_rules`] (bad rules are reported with their line; the good ones
//! and the built-ins still apply). [`evaluate`] gives every matching rule a verdict:
//! `fix-missing`, `regression`, `known` (with what would settle it) or `not-applicable`.
//!
//! The file a fix ships in is not always loaded under its own name: the dump stack loads
//! `diskdump.sys` as `dump_diskdump.sys`. A rule's `loaded_as` maps the two; the image-store key
//! that finds the binary uses the file's own name.

mod parse;
pub mod version;

use std::sync::OnceLock;

use serde::Serialize;

pub use parse::{parse_rules, RuleError};
pub use version::Version;

use crate::module_selection::name_matches;
use crate::stop_codes::base_code;
use version::os_line;

const BUILTIN_TEXT: &str = include_str!("../../data/known-issues.txt");

/// A module must be present: one matching an `include` pattern and no `exclude` pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresenceCondition {
    /// Patterns (`*` = any rest), case-insensitive.
    pub include: Vec<String>,
    /// Patterns a matching module must not match.
    pub exclude: Vec<String>,
}

impl PresenceCondition {
    fn matches(&self, name: &str) -> bool {
        self.include.iter().any(|p| name_matches(p, name))
            && !self.exclude.iter().any(|p| name_matches(p, name))
    }
}

/// Words added to a verdict when header attribute bits are set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttributeContext {
    /// Attribute bits (all must be set).
    pub mask: u32,
    /// E.g. `crashed while hibernating (HiberCrash)`.
    pub words: String,
}

/// A version on an OS build line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineVersion {
    /// `6.1.7600`.
    pub line: String,
    /// `6.1.7600.20882`.
    pub version: Version,
}

/// One known-issue rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// What the issue is.
    pub title: String,
    /// KB articles and other references.
    pub references: Vec<String>,
    /// Stop codes.
    pub stop_codes: Vec<u32>,
    /// Exception codes (user-mode dumps).
    pub exception_codes: Vec<u32>,
    /// The faulting module must match one of these (when any are given).
    pub faulting_modules: Vec<String>,
    /// Conditions on the loaded modules; all must hold.
    pub modules_present: Vec<PresenceCondition>,
    /// Header attribute bits that must be set.
    pub required_attributes: u32,
    /// Context words by attribute bits.
    pub contexts: Vec<AttributeContext>,
    /// OS build lines given explicitly.
    pub os_lines: Vec<String>,
    /// The file whose version decides.
    pub file: Option<String>,
    /// Other names that file is loaded under.
    pub loaded_as: Vec<String>,
    /// Fixed versions per OS line (several branches of a line may each have one).
    pub fixed: Vec<LineVersion>,
    /// Versions that introduced the bug, per OS line.
    pub introduced: Vec<LineVersion>,
    /// Line of the rule's `[id]` in its file.
    pub defined_at: usize,
}

impl Rule {
    /// Every OS line the rule covers: explicit ones plus those of its versions.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = self.os_lines.clone();
        for lv in self.fixed.iter().chain(&self.introduced) {
            if !lines.contains(&lv.line) {
                lines.push(lv.line.clone());
            }
        }
        lines
    }
}

/// The built-in rules (`data/known-issues.txt`).
pub fn builtin_rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| parse_rules(BUILTIN_TEXT).0)
}

/// The user's rules plus the built-in ones; a user rule replaces a built-in rule of the same id.
pub fn with_builtin(user: Vec<Rule>) -> Vec<Rule> {
    let mut all = user;
    for rule in builtin_rules() {
        if !all.iter().any(|r| r.id == rule.id) {
            all.push(rule.clone());
        }
    }
    all
}

/// A loaded module as the verdicts need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueModule {
    /// File name (or path) as loaded, e.g. `dump_diskdump.sys`.
    pub name: String,
    /// File version when known.
    pub version: Option<String>,
    /// PE TimeDateStamp.
    pub timestamp: u32,
    /// SizeOfImage.
    pub size: u64,
    /// Where the version came from when not from the dump itself (an image store), named in
    /// the verdict's reason.
    pub version_source: Option<String>,
}

/// A module whose version would settle a matching rule: look it up by `file` (the rule's
/// file name) or the name it is loaded as, with its timestamp and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionWanted {
    /// Index into [`IssueFacts::modules`].
    pub module: usize,
    /// The file name the rule names (`diskdump.sys`), the name binaries are stored under.
    pub file: String,
}

/// Modules without a version that a matching rule with recorded versions needs: the caller
/// fills their versions (from an image store) and evaluates again.
pub fn versions_wanted(rules: &[Rule], facts: &IssueFacts) -> Vec<VersionWanted> {
    let mut out: Vec<VersionWanted> = Vec::new();
    for rule in rules.iter().filter(|r| matches(r, facts)) {
        if rule.fixed.is_empty() && rule.introduced.is_empty() {
            continue;
        }
        let (Some(file), Some(module)) = (rule.file.as_deref(), installed(rule, facts)) else {
            continue;
        };
        if module.version.is_some() {
            continue;
        }
        let index = facts
            .modules
            .iter()
            .position(|m| std::ptr::eq(m, module))
            .unwrap_or(usize::MAX);
        if index != usize::MAX && !out.iter().any(|w| w.module == index) {
            out.push(VersionWanted {
                module: index,
                file: file.to_owned(),
            });
        }
    }
    out
}

/// What the verdict engine looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssueFacts {
    /// Stop code or exception code.
    pub code: u32,
    /// File name of the chosen faulting module.
    pub faulting_module: Option<String>,
    /// Loaded modules.
    pub modules: Vec<IssueModule>,
    /// OS build line, `6.1.7600` (a longer version is cut to three parts).
    pub os_build_line: Option<String>,
    /// Dump header attributes (0x1 HiberCrash, ...).
    pub attributes: u32,
}

/// The four verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictKind {
    /// The installed file is below the fix on its line, or on a branch the fix never reached.
    FixMissing,
    /// The installed file is at or above the fix on its line: the issue is back.
    Regression,
    /// The issue matches but the installed version cannot be checked.
    Known,
    /// The rule does not cover this OS line or version.
    NotApplicable,
}

/// The verdict of one matching rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The rule's id.
    #[serde(rename = "id")]
    pub rule_id: String,
    /// The rule's title.
    pub title: String,
    /// The rule's references.
    pub references: Vec<String>,
    /// The verdict.
    pub verdict: VerdictKind,
    /// Which module, which version, which rule; for `known`, what would settle it.
    pub reason: String,
    /// Circumstances, e.g. `crashed while hibernating (HiberCrash)`.
    pub context: Vec<String>,
}

fn file_of(name: &str) -> &str {
    crate::facts::file_name_of(name)
}

fn matches(rule: &Rule, facts: &IssueFacts) -> bool {
    // Cheapest test first: most dumps fail the code, and a rule's module conditions scan every
    // loaded module's name (a visible part of a batch of minidumps when done for every rule).
    let code_ok = rule
        .stop_codes
        .iter()
        .any(|c| *c == facts.code || *c == base_code(facts.code))
        || rule.exception_codes.contains(&facts.code);
    let fault_ok = || {
        rule.faulting_modules.is_empty()
            || facts.faulting_module.as_deref().is_some_and(|m| {
                rule.faulting_modules
                    .iter()
                    .any(|p| name_matches(p, file_of(m)))
            })
    };
    let present_ok = || {
        rule.modules_present
            .iter()
            .all(|c| facts.modules.iter().any(|m| c.matches(file_of(&m.name))))
    };
    code_ok
        && facts.attributes & rule.required_attributes == rule.required_attributes
        && fault_ok()
        && present_ok()
}

fn context(rule: &Rule, facts: &IssueFacts) -> Vec<String> {
    let mut out: Vec<String> = rule
        .contexts
        .iter()
        .filter(|c| c.mask != 0 && facts.attributes & c.mask == c.mask)
        .map(|c| c.words.clone())
        .collect();
    if let Some(m) = &facts.faulting_module {
        out.push(format!("faulting module {}", file_of(m)));
    }
    for c in &rule.modules_present {
        let names: Vec<&str> = facts
            .modules
            .iter()
            .map(|m| file_of(&m.name))
            .filter(|n| c.matches(n))
            .collect();
        out.push(format!(
            "loaded: {} (matches {})",
            names.join(", "),
            c.include.join(" ")
        ));
    }
    out
}

/// Verdicts of every rule that matches the facts (rules that do not match give none).
pub fn evaluate(rules: &[Rule], facts: &IssueFacts) -> Vec<Verdict> {
    rules
        .iter()
        .filter(|r| matches(r, facts))
        .map(|rule| {
            let (verdict, reason) = decide(rule, facts);
            Verdict {
                rule_id: rule.id.clone(),
                title: rule.title.clone(),
                references: rule.references.clone(),
                verdict,
                reason: format!("rule {}: {reason}", rule.id),
                context: context(rule, facts),
            }
        })
        .collect()
}

fn references(rule: &Rule) -> String {
    if rule.references.is_empty() {
        "no reference".to_owned()
    } else {
        rule.references.join("; ")
    }
}

/// The installed module of the rule's file, under any of its names.
fn installed<'a>(rule: &Rule, facts: &'a IssueFacts) -> Option<&'a IssueModule> {
    let file = rule.file.as_deref()?;
    facts.modules.iter().find(|m| {
        let n = file_of(&m.name);
        n.eq_ignore_ascii_case(file) || rule.loaded_as.iter().any(|a| name_matches(a, n))
    })
}

fn decide(rule: &Rule, facts: &IssueFacts) -> (VerdictKind, String) {
    use VerdictKind::*;
    let lines = rule.lines();
    let module = installed(rule, facts);
    let version = module
        .and_then(|m| m.version.as_deref())
        .and_then(Version::parse);
    let line = facts
        .os_build_line
        .as_deref()
        .and_then(os_line)
        .or_else(|| version.map(|v| v.line()));
    if !lines.is_empty() {
        match &line {
            Some(l) if !lines.contains(l) => {
                return (
                    NotApplicable,
                    format!(
                        "OS build line {l} is not one the rule covers ({})",
                        lines.join(", ")
                    ),
                )
            }
            Some(_) => {}
            None => {
                return (
                    Known,
                    format!(
                    "the issue matches, but the OS build line is unknown (the rule covers {}); {}",
                    lines.join(", "),
                    references(rule)
                ),
                )
            }
        }
    }
    let on_line = |list: &[LineVersion]| -> Vec<Version> {
        list.iter()
            .filter(|lv| Some(&lv.line) == line.as_ref())
            .map(|lv| lv.version)
            .collect()
    };
    let (fixes, introduced) = (on_line(&rule.fixed), on_line(&rule.introduced));
    let Some(file) = rule
        .file
        .as_deref()
        .filter(|_| !fixes.is_empty() || !introduced.is_empty())
    else {
        return (
            Known,
            format!(
                "the issue matches; no fixed version is recorded: see {}",
                references(rule)
            ),
        );
    };
    let fixed_words = fixes
        .iter()
        .map(Version::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let Some(module) = module else {
        return (
            Known,
            format!("the issue matches, but {file} is not among the loaded modules, so its version cannot be checked (fixed in {fixed_words})"),
        );
    };
    let loaded = file_of(&module.name);
    let Some(v) = version else {
        return (
            Known,
            format!(
                "the issue matches, but the version of {loaded} is unknown; the image-store key {file}/{:08X}{:x}/{file} (module {loaded}, timestamp {:08X}, SizeOfImage {:x}) finds the binary whose version settles it (fixed in {})",
                module.timestamp,
                module.size,
                module.timestamp,
                module.size,
                if fixed_words.is_empty() { "no recorded version" } else { &fixed_words }
            ),
        );
    };
    let what = match &module.version_source {
        Some(source) => format!("{loaded} ({file}) version {v} (from {source})"),
        None => format!("{loaded} ({file}) version {v}"),
    };
    if let Some(intro) = introduced.iter().find(|i| i.same_servicing_line(&v)) {
        if v < *intro {
            return (
                NotApplicable,
                format!("{what} predates {intro}, which introduced the issue"),
            );
        }
    }
    if let Some(fix) = fixes.iter().find(|f| f.same_servicing_line(&v)) {
        return if v < *fix {
            (
                FixMissing,
                format!(
                    "{what} is below the fixed version {fix} on the same servicing line {}",
                    fix.branch_words()
                ),
            )
        } else {
            (Regression, format!("{what} is at or above the fixed version {fix} on the same servicing line {}: the issue is back", fix.branch_words()))
        };
    }
    if fixes.is_empty() {
        return (
            Known,
            format!(
                "{what} carries the issue (introduced in {}); no fixed version is recorded: see {}",
                introduced
                    .iter()
                    .map(Version::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                references(rule)
            ),
        );
    }
    (
        FixMissing,
        format!("{what} is on branch {}, which the fix was not released to (fixed only in {fixed_words})", v.branch_words()),
    )
}

#[cfg(test)]
mod tests;
