//! Kernel bucket keys: feeds the pure `signatures` crate the facts of a kernel dump.
//!
//! The reader ([`crate::kernel`]) finds the stop code, the modules and the stack; this module
//! turns them into the frames the faulting-module selection walks, reads the WHEA error record
//! of a Stop 0x124 through dump memory, and evaluates the known-issue rules.

use serde::Serialize;
use signatures::cper::{bytes_to_read, decode_record, WheaFacts, WheaRecord};
use signatures::known_issues::{evaluate, versions_wanted, IssueFacts, IssueModule, Rule, Verdict};
use signatures::module_selection::ModuleSelection;
use signatures::stop_codes::{base_code, explain, StopExplanation};
use signatures::{KernelBucket, KernelCrashFacts, KernelFrame, ModuleRef};

use kernel_dump::KernelDump;
use symbols::image_store::ImageStore;

use crate::kernel::note::KernelNote;
use crate::kernel::report::{CausedBy, StackAddress};
use crate::kernel::symbolize::KernelSymbolizer;
use crate::kernel::KernelReport;
use unwind::Trust;

/// The stack's addresses in the order the module selection walks them: frames found by
/// unwinding (or a frame-pointer chain) first, in stack order, then the scanned ones, so that a
/// guess never names the culprit ahead of a frame the unwind data vouches for.
pub(crate) fn selection_order(stack: &[StackAddress]) -> impl Iterator<Item = u64> + '_ {
    let found = stack.iter().filter(|s| s.trust != Trust::Scan);
    let scanned = stack.iter().filter(|s| s.trust == Trust::Scan);
    found.chain(scanned).map(|s| s.address)
}

/// Bytes of the WHEA_ERROR_RECORD_HEADER, read before the record's own length is known.
const WHEA_HEADER_LEN: usize = 128;

/// The kernel side of the three keys, with the reasoning behind them.
#[derive(Debug, Clone, Serialize)]
pub struct KernelSignature {
    /// The stop code explained: name, each parameter in words, which one names the address.
    pub stop_code: StopExplanation,
    /// The failure bucket, the module selection (rule, reason, skipped frames), attributes.
    pub bucket: KernelBucket,
    /// The decoded WHEA record of a Stop 0x124, when present.
    pub whea: Option<WheaRecord>,
    /// Problems reading inputs of the signature (an unreadable WHEA record, ...).
    pub notes: Vec<KernelNote>,
}

/// Computes the kernel signature and the known-issue verdicts of a parsed dump. Versions the
/// dump does not carry (a triage dump's) are looked up in `images` when a rule needs them;
/// frames are named by `symbols` when given.
pub fn kernel_signature(
    dump: &KernelDump<'_>,
    report: &KernelReport,
    rules: &[Rule],
    images: Option<&ImageStore>,
    mut symbols: Option<&mut KernelSymbolizer<'_>>,
) -> (KernelSignature, Vec<Verdict>) {
    let code = report.bugcheck.code;
    let parameters = report.bugcheck.parameters;
    let stop_code = explain(code, parameters);
    let mut notes = Vec::new();

    let module_at = |address: u64| -> Option<ModuleRef> {
        report
            .drivers
            .iter()
            .find(|d| address >= d.base && address - d.base < d.size)
            .map(|d| ModuleRef {
                name: d.name.clone(),
                base: d.base,
                size: d.size,
                timestamp: d.timestamp.unwrap_or(0),
                version: d.file_version.clone(),
            })
    };
    // With symbols, frames carry their function: the failure bucket then names it.
    let mut frame = |address: u64| KernelFrame {
        address,
        module: module_at(address),
        function: symbols
            .as_deref_mut()
            .and_then(|s| s.resolve(&report.drivers, address))
            // The displacement rides along: it becomes BUCKET_ID_FUNC_OFFSET, not the bucket.
            .map(|f| format!("{}+0x{:x}", f.function, f.function_offset)),
    };
    // Frame 0: the address the stop code names, else where the processor stopped (the report
    // built it so: `build_report`).
    let first = report.crash_address;
    // Then the faulting code's own stack, when the stop code names its context record or trap
    // frame (`.cxr` / `.trap`): the culprit is taken from it before the dispatcher's stack.
    let fault = report
        .fault_record
        .as_ref()
        .filter(|_| crate::kernel::fault::leads_culprit(code))
        .map_or(&[][..], |f| f.stack.as_slice());
    let frames: Vec<KernelFrame> = first
        .into_iter()
        .chain(selection_order(fault))
        .chain(selection_order(&report.stack))
        .map(&mut frame)
        .collect();
    let symbols_loaded = symbols.as_deref().is_some_and(KernelSymbolizer::any_loaded);

    let whea = (base_code(code) == 0x124)
        .then(|| read_whea(dump, parameters[1], &mut notes))
        .flatten();
    // 0xEF is about the process P1 names; every other code about the current one.
    let process_name = if base_code(code) == 0xEF {
        kernel_dump::process::process_name_at(dump, parameters[0])
    } else {
        report.process.as_ref().map(|p| p.name.clone())
    };
    let facts = KernelCrashFacts {
        code,
        parameters,
        frames,
        verifier_active: report.verifier_level.is_some_and(|level| level != 0),
        symbols_loaded,
        detail: None,
        whea: (base_code(code) == 0x124).then(|| WheaFacts {
            record: whea.clone(),
            cpu_vendor: None,
        }),
        live_dump: report
            .attributes_raw
            .is_some_and(|a| a & signatures::kernel_bucket::LIVE_DUMP_ATTRIBUTE != 0),
        process_name,
        power_irp: super::power_irp::power_irp(dump, code, parameters, &report.drivers),
    };
    let bucket = KernelBucket::from_facts(&facts);

    let mut issue_facts = IssueFacts {
        code,
        faulting_module: bucket.selection.module.as_ref().map(|m| m.name.clone()),
        modules: report
            .drivers
            .iter()
            .map(|d| IssueModule {
                name: d.name.clone(),
                version: d.file_version.clone(),
                timestamp: d.timestamp.unwrap_or(0),
                size: d.size,
                version_source: None,
            })
            .collect(),
        os_build_line: report
            .os
            .nt_version
            .map(|v| format!("{v}.{}", report.os.build)),
        attributes: report.attributes_raw.unwrap_or(0),
    };
    if let Some(store) = images {
        fill_versions_from_store(store, rules, &mut issue_facts, &mut notes);
    }
    let verdicts = evaluate(rules, &issue_facts);
    (
        KernelSignature {
            stop_code,
            bucket,
            whea,
            notes,
        },
        verdicts,
    )
}

/// Looks up the versions a matching rule needs in the image store and records where each
/// came from (or why none was found) in the notes.
fn fill_versions_from_store(
    store: &ImageStore,
    rules: &[Rule],
    facts: &mut IssueFacts,
    notes: &mut Vec<KernelNote>,
) {
    for wanted in versions_wanted(rules, facts) {
        let Some(module) = facts.modules.get_mut(wanted.module) else {
            continue;
        };
        let loaded = signatures::facts::file_name_of(&module.name).to_owned();
        let (found, search_notes) =
            store.version_of(&wanted.file, &loaded, module.timestamp, module.size);
        notes.extend(search_notes.into_iter().map(KernelNote::Store));
        if let Some(found) = found {
            notes.push(KernelNote::VersionFromStore {
                module: loaded.clone(),
                version: found.version.clone(),
                source: found.source.clone(),
            });
            module.version = Some(found.version);
            module.version_source = Some(found.source);
        }
    }
}

/// Reads the WHEA_ERROR_RECORD at `address` through dump memory: the header first, then as
/// many bytes as the record says (capped by the decoder's limit).
fn read_whea(
    dump: &KernelDump<'_>,
    address: u64,
    notes: &mut Vec<KernelNote>,
) -> Option<WheaRecord> {
    let mut header = vec![0u8; WHEA_HEADER_LEN];
    if let Err(e) = dump.read_virtual(address, &mut header) {
        notes.push(KernelNote::WheaUnreadable { address, error: e });
        return None;
    }
    let len = bytes_to_read(&header).max(WHEA_HEADER_LEN);
    let mut record = vec![0u8; len];
    match dump.read_virtual(address, &mut record) {
        Ok(()) => Some(decode_record(&record)),
        Err(e) => {
            notes.push(KernelNote::WheaHeaderOnly {
                address,
                wanted: len,
                error: e,
            });
            Some(decode_record(&header))
        }
    }
}

/// Sets the report's culprit (`caused_by`, the attribution rule, the crash address) from the
/// module selection that also names the failure bucket's module: one decision, shown in both
/// places.
pub fn name_culprit(report: &mut KernelReport, selection: &ModuleSelection) {
    report.attribution_rule = selection.reason.clone();
    if selection.address.is_some() {
        report.crash_address = selection.address;
    }
    report.caused_by = selection
        .module
        .as_ref()
        .zip(selection.address)
        .map(|(module, address)| {
            let row = report.drivers.iter().find(|d| d.base == module.base);
            CausedBy {
                driver: module.name.clone(),
                address,
                offset: address.wrapping_sub(module.base),
                base: module.base,
                timestamp: row.and_then(|d| d.timestamp),
                file_version: row.and_then(|d| d.file_version.clone()),
                symbol: None,
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(module: &str, address: u64, trust: Trust) -> StackAddress {
        StackAddress {
            stack_address: 0,
            address,
            module: module.to_owned(),
            offset: address & 0xFFFF,
            trust,
            symbol: None,
        }
    }

    /// A decoy a scan took, innermost, and below it a frame the unwind data vouches for: the
    /// culprit is the unwound frame's module, never the scanned decoy's.
    #[test]
    fn a_scanned_frame_never_names_the_culprit_ahead_of_an_unwound_one() {
        let decoy = ModuleRef {
            name: "decoy.sys".into(),
            base: 0x1000_0000,
            size: 0x1_0000,
            timestamp: 1,
            version: None,
        };
        let real = ModuleRef {
            name: "real.sys".into(),
            base: 0x2000_0000,
            size: 0x1_0000,
            timestamp: 2,
            version: None,
        };
        let stack = vec![
            row("decoy.sys", decoy.base + 0x10, Trust::Scan),
            row("real.sys", real.base + 0x20, Trust::CallFrameInfo),
            row("decoy.sys", decoy.base + 0x30, Trust::Scan),
        ];
        let order: Vec<u64> = selection_order(&stack).collect();
        assert_eq!(
            order,
            vec![real.base + 0x20, decoy.base + 0x10, decoy.base + 0x30]
        );
        let module_of = |a: u64| {
            [&decoy, &real]
                .into_iter()
                .find(|m| a >= m.base && a - m.base < m.size)
                .cloned()
        };
        let facts = KernelCrashFacts {
            code: 0x1E,
            parameters: [0x8000_0003, 0, 0, 0],
            frames: order
                .into_iter()
                .map(|address| KernelFrame {
                    address,
                    module: module_of(address),
                    function: None,
                })
                .collect(),
            verifier_active: false,
            symbols_loaded: false,
            detail: None,
            whea: None,
            live_dump: false,
            process_name: None,
            power_irp: None,
        };
        let bucket = KernelBucket::from_facts(&facts);
        assert_eq!(bucket.selection.name, "real");
        assert_eq!(bucket.failure.bucket, "0x1E_80000003_IMAGE_real.sys");
    }
}
