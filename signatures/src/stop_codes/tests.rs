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
    let e = explain(0x5454_414D, [1, 2, 3, 4]);
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
