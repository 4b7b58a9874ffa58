//! Stop (bug check) codes: names, the four parameters in words, and which parameter names the
//! faulting address.
//!
//! The knowledge is data (`data/stop-codes.txt`, embedded with `include_str!`), so adding a code
//! or a sub-code is a one-line change that the tests check. A report names the code, explains
//! every parameter and says which one named the faulting address (`shared/spec/stop-codes.md`).
//! Unknown codes are never rejected: [`explain`] reports them by number with raw parameters.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::Serialize;

use crate::exception_codes::{exception_name, fast_fail_name};
use parse::{add_names, parse_entry, parse_table};

/// The embedded table.
const TABLE_TEXT: &str = include_str!("../data/stop-codes.txt");
/// The name of every code Windows defines (`data/bugcheck-names.tsv`).
const NAMES_TEXT: &str = include_str!("../data/bugcheck-names.tsv");

/// What a code known only by name says of its parameters.
const UNDESCRIBED: &str = "not described in the public bug check reference";

/// Bit 28 marks the `_M` variants (0x1000007E is 0x7E written by a different code path).
const M_VARIANT_BIT: u32 = 0x1000_0000;

/// Where the faulting address of a stop code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "parameter")]
pub enum AddressRule {
    /// Parameter 1..=4 is the address of the faulting code.
    Parameter(u8),
    /// P2 is the virtual address of the WHEA_ERROR_RECORD: the record, not the stack, decides.
    WheaRecord,
    /// The trap/context frame and the stack decide.
    Stack,
    /// A process died: the culprit is a process name, not a module.
    Process,
    /// Corruption detected by the kernel itself: no module can be named.
    NoModule,
    /// A manually initiated crash: not a bug.
    Manual,
    /// A memory-capture tool's own code (`KeInitializeCrashDumpHeader`): not a crash at all.
    Capture,
}

impl AddressRule {
    /// The rule in words, for reports.
    pub fn words(self) -> String {
        match self {
            AddressRule::Parameter(i) => format!("parameter {i} is the faulting code address"),
            AddressRule::WheaRecord => "parameter 2 points to the WHEA error record".to_owned(),
            AddressRule::Stack => {
                "the trap/context frame and the stack name the culprit".to_owned()
            }
            AddressRule::Process => "a critical process died: a process, not a module".to_owned(),
            AddressRule::NoModule => "kernel-detected corruption: no module".to_owned(),
            AddressRule::Manual => "manually initiated crash: not a bug".to_owned(),
            AddressRule::Capture => "a memory-capture tool wrote this code with \
                                     KeInitializeCrashDumpHeader: a capture marker, not a crash"
                .to_owned(),
        }
    }
}

/// How a parameter's value is explained beyond its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoder {
    Exception,
    Irql,
    AccessA,
    AccessD1,
    Access50,
    Sub,
    IoStatus,
}

/// A sub-code (the value of P1 of a sub-typed stop code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubCode {
    /// The P1 value.
    pub value: u64,
    /// Symbolic name, e.g. `CORRUPT_LIST_ENTRY`.
    pub name: &'static str,
    /// What it means.
    pub words: &'static str,
    /// Meanings of P2..P4 that replace the code's general ones for this sub-code.
    pub overrides: [Option<&'static str>; 3],
}

/// One stop code of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopCode {
    /// The code (the base code for `_M` variants).
    pub code: u32,
    /// Symbolic name, e.g. `DRIVER_IRQL_NOT_LESS_OR_EQUAL`.
    pub name: &'static str,
    /// Meaning of P1..P4 in words.
    pub parameters: [&'static str; 4],
    /// Which parameter (or what else) names the faulting address.
    pub address_rule: AddressRule,
    /// What identifies the bucket, in words.
    pub key: &'static str,
    /// Known sub-codes (P1 values).
    pub sub_codes: Vec<SubCode>,
    #[serde(skip)]
    decoders: [Option<Decoder>; 4],
}

/// An I/O status value of 0x7A / 0x77.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IoStatus {
    /// The NTSTATUS value.
    pub status: u32,
    /// `STATUS_*` name.
    pub name: &'static str,
    /// What it usually means for the storage path.
    pub words: &'static str,
}

/// The parsed table.
#[derive(Debug, Default)]
struct Table {
    /// The codes `stop-codes.txt` describes.
    codes: Vec<StopCode>,
    /// The other codes, by name only, sorted by code. Kept as pairs and turned into a
    /// [`StopCode`] on lookup: a full entry per named code was ~100 KiB built at start-up, a
    /// visible share of a one-dump run.
    named: Vec<(u32, &'static str)>,
    statuses: Vec<IoStatus>,
    errors: Vec<String>,
}

/// The whole table, built on first need.
static TABLE: OnceLock<Table> = OnceLock::new();

fn table() -> &'static Table {
    TABLE.get_or_init(|| {
        let mut table = parse_table(TABLE_TEXT);
        add_names(&mut table, NAMES_TEXT);
        table
    })
}

/// `0x1000007E` -> `0x7E`: the `_M` variants share the meaning of their base code.
pub fn base_code(code: u32) -> u32 {
    if code >> 28 == 1 {
        code & !M_VARIANT_BIT
    } else {
        code
    }
}

impl StopCode {
    /// The entry of a code known by name only.
    fn named(code: u32, name: &'static str) -> StopCode {
        StopCode {
            code,
            name,
            parameters: [UNDESCRIBED; 4],
            address_rule: AddressRule::Stack,
            key: "the stack",
            sub_codes: Vec::new(),
            decoders: [None; 4],
        }
    }

    /// The table entry of `code` (its base code for `_M` variants), if the code is known.
    pub fn lookup(code: u32) -> Option<Cow<'static, StopCode>> {
        /// Lookups answered from the text alone before the table is built.
        const FEW: usize = 8;
        static LOOKUPS: AtomicUsize = AtomicUsize::new(0);
        let base = base_code(code);
        // A one-dump run asks for one code a few times: parsing its lines alone costs a few
        // microseconds, building the table ~0.1 ms (a tenth of such a run). A batch asks
        // more often and builds the table once.
        if TABLE.get().is_none() && LOOKUPS.fetch_add(1, Ordering::Relaxed) < FEW {
            // The last code asked for is asked again (report, bucket, live-dump test).
            static LAST: Mutex<Option<(u32, Option<StopCode>)>> = Mutex::new(None);
            let mut last = LAST.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, entry)) = last.as_ref().filter(|(c, _)| *c == base) {
                return entry.clone().map(Cow::Owned);
            }
            let entry = parse_entry(base);
            *last = Some((base, entry.clone()));
            return entry.map(Cow::Owned);
        }
        let table = table();
        if let Some(described) = table.codes.iter().find(|c| c.code == base) {
            return Some(Cow::Borrowed(described));
        }
        let i = table.named.binary_search_by_key(&base, |&(c, _)| c).ok()?;
        let &(code, name) = table.named.get(i)?;
        Some(Cow::Owned(StopCode::named(code, name)))
    }

    /// Every known stop code: the described ones in table order, then the named ones by code.
    pub fn all() -> Vec<StopCode> {
        let table = table();
        let named = table.named.iter().map(|&(c, n)| StopCode::named(c, n));
        table.codes.iter().cloned().chain(named).collect()
    }

    /// The sub-code `value` of P1, if the table or the fast-fail list knows it.
    pub fn sub_code(&self, value: u64) -> Option<SubCode> {
        if let Some(s) = self.sub_codes.iter().find(|s| s.value == value) {
            return Some(s.clone());
        }
        if self.code == 0x139 {
            return fast_fail_name(value).map(|name| SubCode {
                value,
                name,
                words: "fast-fail code",
                overrides: [None; 3],
            });
        }
        None
    }

    /// The name as written for this exact code: `_M` appended for the 0x1000xxxx variants.
    pub fn name_for(&self, code: u32) -> String {
        if code != self.code && base_code(code) == self.code {
            format!("{}_M", self.name)
        } else {
            self.name.to_owned()
        }
    }
}

/// The I/O status entry of a 0x7A / 0x77 P2 value.
pub fn io_status(status: u64) -> Option<&'static IoStatus> {
    table()
        .statuses
        .iter()
        .find(|s| u64::from(s.status) == status)
}

/// Lines of the embedded table that did not parse (empty unless the data file is broken).
pub fn table_errors() -> &'static [String] {
    &table().errors
}

/// One parameter of a stop, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterExplanation {
    /// 1..=4.
    pub index: u8,
    /// What the parameter means (`"parameter N"` for an unknown code).
    pub meaning: String,
    /// The raw value.
    pub value: u64,
    /// The value decoded, when the table knows how (exception name, IRQL, access kind, ...).
    pub note: Option<String>,
}

/// The sub-code a stop was raised with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubCodeExplanation {
    /// The P1 value.
    pub value: u64,
    /// Its name.
    pub name: String,
    /// Its meaning.
    pub words: String,
}

/// A stop code with its parameters, explained for a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopExplanation {
    /// The code as recorded in the dump.
    pub code: u32,
    /// The code without the `_M` bit.
    pub base_code: u32,
    /// Symbolic name, `None` for a code the table does not know.
    pub name: Option<String>,
    /// The sub-code (P1) when the code is sub-typed and the value is known.
    pub sub_code: Option<SubCodeExplanation>,
    /// P1..P4.
    pub parameters: [ParameterExplanation; 4],
    /// Where the faulting address comes from ([`AddressRule::Stack`] for unknown codes).
    pub address_rule: AddressRule,
    /// [`AddressRule::words`].
    pub address_rule_words: String,
    /// The address the rule names (`None` when the rule is not a parameter, or it is 0).
    pub named_address: Option<u64>,
    /// What identifies the bucket, in words (`None` for an unknown code).
    pub bucket_key: Option<String>,
}

/// Explains a stop code and its parameters. Unknown codes are explained as raw numbers.
pub fn explain(code: u32, parameters: [u64; 4]) -> StopExplanation {
    let entry = StopCode::lookup(code);
    let entry = entry.as_deref();
    let sub = entry.and_then(|e| {
        e.decoders
            .first()
            .copied()
            .flatten()
            .filter(|d| *d == Decoder::Sub)
            .and_then(|_| e.sub_code(parameters[0]))
    });
    let explain_one = |i: usize| -> ParameterExplanation {
        let value = parameters.get(i).copied().unwrap_or(0);
        let index = u8::try_from(i + 1).unwrap_or(0);
        let Some(e) = entry else {
            return ParameterExplanation {
                index,
                meaning: format!("parameter {index}"),
                value,
                note: None,
            };
        };
        let general = e.parameters.get(i).copied().unwrap_or("");
        let meaning = i
            .checked_sub(1)
            .and_then(|j| {
                sub.as_ref()
                    .and_then(|s| s.overrides.get(j).copied().flatten())
            })
            .unwrap_or(general)
            .to_owned();
        let note = match e.decoders.get(i).copied().flatten() {
            Some(Decoder::Sub) => sub.as_ref().map(|s| format!("{}: {}", s.name, s.words)),
            Some(d) => decode(d, value),
            None => None,
        };
        ParameterExplanation {
            index,
            meaning,
            value,
            note,
        }
    };
    let address_rule = entry.map_or(AddressRule::Stack, |e| e.address_rule);
    let named_address = match address_rule {
        AddressRule::Parameter(i) => usize::from(i)
            .checked_sub(1)
            .and_then(|j| parameters.get(j).copied())
            .filter(|&a| a != 0),
        _ => None,
    };
    let parameters = [
        explain_one(0),
        explain_one(1),
        explain_one(2),
        explain_one(3),
    ];
    StopExplanation {
        code,
        base_code: base_code(code),
        name: entry.map(|e| e.name_for(code)),
        sub_code: sub.as_ref().map(|s| SubCodeExplanation {
            value: s.value,
            name: s.name.to_owned(),
            words: s.words.to_owned(),
        }),
        parameters,
        address_rule,
        address_rule_words: address_rule.words(),
        named_address,
        bucket_key: entry.map(|e| e.key.to_owned()),
    }
}

fn decode(decoder: Decoder, value: u64) -> Option<String> {
    match decoder {
        Decoder::Exception => u32::try_from(value)
            .ok()
            .and_then(exception_name)
            .map(str::to_owned),
        Decoder::Irql => Some(
            match value {
                0 => "PASSIVE_LEVEL",
                1 => "APC_LEVEL",
                2 => "DISPATCH_LEVEL",
                0xF | 0x1F => "HIGH_LEVEL",
                _ => "device IRQL (DIRQL)",
            }
            .to_owned(),
        ),
        Decoder::AccessA => Some(
            if value & 8 != 0 {
                "execute"
            } else if value & 1 != 0 {
                "write"
            } else {
                "read"
            }
            .to_owned(),
        ),
        Decoder::AccessD1 => match value {
            0 => Some("read".to_owned()),
            1 => Some("write".to_owned()),
            2 | 8 => Some("execute".to_owned()),
            _ => None,
        },
        Decoder::Access50 => Some(
            if value & 0x10 != 0 {
                "execute"
            } else if value & 2 != 0 || value == 1 {
                "write"
            } else {
                "read"
            }
            .to_owned(),
        ),
        Decoder::IoStatus => io_status(value).map(|s| format!("{}: {}", s.name, s.words)),
        Decoder::Sub => None,
    }
}

mod parse;
#[cfg(test)]
mod tests;
