//! Text rendering of the kernel keys: the stop code explained, why the faulting module was
//! chosen, the WHEA decode and the known-issue verdicts.

use std::fmt::Write;

use signatures::cper::SectionBody;
use signatures::known_issues::Verdict;

use crate::kernel::signature::KernelSignature;
use crate::kernel::KernelReport;

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

fn opt_hex32(v: Option<u32>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:08x}"))
}

/// Renders a kernel report as aligned `key: value` lines followed by a module table.
pub(crate) fn render_report(report: &KernelReport, out: &mut String) {
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(out, "{:<22}: {v}", k);
    };
    kv(
        "Dump type",
        format!(
            "{} ({}, {} header)",
            report.dump_type, report.dump_type_name, report.header_width
        ),
    );
    kv(
        "Crash time",
        report
            .crash_time
            .map_or_else(|| "unknown".into(), |t| t.to_string()),
    );
    kv(
        "Up time",
        report
            .uptime_seconds
            .map_or_else(|| "not recorded".to_owned(), |s| format!("{s}s")),
    );
    kv(
        "Bug check",
        format!(
            "{:#010X} {}",
            report.bugcheck.code,
            report
                .bugcheck
                .name
                .as_deref()
                .unwrap_or("(unknown stop code)")
        ),
    );
    for (i, p) in report.bugcheck.parameters.iter().enumerate() {
        kv(&format!("Parameter {}", i + 1), format!("{p:#018x}"));
    }
    match &report.caused_by {
        Some(c) => {
            kv("Caused by driver", c.driver.clone());
            kv(
                "Caused by address",
                format!("{}+{:x} ({:#x})", c.driver, c.offset, c.address),
            );
            if let Some(symbol) = &c.symbol {
                kv("Caused by function", symbol.display(&c.driver));
            }
            kv("Driver timestamp", opt_hex32(c.timestamp));
            kv(
                "Driver file version",
                c.file_version.clone().unwrap_or_else(|| "-".into()),
            );
        }
        None => kv("Caused by driver", "unknown".into()),
    }
    kv("Attribution rule", report.attribution_rule.clone());
    kv(
        "Crash address",
        report
            .crash_address
            .map_or_else(|| "unknown".into(), |a| format!("{a:#x}")),
    );
    kv(
        "Processor",
        format!("{} x {}", report.architecture, report.processors),
    );
    kv(
        "OS version",
        format!(
            "{} build {} ({}, header {}.{})",
            report.os.nt_version.unwrap_or("?"),
            report.os.build,
            report.os.build_kind,
            report.os.major_version,
            report.os.minor_version
        ),
    );
    if let Some(kb) = report.kernel_base {
        kv("Kernel base", format!("{kb:#x}"));
    }
    if let Some(p) = &report.process {
        let mut line = format!("{} (pid {})", p.name, p.pid);
        if let Some(t) = p.thread_id {
            line.push_str(&format!(", thread {t}"));
        }
        if let Some(irql) = p.irql {
            line.push_str(&format!(", IRQL {irql}"));
        }
        kv("Process", format!("{line} [{}]", p.source));
    }
    if let Some(c) = &report.context {
        kv(
            "Context",
            format!("{} pc={:#x} sp={:#x} fp={:#x}", c.arch, c.pc, c.sp, c.fp),
        );
    }
    if let Some(e) = report
        .exception
        .as_ref()
        .filter(|_| !report.exception_is_bugcheck_breakpoint)
    {
        kv(
            "Exception",
            format!("code {:#010x} at {:#x}", e.code, e.address),
        );
    }
    for a in &report.attributes {
        kv(
            "Attribute",
            format!("{} ({:#x}): {}", a.name, a.flag, a.meaning),
        );
    }
    for m in &report.missing {
        kv("Missing", m.to_string());
    }
    if let Some(f) = &report.fault_record {
        let what = match f.kind {
            crate::kernel::report::RecordKind::ContextRecord => "context record (.cxr)",
            crate::kernel::report::RecordKind::TrapFrame => "trap frame (.trap)",
        };
        let _ = writeln!(
            out,
            "\nFaulting code's stack, from the {what} at P{} {:#x}:",
            f.parameter, f.address
        );
        stack_rows(out, &f.stack);
    }
    let _ = writeln!(
        out,
        "\nStack (frames in modules, innermost first; how each was found):"
    );
    stack_rows(out, &report.stack);
    let _ = writeln!(
        out,
        "\n{:<28} {:>18} {:>10} {:>8} {:<18} Stack",
        "Driver", "Base", "Size", "Time", "Version"
    );
    for d in &report.drivers {
        let _ = writeln!(
            out,
            "{:<28} {:#018x} {:#10x} {:>8} {:<18} {}",
            d.name,
            d.base,
            d.size,
            opt_hex32(d.timestamp),
            d.file_version.as_deref().unwrap_or("-"),
            if d.on_stack { "yes" } else { "" }
        );
    }
    if !report.unloaded_drivers.is_empty() {
        let _ = writeln!(out, "\nUnloaded drivers:");
        for u in &report.unloaded_drivers {
            let _ = writeln!(out, "  {:<28} {:#018x}..{:#018x}", u.name, u.start, u.end);
        }
    }
}

/// One line per frame: stack slot, address, how it was found, module+offset, symbol.
fn stack_rows(out: &mut String, stack: &[crate::kernel::report::StackAddress]) {
    for s in stack {
        let symbol = s
            .symbol
            .as_ref()
            .map(|f| format!("  {}", f.display(&s.module)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:#018x}  {:#018x}  {:<13} {}+{:x}{symbol}",
            s.stack_address,
            s.address,
            s.trust.words(),
            s.module,
            s.offset
        );
    }
}
