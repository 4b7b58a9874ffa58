//! Bodies of the CPER sections a Stop 0x124 report summarizes: processor generic, platform
//! memory, and Windows' x86/x64 MCA section with its MCi_STATUS decoded. Everything is read
//! with bounds checks; a short body yields the fields that fit and a note.

use serde::Serialize;

use le_bytes::{u16_at, u32_at, u64_at, u8_at};

/// The processor generic error section (UEFI N.2.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessorGeneric {
    /// ValidFields.
    pub valid_bits: u64,
    /// Processor type name (`IA32/X64`, `IA64`, `ARM`), when valid.
    pub processor_type: Option<&'static str>,
    /// Error type byte, when valid.
    pub error_type: Option<u8>,
    /// Its name: `CACHE`, `TLB`, `BUS`, `MAE` (micro-architectural) or `UNKNOWN`.
    pub error_type_name: Option<&'static str>,
    /// Operation byte, when valid.
    pub operation: Option<u8>,
    /// Flags byte, when valid.
    pub flags: Option<u8>,
    /// Cache level, when valid.
    pub level: Option<u8>,
    /// CPUVersion (CPUID leaf 1 EAX on x86), when valid.
    pub cpu_version: Option<u64>,
    /// BrandString, when valid.
    pub brand_string: Option<String>,
    /// TargetAddr, when valid.
    pub target_address: Option<u64>,
    /// InstructionIP, when valid.
    pub instruction_ip: Option<u64>,
}

/// The platform memory error section (UEFI N.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoryError {
    /// ValidBits.
    pub valid_bits: u64,
    /// ErrorStatus, when valid.
    pub error_status: Option<u64>,
    /// PhysicalAddress, when valid.
    pub physical_address: Option<u64>,
    /// PhysicalAddressMask, when valid.
    pub physical_address_mask: Option<u64>,
    /// Node, Card, Module, Bank, Device, Row, Column, BitPosition (each when valid).
    pub location: Vec<(&'static str, u16)>,
    /// ErrorType, when valid.
    pub error_type: Option<u8>,
    /// Its name, e.g. `MULTI_BIT_ECC`.
    pub error_type_name: Option<&'static str>,
}

/// MCi_STATUS decoded (Intel SDM vol. 3 ch. 16; AMD uses the same architectural bits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McaStatus {
    /// The raw register.
    pub raw: u64,
    /// VAL: the register holds a valid error.
    pub valid: bool,
    /// OVER: an error overflowed (a second error came before the first was cleared).
    pub overflow: bool,
    /// UC: uncorrected error.
    pub uncorrected: bool,
    /// EN: error reporting was enabled.
    pub enabled: bool,
    /// MISCV: MCi_MISC is valid.
    pub misc_valid: bool,
    /// ADDRV: MCi_ADDR is valid.
    pub address_valid: bool,
    /// PCC: processor context corrupt.
    pub context_corrupt: bool,
    /// MCA error code (bits 15:0).
    pub mca_error_code: u16,
    /// Model-specific error code (bits 31:16).
    pub model_specific_code: u16,
    /// MCACOD class: `TLB`, `CACHE`, `BUS`, `MEMORY_CONTROLLER`, `INTERNAL`, `NO_ERROR`,
    /// `UNCLASSIFIED`, ... .
    pub class: &'static str,
    /// The error code in words.
    pub words: String,
}

/// Windows' `WHEA_XPF_MCA_SECTION` (packed: Status at 0x28).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowsMca {
    /// VersionNumber.
    pub version: u32,
    /// CpuVendor as a vendor string (`GenuineIntel`, `AuthenticAMD`), when known.
    pub cpu_vendor: Option<&'static str>,
    /// ProcessorNumber.
    pub processor_number: u32,
    /// MCG_STATUS.
    pub global_status: u64,
    /// InstructionPointer.
    pub instruction_pointer: u64,
    /// BankNumber.
    pub bank: u32,
    /// MCi_STATUS decoded.
    pub status: McaStatus,
    /// MCi_ADDR (meaningful when ADDRV).
    pub address: u64,
    /// MCi_MISC (meaningful when MISCV).
    pub misc: u64,
}

fn bit(v: u64, n: u32) -> bool {
    v >> n & 1 == 1
}

/// Decodes a processor generic section body.
pub fn processor_generic(b: &[u8]) -> Option<ProcessorGeneric> {
    let valid = u64_at(b, 0)?;
    let ok = |n| bit(valid, n);
    let error_type = u8_at(b, 10).filter(|_| ok(2));
    let brand = b.get(24..152).filter(|_| ok(7)).map(|s| {
        let end = s.iter().position(|c| *c == 0).unwrap_or(s.len());
        String::from_utf8_lossy(s.get(..end).unwrap_or(s))
            .trim()
            .to_owned()
    });
    Some(ProcessorGeneric {
        valid_bits: valid,
        processor_type: u8_at(b, 8).filter(|_| ok(0)).map(|t| match t {
            0 => "IA32/X64",
            1 => "IA64",
            2 => "ARM",
            _ => "other",
        }),
        error_type,
        error_type_name: error_type.map(processor_error_type_name),
        operation: u8_at(b, 11).filter(|_| ok(3)),
        flags: u8_at(b, 12).filter(|_| ok(4)),
        level: u8_at(b, 13).filter(|_| ok(5)),
        cpu_version: u64_at(b, 16).filter(|_| ok(6)),
        brand_string: brand,
        target_address: u64_at(b, 160).filter(|_| ok(9)),
        instruction_ip: u64_at(b, 184).filter(|_| ok(12)),
    })
}

/// `CACHE`, `TLB`, `BUS`, `MAE` or `UNKNOWN` from the lowest error-type bit set.
pub fn processor_error_type_name(t: u8) -> &'static str {
    if t & 1 != 0 {
        "CACHE"
    } else if t & 2 != 0 {
        "TLB"
    } else if t & 4 != 0 {
        "BUS"
    } else if t & 8 != 0 {
        "MAE"
    } else {
        "UNKNOWN"
    }
}

const MEMORY_ERROR_TYPES: &[&str] = &[
    "UNKNOWN",
    "NO_ERROR",
    "SINGLE_BIT_ECC",
    "MULTI_BIT_ECC",
    "SINGLE_SYMBOL_CHIPKILL",
    "MULTI_SYMBOL_CHIPKILL",
    "MASTER_ABORT",
    "TARGET_ABORT",
    "PARITY",
    "WATCHDOG_TIMEOUT",
    "INVALID_ADDRESS",
    "MIRROR_BROKEN",
    "MEMORY_SPARING",
    "SCRUB_CORRECTED",
    "SCRUB_UNCORRECTED",
    "MAP_OUT_EVENT",
];

/// Decodes a platform memory error section body.
pub fn memory_error(b: &[u8]) -> Option<MemoryError> {
    let valid = u64_at(b, 0)?;
    let ok = |n| bit(valid, n);
    let names = [
        "node",
        "card",
        "module",
        "bank",
        "device",
        "row",
        "column",
        "bit_position",
    ];
    let location = names
        .iter()
        .zip(0u32..)
        .filter(|(_, i)| ok(3 + i))
        .filter_map(|(name, i)| u16_at(b, 32 + 2 * i as usize).map(|v| (*name, v)))
        .collect();
    let error_type = u8_at(b, 72).filter(|_| ok(14));
    Some(MemoryError {
        valid_bits: valid,
        error_status: u64_at(b, 8).filter(|_| ok(0)),
        physical_address: u64_at(b, 16).filter(|_| ok(1)),
        physical_address_mask: u64_at(b, 24).filter(|_| ok(2)),
        location,
        error_type,
        error_type_name: error_type.map(|t| {
            MEMORY_ERROR_TYPES
                .get(usize::from(t))
                .copied()
                .unwrap_or("UNKNOWN")
        }),
    })
}

/// Decodes Windows' MCA section body (needs 0x48 bytes).
pub fn windows_mca(b: &[u8]) -> Option<WindowsMca> {
    Some(WindowsMca {
        version: u32_at(b, 0)?,
        cpu_vendor: match u32_at(b, 4)? {
            1 => Some("GenuineIntel"),
            2 => Some("AuthenticAMD"),
            _ => None,
        },
        processor_number: u32_at(b, 0x10)?,
        global_status: u64_at(b, 0x14)?,
        instruction_pointer: u64_at(b, 0x1C)?,
        bank: u32_at(b, 0x24)?,
        status: mca_status(u64_at(b, 0x28)?),
        address: u64_at(b, 0x30)?,
        misc: u64_at(b, 0x38)?,
    })
}

/// Decodes MCi_STATUS.
pub fn mca_status(raw: u64) -> McaStatus {
    let code = (raw & 0xFFFF) as u16;
    let (class, words) = mca_error_code(code);
    McaStatus {
        raw,
        valid: bit(raw, 63),
        overflow: bit(raw, 62),
        uncorrected: bit(raw, 61),
        enabled: bit(raw, 60),
        misc_valid: bit(raw, 59),
        address_valid: bit(raw, 58),
        context_corrupt: bit(raw, 57),
        mca_error_code: code,
        model_specific_code: (raw >> 16 & 0xFFFF) as u16,
        class,
        words,
    }
}

const LEVELS: [&str; 4] = ["L0", "L1", "L2", "generic level"];
const TRANSACTIONS: [&str; 4] = ["instruction", "data", "generic", "reserved"];

fn request(r: u16) -> &'static str {
    match r {
        0 => "generic error",
        1 => "generic read",
        2 => "generic write",
        3 => "data read",
        4 => "data write",
        5 => "instruction fetch",
        6 => "prefetch",
        7 => "eviction",
        8 => "snoop",
        _ => "reserved request",
    }
}

fn pick(table: &[&'static str; 4], v: u16) -> &'static str {
    table.get(usize::from(v & 3)).copied().unwrap_or("?")
}

/// The architectural MCA error code (MCACOD) class and words.
pub fn mca_error_code(code: u16) -> (&'static str, String) {
    let simple = match code {
        0x0000 => Some(("NO_ERROR", "no error")),
        0x0001 => Some(("UNCLASSIFIED", "unclassified error")),
        0x0002 => Some(("MICROCODE_ROM_PARITY", "microcode ROM parity error")),
        0x0003 => Some(("EXTERNAL", "external error (BINIT# from another processor)")),
        0x0004 => Some(("FRC", "functional redundancy check error")),
        0x0005 => Some(("INTERNAL_PARITY", "internal parity error")),
        0x0006 => Some(("SMM_CODE_ACCESS", "SMM handler code access violation")),
        0x0400 => Some(("INTERNAL_TIMER", "internal timer error")),
        0x0E0B => Some(("IO", "generic I/O error")),
        _ => None,
    };
    if let Some((class, words)) = simple {
        return (class, words.to_owned());
    }
    let c = code & 0xEFFF; // bit 12 is the correction-report filter flag
    let (ll, tt, rrrr) = (c & 3, c >> 2 & 3, c >> 4 & 0xF);
    if c & 0xF800 == 0x0800 {
        let participation = [
            "local processor originated",
            "responded",
            "observed",
            "generic",
        ];
        let p = participation
            .get(usize::from(c >> 9 & 3))
            .copied()
            .unwrap_or("?");
        let timeout = if c & 0x100 != 0 { ", timed out" } else { "" };
        return (
            "BUS",
            format!(
                "bus/interconnect error: {}, {p}{timeout}, {}",
                request(rrrr),
                pick(&LEVELS, ll)
            ),
        );
    }
    if c & 0xFF00 == 0x0100 {
        return (
            "CACHE",
            format!(
                "cache hierarchy error: {}, {} {}",
                request(rrrr),
                pick(&TRANSACTIONS, tt),
                pick(&LEVELS, ll)
            ),
        );
    }
    if c & 0xFF80 == 0x0080 {
        return (
            "MEMORY_CONTROLLER",
            format!(
                "memory controller error: operation {}, channel {}",
                c >> 4 & 7,
                c & 0xF
            ),
        );
    }
    if c & 0xFFF0 == 0x0010 {
        return (
            "TLB",
            format!(
                "TLB error: {} {}",
                pick(&TRANSACTIONS, tt),
                pick(&LEVELS, ll)
            ),
        );
    }
    if c & 0xFC00 == 0x0400 {
        return ("INTERNAL", "internal unclassified error".to_owned());
    }
    (
        "UNKNOWN",
        format!("unrecognized MCA error code 0x{code:04x}"),
    )
}
