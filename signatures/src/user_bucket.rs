//! The failure bucket of a user-mode crash in the debugger's grammar, with its hash.
//!
//! Grammar (`signatures.md`): `PROBLEMCLASS_<exceptioncode>_<image>!<function|unknown>`, for
//! example `INVALID_POINTER_READ_c0000005_flash.ocx!unknown`. The offset is never part of the
//! bucket, so one bug in one function is one bucket across builds.

use serde::Serialize;

use crate::cer::{CerTuple, FaultLocation};
use crate::exception_codes::{base_class, fast_fail_name, ACCESS_VIOLATION, FAST_FAIL, WER_HANG};
use crate::facts::{AccessKind, UserCrashFacts};
use crate::hash::{failure_id_hash, HashKind};

/// Data addresses below this are treated as a NULL pointer plus a field offset, as the
/// debugger's `NULL_POINTER_*` classes do (the first 64 KiB are never mapped on Windows).
const NULL_REGION: u64 = 0x1_0000;

/// A failure bucket and its `FAILURE_ID_HASH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureBucket {
    /// The bucket string, e.g. `NULL_POINTER_WRITE_c0000005_test_app.exe!unknown`.
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
        let (class, code, image) = match &facts.exception {
            None => (
                "APPLICATION_HANG".to_owned(),
                WER_HANG,
                tuple.app_name.as_str(),
            ),
            Some(exception) => (
                problem_class(facts, tuple),
                exception.code,
                tuple.mod_name.as_str(),
            ),
        };
        let function = facts
            .frames
            .first()
            .filter(|f| {
                tuple.fault_location != FaultLocation::NoException
                    && f.instruction == tuple.fault_address
            })
            .and_then(|f| f.function.as_deref())
            .unwrap_or("unknown");
        FailureBucket::new(
            HashKind::User,
            format!("{class}_{code:08x}_{image}!{function}"),
        )
    }
}

/// The debugger-style problem class of a user-mode exception.
fn problem_class(facts: &UserCrashFacts, tuple: &CerTuple) -> String {
    let Some(exception) = &facts.exception else {
        return "APPLICATION_HANG".to_owned();
    };
    if let Some((access, data)) = exception.access() {
        let data = facts.pointer(data);
        let null = data < NULL_REGION;
        let prefix = if exception.code == ACCESS_VIOLATION {
            ""
        } else {
            "IN_PAGE_ERROR_"
        };
        let class = match (access, null) {
            (AccessKind::Read, true) => "NULL_POINTER_READ",
            (AccessKind::Read, false) => "INVALID_POINTER_READ",
            (AccessKind::Write, true) => "NULL_POINTER_WRITE",
            (AccessKind::Write, false) => "INVALID_POINTER_WRITE",
            // Executing outside every image is a wild jump; inside one it is a DEP fault.
            (AccessKind::Execute, _) if tuple.mod_name == crate::cer::UNKNOWN_MODULE => {
                "BAD_INSTRUCTION_PTR"
            }
            (AccessKind::Execute, _) => "SOFTWARE_NX_FAULT",
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
            "NULL_POINTER_WRITE_c0000005_app.exe!unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![0, 0x4141_4141], 0x40_1000)),
            "INVALID_POINTER_READ_c0000005_app.exe!unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![8, 0x1234], 0x1234)),
            "BAD_INSTRUCTION_PTR_c0000005_unknown!unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0005, vec![8, 0x40_1000], 0x40_1000)),
            "SOFTWARE_NX_FAULT_c0000005_app.exe!unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0006, vec![0, 0x9000_0000], 0x40_1000)),
            "IN_PAGE_ERROR_INVALID_POINTER_READ_c0000006_app.exe!unknown"
        );
    }

    #[test]
    fn other_classes() {
        assert_eq!(
            bucket(&facts(0x8000_0003, vec![], 0x40_1000)),
            "BREAKPOINT_80000003_app.exe!unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0409, vec![7], 0x40_1000)),
            "FAIL_FAST_FATAL_APP_EXIT_c0000409_app.exe!unknown"
        );
        assert_eq!(
            bucket(&facts(0xC000_0409, vec![77], 0x40_1000)),
            "FAIL_FAST_77_c0000409_app.exe!unknown"
        );
        assert_eq!(
            bucket(&facts(0x1234_5678, vec![], 0x40_1000)),
            "APPLICATION_FAULT_12345678_app.exe!unknown"
        );
        assert_eq!(
            bucket(&facts(WER_HANG, vec![], 0x40_1000)),
            "APPLICATION_HANG_cfffffff_app.exe!unknown"
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
        assert_eq!(bucket(&f), "APPLICATION_HANG_cfffffff_app.exe!unknown");
    }
}
