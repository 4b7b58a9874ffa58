//! From WER's problem signature to the CER tuple, and the field-by-field
//! comparison with ours. The parameter order depends on the event type
//! (`shared/spec/cab-and-wer.md`): APPCRASH has the exception code before the
//! offset, BEX/BEX64 the offset before the code.

use super::WerMetadata;

/// The eight fields of the user-mode CER tuple, in the order
/// [`WerMetadata::compare_with`] takes ours.
pub const CER_FIELD_NAMES: [&str; 8] = [
    "AppName",
    "AppVer",
    "AppTimeStamp",
    "ModName",
    "ModVer",
    "ModTimeStamp",
    "ExceptionCode",
    "Offset",
];

/// What WER's problem signature maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CerFields {
    /// An application fault (`APPCRASH`, `BEX`, `BEX64`).
    App {
        /// The event type it came from.
        event_type: String,
        /// AppName, AppVer, AppTimeStamp, ModName, ModVer, ModTimeStamp,
        /// ExceptionCode, Offset (empty where WER gave nothing).
        fields: [String; 8],
        /// BEX's Parameter8 (exception data), when present.
        exception_data: Option<String>,
    },
    /// A kernel crash (`BlueScreen`).
    BlueScreen {
        /// BCCode.
        code: String,
        /// BCP1..BCP4.
        parameters: [String; 4],
        /// OS version (`6_1_7601`).
        os_version: String,
        /// Service pack (`1_0`).
        service_pack: String,
        /// Product (`256_1`).
        product: String,
    },
}

/// One field of our tuple against WER's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldAgreement {
    /// Field name (see [`CER_FIELD_NAMES`]).
    pub field: &'static str,
    /// Our value.
    pub ours: String,
    /// WER's value.
    pub theirs: String,
    /// Whether they agree (an expected difference counts as agreement).
    pub agrees: bool,
    /// Why they agree although they differ, or how they differ.
    pub note: Option<String>,
}

impl WerMetadata {
    /// Maps the problem signature to CER fields by event type; `None` for
    /// other event types or when there is none.
    pub fn cer_fields(&self) -> Option<CerFields> {
        let event_type = self.event_type.clone()?;
        let p = |n: u32| self.parameter(n).unwrap_or_default().to_owned();
        match event_type.to_ascii_uppercase().as_str() {
            "APPCRASH" => Some(CerFields::App {
                fields: [p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7)],
                exception_data: None,
                event_type,
            }),
            "BEX" | "BEX64" => Some(CerFields::App {
                fields: [p(0), p(1), p(2), p(3), p(4), p(5), p(7), p(6)],
                exception_data: self.parameter(8).map(str::to_owned),
                event_type,
            }),
            "BLUESCREEN" => Some(CerFields::BlueScreen {
                code: p(0),
                parameters: [p(1), p(2), p(3), p(4)],
                os_version: p(5),
                service_pack: p(6),
                product: p(7),
            }),
            _ => None,
        }
    }

    /// Compares our user-mode tuple (`ours` in [`CER_FIELD_NAMES`] order)
    /// with WER's. Names compare case-insensitively, hex fields by value.
    /// A WER ModName `StackHash_xxxx` (WER's undocumented hash for an address
    /// outside every module) against our `unknown` is an expected difference:
    /// it agrees, with a note. Empty when the metadata has no application
    /// tuple (kernel report, other event type, or no metadata).
    pub fn compare_with(&self, ours: [&str; 8]) -> Vec<FieldAgreement> {
        let Some(CerFields::App { fields, .. }) = self.cer_fields() else {
            return Vec::new();
        };
        let stack_hash = fields.get(3).is_some_and(|m| {
            m.len() > 10
                && m.get(..10)
                    .is_some_and(|p| p.eq_ignore_ascii_case("StackHash_"))
        });
        CER_FIELD_NAMES
            .iter()
            .zip(ours)
            .zip(fields)
            .map(|((&field, ours), theirs)| {
                let (agrees, note) = compare_field(field, ours, &theirs, stack_hash);
                FieldAgreement {
                    field,
                    ours: ours.to_owned(),
                    theirs,
                    agrees,
                    note,
                }
            })
            .collect()
    }
}

/// Compares one field; returns (agrees, note).
fn compare_field(
    field: &str,
    ours: &str,
    theirs: &str,
    stack_hash: bool,
) -> (bool, Option<String>) {
    let hex = |s: &str| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok();
    match field {
        "ModName" if stack_hash && ours.eq_ignore_ascii_case("unknown") => (
            true,
            Some(format!(
                "expected difference: WER names an address outside every module {theirs} (an undocumented hash); we write unknown"
            )),
        ),
        "AppName" | "ModName" => (ours.eq_ignore_ascii_case(theirs), None),
        "AppTimeStamp" | "ModTimeStamp" | "ExceptionCode" | "Offset" => match (hex(ours), hex(theirs)) {
            (Some(a), Some(b)) if a == b => {
                let note = (ours.len() != theirs.len())
                    .then(|| format!("same value, written with {} digits by us and {} by WER", ours.len(), theirs.len()));
                (true, note)
            }
            (Some(_), Some(_)) => (false, None),
            _ => (ours.eq_ignore_ascii_case(theirs), Some("not both hexadecimal".to_owned())),
        },
        _ => (ours == theirs, None),
    }
}
