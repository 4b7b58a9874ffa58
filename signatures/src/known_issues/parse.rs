//! The rule file format (documented at the top of `data/known-issues.txt`): `[id]` sections of
//! `key = value` lines. A malformed rule is reported with its line and dropped; the other rules
//! still load.

use serde::Serialize;

use super::version::{os_line, Version};
use super::{AttributeContext, LineVersion, PresenceCondition, Rule};

/// A problem in a rule file, with its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn hex_u32(text: &str) -> Result<u32, String> {
    let t = text.trim();
    t.strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .and_then(|d| u32::from_str_radix(&d.replace('_', ""), 16).ok())
        .ok_or_else(|| format!("expected a hex number like 0xD1, found {t:?}"))
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn line_version(value: &str) -> Result<LineVersion, String> {
    let mut words = value.split_whitespace();
    let (Some(line), Some(version), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("expected `<os line> <version>`, found {value:?}"));
    };
    let line = os_line(line).ok_or_else(|| format!("bad OS build line {line:?}"))?;
    let version = Version::parse(version).ok_or_else(|| format!("bad version {version:?}"))?;
    if version.line() != line {
        return Err(format!("version {version} is not on OS line {line}"));
    }
    Ok(LineVersion { line, version })
}

fn new_rule(id: &str, line: usize) -> Rule {
    Rule {
        id: id.to_owned(),
        title: String::new(),
        references: Vec::new(),
        stop_codes: Vec::new(),
        exception_codes: Vec::new(),
        faulting_modules: Vec::new(),
        modules_present: Vec::new(),
        required_attributes: 0,
        contexts: Vec::new(),
        os_lines: Vec::new(),
        file: None,
        loaded_as: Vec::new(),
        fixed: Vec::new(),
        introduced: Vec::new(),
        defined_at: line,
    }
}

fn apply(rule: &mut Rule, key: &str, value: &str) -> Result<(), String> {
    match key {
        "title" if rule.title.is_empty() => rule.title = value.to_owned(),
        "title" => return Err("title given twice".to_owned()),
        "reference" => rule.references.push(value.to_owned()),
        "stop" => {
            for c in list(value) {
                rule.stop_codes.push(hex_u32(&c)?);
            }
        }
        "exception" => {
            for c in list(value) {
                rule.exception_codes.push(hex_u32(&c)?);
            }
        }
        "faulting_module" => rule.faulting_modules.extend(list(value)),
        "module_present" => {
            let mut cond = PresenceCondition {
                include: Vec::new(),
                exclude: Vec::new(),
            };
            for word in value.split_whitespace() {
                match word.strip_prefix('!') {
                    Some(x) if !x.is_empty() => cond.exclude.push(x.to_owned()),
                    Some(_) => return Err("empty exclusion `!`".to_owned()),
                    None => cond.include.push(word.to_owned()),
                }
            }
            if cond.include.is_empty() {
                return Err("module_present needs at least one pattern without `!`".to_owned());
            }
            rule.modules_present.push(cond);
        }
        "require_attribute" => rule.required_attributes |= hex_u32(value)?,
        "context" => {
            let (mask, words) = value
                .split_once(char::is_whitespace)
                .ok_or_else(|| "expected `context = 0xMASK words`".to_owned())?;
            rule.contexts.push(AttributeContext {
                mask: hex_u32(mask)?,
                words: words.trim().to_owned(),
            });
        }
        "os_line" => {
            for l in list(value) {
                rule.os_lines
                    .push(os_line(&l).ok_or_else(|| format!("bad OS build line {l:?}"))?);
            }
        }
        "file" if rule.file.is_none() => rule.file = Some(value.to_owned()),
        "file" => return Err("file given twice".to_owned()),
        "loaded_as" => rule.loaded_as.extend(list(value)),
        "fixed" => rule.fixed.push(line_version(value)?),
        "introduced" => rule.introduced.push(line_version(value)?),
        other => return Err(format!("unknown key {other:?}")),
    }
    Ok(())
}

fn check(rule: &Rule) -> Result<(), String> {
    if rule.title.is_empty() {
        return Err(format!("rule [{}] has no title", rule.id));
    }
    if rule.stop_codes.is_empty() && rule.exception_codes.is_empty() {
        return Err(format!(
            "rule [{}] names no stop or exception code",
            rule.id
        ));
    }
    if (!rule.fixed.is_empty() || !rule.introduced.is_empty()) && rule.file.is_none() {
        return Err(format!("rule [{}] has versions but no `file`", rule.id));
    }
    Ok(())
}

/// Parses a rule file. Returns the valid rules and an error (with its line) for every problem;
/// a rule with any error is left out, the others are kept.
pub fn parse_rules(text: &str) -> (Vec<Rule>, Vec<RuleError>) {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    // The rule being read and whether one of its lines was bad.
    let mut current: Option<(Rule, bool)> = None;
    let finish = |current: Option<(Rule, bool)>,
                  rules: &mut Vec<Rule>,
                  errors: &mut Vec<RuleError>| {
        if let Some((rule, bad)) = current {
            match check(&rule) {
                Err(message) => errors.push(RuleError {
                    line: rule.defined_at,
                    message,
                }),
                Ok(()) if rules.iter().any(|r: &Rule| r.id == rule.id) => errors.push(RuleError {
                    line: rule.defined_at,
                    message: format!("rule [{}] is defined twice", rule.id),
                }),
                Ok(()) if !bad => rules.push(rule),
                Ok(()) => {}
            }
        }
    };
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if let Some(id) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            finish(current.take(), &mut rules, &mut errors);
            let id = id.trim();
            let valid = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
            if !valid {
                errors.push(RuleError {
                    line,
                    message: format!("bad rule id {id:?} (letters, digits, - _ . only)"),
                });
            }
            current = Some((new_rule(id, line), !valid));
            continue;
        }
        let Some((rule, bad)) = current.as_mut() else {
            errors.push(RuleError {
                line,
                message: "a line outside any [rule] section".to_owned(),
            });
            continue;
        };
        let result = match text.split_once('=') {
            Some((key, value)) => apply(rule, key.trim(), value.trim()),
            None => Err(format!("expected `key = value`, found {text:?}")),
        };
        if let Err(message) = result {
            errors.push(RuleError {
                line,
                message: format!("rule [{}]: {message}", rule.id),
            });
            *bad = true;
        }
    }
    finish(current.take(), &mut rules, &mut errors);
    errors.sort_by_key(|e| e.line);
    (rules, errors)
}
