//! The committed kernel dump samples and the sparse benchmark dump.

use std::path::Path;

use super::catalog::{contoso, microsoft, spec, win10_set, win7_x64_set, win7_x86_set, Os};
use super::catalog::{DRIVERS, WIN10_17763, WIN10_19041, WIN10_19045};
use super::dumpfile::{bitmap_dump, full_dump, write_sparse, DumpOpts};
use super::paging::Paging;
use super::phys::{sparse_runs, Run};
use super::system::{at, build, Addr, ModuleDef, System, SystemSpec};
use super::triage::{triage_dump, Unloaded};
use super::whea::{machine_check_record, MachineCheck};
use super::writer::{PAGE, PAGE_PATTERN};
use super::{GenError, KernelExpected, KernelSample};

/// FILETIME of a Unix time.
const fn filetime(unix: u64) -> u64 {
    (unix + 11_644_473_600) * 10_000_000
}

fn runs(list: &[(u64, u64)]) -> Vec<Run> {
    list.iter()
        .map(|&(base, count)| Run { base, count })
        .collect()
}

/// How a sample is serialised.
enum Kind {
    Full,
    Bitmap,
    Triage(Vec<Unloaded>),
    /// Full dump cut after this many bytes.
    Truncated(usize),
}

/// Which parameter names the faulting address, or the bucket's fixed module.
enum Key {
    Param(usize),
    Vendor(&'static str),
}

struct Def {
    file: &'static str,
    desc: String,
    spec: SystemSpec,
    opts: DumpOpts,
    kind: Kind,
    key: Key,
}

const WIN7_POOL: u64 = 0xFFFF_FA80_0C3E_0000;
const WIN7_STACK: u64 = 0xFFFF_F880_0318_A000;
const WIN7_PFN: u64 = 0xFFFF_FA80_0000_0000;
pub(crate) const X86_POOL: u64 = 0x85A1_2000;
pub(crate) const X86_STACK: u64 = 0x8D93_5000;
pub(crate) const X86_PFN: u64 = 0x8440_0000;
const W10_NT: u64 = 0xFFFF_F807_5B00_0000;
const W10_DRV: u64 = 0xFFFF_F807_5E60_0000;
const W10_POOL: u64 = 0xFFFF_C50B_2A4F_0000;
const W10_STACK: u64 = 0xFFFF_A08D_6F2C_A000;
const W10_PFN: u64 = 0xFFFF_EC00_0000_0000;

pub(crate) fn lit(v: u64) -> Addr {
    Addr::Lit(v)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn system(
    paging: Paging,
    build: u32,
    lab: &str,
    modules: Vec<ModuleDef>,
    layout: (u64, u64, u64),
    ram: &[(u64, u64)],
    bugcheck: u32,
    params: [Addr; 4],
    ip: Addr,
    frames: Vec<Addr>,
) -> SystemSpec {
    let (pool_va, stack_va, pfn_database) = layout;
    SystemSpec {
        paging,
        build,
        build_lab: lab.to_string(),
        csd_version: if build == 7601 { 0x100 } else { 0 },
        processors: 4,
        runs: runs(ram),
        pool_seed: Some(u64::from(build) ^ u64::from(bugcheck)),
        large_page_pfn: 0,
        modules,
        pool_va,
        stack_va,
        pfn_database,
        bugcheck,
        params,
        exception: None,
        ip,
        frames,
        stack_last: false,
        whea: None,
        current: None,
        trap_rip: None,
        frame_gaps: None,
        decoys: Vec::new(),
        pool_objects: Vec::new(),
        verifier_level: None,
        x86_fpo: Vec::new(),
        arm64_frames: Vec::new(),
        x64_first_frame: None,
        machine_frames: Vec::new(),
    }
}

pub(crate) fn opts(dump_type: u32, attributes: Option<u32>, unix: u64) -> DumpOpts {
    DumpOpts {
        dump_type,
        attributes,
        system_time: filetime(unix),
        uptime: 0x0000_0004_7A3C_91E0 + unix % 0x1000_0000,
        product_type: 1,
        suite_mask: 0x110,
        ..DumpOpts::default()
    }
}

/// The seed scenario: Stop 0xD1 in dump_diskdump.sys while hibernating through a virtual
/// Storport miniport, Windows 7 RTM x64, with dump_diskdump.sys at `diskdump` version.
pub(super) fn win7_seed(diskdump: ([u16; 4], &str, u32), ram: &[(u64, u64)]) -> SystemSpec {
    let nt = |o| at("ntoskrnl.exe", o);
    system(
        Paging::X64,
        7600,
        "7600.16385.amd64fre.win7_rtm.090713-1255",
        win7_x64_set(diskdump),
        (WIN7_POOL, WIN7_STACK, WIN7_PFN),
        ram,
        0xD1,
        [lit(0x10), lit(0xF), lit(0), at("dump_diskdump.sys", 0x1A2C)],
        nt(0x70F00),
        vec![
            nt(0x70469),
            nt(0x6F0E0),
            at("dump_diskdump.sys", 0x1A2C),
            at("dump_diskdump.sys", 0x1D80),
            at("crashdmp.sys", 0x4E26),
            at("crashdmp.sys", 0x3A5B),
            at("dump_storvsc.sys", 0x2F10),
            nt(0x36A1F4),
            nt(0x1E0B2C),
            nt(0x17D05),
        ],
    )
}

pub(super) const DISKDUMP_16385: ([u16; 4], &str, u32) =
    ([6, 1, 7600, 16385], "win7_rtm.090713-1255", 0x4A5B_C5F8);
pub(super) const DISKDUMP_20882: ([u16; 4], &str, u32) =
    ([6, 1, 7600, 20882], "win7_ldr.110116-1503", 0x4D33_E008);
/// Crash time (Unix seconds) of the seed scenario's dumps, by diskdump.sys revision: shortly
/// after each build's release, the same for the full and the triage variant.
fn seed_crash_time(revision: u16) -> u64 {
    if revision == 16385 {
        1_294_629_165
    } else {
        1_298_288_402
    }
}

pub(super) const WIN7_RAM: [(u64, u64); 3] = [(0x1, 0x5E), (0x100, 0x30), (0x3F0, 0x10)];

fn win10_frames(os: &Os, extra: ModuleDef) -> Vec<ModuleDef> {
    let mut v = win10_set(os, W10_NT, W10_DRV);
    v.push(extra);
    v
}

fn defs() -> Vec<Def> {
    let mut out = Vec::new();
    // 1. x86 offline capture (KeInitializeCrashDumpHeader), non-PAE.
    let nt = |o| at("ntoskrnl.exe", o);
    let x86_ram = [(0x1, 0x5E), (0x100, 0x40)];
    let mut o = opts(1, Some(0x20), 1_336_987_860);
    o.offline = true;
    out.push(Def {
        file: "x86-offline-full.dmp",
        desc: "32-bit full dump (Windows 7 SP1 x86, non-PAE paging) whose header was built by \
               KeInitializeCrashDumpHeader in an offline capture tool (Attributes 0x20 \
               DumpIsGeneratedOffline, no secondary data); Stop 0xD1 with P4 in storvsc.sys+0x4c1e"
            .into(),
        spec: system(
            Paging::X86,
            7601,
            "7601.17514.x86fre.win7sp1_rtm.101119-1850",
            win7_x86_set(false),
            (X86_POOL, X86_STACK, X86_PFN),
            &x86_ram,
            0xD1,
            [lit(0x44), lit(2), lit(0), at("storvsc.sys", 0x4C1E)],
            nt(0xF0B7B),
            vec![
                nt(0x8E0C9),
                at("storvsc.sys", 0x4C1E),
                at("storvsc.sys", 0x2A10),
                at("storport.sys", 0x1D38C),
                at("storport.sys", 0x1F5EA),
                nt(0x4A1D3),
                nt(0x1B2A5E),
            ],
        ),
        opts: o,
        kind: Kind::Full,
        key: Key::Param(3),
    });
    // 2. x86 PAE full dump, Stop 0x50 in storport.sys.
    out.push(Def {
        file: "x86-pae-full.dmp",
        desc:
            "32-bit full dump with PAE paging (Windows 7 SP1 x86, PDPT 32-byte aligned inside its \
               page, Attributes never written: PAGE); Stop 0x50 with P3 in storport.sys+0x12b4c"
                .into(),
        spec: system(
            Paging::X86Pae,
            7601,
            "7601.17514.x86fre.win7sp1_rtm.101119-1850",
            win7_x86_set(true),
            (X86_POOL, X86_STACK, X86_PFN),
            &x86_ram,
            0x50,
            [
                lit(0xA8F3_C010),
                lit(0),
                at("storport.sys", 0x12B4C),
                lit(0),
            ],
            nt(0xF0B7B),
            vec![
                nt(0x81FD3),
                nt(0x8E0C9),
                at("storport.sys", 0x12B4C),
                at("storport.sys", 0x13A01),
                at("storvsc.sys", 0x3312),
                at("storport.sys", 0x1D38C),
                nt(0x4A1D3),
            ],
        ),
        opts: opts(1, None, 1_360_252_931),
        kind: Kind::Full,
        key: Key::Param(2),
    });
    // 3. x64 full dump, Stop 0x7E in a third-party driver, kernel mapped with a 2 MiB page.
    let nt = |o| at("ntoskrnl.exe", o);
    let mut mods = win10_frames(
        &WIN10_19041,
        contoso(
            true,
            "contosoflt.sys",
            W10_DRV + 0x2A0_0000,
            0x2_6000,
            "Contoso Storage Filter Driver",
        ),
    );
    if let Some(k) = mods.first_mut() {
        k.large_page = true;
    }
    if let Some(h) = mods.get_mut(1) {
        h.transition_rsrc = true;
    }
    let mut s = system(
        Paging::X64,
        19041,
        "19041.1.amd64fre.vb_release.191206-1406",
        mods,
        (W10_POOL, W10_STACK, W10_PFN),
        &[(0x1, 0x5E), (0x100, 0x40), (0x400, 0x200), (0x9C0, 0x20)],
        0x7E,
        [
            lit(0xC000_0005),
            at("contosoflt.sys", 0x7A3C),
            Addr::ExceptionRecord,
            Addr::ContextRecord,
        ],
        nt(0x1F_5210),
        vec![
            nt(0x20_A9B9),
            nt(0x1F_F65F),
            nt(0x20_1BBD),
            nt(0x0E_7C82),
            nt(0x1F_E42A),
            nt(0x20_47D0),
            at("contosoflt.sys", 0x7A3C),
            at("contosoflt.sys", 0x6F10),
            nt(0x15_5D75),
            nt(0x1F_C4A8),
        ],
    );
    s.large_page_pfn = 0x400;
    s.exception = Some((0xC000_0005, vec![0, 0x10]));
    out.push(Def {
        file: "x64-full.dmp",
        desc:
            "64-bit full dump (Windows 10 19041); ntoskrnl.exe's first 2 MiB mapped by one large \
               page, hal.dll's .rsrc page behind a transition PTE; Stop 0x7E with P2 in \
               contosoflt.sys+0x7a3c, P3/P4 exception and context records on the stack"
                .into(),
        spec: s,
        opts: opts(1, Some(0), 1_624_263_342),
        kind: Kind::Full,
        key: Key::Param(1),
    });
    // 4. x64 bitmap dump, Stop 0x3B.
    let dxg = microsoft(
        &WIN10_19045,
        &spec(
            "dxgkrnl.sys",
            DRIVERS,
            W10_DRV + 0x320_0000,
            0x3B_0000,
            "DirectX Graphics Kernel",
            "dxgkrnl.pdb",
            3,
        ),
    );
    let mut s = system(
        Paging::X64,
        19045,
        "19041.1.amd64fre.vb_release.191206-1406",
        win10_frames(&WIN10_19045, dxg),
        (W10_POOL, W10_STACK, W10_PFN),
        &[(0x1, 0x9E), (0x100, 0x7E00), (0x8000, 0x8000)],
        0x3B,
        [
            lit(0xC000_0005),
            at("dxgkrnl.sys", 0x3_E1F0),
            Addr::ContextRecord,
            lit(0),
        ],
        nt(0x1F_5210),
        vec![
            nt(0x20_A9B9),
            nt(0x20_47D0),
            at("dxgkrnl.sys", 0x3_E1F0),
            at("dxgkrnl.sys", 0x2_B3C8),
            nt(0x20_8BB5),
        ],
    );
    s.exception = Some((0xC000_0005, vec![0, 0xFFFF_FFFF_FFFF_FFFF]));
    let mut o = opts(5, Some(0), 1_678_369_450);
    o.pcid = 0x2;
    out.push(Def {
        file: "x64-bitmap.dmp",
        desc: "64-bit bitmap dump (DumpType 5, FDMP sub-header at 0x2000, PhysicalMemoryBlock left \
               PAGE, DirectoryTableBase with PCID bits 0x2; Windows 10 19045); Stop 0x3B with P2 in \
               dxgkrnl.sys+0x3e1f0, P3 a context record on the stack"
            .into(),
        spec: s,
        opts: o,
        kind: Kind::Bitmap,
        key: Key::Param(1),
    });
    // 5. x64 triage dump, Stop 0xD1 in dump_diskdump.sys.
    let s = system(
        Paging::X64,
        19041,
        "19041.1.amd64fre.vb_release.191206-1406",
        win10_set(&WIN10_19041, W10_NT, W10_DRV),
        (W10_POOL, W10_STACK, W10_PFN),
        &[(0x1, 0x9E), (0x100, 0x40)],
        0xD1,
        [
            lit(0xFFFF_C50B_2A4F_7010),
            lit(2),
            lit(0),
            at("dump_diskdump.sys", 0x1A2C),
        ],
        nt(0x1F_5210),
        vec![
            nt(0x20_9FE9),
            nt(0x20_5A2E),
            at("dump_diskdump.sys", 0x1A2C),
            at("crashdmp.sys", 0x6A40),
            at("crashdmp.sys", 0x55D2),
            nt(0x3A_7C41),
        ],
    );
    out.push(Def {
        file: "x64-triage.dmp",
        desc: "64-bit triage dump (DumpType 4, TRIAGE_DUMP64 at 0x2000; Windows 10 19041): driver \
               list with DUMP_STRING names, 3 unloaded drivers, call stack, 2 data blocks, KDBG copy; \
               Stop 0xD1 with P4 in dump_diskdump.sys+0x1a2c"
            .into(),
        spec: s,
        opts: opts(4, None, 1_669_845_933),
        kind: Kind::Triage(vec![
            ("WdBoot.sys", 0xFFFF_F807_5D30_0000, 0xFFFF_F807_5D31_0000),
            ("hwpolicy.sys", 0xFFFF_F807_5D32_0000, 0xFFFF_F807_5D33_2000),
            ("storufs_filter.sys", 0xFFFF_F807_5D34_0000, 0xFFFF_F807_5D35_A000),
        ]),
        key: Key::Param(3),
    });
    // 6. The seed scenario, before and after the fix.
    for (file, dd, verdict) in [
        (
            "win7-d1-dumpstack-16385.dmp",
            DISKDUMP_16385,
            "GDR build below the fixed 6.1.7600.20882: known-issue verdict fix-missing",
        ),
        (
            "win7-d1-dumpstack-20882.dmp",
            DISKDUMP_20882,
            "at the fixed LDR version 6.1.7600.20882: known-issue verdict regression",
        ),
    ] {
        let [a, b, c, d] = dd.0;
        out.push(Def {
            file,
            desc: format!(
                "Seed 001 scenario: Windows 7 RTM x64 full dump, Attributes 0x1 HiberCrash; Stop 0xD1 \
                 with P4 in dump_diskdump.sys+0x1a2c while the virtual Storport miniport storvsc.sys \
                 and its clone dump_storvsc.sys are loaded; dump_diskdump.sys (diskdump.sys) \
                 version {a}.{b}.{c}.{d} ({verdict})"
            ),
            spec: win7_seed(dd, &WIN7_RAM),
            opts: opts(1, Some(0x1), seed_crash_time(d)),
            kind: Kind::Full,
            key: Key::Param(3),
        });
    }
    // 6b. The same scenario as triage dumps: no image pages, so the diskdump version must come
    // from an image store (see `image_store`).
    for (file, dd, verdict) in [
        ("win7-d1-triage-16385.dmp", DISKDUMP_16385, "fix-missing"),
        ("win7-d1-triage-20882.dmp", DISKDUMP_20882, "regression"),
    ] {
        let [a, b, c, d] = dd.0;
        out.push(Def {
            file,
            desc: format!(
                "Seed 001 scenario as a Windows 7 RTM x64 triage dump (DumpType 4, Attributes 0x1 \
                 HiberCrash): Stop 0xD1 with P4 in dump_diskdump.sys+0x1a2c, dump_storvsc.sys \
                 loaded; the driver list has dump_diskdump.sys's timestamp {:08X} and size but no \
                 version, which the generated image store resolves to {a}.{b}.{c}.{d} \
                 (verdict {verdict}; without the store: known)",
                dd.2
            ),
            spec: win7_seed(dd, &WIN7_RAM),
            opts: opts(4, Some(0x1), seed_crash_time(d)),
            kind: Kind::Triage(Vec::new()),
            key: Key::Param(3),
        });
    }
    // 7. WHEA machine check.
    let hal = |o| at("hal.dll", o);
    let mut s = system(
        Paging::X64,
        17763,
        "17763.1.amd64fre.rs5_release.180914-1434",
        win10_set(&WIN10_17763, W10_NT, W10_DRV),
        (W10_POOL, W10_STACK, W10_PFN),
        &[(0x1, 0x5E), (0x100, 0x30), (0x200, 0x20)],
        0x124,
        [lit(0), Addr::Whea, lit(0xBE00_0000), lit(0x0001_0134)],
        nt(0x1F_5210),
        vec![
            hal(0x2_F4A1),
            nt(0x1A_2C58),
            hal(0x3_A1C2),
            hal(0x3_9E70),
            nt(0x20_AF3B),
            nt(0x20_ABD4),
        ],
    );
    s.whea = Some(machine_check_record(&MachineCheck {
        brand: "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz".into(),
        cpu_version: 0x0004_06F1,
        apic_id: 4,
        processor: 2,
        bank: 2,
        status: 0xBE00_0000_0001_0134,
        address: 0x0000_0004_3A2F_1C40,
        misc: 0x0000_0000_8000_0086,
        ip: 0xFFFF_F807_5B1F_7A20,
        time: [49, 17, 2, 15, 9, 20, 20],
        record_id: 0x01D6_8B0F_A1E2_0001,
    }));
    s.processors = 8;
    let mut o = opts(1, Some(0), 1_600_136_271);
    o.product_type = 3;
    out.push(Def {
        file: "x64-whea-124.dmp",
        desc: "64-bit full dump (Windows Server 2019 17763); Stop 0x124 P1 0 (machine check), P2 the \
               VA of a CPER record crossing a page boundary in pool (processor generic: cache error, \
               data read, GenuineIntel Xeon E5-2680 v4; x86/x64 processor section; Windows MCA \
               section bank 2); expected module is the CPU vendor GenuineIntel, offset 0"
            .into(),
        spec: s,
        opts: o,
        kind: Kind::Full,
        key: Key::Vendor("GenuineIntel"),
    });
    // 8. Truncated full dump.
    let mut s = system(
        Paging::X64,
        17763,
        "17763.1.amd64fre.rs5_release.180914-1434",
        win10_set(&WIN10_17763, W10_NT, W10_DRV),
        (W10_POOL, W10_STACK, W10_PFN),
        &[(0x1, 0x5E), (0x100, 0x30), (0x200, 0x20)],
        0xA,
        [lit(0x20), lit(2), lit(0), at("storport.sys", 0x1_E7B4)],
        nt(0x1F_5210),
        vec![
            nt(0x20_9FE9),
            nt(0x20_5A2E),
            at("storport.sys", 0x1_E7B4),
            at("storvsc.sys", 0x4410),
        ],
    );
    s.pool_seed = None;
    s.stack_last = true;
    out.push(Def {
        file: "x64-full-truncated.dmp",
        desc: "64-bit full dump (Windows Server 2019 17763) cut in the middle of page 100 of 174; the \
               header still says the full size. Page tables, images and the module list are in the \
               first pages, the stack pages are in the missing tail. Stop 0xA with P4 in \
               storport.sys+0x1e7b4"
            .into(),
        spec: s,
        opts: opts(1, Some(0), 1_575_356_889),
        kind: Kind::Truncated(0x2000 + 100 * PAGE as usize + 0x800),
        key: Key::Param(3),
    });
    out
}

fn render(def: Def) -> Result<KernelSample, GenError> {
    let sys: System = build(&def.spec)?;
    let bytes = match &def.kind {
        Kind::Full => full_dump(&sys, &def.opts)?,
        Kind::Bitmap => bitmap_dump(&sys, &def.opts)?,
        Kind::Triage(unloaded) => triage_dump(&sys, &def.opts, unloaded)?,
        Kind::Truncated(cut) => {
            let mut b = full_dump(&sys, &def.opts)?;
            if *cut >= b.len() {
                return Err(GenError::new("truncation point beyond the dump"));
            }
            b.truncate(*cut);
            b
        }
    };
    let (faulting_module, faulting_offset) = match def.key {
        Key::Vendor(v) => (v.to_string(), 0),
        Key::Param(i) => {
            let addr = sys.params.get(i).copied().unwrap_or(0);
            sys.locate(addr)
                .ok_or_else(|| GenError::new(format!("{}: P{} not in a module", def.file, i + 1)))?
        }
    };
    Ok(KernelSample {
        file_name: def.file.to_string(),
        description: def.desc,
        bytes,
        expected: KernelExpected {
            bug_check: sys.bugcheck,
            params: sys.params,
            faulting_module,
            faulting_offset,
            is_64bit: sys.machine.ptr_width() == 8,
            dump_type: def.opts.dump_type,
            attributes: def.opts.attributes.unwrap_or(PAGE_PATTERN),
        },
    })
}

/// Builds every sample.
pub(crate) fn all() -> Result<Vec<KernelSample>, GenError> {
    defs().into_iter().map(render).collect()
}

/// Writes the seed scenario (6.1.7600.16385) as a sparse full dump over `total` bytes of RAM.
pub(crate) fn sparse(path: &Path, total: u64) -> std::io::Result<()> {
    if total < 0x40_0000 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "sparse dumps need at least 4 MiB of physical memory",
        ));
    }
    let mut s = win7_seed(DISKDUMP_16385, &sparse_runs(total));
    s.pool_seed = None;
    let sys = build(&s)?;
    let o = opts(1, Some(0x1), seed_crash_time(16385));
    write_sparse(&sys, &o, path)
}
