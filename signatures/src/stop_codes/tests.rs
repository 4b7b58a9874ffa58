//! Tests of the stop-code table and explanations.

use super::*;

#[test]
fn embedded_table_parses_cleanly() {
    assert!(table_errors().is_empty(), "{:?}", table_errors());
    let codes: Vec<u32> = StopCode::all().iter().map(|c| c.code).collect();
    for (i, c) in codes.iter().enumerate() {
        assert!(!codes.iter().skip(i + 1).any(|d| d == c), "{c:#x} twice");
    }
}

/// Every code of `stop-codes.md` with the address rule of its "key" column.
#[test]
fn every_spec_code_has_its_address_rule() {
    use AddressRule::*;
    let expected = [
        (0x0A, Parameter(4)),
        (0xD1, Parameter(4)),
        (0x1E, Parameter(2)),
        (0x7E, Parameter(2)),
        (0x1000_007E, Parameter(2)),
        (0x8E, Parameter(2)),
        (0x1000_008E, Parameter(2)),
        (0x3B, Parameter(2)),
        (0x50, Parameter(3)),
        (0x7F, Stack),
        (0x9F, Stack),
        (0xC2, Stack),
        (0xC4, Stack),
        (0xEF, Process),
        (0x101, Stack),
        (0x124, WheaRecord),
        (0x133, Stack),
        (0x139, Stack),
        (0x1A, Stack),
        (0xF4, Process),
        (0x109, NoModule),
        (0x19, Stack),
        (0x7A, Stack),
        (0x77, Stack),
        (0xE2, Manual),
        (0xDEAD_DEAD, Manual),
    ];
    for (code, rule) in expected {
        let entry = StopCode::lookup(code).unwrap_or_else(|| panic!("{code:#x} missing"));
        assert_eq!(entry.address_rule, rule, "{code:#x}");
        assert!(entry.parameters.iter().all(|p| !p.is_empty()), "{code:#x}");
        let e = explain(code, [1, 2, 3, 4]);
        let named = match rule {
            Parameter(i) => Some(u64::from(i)),
            _ => None,
        };
        assert_eq!(e.named_address, named, "{code:#x}");
    }
}

#[test]
fn explains_d1_parameters() {
    let e = explain(0xD1, [0x28, 2, 0, 0xFFFF_F880_0123_4567]);
    assert_eq!(e.name.as_deref(), Some("DRIVER_IRQL_NOT_LESS_OR_EQUAL"));
    assert_eq!(e.named_address, Some(0xFFFF_F880_0123_4567));
    assert_eq!(e.parameters[1].note.as_deref(), Some("DISPATCH_LEVEL"));
    assert_eq!(e.parameters[2].note.as_deref(), Some("read"));
    assert_eq!(
        e.parameters[3].meaning,
        "address that referenced the memory"
    );
    assert_eq!(e.address_rule, AddressRule::Parameter(4));
}

#[test]
fn m_variants_strip_bit_28() {
    assert_eq!(base_code(0x1000_007E), 0x7E);
    assert_eq!(base_code(0x1000_008E), 0x8E);
    assert_eq!(base_code(0xDEAD_DEAD), 0xDEAD_DEAD);
    let e = explain(0x1000_007E, [0xC000_0005, 0xFFFF_F800_1000_334C, 0, 0]);
    assert_eq!(
        e.name.as_deref(),
        Some("SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M")
    );
    assert_eq!(e.base_code, 0x7E);
    assert_eq!(e.named_address, Some(0xFFFF_F800_1000_334C));
    assert_eq!(
        e.parameters[0].note.as_deref(),
        Some("EXCEPTION_ACCESS_VIOLATION")
    );
}

#[test]
fn unknown_codes_are_reported_raw() {
    // No Windows code and no capture tool's: a number and four raw values.
    let e = explain(0x7777_7777, [1, 2, 3, 4]);
    assert_eq!(e.name, None);
    assert_eq!(e.address_rule, AddressRule::Stack);
    assert_eq!(e.parameters[2].meaning, "parameter 3");
    assert_eq!(e.parameters[2].value, 3);
    assert_eq!(e.named_address, None);
}

#[test]
fn sub_codes_and_overrides() {
    let e = explain(0x124, [0, 0xFFFF_E000_0000_1000, 0xBE00_0000, 0x0080_0400]);
    assert_eq!(e.sub_code.as_ref().map(|s| s.name.as_str()), Some("MCE"));
    assert_eq!(e.parameters[2].meaning, "high 32 bits of MCi_STATUS");
    let e = explain(0x124, [0x10, 0, 0, 0]);
    assert_eq!(e.sub_code.map(|s| s.name), Some("DEVICE_DRIVER".to_owned()));
    assert_eq!(e.parameters[2].meaning, "depends on the error source");
    let e = explain(0x9F, [3, 0, 0, 0xFFFF_A000_0000_0000]);
    assert!(e.parameters[3].meaning.contains("blocked IRP"));
    let e = explain(0x139, [3, 0, 0, 0]);
    assert_eq!(
        e.sub_code.map(|s| s.name),
        Some("CORRUPT_LIST_ENTRY".to_owned())
    );
    // Fast-fail codes the table does not list come from the __fastfail names.
    let e = explain(0x139, [0x12, 0, 0, 0]);
    assert_eq!(
        e.sub_code.map(|s| s.name),
        Some("INVALID_JUMP_BUFFER".to_owned())
    );
    for (code, p1) in [
        (0x1A, 0x41790),
        (0xC2, 7),
        (0x19, 0x20),
        (0x133, 1),
        (0x7F, 8),
    ] {
        assert!(explain(code, [p1, 0, 0, 0]).sub_code.is_some(), "{code:#x}");
    }
    assert_eq!(explain(0x1A, [0x1234_5678, 0, 0, 0]).sub_code, None);
}

#[test]
fn io_status_names() {
    let e = explain(0x7A, [0, 0xC000_009C, 0, 0]);
    assert!(e.parameters[1]
        .note
        .as_deref()
        .is_some_and(|n| n.starts_with("STATUS_DEVICE_DATA_ERROR")));
    for s in [
        0xC000_016A,
        0xC000_009D,
        0xC000_0185,
        0xC000_000E,
        0xC000_009A,
    ] {
        assert!(io_status(s).is_some(), "{s:#x}");
    }
    assert!(explain(0x77, [0, 0xC000_0185, 0, 0]).parameters[1]
        .note
        .is_some());
}

#[test]
fn access_decoders() {
    assert_eq!(
        explain(0x50, [0, 0x10, 0, 0]).parameters[1].note.as_deref(),
        Some("execute")
    );
    assert_eq!(
        explain(0x50, [0, 2, 0, 0]).parameters[1].note.as_deref(),
        Some("write")
    );
    assert_eq!(
        explain(0x0A, [0, 2, 9, 0]).parameters[2].note.as_deref(),
        Some("execute")
    );
    assert_eq!(
        explain(0x0A, [0, 2, 1, 0]).parameters[2].note.as_deref(),
        Some("write")
    );
    // 0x50 with P3 = 0: the instruction address is not known.
    assert_eq!(explain(0x50, [0x10, 0, 0, 2]).named_address, None);
}

/// The kernel bucket of a stop with no parameters and no frames.
fn bucket_of(code: u32) -> crate::KernelBucket {
    crate::KernelBucket::from_facts(&crate::KernelCrashFacts {
        code,
        parameters: [0; 4],
        frames: Vec::new(),
        verifier_active: false,
        symbols_loaded: false,
        detail: None,
        whea: None,
        live_dump: false,
        process_name: None,
        power_irp: None,
    })
}

/// The windows-sys list, read here on its own: every code in it is explained by its name,
/// none is reported unknown.
#[test]
fn no_code_windows_defines_is_unknown() {
    let list = include_str!("../../data/bugcheck-names.tsv");
    let mut checked = 0;
    for line in list
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (code, name) = line.split_once('\t').expect("tab");
        let code = u32::from_str_radix(code.trim_start_matches("0x"), 16).expect("hex");
        let explained = explain(code, [0; 4]);
        assert_eq!(explained.name.as_deref(), Some(name), "{code:#x}");
        let bucket = bucket_of(code);
        assert!(
            !bucket
                .notes
                .iter()
                .any(|n| matches!(n, crate::kernel_bucket::BucketNote::UnknownStopCode(_))),
            "{code:#x} reported unknown"
        );
        checked += 1;
    }
    assert!(checked >= 500, "only {checked} codes in the list");
    // The codes the issue names, spelled out here rather than read from the list.
    for (code, name) in [
        (0x1C8, "MANUALLY_INITIATED_POWER_BUTTON_HOLD"),
        (0x4A, "IRQL_GT_ZERO_AT_SYSTEM_SERVICE"),
        (0x1000_007E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"),
        (0xEA, "THREAD_STUCK_IN_DEVICE_DRIVER"),
    ] {
        assert_eq!(explain(code, [0; 4]).name.as_deref(), Some(name));
    }
}

#[test]
fn at_least_a_hundred_codes_have_their_parameters_in_words() {
    let described = StopCode::all()
        .iter()
        .filter(|c| {
            c.parameters
                .iter()
                .any(|p| *p != UNDESCRIBED && !p.is_empty())
        })
        .count();
    assert!(described >= 100, "{described}");
    let e = explain(0x9F, [3, 0, 0, 0]);
    assert!(
        e.parameters[0].meaning.contains("sub-code") || e.parameters[0].meaning.contains("0x"),
        "{:?}",
        e.parameters[0]
    );
    let apc = explain(0x1, [0, 1, 0, 0]);
    assert!(
        apc.parameters[3].meaning.contains("call type"),
        "{:?}",
        apc.parameters[3]
    );
}

#[test]
fn a_capture_tools_code_is_a_marker_not_a_crash() {
    let e = explain(0x5454_414D, [0; 4]);
    assert_eq!(e.address_rule, AddressRule::Capture);
    assert!(e.address_rule_words.contains("capture marker, not a crash"));
    let bucket = bucket_of(0x5454_414D);
    let said: Vec<String> = bucket.notes.iter().map(ToString::to_string).collect();
    assert!(
        said.iter().any(|n| n.contains("the machine did not crash")),
        "{said:?}"
    );
}

/// A one-dump run reads a code's lines alone; a batch builds the table: both give the same
/// entry for every code, and neither knows a code the other does not.
#[test]
fn one_entry_parsed_alone_equals_the_tables() {
    let all = StopCode::all();
    assert!(all.len() > 500, "{}", all.len());
    for entry in all.iter().filter(|c| base_code(c.code) == c.code) {
        assert_eq!(
            parse_entry(entry.code).as_ref(),
            Some(entry),
            "{:#x}",
            entry.code
        );
    }
    for unknown in [0xDEAD_u32, 0x7FFF_FFFF, 0] {
        assert!(
            all.iter().all(|c| c.code != unknown),
            "{unknown:#x} is in the table"
        );
        assert_eq!(parse_entry(unknown), None, "{unknown:#x}");
    }
}
