//! A WHEA_ERROR_RECORD (UEFI CPER) for a fatal machine check, as Windows writes it for Stop 0x124:
//! header (128 bytes), three section descriptors (72 bytes each), then a processor generic
//! section, an x86/x64 processor-specific section and a Windows x86/x64 MCA section.

use super::writer::{Buf, Guid};

/// Windows kernel creator.
const CREATOR_WINDOWS: Guid = Guid::new(0xcf07_c4bd, 0xb789, 0x4e18, 0xb3c4_1f73_2cb5_7131);
/// Machine check exception notify type.
const NOTIFY_MCE: Guid = Guid::new(0xe8f5_6ffe, 0x919c, 0x4cc5, 0xba88_65ab_e149_13bb);
/// Processor generic section.
const SECTION_GENERIC: Guid = Guid::new(0x9876_ccad, 0x47b4, 0x4bdb, 0xb65e_16f1_93c4_f3db);
/// x86/x64 processor-specific section.
const SECTION_XPF: Guid = Guid::new(0xdc3e_a0b0, 0xa144, 0x4797, 0xb95b_53fa_242b_6e1d);
/// Windows x86/x64 MCA section.
const SECTION_MCA: Guid = Guid::new(0x8a1e_1d01, 0x42f9, 0x4557, 0x9c33_565e_5cc3_f7e8);
/// IA32/X64 cache check error-information type.
const CACHE_CHECK: Guid = Guid::new(0xa557_01f5, 0xe3ef, 0x43de, 0xac72_249b_573f_ad2c);

/// What the machine check says.
#[derive(Debug, Clone)]
pub(crate) struct MachineCheck {
    /// CPU brand string (CPUID 0x80000002..4).
    pub(crate) brand: String,
    /// CPUID(1).EAX.
    pub(crate) cpu_version: u64,
    /// Local APIC id of the failing processor.
    pub(crate) apic_id: u64,
    /// Processor number.
    pub(crate) processor: u32,
    /// MCA bank.
    pub(crate) bank: u32,
    /// IA32_MCi_STATUS.
    pub(crate) status: u64,
    /// IA32_MCi_ADDR (physical address).
    pub(crate) address: u64,
    /// IA32_MCi_MISC.
    pub(crate) misc: u64,
    /// Instruction pointer at the time of the error.
    pub(crate) ip: u64,
    /// Record timestamp: seconds, minutes, hours, day, month, year (two digits), century.
    pub(crate) time: [u8; 7],
    /// RecordId.
    pub(crate) record_id: u64,
}

const HEADER: usize = 128;
const DESCRIPTOR: usize = 72;
const GENERIC_LEN: usize = 192;
const XPF_LEN: usize = 128;
const MCA_LEN: usize = 272;

/// Offsets of the three sections in the record.
pub(crate) fn section_offsets() -> [(usize, usize); 3] {
    let first = HEADER + 3 * DESCRIPTOR;
    [
        (first, GENERIC_LEN),
        (first + GENERIC_LEN, XPF_LEN),
        (first + GENERIC_LEN + XPF_LEN, MCA_LEN),
    ]
}

/// The whole record.
pub(crate) fn machine_check_record(mc: &MachineCheck) -> Vec<u8> {
    let secs = section_offsets();
    let total = HEADER + 3 * DESCRIPTOR + GENERIC_LEN + XPF_LEN + MCA_LEN;
    let mut b = Buf::zeroed(total);
    b.put(0, b"CPER");
    b.u16(4, 0x0210);
    b.u32(6, 0xFFFF_FFFF);
    b.u16(10, 3);
    b.u32(12, 1); // fatal
    b.u32(16, 0x2); // timestamp valid
    b.u32(20, total as u32);
    let [s, mi, h, d, mo, y, c] = mc.time;
    b.put(24, &[s, mi, h, 0x01, d, mo, y, c]);
    b.put(64, &CREATOR_WINDOWS.to_bytes());
    b.put(80, &NOTIFY_MCE.to_bytes());
    b.u64(96, mc.record_id);
    let types = [SECTION_GENERIC, SECTION_XPF, SECTION_MCA];
    for (i, ((off, len), ty)) in secs.iter().zip(types.iter()).enumerate() {
        let d = HEADER + i * DESCRIPTOR;
        b.u32(d, *off as u32);
        b.u32(d + 4, *len as u32);
        b.u16(d + 8, 0x0300);
        b.u32(d + 12, u32::from(i == 0)); // primary
        b.put(d + 16, &ty.to_bytes());
        b.u32(d + 48, 1); // fatal
    }
    let [(g, _), (x, _), (m, _)] = secs;
    // Processor generic section.
    b.u64(g, 0x13FF);
    b.u8(g + 8, 0); // IA32/X64
    b.u8(g + 9, 2); // X64
    b.u8(g + 10, 1); // cache error
    b.u8(g + 11, 1); // data read
    b.u8(g + 12, 0);
    b.u8(g + 13, 1); // level
    b.u64(g + 16, mc.cpu_version);
    b.put(
        g + 24,
        mc.brand
            .as_bytes()
            .get(..127)
            .unwrap_or(mc.brand.as_bytes()),
    );
    b.u64(g + 152, mc.apic_id);
    b.u64(g + 160, mc.address);
    b.u64(g + 184, mc.ip);
    // x86/x64 processor-specific section: APIC id and CPUID valid, one error-information entry.
    b.u64(x, 0x1 | 0x2 | (1 << 2));
    b.u64(x + 8, mc.apic_id);
    b.u64(x + 16, mc.cpu_version);
    b.u64(x + 24, (mc.apic_id << 24) | 0x0020_0800);
    b.u64(x + 32, 0x7FFE_FBFF);
    b.u64(x + 40, 0xBFEB_FBFF);
    let e = x + 64;
    b.put(e, &CACHE_CHECK.to_bytes());
    b.u64(e + 16, 0x1 | 0x10); // check info and IP valid
    let check: u64 = 0xFF | (1 << 16) | (3 << 18) | (1 << 22) | (1 << 26);
    b.u64(e + 24, check);
    b.u64(e + 56, mc.ip);
    // WHEA_XPF_MCA_SECTION version 2 (packed).
    b.u32(m, 2);
    b.u32(m + 4, 1); // Intel
    b.u64(m + 8, 0);
    b.u32(m + 16, mc.processor);
    b.u64(m + 20, 0x4); // MCG_STATUS.MCIP
    b.u64(m + 28, mc.ip);
    b.u32(m + 36, mc.bank);
    b.u64(m + 40, mc.status);
    b.u64(m + 48, mc.address);
    b.u64(m + 56, mc.misc);
    b.u32(m + 64, 0);
    b.u32(m + 68, mc.apic_id as u32);
    b.u64(m + 264, 0x0100_0C16); // MCG_CAP
    b.into_vec()
}
