//! The part of a kernel bucket before its location: `AV` with its qualifiers, `0x<code>` with
//! its sub-code tokens, `RAISED_IRQL_FAULT_<process>`, `0xEF_<process>_...`, and `LKD_` for
//! live dumps (`shared/spec/analyze-buckets.md`).
//!
//! The rules, and the published rows each one reproduces (`failure-bucket-vectors.tsv`):
//! - **AV.** 0xA and 0xD1 always; 0x50 always; 0x1E, 0x7E / 0x1000007E, 0x8E / 0x1000008E and
//!   0x3B when their exception code (P1) is c0000005. Qualifiers, in this order: `_VRF` with
//!   Driver Verifier (`AV_VRF_usbprint!...`); for 0x50 and 0x1E, where the parameters say
//!   which access it was, `_R` or `_W` (0x50: P2 0 / 1; 0x1E: P3 0 / 1) and the class of the
//!   referenced address (0x50: P1; 0x1E: P4): `(null)` below 0x10000, `INVALID` otherwise,
//!   since a fault there means the page was not valid (`AV_W_(null)_Driver`,
//!   `AV_R_INVALID_WwanUsbMP`, `AV_R_(null)_win32kbase`); for 0xA and 0xD1 whose referenced
//!   address is the faulting instruction itself (P1 == P4), `_CODE_AV_PAGED_IP`
//!   (`AV_CODE_AV_PAGED_IP_TestDriver`). The 0x1E qualifiers are inferred from 0x50: no
//!   published modern 0x1E row shows them.
//! - **0x<code>.** The code in upper-case hex (the hash ignores case), then the sub-code (P1) in lower-case hex for the codes that have sub-codes
//!   (0x19 `0x19_22`, 0x1A, 0x7F, 0x9F `0x9F_3`, 0xC2, 0xCA `0xCA_13`, 0x139 `0x139_1d`,
//!   0x13A `0x13a_12`), then the sub-code's name where one is known (0x139: the fast-fail
//!   code's name, `0x139_3_CORRUPT_LIST_ENTRY`); 0x1E / 0x7E / 0x8E / 0x3B with another
//!   exception code: that code (`_c0000142`); 0x133 `_DPC` or `_ISR`; 0x20 `_NULLAPC` when P1
//!   (the pending APC) is null and `_KAPC_NEGATIVE` when P2 (the APC disable count, a 16-bit
//!   count) is negative (`0x20_NULLAPC_KAPC_NEGATIVE`); 0x153 the stop name with P3's
//!   condition (`0x153_KERNEL_LOCK_ENTRY_LEAKED_ON_THREAD_TERMINATION_LOCK_POINTER_NOT_NULL`);
//!   0x9F sub-code 3 the driver owning the blocked IRP (`0x9F_3_RtsPer`, its location the
//!   physical device object's image: `IMAGE_pci.sys`); then the analyzer's own detail token,
//!   then `_VRF` with Driver Verifier
//!   (the older rows `0x3B_c0000006_VRF_nt!HvpGetCellPaged` and `0xD5_VRF_win32k!...` put it
//!   there). Stop 0x124 takes its tokens from the WHEA record (`cper::whea_bucket`, P1 in
//!   decimal: `0x124_16_GenuineIntel__UNKNOWN`).
//! - **Processes.** 0x4A: `RAISED_IRQL_FAULT_<process>`; 0xEF:
//!   `0xEF_<process>_BUGCHECK_CRITICAL_PROCESS`. Without a process name the stop-code form.
//! - **LKD_** before everything when the header says the dump is a live dump, or the stop code
//!   is one only live dumps carry (a name ending in `LIVEDUMP` / `LIVE_DUMP`, and 0x117, 0x141,
//!   0x142, 0x161, the video TDR live dumps and LIVE_SYSTEM_DUMP).

use crate::exception_codes::fast_fail_name;
use crate::module_selection::KernelCrashFacts;
use crate::stop_codes::{base_code, StopCode};

/// Exception code of an access violation.
const ACCESS_VIOLATION: u32 = 0xC000_0005;

/// Header attribute bit: LiveDumpGeneratedDump.
pub const LIVE_DUMP_ATTRIBUTE: u32 = 0x10;

/// Live-dump codes whose names do not say so.
const LIVE_DUMP_CODES: [u32; 4] = [0x117, 0x141, 0x142, 0x161];

/// Addresses below this are a null pointer plus an offset (`(null)`).
const NULL_REGION: u64 = 0x1_0000;

/// Which family the head belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadFamily {
    /// `AV...`: a kernel-mode access violation.
    AccessViolation,
    /// `0x<code>...`.
    StopCode,
    /// `RAISED_IRQL_FAULT_<process>` (0x4A).
    RaisedIrql,
    /// `0xEF_<process>_BUGCHECK_CRITICAL_PROCESS` (0xEF).
    CriticalProcess,
}

/// True when the dump is a live kernel dump: by its header, or by a code only live dumps use.
pub fn is_live_dump(code: u32, header_says_live: bool) -> bool {
    let code = base_code(code);
    header_says_live
        || LIVE_DUMP_CODES.contains(&code)
        || StopCode::lookup(code)
            .is_some_and(|c| c.name.ends_with("LIVEDUMP") || c.name.ends_with("LIVE_DUMP"))
}

/// A process name as a bucket token: the characters that would break the grammar (`!`, `_`
/// stays) become `_`.
pub fn process_token(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '!' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn detail_token(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `_R` / `_W` and the address class, from the access kind and the referenced address.
fn access_qualifiers(kind: u64, address: u64) -> String {
    let access = match kind {
        0 => "_R",
        1 => "_W",
        _ => "",
    };
    let class = if address < NULL_REGION {
        "(null)"
    } else {
        "INVALID"
    };
    format!("{access}_{class}")
}

/// `AV` and its qualifiers, when the stop code is a kernel-mode access violation.
fn access_violation(facts: &KernelCrashFacts) -> Option<String> {
    let code = base_code(facts.code);
    let [p1, p2, p3, p4] = facts.parameters;
    let exception_is_av = p1 as u32 == ACCESS_VIOLATION;
    let mut head = String::from("AV");
    if facts.verifier_active {
        head.push_str("_VRF");
    }
    match code {
        0xA | 0xD1 => {
            if p1 == p4 && p4 != 0 {
                head.push_str("_CODE_AV_PAGED_IP");
            }
        }
        0x50 => head.push_str(&access_qualifiers(p2, p1)),
        0x1E if exception_is_av => head.push_str(&access_qualifiers(p3, p4)),
        0x7E | 0x8E | 0x3B if exception_is_av => {}
        _ => return None,
    }
    Some(head)
}

/// The tokens after `0x<code>` (and `_VRF`).
fn sub_tokens(facts: &KernelCrashFacts) -> Vec<String> {
    let code = base_code(facts.code);
    let [p1, p2, p3, _] = facts.parameters;
    let mut tokens = Vec::new();
    match code {
        0x9F => {
            tokens.push(format!("{p1:x}"));
            if let Some(owner) = facts.power_irp.as_ref().and_then(|i| i.irp_owner.as_ref()) {
                tokens.push(process_token(owner));
            }
        }
        0x19 | 0x1A | 0x7F | 0xC2 | 0xCA | 0x13A => tokens.push(format!("{p1:x}")),
        0x139 => {
            tokens.push(format!("{p1:x}"));
            tokens.extend(fast_fail_name(p1).map(str::to_owned));
        }
        0x1E | 0x7E | 0x8E | 0x3B => tokens.push(format!("{:08x}", p1 as u32)),
        0x133 => {
            let isr = facts
                .detail
                .as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case("ISR"));
            tokens.push(if isr { "ISR" } else { "DPC" }.to_owned());
            return tokens;
        }
        0x20 => {
            if p1 == 0 {
                tokens.push("NULLAPC".to_owned());
            }
            if (p2 as u16 as i16) < 0 {
                tokens.push("KAPC_NEGATIVE".to_owned());
            }
        }
        0x153 => {
            let condition = match p3 {
                1 => Some("LOCK_POINTER_NOT_NULL"),
                2 => Some("THREAD_POINTER_RESERVED_BITS_SET"),
                3 => Some("THREAD_POINTER_CORRUPTED"),
                4 => Some("RESIDUAL_BOOSTS"),
                _ => None,
            };
            if let Some(condition) = condition {
                tokens.push(format!(
                    "KERNEL_LOCK_ENTRY_LEAKED_ON_THREAD_TERMINATION_{condition}"
                ));
            }
        }
        _ => {}
    }
    if let Some(d) = facts.detail.as_deref().map(detail_token) {
        if !d.is_empty() {
            tokens.push(d);
        }
    }
    tokens
}

/// The head of a bucket for every code but 0x124 (whose tokens come from the WHEA record),
/// without `LKD_`.
pub fn head(facts: &KernelCrashFacts) -> (String, HeadFamily) {
    let code = base_code(facts.code);
    if let Some(av) = access_violation(facts) {
        return (av, HeadFamily::AccessViolation);
    }
    let process = facts.process_name.as_deref().map(process_token);
    match (code, process) {
        (0x4A, Some(p)) => return (format!("RAISED_IRQL_FAULT_{p}"), HeadFamily::RaisedIrql),
        (0xEF, Some(p)) => {
            let vrf = if facts.verifier_active { "_VRF" } else { "" };
            return (
                format!("0xEF_{p}_BUGCHECK_CRITICAL_PROCESS{vrf}"),
                HeadFamily::CriticalProcess,
            );
        }
        _ => {}
    }
    let mut head = format!("0x{code:X}");
    for t in sub_tokens(facts) {
        head.push('_');
        head.push_str(&t);
    }
    if facts.verifier_active {
        head.push_str("_VRF");
    }
    (head, HeadFamily::StopCode)
}
