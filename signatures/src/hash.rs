//! `FAILURE_ID_HASH`: the GUID the debugger prints for a failure bucket.

use md5::{Digest, Md5};
use serde::Serialize;

/// Whether a bucket comes from a kernel or a user-mode dump; it selects the hash prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashKind {
    /// Kernel dumps: prefix `km:`.
    Kernel,
    /// User-mode dumps: prefix `um:`.
    User,
}

impl HashKind {
    fn prefix(self) -> &'static str {
        match self {
            HashKind::Kernel => "km:",
            HashKind::User => "um:",
        }
    }
}

/// `GUID(bytes_le = MD5(UTF-16LE(lowercase(prefix + bucket))))`, as a lowercase GUID string.
///
/// The first three GUID fields are stored little-endian in the digest (`bytes_le`), so they are
/// byte-swapped when printed; the last eight bytes print in order.
pub fn failure_id_hash(kind: HashKind, bucket: &str) -> String {
    let text = format!("{}{}", kind.prefix(), bucket).to_lowercase();
    let mut hasher = Md5::new();
    for unit in text.encode_utf16() {
        hasher.update(unit.to_le_bytes());
    }
    let d: [u8; 16] = hasher.finalize().into();
    let [d0, d1, d2, d3, d4, d5, d6, d7, rest @ ..] = d;
    let data1 = u32::from_le_bytes([d0, d1, d2, d3]);
    let data2 = u16::from_le_bytes([d4, d5]);
    let data3 = u16::from_le_bytes([d6, d7]);
    let [r0, r1, r2, r3, r4, r5, r6, r7] = rest;
    format!(
        "{data1:08x}-{data2:04x}-{data3:04x}-{r0:02x}{r1:02x}-{r2:02x}{r3:02x}{r4:02x}{r5:02x}{r6:02x}{r7:02x}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every published vector of `signatures.md`.
    #[test]
    fn all_published_vectors() {
        let vectors = [
            (
                HashKind::Kernel,
                "AV_OVSExt!OvsWaitEventIoctl",
                "07550bfb-c3b5-0412-b95d-f89a5c4671a9",
            ),
            (
                HashKind::Kernel,
                "0x3B_C0000006_VRF_nt!HvpGetCellPaged",
                "7a661e2f-534d-3e96-ba17-ba22422da673",
            ),
            (
                HashKind::Kernel,
                "0x7f_8_VRF_nt!KiDoubleFaultAbort",
                "2575f830-7dd8-52d7-e1be-20f8274db764",
            ),
            (
                HashKind::Kernel,
                "0x124_16_GenuineIntel__UNKNOWN_IMAGE_GenuineIntel.sys",
                "37af9407-4a3e-0b08-acdd-dadffdc34c3c",
            ),
            (
                HashKind::Kernel,
                "AV_myfault!unknown_function",
                "9745090a-9bce-ccba-c096-ca6e9ca04c64",
            ),
            (
                HashKind::Kernel,
                "AV_CODE_AV_PAGED_IP_TestDriver!AccessPageableMemory",
                "2463ca34-5d68-cb7c-6807-dd2087a41e36",
            ),
            (
                HashKind::Kernel,
                "AV_R_(null)_win32kbase!WmsgpConnect",
                "ece26be9-101a-e2cf-72a9-a92359219248",
            ),
            (
                HashKind::Kernel,
                "AV_NETIO!StreamInvokeCalloutAndNormalizeAction",
                "c2ca2d1f-cfdc-88d5-c7bc-7693b8f0de04",
            ),
            (
                HashKind::User,
                "BREAKPOINT_80000003_win32u.dll!NtUserWaitMessage",
                "a106cd41-a8b1-c51d-6d94-a75661270841",
            ),
            (
                HashKind::User,
                "null_class_ptr_read_c0000005_flash.ocx!unknown",
                "fc7546b3-cbbe-7687-a761-c90b7fcd1642",
            ),
        ];
        for (kind, bucket, expected) in vectors {
            assert_eq!(failure_id_hash(kind, bucket), expected, "{bucket}");
        }
    }

    #[test]
    fn case_does_not_matter_but_the_prefix_does() {
        assert_eq!(
            failure_id_hash(HashKind::Kernel, "AV_MYFAULT!UNKNOWN_FUNCTION"),
            failure_id_hash(HashKind::Kernel, "av_myfault!unknown_function")
        );
        assert_ne!(
            failure_id_hash(HashKind::User, "AV_myfault!unknown_function"),
            failure_id_hash(HashKind::Kernel, "AV_myfault!unknown_function")
        );
    }
}
