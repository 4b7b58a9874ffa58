//! Names of Windows exception codes and their debugger problem classes.

/// A known exception code.
struct ExceptionCode {
    code: u32,
    name: &'static str,
    /// The problem class `!analyze` uses in user-mode buckets, when it does not depend on the
    /// exception parameters.
    class: &'static str,
}

const fn e(code: u32, name: &'static str, class: &'static str) -> ExceptionCode {
    ExceptionCode { code, name, class }
}

/// The access-violation and in-page-error codes: their class depends on the parameters.
pub const ACCESS_VIOLATION: u32 = 0xC000_0005;
/// STATUS_IN_PAGE_ERROR.
pub const IN_PAGE_ERROR: u32 = 0xC000_0006;
/// STATUS_STACK_BUFFER_OVERRUN, raised by `__fastfail`; P1 is the fast-fail code.
pub const FAST_FAIL: u32 = 0xC000_0409;
/// The pseudo exception code WER writes into hang reports.
pub const WER_HANG: u32 = 0xCFFF_FFFF;
/// `STATUS_HEAP_CORRUPTION`.
pub const HEAP_CORRUPTION: u32 = 0xC000_0374;
/// `EXCEPTION_STACK_OVERFLOW`.
pub const STACK_OVERFLOW: u32 = 0xC000_00FD;

const CODES: &[ExceptionCode] = &[
    e(
        0x8000_0001,
        "STATUS_GUARD_PAGE_VIOLATION",
        "GUARD_PAGE_VIOLATION",
    ),
    e(
        0x8000_0002,
        "EXCEPTION_DATATYPE_MISALIGNMENT",
        "DATATYPE_MISALIGNMENT",
    ),
    e(0x8000_0003, "EXCEPTION_BREAKPOINT", "BREAKPOINT"),
    e(0x8000_0004, "EXCEPTION_SINGLE_STEP", "SINGLE_STEP"),
    e(0x4000_001F, "STATUS_WX86_BREAKPOINT", "BREAKPOINT"),
    e(
        ACCESS_VIOLATION,
        "EXCEPTION_ACCESS_VIOLATION",
        "INVALID_POINTER",
    ),
    e(IN_PAGE_ERROR, "EXCEPTION_IN_PAGE_ERROR", "IN_PAGE_ERROR"),
    e(0xC000_0008, "STATUS_INVALID_HANDLE", "INVALID_HANDLE"),
    e(0xC000_000D, "STATUS_INVALID_PARAMETER", "INVALID_PARAMETER"),
    e(0xC000_0017, "STATUS_NO_MEMORY", "NO_MEMORY"),
    e(
        0xC000_001D,
        "EXCEPTION_ILLEGAL_INSTRUCTION",
        "ILLEGAL_INSTRUCTION",
    ),
    e(
        0xC000_0025,
        "EXCEPTION_NONCONTINUABLE_EXCEPTION",
        "NONCONTINUABLE_EXCEPTION",
    ),
    e(
        0xC000_0026,
        "EXCEPTION_INVALID_DISPOSITION",
        "INVALID_DISPOSITION",
    ),
    e(
        0xC000_008C,
        "EXCEPTION_ARRAY_BOUNDS_EXCEEDED",
        "ARRAY_BOUNDS_EXCEEDED",
    ),
    e(
        0xC000_008D,
        "EXCEPTION_FLT_DENORMAL_OPERAND",
        "FLOAT_DENORMAL_OPERAND",
    ),
    e(
        0xC000_008E,
        "EXCEPTION_FLT_DIVIDE_BY_ZERO",
        "FLOAT_DIVIDE_BY_ZERO",
    ),
    e(
        0xC000_008F,
        "EXCEPTION_FLT_INEXACT_RESULT",
        "FLOAT_INEXACT_RESULT",
    ),
    e(
        0xC000_0090,
        "EXCEPTION_FLT_INVALID_OPERATION",
        "FLOAT_INVALID_OPERATION",
    ),
    e(0xC000_0091, "EXCEPTION_FLT_OVERFLOW", "FLOAT_OVERFLOW"),
    e(
        0xC000_0092,
        "EXCEPTION_FLT_STACK_CHECK",
        "FLOAT_STACK_CHECK",
    ),
    e(0xC000_0093, "EXCEPTION_FLT_UNDERFLOW", "FLOAT_UNDERFLOW"),
    e(
        0xC000_0094,
        "EXCEPTION_INT_DIVIDE_BY_ZERO",
        "INTEGER_DIVIDE_BY_ZERO",
    ),
    e(0xC000_0095, "EXCEPTION_INT_OVERFLOW", "INTEGER_OVERFLOW"),
    e(
        0xC000_0096,
        "EXCEPTION_PRIV_INSTRUCTION",
        "PRIVILEGED_INSTRUCTION",
    ),
    e(0xC000_00FD, "EXCEPTION_STACK_OVERFLOW", "STACK_OVERFLOW"),
    e(0xC000_0135, "STATUS_DLL_NOT_FOUND", "DLL_NOT_FOUND"),
    e(0xC000_0142, "STATUS_DLL_INIT_FAILED", "DLL_INIT_FAILED"),
    e(0xC000_0374, "STATUS_HEAP_CORRUPTION", "HEAP_CORRUPTION"),
    e(FAST_FAIL, "STATUS_STACK_BUFFER_OVERRUN", "FAIL_FAST"),
    e(
        0xC000_0417,
        "STATUS_INVALID_CRUNTIME_PARAMETER",
        "INVALID_CRUNTIME_PARAMETER",
    ),
    e(0xC000_0420, "STATUS_ASSERTION_FAILURE", "ASSERTION_FAILURE"),
    e(
        0xC000_0602,
        "STATUS_FAIL_FAST_EXCEPTION",
        "FAIL_FAST_EXCEPTION",
    ),
    e(
        0xC015_000F,
        "STATUS_SXS_EARLY_DEACTIVATION",
        "SXS_EARLY_DEACTIVATION",
    ),
    e(0xE043_4352, "CLR_EXCEPTION", "CLR_EXCEPTION"),
    e(0xE06D_7363, "CPP_EH_EXCEPTION", "CPP_EXCEPTION"),
    e(WER_HANG, "WER_APPLICATION_HANG", "APPLICATION_HANG"),
];

/// The symbolic name of an exception code, if it is a known one.
pub fn exception_name(code: u32) -> Option<&'static str> {
    CODES.iter().find(|c| c.code == code).map(|c| c.name)
}

/// The problem class for codes whose class does not depend on the parameters.
pub(crate) fn base_class(code: u32) -> &'static str {
    CODES
        .iter()
        .find(|c| c.code == code)
        .map_or("APPLICATION_FAULT", |c| c.class)
}

/// The `FAST_FAIL_*` name of a `__fastfail` code (winnt.h).
pub fn fast_fail_name(code: u64) -> Option<&'static str> {
    Some(match code {
        0 => "LEGACY_GS_VIOLATION",
        1 => "VTGUARD_CHECK_FAILURE",
        2 => "STACK_COOKIE_CHECK_FAILURE",
        3 => "CORRUPT_LIST_ENTRY",
        4 => "INCORRECT_STACK",
        5 => "INVALID_ARG",
        6 => "GS_COOKIE_INIT",
        7 => "FATAL_APP_EXIT",
        8 => "RANGE_CHECK_FAILURE",
        9 => "UNSAFE_REGISTRY_ACCESS",
        10 => "GUARD_ICALL_CHECK_FAILURE",
        11 => "GUARD_WRITE_CHECK_FAILURE",
        12 => "INVALID_FIBER_SWITCH",
        13 => "INVALID_SET_OF_CONTEXT",
        14 => "INVALID_REFERENCE_COUNT",
        18 => "INVALID_JUMP_BUFFER",
        19 => "MRDATA_MODIFIED",
        20 => "CERTIFICATION_FAILURE",
        21 => "INVALID_EXCEPTION_CHAIN",
        22 => "CRYPTO_LIBRARY",
        23 => "INVALID_CALL_IN_DLL_CALLOUT",
        24 => "INVALID_IMAGE_BASE",
        25 => "DLOAD_PROTECTION_FAILURE",
        26 => "UNSAFE_EXTENSION_CALL",
        27 => "DEPRECATED_SERVICE_INVOKED",
        28 => "INVALID_BUFFER_ACCESS",
        29 => "INVALID_BALANCED_TREE",
        30 => "INVALID_NEXT_THREAD",
        31 => "GUARD_ICALL_CHECK_SUPPRESSED",
        32 => "APCS_DISABLED",
        33 => "INVALID_IDLE_STATE",
        34 => "MRDATA_PROTECTION_FAILURE",
        35 => "UNEXPECTED_HEAP_EXCEPTION",
        36 => "INVALID_LOCK_STATE",
        37 => "GUARD_JUMPTABLE",
        38 => "INVALID_LONGJUMP_TARGET",
        39 => "INVALID_DISPATCH_CONTEXT",
        40 => "INVALID_THREAD",
        41 => "INVALID_SYSCALL_NUMBER",
        42 => "INVALID_FILE_OPERATION",
        43 => "LPAC_ACCESS_DENIED",
        44 => "GUARD_SS_FAILURE",
        45 => "LOADER_CONTINUITY_FAILURE",
        46 => "GUARD_EXPORT_SUPPRESSION_FAILURE",
        47 => "INVALID_CONTROL_STACK",
        48 => "SET_CONTEXT_DENIED",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        for (i, a) in CODES.iter().enumerate() {
            assert!(
                CODES.iter().skip(i + 1).all(|b| b.code != a.code),
                "{:#x}",
                a.code
            );
        }
    }

    #[test]
    fn names_and_classes() {
        assert_eq!(
            exception_name(0xC000_0005),
            Some("EXCEPTION_ACCESS_VIOLATION")
        );
        assert_eq!(exception_name(0x1234), None);
        assert_eq!(base_class(0x8000_0003), "BREAKPOINT");
        assert_eq!(base_class(0x1234), "APPLICATION_FAULT");
        assert_eq!(fast_fail_name(7), Some("FATAL_APP_EXIT"));
        assert_eq!(fast_fail_name(99), None);
    }
}
