//! Text rendering of the kernel keys: the stop code explained, why the faulting module was
//! chosen, the WHEA decode and the known-issue verdicts.

use std::fmt::Write;

use signatures::cper::SectionBody;
use signatures::known_issues::Verdict;

use crate::kernel::signature::KernelSignature;

/// Renders the kernel signature section into `out`.
pub(super) fn render(sig: &KernelSignature, verdicts: &[Verdict], out: &mut String) {
    let stop = &sig.stop_code;
    let name = stop.name.as_deref().unwrap_or("unknown stop code");
    let _ = writeln!(out, "\nStop code        {:#010x} {name}", stop.code);
    for p in &stop.parameters {
        let note = p
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let _ = writeln!(out, "  P{} {:#018x}  {}{note}", p.index, p.value, p.meaning);
    }
    let _ = writeln!(out, "  faulting address: {}", stop.address_rule_words);

    let sel = &sig.bucket.selection;
    let _ = writeln!(out, "Faulting module  {} ({})", sel.name, sel.rule_words);
    let _ = writeln!(out, "  why: {}", sel.reason);
    for s in &sel.skipped {
        let _ = writeln!(out, "  skipped frame {}: {} ({})", s.index, s.module, s.why);
    }
    for n in &sig.bucket.notes {
        let _ = writeln!(out, "  note: {n}");
    }
    for n in &sig.notes {
        let _ = writeln!(out, "  note: {n}");
    }

    if let Some(record) = &sig.whea {
        let _ = writeln!(out, "WHEA record      {} section(s)", record.sections.len());
        for s in &record.sections {
            let kind = s.section_type.name.unwrap_or("unknown section type");
            let _ = write!(
                out,
                "  section {}: {kind}, severity {}",
                s.index, s.severity.name
            );
            match &s.body {
                SectionBody::Raw { first_bytes } => {
                    let _ = write!(out, ", raw {first_bytes}");
                }
                SectionBody::Missing => {
                    let _ = write!(out, ", body missing");
                }
                _ => {}
            }
            out.push('\n');
        }
        for n in &record.notes {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    if let Some(w) = &sig.bucket.whea {
        let _ = writeln!(
            out,
            "  error: vendor {}, {} {}",
            w.vendor, w.class, w.error_type
        );
    }

    if verdicts.is_empty() {
        let _ = writeln!(out, "Known issues     none matched");
    }
    for v in verdicts {
        let verdict = serde_json::to_value(v.verdict)
            .ok()
            .and_then(|x| x.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "Known issue      {} [{verdict}] {}",
            v.rule_id, v.title
        );
        let _ = writeln!(out, "  {}", v.reason);
        for c in &v.context {
            let _ = writeln!(out, "  context: {c}");
        }
    }
}
