//! Text rendering of a [`Report`] for a person at a terminal.

use std::fmt::Write;

use super::Report;
use crate::format::InputKind;
use crate::minidump::details::MinidumpDetails;

/// Width of the label column.
const LABEL: usize = 17;

fn line(out: &mut String, label: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{label:<LABEL$}{value}");
}

/// Renders `report` into `out`.
pub(super) fn render(report: &Report, frames: usize, out: &mut String) {
    let kind = report.kind.map_or("unrecognized", InputKind::as_str);
    let size = report
        .file_size
        .map(|s| format!(", {s} bytes"))
        .unwrap_or_default();
    let _ = writeln!(out, "== {} ({kind}{size})", report.path);
    if let Some(error) = &report.error {
        line(out, "Error", error);
        return;
    }
    if let Some(cab) = &report.cab {
        let members: Vec<String> = cab
            .files
            .iter()
            .map(|f| format!("{} ({} bytes)", f.name, f.size))
            .collect();
        line(out, "CAB members", members.join(", "));
        line(out, "Analyzed member", &cab.dump_file);
    }
    if let Some(md) = &report.minidump {
        render_minidump(md, frames, out);
    }
    if let Some(k) = &report.kernel {
        super::kernel_text::render_report(k, out);
    }
    if let Some(sig) = &report.kernel_signature {
        super::kernel_text::render(sig, &report.known_issues, out);
    }
    if let Some(tuple) = &report.signature {
        out.push_str("WER parameters\n");
        for (i, (field, value)) in tuple.wer_parameters().iter().enumerate() {
            let _ = writeln!(out, "  P{} {field:<14}{value}", i + 1);
        }
    }
    if let Some(cab) = &report.cab {
        render_wer(cab, out);
    }
    line(
        out,
        "CER subpath",
        report.cer_subpath.as_deref().unwrap_or("-"),
    );
    line(
        out,
        "Failure bucket",
        report.failure_bucket.as_deref().unwrap_or("-"),
    );
    line(
        out,
        "FAILURE_ID_HASH",
        report.failure_id_hash.as_deref().unwrap_or("-"),
    );
    match &report.crash_state {
        Some(state) if !state.is_empty() => line(out, "Crash state", state.join(" | ")),
        Some(_) => line(out, "Crash state", "(no frames)"),
        None => line(
            out,
            "Crash state",
            "(not computed: signature only, no stack walk)",
        ),
    }
    if let Some(md) = &report.minidump {
        render_modules(md, out);
    }
    if !report.warnings.is_empty() {
        out.push_str("Warnings\n");
        for w in &report.warnings {
            let _ = writeln!(out, "  {w}");
        }
    }
}

fn render_minidump(md: &MinidumpDetails, frames: usize, out: &mut String) {
    if let Some(t) = &md.dump_time {
        line(out, "Dump time", t);
    }
    match &md.system {
        Some(s) => {
            let csd = s
                .csd_version
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            line(out, "OS", format!("{} {}{csd}", s.os, s.os_version));
            let info = s
                .cpu_info
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default();
            line(
                out,
                "CPU",
                format!(
                    "{}, {} processor(s), {}-bit process{info}",
                    s.cpu, s.processor_count, s.pointer_bits
                ),
            );
        }
        None => line(out, "OS / CPU", "unknown (no system info stream)"),
    }
    let p = &md.process;
    let mut process = format!(
        "{} {}",
        p.name,
        p.version.as_deref().unwrap_or("(no version)")
    );
    let _ = write!(process, ", timestamp {}", p.timestamp);
    if let Some(pid) = p.pid {
        let _ = write!(process, ", pid {pid}");
    }
    if let Some(t) = &p.create_time {
        let _ = write!(process, ", started {t}");
    }
    line(out, "Process", process);
    match &md.exception {
        Some(e) => {
            let name = e.name.as_deref().unwrap_or("unknown code");
            line(
                out,
                "Exception",
                format!(
                    "{} {name}, flags {}, thread {}",
                    e.code, e.flags, e.thread_id
                ),
            );
            let source = match e.instruction_source {
                signatures::FaultLocation::ExceptionAddress => "ExceptionAddress".to_owned(),
                signatures::FaultLocation::ContextInstruction => {
                    format!("context, ExceptionAddress was {}", e.recorded_address)
                }
                signatures::FaultLocation::NoException => "none".to_owned(),
            };
            line(
                out,
                "  instruction",
                format!("{} (from {source})", e.instruction_address),
            );
            if let Some(a) = &e.access {
                let kind = match a.kind {
                    signatures::AccessKind::Read => "read",
                    signatures::AccessKind::Write => "write",
                    signatures::AccessKind::Execute => "execute",
                };
                line(out, "  access", format!("{kind} at {}", a.address));
            }
            if !e.parameters.is_empty() {
                line(out, "  parameters", e.parameters.join(" "));
            }
        }
        None => line(
            out,
            "Exception",
            "none (no exception stream: hang-style report)",
        ),
    }
    if let Some(t) = &md.crashing_thread {
        let name = t
            .name
            .as_deref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        line(
            out,
            "Crashing thread",
            format!(
                "{} (index {}{name}), {} frame(s)",
                t.id, t.index, t.total_frames
            ),
        );
        let shown = if frames == 0 { usize::MAX } else { frames };
        for f in t.frames.iter().take(shown) {
            let place = match (&f.module, &f.module_offset) {
                (Some(m), Some(o)) => format!("{m}+{o}"),
                _ => "?".to_owned(),
            };
            let mut text = format!("  #{:<2} {} {place}", f.index, f.instruction);
            if let Some(func) = &f.function {
                let _ = write!(text, "  {func}");
                if let Some(o) = &f.function_offset {
                    let _ = write!(text, "+{o}");
                }
            }
            if let (Some(file), Some(l)) = (&f.file, f.line) {
                let _ = write!(text, "  [{file}:{l}]");
            }
            let _ = writeln!(out, "{text}  ({})", f.trust);
        }
        // The walk may have found more than the report kept or the text shows.
        let printed = t.frames.len().min(shown);
        let more = t.total_frames.saturating_sub(printed);
        if more > 0 {
            let hint = if printed < t.frames.len() {
                "--frames N or 0 shows more"
            } else {
                "--frames 0 keeps them all"
            };
            let _ = writeln!(
                out,
                "  ... {more} more frame{} ({hint})",
                if more == 1 { "" } else { "s" }
            );
        }
    }
}

fn render_modules(md: &MinidumpDetails, out: &mut String) {
    let _ = writeln!(out, "Modules ({})", md.modules.len());
    let _ = writeln!(
        out,
        "  {:<18} {:<10} {:<18} {:<9} name",
        "base", "size", "version", "timestamp"
    );
    for m in &md.modules {
        let _ = writeln!(
            out,
            "  {:<18} {:<10} {:<18} {:<9} {}",
            m.base,
            m.size,
            m.version.as_deref().unwrap_or("-"),
            m.timestamp,
            m.name
        );
    }
    if !md.unloaded_modules.is_empty() {
        let _ = writeln!(out, "Unloaded modules ({})", md.unloaded_modules.len());
        for m in &md.unloaded_modules {
            let _ = writeln!(
                out,
                "  {:<18} {:<10} {:<18} {:<9} {}",
                m.base, m.size, "", m.timestamp, m.name
            );
        }
    }
}

fn render_wer(cab: &crate::report::CabDetails, out: &mut String) {
    let event = cab
        .wer
        .as_ref()
        .and_then(|w| w.event_type.as_deref())
        .unwrap_or("no problem signature");
    let sources = cab
        .wer
        .as_ref()
        .map_or_else(|| "none".to_owned(), |w| w.sources.join(", "));
    line(out, "WER metadata", format!("{event} (from {sources})"));
    for a in &cab.wer_agreement {
        let verdict = if a.agrees { "agrees" } else { "DIFFERS" };
        let note = a
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<14}{verdict}: ours {} / WER {}{note}",
            a.field, a.ours, a.theirs
        );
    }
}
