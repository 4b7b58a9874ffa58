//! Unit tests of the extent checks.

use super::*;

fn header(count: u32, dir: u32) -> Vec<u8> {
    let mut b = b"MDMP".to_vec();
    b.extend_from_slice(&0xA793u32.to_le_bytes());
    b.extend_from_slice(&count.to_le_bytes());
    b.extend_from_slice(&dir.to_le_bytes());
    b.resize(32, 0);
    b
}

#[test]
fn huge_stream_count_is_truncation_not_a_loop() {
    let b = header(u32::MAX, 32);
    assert!(matches!(
        check_extents(&b),
        Err(AnalyzeError::Truncated { .. })
    ));
}

#[test]
fn exception_stream_past_the_end_is_an_error() {
    let mut b = header(1, 32);
    for v in [6u32, 0xA8, 0x1000] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let err = check_extents(&b)
        .map(|_| ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("exception stream"), "{err}");
}

#[test]
fn a_count_that_does_not_fit_hides_the_stream() {
    let mut b = header(1, 32);
    for v in [5u32, 4, 44] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1000u32.to_le_bytes());
    let damage = check_extents(&b).unwrap();
    assert_eq!(damage.len(), 1);
    assert_eq!(damage[0].stream_type, 5);
    assert_eq!(damage[0].repair, Repair::HideStream(32));
    assert!(
        damage[0].problem.contains("1000 memory ranges"),
        "{damage:?}"
    );
    let fixed = repaired(&b, &damage);
    assert_eq!(&fixed[32..36], &[0, 0, 0, 0]);
    assert!(check_extents(&fixed).unwrap().is_empty());
}

#[test]
fn handle_data_declaring_billions_of_descriptors_is_hidden() {
    let mut b = header(1, 32);
    for v in [12u32, 16, 44] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [16u32, 40, 0xFFFF_FFFF, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let damage = check_extents(&b).unwrap();
    assert_eq!(damage.len(), 1);
    assert_eq!(stream_name(damage[0].stream_type), "handle data stream");
}

/// One stream of `kind` holding `body`, right after a one-entry directory.
fn one_stream(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut b = header(1, 32);
    for v in [kind, body.len() as u32, 44] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(body);
    b
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn handle_data_with_zero_sized_or_looping_descriptors_is_hidden() {
    // SizeOfDescriptor 0 with a count: a reader would reserve by the count alone.
    let b = one_stream(12, &words(&[16, 0, 0xFFFF_FFFF, 0]));
    assert_eq!(check_extents(&b).unwrap().len(), 1);
    // One MINIDUMP_HANDLE_DESCRIPTOR_2 whose object information points at itself.
    let info = 44 + 16 + 40;
    let mut body = words(&[16, 40, 1, 0]);
    body.extend_from_slice(&[0u8; 32]);
    body.extend_from_slice(&words(&[info, 0])); // ObjectInfoRva, Reserved0
    body.extend_from_slice(&words(&[info, 0, 0])); // NextInfoRva -> itself
    let b = one_stream(12, &body);
    let damage = check_extents(&b).unwrap();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(damage[0].problem.contains("loops"), "{damage:?}");
    // A sound chain passes.
    let mut body = words(&[16, 40, 1, 0]);
    body.extend_from_slice(&[0u8; 32]);
    body.extend_from_slice(&words(&[info, 0]));
    body.extend_from_slice(&words(&[0, 0, 0]));
    assert!(check_extents(&one_stream(12, &body)).unwrap().is_empty());
}

#[test]
fn a_short_exception_stream_is_an_error_and_short_system_info_is_hidden() {
    assert!(check_extents(&one_stream(6, &[0u8; 0x40])).is_err());
    let damage = check_extents(&one_stream(7, &[0u8; 32])).unwrap();
    assert_eq!(damage[0].repair, Repair::HideStream(32));
}

#[test]
fn padded_lists_are_read_as_the_reader_reads_them() {
    // A memory list with 4 bytes of padding after its count: sound.
    let mut body = words(&[1, 0]);
    body.extend_from_slice(&0x1000u64.to_le_bytes());
    body.extend_from_slice(&words(&[4, 44]));
    assert!(check_extents(&one_stream(5, &body)).unwrap().is_empty());
    // A size that fits neither form: the reader refuses it, so it is hidden.
    body.extend_from_slice(&[0u8; 4]);
    assert_eq!(check_extents(&one_stream(5, &body)).unwrap().len(), 1);
}

#[test]
fn an_odd_module_name_hides_the_module_list() {
    let mut body = words(&[1]);
    let mut module = vec![0u8; 108];
    module[..8].copy_from_slice(&0x40_0000u64.to_le_bytes());
    module[8..12].copy_from_slice(&0x1000u32.to_le_bytes());
    let name = 44 + 4 + 108;
    module[20..24].copy_from_slice(&(name as u32).to_le_bytes());
    body.extend_from_slice(&module);
    body.extend_from_slice(&words(&[3]));
    body.extend_from_slice(&[b'a', 0, b'b', 0]);
    let mut b = one_stream(4, &body);
    // The stream is the count and the one entry; the name follows it.
    b[36..40].copy_from_slice(&112u32.to_le_bytes());
    let damage = check_extents(&b).unwrap();
    assert_eq!(damage.len(), 1, "{damage:?}");
    assert!(damage[0].problem.contains("3 bytes long"), "{damage:?}");
}
