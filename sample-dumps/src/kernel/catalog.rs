//! Module catalogs of the simulated systems: Windows 7 RTM / SP1 (x86 and x64) and Windows 10,
//! with plausible bases, sizes, timestamps, PDB names and file versions.

use super::pe_image::ImageSpec;
use super::system::ModuleDef;
use super::writer::{Guid, Prng};

/// An operating-system release: bitness, file version and build label of its binaries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Os {
    /// x64 images.
    pub(crate) pe64: bool,
    /// Version of the in-box binaries.
    pub(crate) version: [u16; 4],
    /// Build label in FileVersion strings.
    pub(crate) label: &'static str,
    /// Typical link timestamp of in-box binaries.
    pub(crate) timestamp: u32,
}

/// Windows 7 RTM x64 (6.1.7600.16385).
pub(crate) const WIN7_RTM_X64: Os = Os {
    pe64: true,
    version: [6, 1, 7600, 16385],
    label: "win7_rtm.090713-1255",
    timestamp: 0x4A5B_DD7F,
};

/// Windows 7 SP1 x86 (6.1.7601.17514).
pub(crate) const WIN7_SP1_X86: Os = Os {
    pe64: false,
    version: [6, 1, 7601, 17514],
    label: "win7sp1_rtm.101119-1850",
    timestamp: 0x4CE7_BCA7,
};

/// Windows 10 2004 x64 (10.0.19041.1).
pub(crate) const WIN10_19041: Os = Os {
    pe64: true,
    version: [10, 0, 19041, 1],
    label: "WinBuild.160101.0800",
    timestamp: 0x5F2A_1C3B,
};

/// Windows 10 22H2 x64 (10.0.19045.2546).
pub(crate) const WIN10_19045: Os = Os {
    pe64: true,
    version: [10, 0, 19045, 2546],
    label: "WinBuild.160101.0800",
    timestamp: 0x63C8_91E2,
};

/// Windows Server 2019 x64 (10.0.17763.1).
pub(crate) const WIN10_17763: Os = Os {
    pe64: true,
    version: [10, 0, 17763, 1],
    label: "WinBuild.160101.0800",
    timestamp: 0x5B9C_2F01,
};

/// One module of a catalog.
#[derive(Debug, Clone)]
pub(crate) struct Spec<'a> {
    /// BaseDllName.
    pub(crate) name: &'a str,
    /// Directory part of FullDllName (with trailing backslash).
    pub(crate) dir: &'a str,
    /// DllBase.
    pub(crate) base: u64,
    /// SizeOfImage.
    pub(crate) size: u32,
    /// FileDescription.
    pub(crate) desc: &'a str,
    /// PDB name.
    pub(crate) pdb: &'a str,
    /// VS_FIXEDFILEINFO file type.
    pub(crate) file_type: u32,
}

/// `\SystemRoot\system32\`.
pub(crate) const SYS32: &str = "\\SystemRoot\\system32\\";
/// `\SystemRoot\system32\DRIVERS\`.
pub(crate) const DRIVERS: &str = "\\SystemRoot\\system32\\DRIVERS\\";
/// `\SystemRoot\System32\Drivers\` (how the dump stack is named).
pub(crate) const DUMP_DIR: &str = "\\SystemRoot\\System32\\Drivers\\";

/// A Microsoft module of `os`. A `dump_` clone gets exactly the image of the file it was loaded
/// from (same timestamp, checksum, PDB GUID and version): only its name and base differ.
pub(crate) fn microsoft(os: &Os, s: &Spec<'_>) -> ModuleDef {
    let original = s.name.strip_prefix("dump_").unwrap_or(s.name);
    module(
        os.pe64,
        s,
        os.version,
        os.label,
        os.timestamp
            .wrapping_add((Prng::from_str(original).next_u32() % 0x4000) * 7),
        (
            "Microsoft Corporation",
            "Microsoft\u{ae} Windows\u{ae} Operating System",
            original,
        ),
    )
}

/// A module with explicit version, label, timestamp, and (company, product, original name).
pub(crate) fn module(
    pe64: bool,
    s: &Spec<'_>,
    version: [u16; 4],
    label: &str,
    timestamp: u32,
    (company, product, original): (&str, &str, &str),
) -> ModuleDef {
    let [a, b, c, d] = version;
    let mut rng = Prng::from_str(&format!("{}{a}.{b}.{c}.{d}{timestamp:x}", s.pdb));
    let pdb_guid = Guid::random(&mut rng);
    let checksum = (rng.next_u32() & 0x000F_FFFF) | (s.size & 0x00F0_0000);
    ModuleDef {
        name: s.name.to_string(),
        path: format!("{}{}", s.dir, s.name),
        image: ImageSpec {
            pe64,
            base: s.base,
            size: s.size,
            timestamp,
            checksum,
            pdb_name: s.pdb.to_string(),
            pdb_guid,
            pdb_age: 1 + (rng.below(3) as u32),
            version,
            version_label: label.to_string(),
            file_type: s.file_type,
            company: company.to_string(),
            description: s.desc.to_string(),
            original_name: original.to_string(),
            product: product.to_string(),
            unwind: Vec::new(),
            arm64: None,
        },
        large_page: false,
        transition_rsrc: false,
    }
}

/// Builds a catalog entry (short form).
pub(crate) const fn spec<'a>(
    name: &'a str,
    dir: &'a str,
    base: u64,
    size: u32,
    desc: &'a str,
    pdb: &'a str,
    file_type: u32,
) -> Spec<'a> {
    Spec {
        name,
        dir,
        base,
        size,
        desc,
        pdb,
        file_type,
    }
}

/// Kernel and HAL descriptions.
pub(crate) const NT_DESC: &str = "NT Kernel & System";
/// HAL description.
pub(crate) const HAL_DESC: &str = "Hardware Abstraction Layer DLL";
/// Storport description.
pub(crate) const STORPORT_DESC: &str = "Microsoft Storage Port Driver";
/// Virtual miniport description.
pub(crate) const STORVSC_DESC: &str = "Virtual Storage Miniport Driver";
/// Crashdmp description.
pub(crate) const CRASHDMP_DESC: &str = "Crash Dump Driver";
/// Diskdump description.
pub(crate) const DISKDUMP_DESC: &str = "SCSI Port Crashdump Driver";

/// The Windows 7 RTM x64 module set of the seed scenario: kernel, HAL, Storport, the virtual
/// Storport miniport `storvsc.sys`, and the dump stack (`crashdmp.sys`, `dump_diskdump.sys`,
/// `dump_storvsc.sys`). `diskdump` gives the dump_diskdump.sys version and timestamp.
pub(crate) fn win7_x64_set(diskdump: ([u16; 4], &str, u32)) -> Vec<ModuleDef> {
    let os = &WIN7_RTM_X64;
    let mut v = vec![
        microsoft(
            os,
            &spec(
                "ntoskrnl.exe",
                SYS32,
                0xFFFF_F800_0285_F000,
                0x5E_7000,
                NT_DESC,
                "ntkrnlmp.pdb",
                1,
            ),
        ),
        microsoft(
            os,
            &spec(
                "hal.dll",
                SYS32,
                0xFFFF_F800_0281_6000,
                0x4_9000,
                HAL_DESC,
                "hal.pdb",
                2,
            ),
        ),
        microsoft(
            os,
            &spec(
                "storport.sys",
                DRIVERS,
                0xFFFF_F880_00E9_E000,
                0x5_F000,
                STORPORT_DESC,
                "storport.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "storvsc.sys",
                DRIVERS,
                0xFFFF_F880_00F4_A000,
                0x1_4000,
                STORVSC_DESC,
                "storvsc.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "crashdmp.sys",
                DUMP_DIR,
                0xFFFF_F880_0184_E000,
                0xE000,
                CRASHDMP_DESC,
                "crashdmp.pdb",
                3,
            ),
        ),
    ];
    let (ver, label, ts) = diskdump;
    v.push(module(
        true,
        &spec(
            "dump_diskdump.sys",
            DUMP_DIR,
            0xFFFF_F880_0185_C000,
            0xA000,
            DISKDUMP_DESC,
            "diskdump.pdb",
            3,
        ),
        ver,
        label,
        ts,
        (
            "Microsoft Corporation",
            "Microsoft\u{ae} Windows\u{ae} Operating System",
            "diskdump.sys",
        ),
    ));
    v.push(microsoft(
        os,
        &spec(
            "dump_storvsc.sys",
            DUMP_DIR,
            0xFFFF_F880_0186_6000,
            0x1_4000,
            STORVSC_DESC,
            "storvsc.pdb",
            3,
        ),
    ));
    v
}

/// The Windows 7 SP1 x86 module set (`ntkrpamp.pdb` for PAE, `ntkrnlmp.pdb` without).
pub(crate) fn win7_x86_set(pae: bool) -> Vec<ModuleDef> {
    let os = &WIN7_SP1_X86;
    let nt_pdb = if pae { "ntkrpamp.pdb" } else { "ntkrnlmp.pdb" };
    vec![
        microsoft(
            os,
            &spec(
                "ntoskrnl.exe",
                SYS32,
                0x8284_6000,
                0x41_2000,
                NT_DESC,
                nt_pdb,
                1,
            ),
        ),
        microsoft(
            os,
            &spec(
                "hal.dll",
                SYS32,
                0x8280_D000,
                0x3_9000,
                HAL_DESC,
                "halmacpi.pdb",
                2,
            ),
        ),
        microsoft(
            os,
            &spec(
                "storport.sys",
                DRIVERS,
                0x8B4B_0000,
                0x4_1000,
                STORPORT_DESC,
                "storport.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "storvsc.sys",
                DRIVERS,
                0x8B51_8000,
                0xD000,
                STORVSC_DESC,
                "storvsc.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "crashdmp.sys",
                DUMP_DIR,
                0x8F9C_6000,
                0xD000,
                CRASHDMP_DESC,
                "crashdmp.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "dump_diskdump.sys",
                DUMP_DIR,
                0x8F9D_3000,
                0x9000,
                DISKDUMP_DESC,
                "diskdump.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "dump_storvsc.sys",
                DUMP_DIR,
                0x8F9D_C000,
                0xD000,
                STORVSC_DESC,
                "storvsc.pdb",
                3,
            ),
        ),
    ]
}

/// A Windows 10 x64 module set with the kernel at a 2 MiB-aligned base `nt`, drivers from
/// `drv` on.
pub(crate) fn win10_set(os: &Os, nt: u64, drv: u64) -> Vec<ModuleDef> {
    vec![
        microsoft(
            os,
            &spec(
                "ntoskrnl.exe",
                SYS32,
                nt,
                0x104_6000,
                NT_DESC,
                "ntkrnlmp.pdb",
                1,
            ),
        ),
        microsoft(
            os,
            &spec(
                "hal.dll",
                SYS32,
                nt - 0x6D_0000,
                0x6_D000,
                HAL_DESC,
                "hal.pdb",
                2,
            ),
        ),
        microsoft(
            os,
            &spec(
                "storport.sys",
                DRIVERS,
                drv,
                0xD_8000,
                STORPORT_DESC,
                "storport.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "storvsc.sys",
                DRIVERS,
                drv + 0x10_0000,
                0x1_C000,
                STORVSC_DESC,
                "storvsc.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "crashdmp.sys",
                DUMP_DIR,
                drv + 0x160_0000,
                0x2_0000,
                CRASHDMP_DESC,
                "crashdmp.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "dump_diskdump.sys",
                DUMP_DIR,
                drv + 0x162_0000,
                0xE000,
                DISKDUMP_DESC,
                "diskdump.pdb",
                3,
            ),
        ),
        microsoft(
            os,
            &spec(
                "dump_storvsc.sys",
                DUMP_DIR,
                drv + 0x163_0000,
                0x1_C000,
                STORVSC_DESC,
                "storvsc.pdb",
                3,
            ),
        ),
    ]
}

/// A third-party driver (Contoso).
pub(crate) fn contoso(pe64: bool, name: &str, base: u64, size: u32, desc: &str) -> ModuleDef {
    let pdb = format!("{}.pdb", name.trim_end_matches(".sys"));
    module(
        pe64,
        &spec(name, DRIVERS, base, size, desc, &pdb, 3),
        [3, 2, 104, 0],
        "",
        0x5E1F_3A90,
        ("Contoso Ltd.", "Contoso Storage Suite", name),
    )
}
