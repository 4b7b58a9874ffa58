//! Tests with hand-built records.

use super::guids::{Guid, PLATFORM_MEMORY, PROCESSOR_GENERIC, WINDOWS_MCA};
use super::sections::mca_error_code;
use super::*;
use crate::hash::{failure_id_hash, HashKind};

const WINDOWS_KERNEL: &str = "cf07c4bd-b789-4e18-b3c4-1f732cb57131";
const DEFAULT_DRIVER: &str = "57217c8d-5e66-44fb-8033-9b74cacedf5b";
const MCE: &str = "e8f56ffe-919c-4cc5-ba88-65abe14913bb";
const DEVICE_DRIVER: &str = "0033f803-2e70-4e88-992c-6f26daf3db7a";

fn guid(text: &str) -> [u8; 16] {
    Guid::parse(text).map(|g| g.0).unwrap_or_default()
}

struct SectionSpec {
    kind: [u8; 16],
    body: Vec<u8>,
    flags: u32,
    fru_text: Option<&'static str>,
}

/// A tiny CPER builder: header, descriptors, then the bodies in order.
struct Builder {
    creator: [u8; 16],
    notify: [u8; 16],
    flags: u32,
    timestamp: [u8; 8],
    sections: Vec<SectionSpec>,
}

impl Builder {
    fn new(creator: &str, notify: &str) -> Builder {
        Builder {
            creator: guid(creator),
            notify: guid(notify),
            flags: 0,
            // 2011-02-15 14:12:05, precise, binary as Windows writes it.
            timestamp: [5, 12, 14, 1, 15, 2, 11, 20],
            sections: Vec::new(),
        }
    }

    fn section(mut self, kind: &str, body: Vec<u8>, fru_text: Option<&'static str>) -> Builder {
        self.sections.push(SectionSpec {
            kind: guid(kind),
            body,
            flags: u32::from(self.sections.is_empty()),
            fru_text,
        });
        self
    }

    fn build(&self) -> Vec<u8> {
        let bodies_at = HEADER_LEN + DESCRIPTOR_LEN * self.sections.len();
        let total = bodies_at + self.sections.iter().map(|s| s.body.len()).sum::<usize>();
        let mut r = Vec::with_capacity(total);
        r.extend_from_slice(b"CPER");
        r.extend_from_slice(&[0x10, 0x02]);
        r.extend_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
        r.extend_from_slice(&(self.sections.len() as u16).to_le_bytes());
        r.extend_from_slice(&1u32.to_le_bytes()); // fatal
        r.extend_from_slice(&2u32.to_le_bytes()); // timestamp valid
        r.extend_from_slice(&(total as u32).to_le_bytes());
        r.extend_from_slice(&self.timestamp);
        r.extend_from_slice(&[0; 32]); // platform, partition
        r.extend_from_slice(&self.creator);
        r.extend_from_slice(&self.notify);
        r.extend_from_slice(&0x1234u64.to_le_bytes());
        r.extend_from_slice(&self.flags.to_le_bytes());
        r.extend_from_slice(&0u64.to_le_bytes());
        r.extend_from_slice(&19045u32.to_le_bytes());
        r.extend_from_slice(&[0; 8]);
        assert_eq!(r.len(), HEADER_LEN);
        let mut at = bodies_at;
        for s in &self.sections {
            r.extend_from_slice(&(at as u32).to_le_bytes());
            r.extend_from_slice(&(s.body.len() as u32).to_le_bytes());
            r.extend_from_slice(&[0, 3]); // revision 3.0
            r.push(if s.fru_text.is_some() { 2 } else { 0 });
            r.push(0);
            r.extend_from_slice(&s.flags.to_le_bytes());
            r.extend_from_slice(&s.kind);
            r.extend_from_slice(&[0; 16]);
            r.extend_from_slice(&1u32.to_le_bytes());
            let mut fru = [0u8; 20];
            for (d, c) in fru.iter_mut().zip(s.fru_text.unwrap_or("").bytes()) {
                *d = c;
            }
            r.extend_from_slice(&fru);
            at += s.body.len();
        }
        for s in &self.sections {
            r.extend_from_slice(&s.body);
        }
        r
    }
}

fn processor_generic_body(error_type: u8, brand: &str) -> Vec<u8> {
    let mut b = vec![0u8; 192];
    b[..8].copy_from_slice(&(1u64 | 1 << 2 | 1 << 7 | 1 << 9).to_le_bytes());
    b[8] = 0;
    b[10] = error_type;
    b[24..24 + brand.len()].copy_from_slice(brand.as_bytes());
    b[160..168].copy_from_slice(&0x1_2345_6000u64.to_le_bytes());
    b
}

fn mca_body(status: u64) -> Vec<u8> {
    let mut b = vec![0u8; 0x48];
    b[0..4].copy_from_slice(&2u32.to_le_bytes());
    b[4..8].copy_from_slice(&1u32.to_le_bytes());
    b[0x10..0x14].copy_from_slice(&3u32.to_le_bytes());
    b[0x24..0x28].copy_from_slice(&5u32.to_le_bytes());
    b[0x28..0x30].copy_from_slice(&status.to_le_bytes());
    b[0x30..0x38].copy_from_slice(&0xABCD_0000u64.to_le_bytes());
    b
}

fn memory_body(error_type: u8) -> Vec<u8> {
    let mut b = vec![0u8; 80];
    b[..8].copy_from_slice(&(1u64 << 1 | 1 << 6 | 1 << 14).to_le_bytes());
    b[16..24].copy_from_slice(&0x7_FFFF_F000u64.to_le_bytes());
    b[38..40].copy_from_slice(&4u16.to_le_bytes());
    b[72] = error_type;
    b
}

const MCA_STATUS: u64 = 1 << 63 | 1 << 61 | 1 << 60 | 1 << 57 | 0x0151;

fn mce_record() -> Vec<u8> {
    Builder::new(WINDOWS_KERNEL, MCE)
        .section(
            PROCESSOR_GENERIC,
            processor_generic_body(1, "Intel(R) Xeon(R) CPU E5-2690"),
            Some("CPU 0"),
        )
        .section(WINDOWS_MCA, mca_body(MCA_STATUS), None)
        .section(PLATFORM_MEMORY, memory_body(3), Some("DIMM_A1"))
        .build()
}

#[test]
fn decodes_a_machine_check_record() {
    let bytes = mce_record();
    assert_eq!(bytes_to_read(&bytes[..HEADER_LEN]), bytes.len());
    let r = decode_record(&bytes);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    let h = r.header.as_ref().unwrap();
    assert!(h.signature_valid);
    assert_eq!((h.revision.major, h.revision.minor), (2, 0x10));
    assert_eq!(h.severity.name, "fatal");
    assert_eq!(h.notify_type.name, Some("MCE"));
    assert_eq!(h.creator_id.name, Some("Windows kernel"));
    assert_eq!(h.os_build_number, 19045);
    let t = h.timestamp.as_ref().unwrap();
    assert_eq!(t.encoding, TimestampEncoding::Binary);
    assert!(t.precise);
    assert_eq!(t.iso8601.as_deref(), Some("2011-02-15T14:12:05Z"));
    assert_eq!(t.unix_seconds, Some(1_297_779_125));
    assert_eq!(
        t.filetime,
        Some((1_297_779_125 + 11_644_473_600) * 10_000_000)
    );
    assert_eq!(r.sections.len(), 3);
    assert_eq!(r.primary_section().map(|s| s.index), Some(0));
    assert_eq!(r.sections[0].flag_names, vec!["primary"]);
    assert_eq!(r.sections[0].fru_text.as_deref(), Some("CPU 0"));
    let SectionBody::ProcessorGeneric(p) = &r.sections[0].body else {
        panic!("{:?}", r.sections[0].body)
    };
    assert_eq!(p.error_type_name, Some("CACHE"));
    assert_eq!(p.target_address, Some(0x1_2345_6000));
    let SectionBody::WindowsMca(m) = &r.sections[1].body else {
        panic!("{:?}", r.sections[1].body)
    };
    assert_eq!(
        (m.bank, m.processor_number, m.cpu_vendor),
        (5, 3, Some("GenuineIntel"))
    );
    let s = &m.status;
    assert!(s.valid && s.uncorrected && s.enabled && s.context_corrupt && !s.overflow);
    assert_eq!(s.class, "CACHE");
    assert_eq!(
        s.words,
        "cache hierarchy error: instruction fetch, instruction L1"
    );
    let SectionBody::Memory(mem) = &r.sections[2].body else {
        panic!("{:?}", r.sections[2].body)
    };
    assert_eq!(mem.physical_address, Some(0x7_FFFF_F000));
    assert_eq!(mem.location, vec![("bank", 4)]);
    assert_eq!(mem.error_type_name, Some("MULTI_BIT_ECC"));
    let facts = WheaFacts {
        record: Some(r),
        cpu_vendor: None,
    };
    let b = whea_bucket(0, Some(&facts));
    assert_eq!(b.prefix, "0x124_0_GenuineIntel_PROCESSOR_CACHE");
    assert_eq!(b.image, "GenuineIntel.sys");
}

/// The device-driver record of `cper.md`: length 298, one section at 200 of length 98.
#[test]
fn device_driver_record_and_published_bucket() {
    let mut builder = Builder::new(DEFAULT_DRIVER, DEVICE_DRIVER).section(
        "11111111-2222-3333-4444-555555555555",
        (0..98u8).collect(),
        None,
    );
    builder.flags = 0x8;
    let bytes = builder.build();
    assert_eq!(bytes.len(), 298);
    let r = decode_record(&bytes);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    let h = r.header.as_ref().unwrap();
    assert_eq!(h.flag_names, vec!["device_driver"]);
    assert_eq!(h.creator_id.name, Some("default device driver"));
    assert_eq!(h.notify_type.name, Some("device driver"));
    let s = &r.sections[0];
    assert_eq!((s.offset, s.length, s.section_type.name), (200, 98, None));
    let SectionBody::Raw { first_bytes } = &s.body else {
        panic!("{:?}", s.body)
    };
    assert!(first_bytes.starts_with("00 01 02 03"));
    assert_eq!(first_bytes.split(' ').count(), RAW_PREVIEW);
    let facts = WheaFacts {
        record: Some(r),
        cpu_vendor: Some("GenuineIntel".into()),
    };
    let b = whea_bucket(0x10, Some(&facts));
    let bucket = format!("{}_IMAGE_{}", b.prefix, b.image);
    assert_eq!(
        bucket,
        "0x124_16_GenuineIntel__UNKNOWN_IMAGE_GenuineIntel.sys"
    );
    assert_eq!(
        failure_id_hash(HashKind::Kernel, &bucket),
        "37af9407-4a3e-0b08-acdd-dadffdc34c3c"
    );
}

#[test]
fn malformed_records_become_notes() {
    let r = decode_record(&[0u8; 40]);
    assert!(r.header.is_none() && r.notes[0].contains("40 bytes"));

    let good = mce_record();
    // Truncated: Length says more than was read.
    let r = decode_record(&good[..300]);
    assert_eq!(r.sections.len(), 2, "{:?}", r.notes);
    assert!(r.notes.iter().any(|n| n.contains("only 300 bytes")));
    assert!(r.sections.iter().all(|s| s.body == SectionBody::Missing));

    // Bad signature, huge section count, a section outside the record, an overflowing length.
    let mut bad = good.clone();
    bad[0..4].copy_from_slice(b"XXXX");
    bad[10..12].copy_from_slice(&0xFFFFu16.to_le_bytes());
    bad[128..132].copy_from_slice(&0xFFFF_0000u32.to_le_bytes());
    bad[200 + 4..200 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let r = decode_record(&bad);
    let h = r.header.as_ref().unwrap();
    assert!(!h.signature_valid);
    // Descriptors are read as far as they fit: 7 of 72 bytes in a 688-byte record.
    assert_eq!(r.sections.len(), 7);
    assert_eq!(r.sections[0].body, SectionBody::Missing);
    let joined = r.notes.join("\n");
    for needle in [
        "not \"CPER\"",
        "SectionCount 65535",
        "outside",
        "runs past",
        "below 128 + 72",
    ] {
        assert!(joined.contains(needle), "{needle}: {joined}");
    }

    // Length smaller than the header.
    let mut tiny = good.clone();
    tiny[20..24].copy_from_slice(&10u32.to_le_bytes());
    assert!(decode_record(&tiny)
        .notes
        .iter()
        .any(|n| n.contains("smaller than")));

    // A too-short MCA body is shown raw with a note.
    let short = Builder::new(WINDOWS_KERNEL, MCE)
        .section(WINDOWS_MCA, vec![1; 16], None)
        .build();
    let r = decode_record(&short);
    assert!(matches!(r.sections[0].body, SectionBody::Raw { .. }));
    assert!(r.notes.iter().any(|n| n.contains("too short")));
}

#[test]
fn random_bytes_never_panic() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let base = mce_record();
    for round in 0..2000 {
        let mut bytes = base.clone();
        let len = (round * 7) % (base.len() + 40);
        bytes.resize(len, 0xFF);
        for b in bytes.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed % 5 == 0 {
                *b = seed as u8;
            }
        }
        let r = decode_record(&bytes);
        let _ = whea_bucket(
            round as u64,
            Some(&WheaFacts {
                record: Some(r),
                cpu_vendor: None,
            }),
        );
    }
}

#[test]
fn timestamps_in_both_encodings() {
    let bcd = u64::from_le_bytes([0x05, 0x12, 0x14, 0, 0x15, 0x02, 0x11, 0x20]);
    let t = WheaTimestamp::decode(bcd);
    assert_eq!(t.encoding, TimestampEncoding::Bcd);
    assert!(!t.precise);
    assert_eq!(t.iso8601.as_deref(), Some("2011-02-15T14:12:05Z"));
    let t = WheaTimestamp::decode(u64::from_le_bytes([0, 0, 0, 0, 31, 2, 11, 20]));
    assert_eq!(t.encoding, TimestampEncoding::Invalid);
    assert_eq!(t.unix_seconds, None);
    let t = WheaTimestamp::decode(u64::from_le_bytes([0, 0, 0, 0, 1, 1, 70, 19]));
    assert_eq!(t.unix_seconds, Some(0));
}

#[test]
fn mca_error_code_classes() {
    assert_eq!(mca_error_code(0x0000).0, "NO_ERROR");
    assert_eq!(mca_error_code(0x0011).0, "TLB");
    assert_eq!(mca_error_code(0x1151).0, "CACHE"); // filter bit 12 set
    assert_eq!(mca_error_code(0x0090).0, "MEMORY_CONTROLLER");
    assert_eq!(mca_error_code(0x0810).0, "BUS");
    assert_eq!(mca_error_code(0x0400).0, "INTERNAL_TIMER");
    assert_eq!(mca_error_code(0x0405).0, "INTERNAL");
    assert_eq!(mca_error_code(0x0E0B).0, "IO");
    assert_eq!(mca_error_code(0x7000).0, "UNKNOWN");
}

#[test]
fn bucket_without_record_or_vendor() {
    let b = whea_bucket(4, None);
    assert_eq!(b.prefix, "0x124_4_UnknownVendor__UNKNOWN");
    let r = decode_record(
        &Builder::new(WINDOWS_KERNEL, MCE)
            .section(PLATFORM_MEMORY, memory_body(2), None)
            .build(),
    );
    let facts = WheaFacts {
        record: Some(r),
        cpu_vendor: Some(" AuthenticAMD\0".into()),
    };
    assert_eq!(
        whea_bucket(0, Some(&facts)).prefix,
        "0x124_0_AuthenticAMD_MEMORY_SINGLE_BIT_ECC"
    );
}
