//! The failure bucket of a user-mode crash in the debugger's grammar, with its hash.
//!
//! Grammar (`analyze-buckets.md`, "User-mode grammar"), as current debuggers print it:
//! `CLASS[_AVRF]_<code>_<image>!<function>`, e.g. `INVALID_POINTER_READ_c0000005_Qt6Core.dll!Unknown`.
//! - `code` is the exception code in lowercase hex without padding (`517a7ed`).
//! - `image` is the faulting module's file name with its extension; `function` is frame 0's
//!   function with C++ punctuation sanitized, or `Unknown` without symbols.
//! - An address in no module is `unknown!noop`; executing one is
//!   `INVALID_POINTER_EXECUTE_..._<exe>!unknown_error_in_process`.
//! - `STATUS_HEAP_CORRUPTION` names the process: `HEAP_CORRUPTION_c0000374_heap_corruption!<exe>`.
//! - `_AVRF` follows the class when Application Verifier (`verifier.dll`) is loaded.
//!
//! The offset is never part of the bucket, so one bug in one function is one bucket across
//! builds. Which classes a minidump cannot express (managed code, heap analysis, symbol
//! mismatches) is listed in `docs/buckets.md`.

use serde::Serialize;

use crate::cer::{CerTuple, FaultLocation, UNKNOWN_MODULE};
use crate::exception_codes::{
    base_class, fast_fail_name, ACCESS_VIOLATION, FAST_FAIL, HEAP_CORRUPTION, STACK_OVERFLOW,
    WER_HANG,
};
use crate::facts::{AccessKind, UserCrashFacts};
use crate::hash::{failure_id_hash, HashKind};

/// Data addresses below this are a NULL pointer plus a field offset (the first 64 KiB are never
/// mapped on Windows): `NULL_POINTER_*`, or `NULL_CLASS_PTR_*` when the faulting instruction's
/// base register held NULL ([`UserCrashFacts::null_class_pointer`]).
const NULL_REGION: u64 = 0x1_0000;

/// Fill patterns of uninitialized or freed memory: an access to one of these addresses is
/// `..._FILL_PATTERN_<pattern>` (`INVALID_POINTER_READ_FILL_PATTERN_41414141`).
const FILL_PATTERNS: [u32; 9] = [
    0x4141_4141,
    0xBAAD_F00D,
    0xFEEE_FEEE,
    0xCDCD_CDCD,
    0xDDDD_DDDD,
    0xABAB_ABAB,
    0xFDFD_FDFD,
    0xCCCC_CCCC,
    0xC0C0_C0C0,
];

/// The function of a frame without symbols.
pub const NO_SYMBOL: &str = "Unknown";

/// A failure bucket and its `FAILURE_ID_HASH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureBucket {
    /// The bucket string, e.g. `NULL_POINTER_WRITE_c0000005_test_app.exe!Unknown`.
    pub bucket: String,
    /// The lowercase GUID hash of the bucket.
    pub failure_id_hash: String,
    /// Kernel or user mode (selects the hash prefix).
    pub kind: HashKind,
}

impl FailureBucket {
    /// A bucket of the given kind with its hash.
    pub fn new(kind: HashKind, bucket: String) -> FailureBucket {
        let failure_id_hash = failure_id_hash(kind, &bucket);
        FailureBucket {
            bucket,
            failure_id_hash,
            kind,
        }
    }

    /// The user-mode bucket of a crash: the problem class from the exception, the image from
    /// the CER tuple's module, the function from frame 0 when symbols named it.
    pub fn for_user(facts: &UserCrashFacts, tuple: &CerTuple) -> FailureBucket {
        let verifier = if facts
            .modules
            .iter()
            .any(|m| m.file_name().eq_ignore_ascii_case("verifier.dll"))
        {
            "_AVRF"
        } else {
            ""
        };
        let Some(exception) = &facts.exception else {
            return FailureBucket::new(
                HashKind::User,
                format!(
                    "APPLICATION_HANG{verifier}_{WER_HANG:x}_{}!{NO_SYMBOL}",
                    tuple.app_name
                ),
            );
        };
        let mut class = problem_class(facts, tuple);
        let in_no_module = tuple.mod_name == UNKNOWN_MODULE;
        let (image, function) = if exception.code == HEAP_CORRUPTION {
            ("heap_corruption".to_owned(), tuple.app_name.clone())
        } else if in_no_module && class == "BAD_INSTRUCTION_PTR" {
            class = "INVALID_POINTER_EXECUTE".to_owned();
            (
                tuple.app_name.clone(),
                "unknown_error_in_process".to_owned(),
            )
        } else if in_no_module {
            (UNKNOWN_MODULE.to_owned(), "noop".to_owned())
        } else {
            let function = facts
                .frames
                .first()
                .filter(|f| {
                    tuple.fault_location != FaultLocation::NoException
                        && f.instruction == tuple.fault_address
                })
                .and_then(|f| f.function.as_deref())
                .or(facts.fault_function.as_deref())
                .map_or_else(|| NO_SYMBOL.to_owned(), sanitize_function);
            (tuple.mod_name.clone(), function)
        };
        FailureBucket::new(
            HashKind::User,
            format!("{class}{verifier}_{:x}_{image}!{function}", exception.code),
        )
    }
}

/// A function name as buckets print it: the C++ punctuation that would break the grammar or
/// a file name becomes `_` (`node::AsyncResource::CallbackScope::~CallbackScope` is
/// `node::AsyncResource::CallbackScope::_CallbackScope`; templates lose `<`, `>`, `&`).
pub fn sanitize_function(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '<' | '>' | '&' | '~' | '*' | ' ' | '(' | ')' | '/' => '_',
            c => c,
        })
        .collect()
}

/// The fill pattern an address is, if any (a 32-bit pattern, or one repeated in both halves).
fn fill_pattern(address: u64) -> Option<u32> {
    let low = (address & 0xFFFF_FFFF) as u32;
    let high = (address >> 32) as u32;
    (FILL_PATTERNS.contains(&low) && (high == 0 || high == low)).then_some(low)
}

/// The debugger-style problem class of a user-mode exception.
fn problem_class(facts: &UserCrashFacts, tuple: &CerTuple) -> String {
    let Some(exception) = &facts.exception else {
        return "APPLICATION_HANG".to_owned();
    };
    if let Some((access, data)) = exception.access() {
        let data = facts.pointer(data);
        let prefix = if exception.code == ACCESS_VIOLATION {
            ""
        } else {
            "IN_PAGE_ERROR_"
        };
        let rw = |kind: &str| match data {
            d if d > 0 && d < NULL_REGION && facts.null_class_pointer => {
                format!("NULL_CLASS_PTR_{kind}")
            }
            d if d < NULL_REGION => format!("NULL_POINTER_{kind}"),
            d => match fill_pattern(d) {
                Some(p) => format!("INVALID_POINTER_{kind}_FILL_PATTERN_{p:08x}"),
                None => format!("INVALID_POINTER_{kind}"),
            },
        };
        let class = match access {
            AccessKind::Read => rw("READ"),
            AccessKind::Write => rw("WRITE"),
            // Executing outside every image is a wild jump; inside one it is a DEP fault.
            AccessKind::Execute if tuple.mod_name == UNKNOWN_MODULE => {
                "BAD_INSTRUCTION_PTR".to_owned()
            }
            AccessKind::Execute => "SOFTWARE_NX_FAULT".to_owned(),
        };
        return format!("{prefix}{class}");
    }
    if exception.code == FAST_FAIL {
        return match exception.parameters.first().copied() {
            Some(sub) => match fast_fail_name(sub) {
                Some(name) => format!("FAIL_FAST_{name}"),
                None => format!("FAIL_FAST_{sub}"),
            },
            None => "FAIL_FAST".to_owned(),
        };
    }
    if exception.code == STACK_OVERFLOW {
        // The one form the published outputs show for c00000fd.
        return "STACK_OVERFLOW_STACK_POINTER_MISMATCH".to_owned();
    }
    base_class(exception.code).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ExceptionFacts, FrameFacts, ModuleFacts};

    fn facts(code: u32, parameters: Vec<u64>, address: u64) -> UserCrashFacts {
        UserCrashFacts {
            is_32bit: true,
            modules: vec![ModuleFacts {
                path: r"C:\app\app.exe".into(),
                base: 0x40_0000,
                size: 0x1_0000,
                version: None,
                timestamp: 0,
            }],
            exception: Some(ExceptionFacts {
                code,
                flags: 0,
                address,
                parameters,
            }),
            context_instruction: None,
            exception_address_is_data: false,
            fault_function: None,
            null_class_pointer: false,
            frames: vec![FrameFacts {
                instruction: address,
                function: None,
            }],
        }
    }

    fn bucket(f: &UserCrashFacts) -> String {
        FailureBucket::for_user(f, &CerTuple::from_facts(f)).bucket
    }

    #[test]
    fn access_violations_by_kind_and_address() {
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![1, 0], 0x40_1000)),
            "NULL_POINTER_WRITE_c0000005_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![1, 0x45], 0x40_1000)),
            "NULL_POINTER_WRITE_c0000005_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![0, 0x4141_4141], 0x40_1000)),
            "INVALID_POINTER_READ_FILL_PATTERN_41414141_c0000005_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![0, 0x1234_5678], 0x40_1000)),
            "INVALID_POINTER_READ_c0000005_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![8, 0x1234], 0x1234)),
            "INVALID_POINTER_EXECUTE_c0000005_app.exe!unknown_error_in_process"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![0, 0x1234_5678], 0x1234)),
            "INVALID_POINTER_READ_c0000005_unknown!noop"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![8, 0x40_1000], 0x40_1000)),
            "SOFTWARE_NX_FAULT_c0000005_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0006, vec![0, 0x9000_0000], 0x40_1000)),
            "IN_PAGE_ERROR_INVALID_POINTER_READ_c0000006_app.exe!Unknown"
        );
    }

    #[test]
    fn a_null_base_register_makes_a_class_pointer() {
        let mut f = facts(0xC000_0005, vec![1, 0x10], 0x40_1000);
        f.null_class_pointer = true;
        assert_eq!(bucket(&f), "NULL_CLASS_PTR_WRITE_c0000005_app.exe!Unknown");
        let mut f = facts(0xC000_0005, vec![0, 0], 0x40_1000);
        f.null_class_pointer = true;
        assert_eq!(bucket(&f), "NULL_POINTER_READ_c0000005_app.exe!Unknown");
    }

    #[test]
    fn other_classes() {
        assert_eq!(
            bucket(&facts(0x8000_0003, vec![], 0x40_1000)),
            "BREAKPOINT_80000003_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0409, vec![7], 0x40_1000)),
            "FAIL_FAST_FATAL_APP_EXIT_c0000409_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0409, vec![77], 0x40_1000)),
            "FAIL_FAST_77_c0000409_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0x1234_5678, vec![], 0x40_1000)),
            "APPLICATION_FAULT_12345678_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0x0517_A7ED, vec![], 0x40_1000)),
            "APPLICATION_FAULT_517a7ed_app.exe!Unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0374, vec![], 0x40_1000)),
            "HEAP_CORRUPTION_c0000374_heap_corruption!app.exe"
        );
        assert_eq!(
            bucket(&facts(0xC000_00FD, vec![], 0x1234)),
            "STACK_OVERFLOW_STACK_POINTER_MISMATCH_c00000fd_unknown!noop"
        );
        assert_eq!(
            bucket(&facts(WER_HANG, vec![], 0x40_1000)),
            "APPLICATION_HANG_cfffffff_app.exe!Unknown"
        );
    }

    #[test]
    fn application_verifier_and_cpp_names() {
        let mut f = facts(0xC000_0005, vec![0, 0x1234_5678], 0x40_1000);
        f.modules.push(ModuleFacts {
            path: r"C:\Windows\System32\verifier.dll".into(),
            base: 0x7000_0000,
            size: 0x1000,
            version: None,
            timestamp: 0,
        });
        f.frames[0].function = Some("FreeImage_HasPixels".into());
        assert_eq!(
            bucket(&f),
            "INVALID_POINTER_READ_AVRF_c0000005_app.exe!FreeImage_HasPixels"
        );
        assert_eq!(
            sanitize_function("node::AsyncResource::CallbackScope::~CallbackScope"),
            "node::AsyncResource::CallbackScope::_CallbackScope"
        );
        assert_eq!(
            sanitize_function(
                "ATL::IConnectionPointImpl<CBthRadioManager,&IID_IMediaRadioManagerNotifySink,ATL::CComDynamicUnkArray>::Unadvise"
            ),
            "ATL::IConnectionPointImpl_CBthRadioManager,_IID_IMediaRadioManagerNotifySink,ATL::CComDynamicUnkArray_::Unadvise"
        );
        assert_eq!(
            sanitize_function(
                "rtc::FunctorMessageHandler<bool,(lambda at ../../third_party/webrtc/pc/rtpsender.cc:109:22)>::OnMessage"
            ),
            "rtc::FunctorMessageHandler_bool,_lambda_at_.._.._third_party_webrtc_pc_rtpsender.cc:109:22__::OnMessage"
        );
    }

    #[test]
    fn symbolized_frame_zero_names_the_function() {
        let mut f = facts(0x8000_0003, vec![], 0x40_1000);
        f.frames[0].function = Some("NtUserWaitMessage".into());
        f.modules[0].path = r"C:\Windows\System32\win32u.dll".into();
        let b = FailureBucket::for_user(&f, &CerTuple::from_facts(&f));
        // The published vector: the bucket and hash join with `!analyze` output.
        assert_eq!(b.bucket, "BREAKPOINT_80000003_win32u.dll!NtUserWaitMessage");
        assert_eq!(b.failure_id_hash, "a106cd41-a8b1-c51d-6d94-a75661270841");
    }

    #[test]
    fn hang_without_exception() {
        let mut f = facts(0, vec![], 0);
        f.exception = None;
        assert_eq!(bucket(&f), "APPLICATION_HANG_cfffffff_app.exe!Unknown");
    }
}
