//! The catalogue of generated user-mode minidump samples.
//!
//! Two fictional processes are used: `contoso.exe`, a 32-bit (x86) program on
//! Windows 10 22H2, and `fabrikam.exe`, a 64-bit program on Windows 11 22H2.
//! Hostile variants reuse the x86 layout with crafted module names to
//! exercise the CER placeholder sanitizing rules.

use super::{Arch, DumpSpec, ExceptionSpec, ModuleSpec, OsVersion, ThreadSpec, UnloadedModuleSpec};

/// A sample definition: output file name, description and the dump contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSpec {
    /// File name inside the output directory.
    pub file_name: &'static str,
    /// One-line description of what the sample exercises.
    pub description: &'static str,
    /// What the dump contains.
    pub spec: DumpSpec,
}

/// `EXCEPTION_ACCESS_VIOLATION`.
pub const ACCESS_VIOLATION: u32 = 0xC000_0005;
/// `STATUS_INVALID_PARAMETER`.
pub const INVALID_PARAMETER: u32 = 0xC000_000D;

const WIN10_22H2: OsVersion = OsVersion {
    major: 10,
    minor: 0,
    build: 19045,
};
const WIN11_22H2: OsVersion = OsVersion {
    major: 10,
    minor: 0,
    build: 22621,
};

// x86 process layout.
const X86_EXE_BASE: u64 = 0x0040_0000;
const X86_CRASH_DLL_BASE: u64 = 0x1000_0000;
const X86_NTDLL_BASE: u64 = 0x7700_0000;
const X86_KERNEL32_BASE: u64 = 0x7600_0000;
const X86_MAIN_TID: u32 = 0x1A2C;
const X86_WORKER_TID: u32 = 0x2B3C;
const X86_PID: u32 = 0x1F40;

// x64 process layout.
const X64_EXE_BASE: u64 = 0x0000_7FF6_1234_0000;
const X64_FABCORE_BASE: u64 = 0x0000_7FFB_0000_0000;
const X64_NTDLL_BASE: u64 = 0x0000_7FFB_1000_0000;
const X64_MAIN_TID: u32 = 0x3F10;
const X64_WORKER_TID: u32 = 0x4E20;
const X64_PID: u32 = 0x2EE0;

/// Offsets of believable return sites inside the main executable.
const EXE_CALL_SITE: u64 = 0x1A2B;
const EXE_WINMAIN_SITE: u64 = 0x2F10;
const EXE_THREAD_START_SITE: u64 = 0x3C40;
const EXE_CRT_MAIN_SITE: u64 = 0x4A3B;
const EXE_IDLE_LOOP: u64 = 0x1500;

fn module(path: &str, base: u64, size: u32, version: [u16; 4], timestamp: u32) -> ModuleSpec {
    let lower = path.to_ascii_lowercase();
    ModuleSpec {
        path: path.to_string(),
        base,
        size,
        version: Some(version),
        timestamp,
        // Any fixed value will do; derive one so modules differ.
        checksum: timestamp.rotate_left(7) ^ size,
        is_exe: !lower.ends_with(".dll"),
        pdb: None,
    }
}

fn contoso_modules() -> Vec<ModuleSpec> {
    vec![
        module(
            r"C:\Program Files\Contoso\contoso.exe",
            X86_EXE_BASE,
            0x30000,
            [3, 1, 4, 1],
            0x5F3A_1B2C,
        ),
        module(
            r"C:\Program Files\Contoso\render.dll",
            X86_CRASH_DLL_BASE,
            0x20000,
            [2, 7, 1828, 18],
            0x5F3A_0F00,
        ),
        module(
            r"C:\Windows\SysWOW64\ntdll.dll",
            X86_NTDLL_BASE,
            0x1A_0000,
            [10, 0, 19041, 3636],
            0x1C8D_4E2B,
        ),
        module(
            r"C:\Windows\SysWOW64\kernel32.dll",
            X86_KERNEL32_BASE,
            0xF_0000,
            [10, 0, 19041, 3570],
            0x9A3E_77D1,
        ),
    ]
}

fn fabrikam_modules() -> Vec<ModuleSpec> {
    vec![
        module(
            r"C:\Program Files\Fabrikam\fabrikam.exe",
            X64_EXE_BASE,
            0x5_0000,
            [12, 0, 3, 4],
            0x6401_2A3B,
        ),
        module(
            r"C:\Program Files\Fabrikam\fabcore.dll",
            X64_FABCORE_BASE,
            0x8_0000,
            [5, 4, 3, 2],
            0x6401_2A00,
        ),
        module(
            r"C:\Windows\System32\ntdll.dll",
            X64_NTDLL_BASE,
            0x1F_0000,
            [10, 0, 22621, 1],
            0x2B1F_0C55,
        ),
    ]
}

fn thread(
    arch: Arch,
    index: u64,
    id: u32,
    ip: u64,
    cx: u64,
    return_addresses: Vec<u64>,
) -> ThreadSpec {
    let (teb_base, stack_base, stride) = match arch {
        Arch::X86 => (0x0025_C000, 0x0019_E000, 0x0040_0000),
        Arch::Amd64 => (0x0000_00D5_6F4A_0000, 0x0000_00D5_6F8F_E000, 0x0020_0000),
    };
    ThreadSpec {
        id,
        teb: teb_base + index * 0x2000,
        ip,
        cx,
        // Thread 0 at the base, the others further up; with the x86 stride
        // the second stack lands at 0x0059E000, clear of every module.
        stack_start: stack_base + index * stride,
        return_addresses,
    }
}

/// x86 contoso threads: a main thread waiting in ntdll and `worker` threads.
fn contoso_threads(crash_ip: u64, crash_cx: u64) -> Vec<ThreadSpec> {
    let exe = X86_EXE_BASE;
    let thread_start = [X86_KERNEL32_BASE + 0x1_FA29, X86_NTDLL_BASE + 0x6_C0BE];
    let mut main_returns = vec![exe + EXE_WINMAIN_SITE, exe + EXE_CRT_MAIN_SITE];
    main_returns.extend(thread_start);
    let mut worker_returns = vec![exe + EXE_CALL_SITE, exe + EXE_THREAD_START_SITE];
    worker_returns.extend(thread_start);
    vec![
        thread(
            Arch::X86,
            0,
            X86_MAIN_TID,
            X86_NTDLL_BASE + 0x7_2A8C,
            0,
            main_returns,
        ),
        thread(
            Arch::X86,
            1,
            X86_WORKER_TID,
            crash_ip,
            crash_cx,
            worker_returns,
        ),
    ]
}

fn fabrikam_threads(crash_ip: u64, crash_cx: u64) -> Vec<ThreadSpec> {
    let exe = X64_EXE_BASE;
    let start = X64_NTDLL_BASE + 0x5_AA58;
    vec![
        thread(
            Arch::Amd64,
            0,
            X64_MAIN_TID,
            X64_NTDLL_BASE + 0xA_0D24,
            0,
            vec![exe + EXE_WINMAIN_SITE, exe + EXE_CRT_MAIN_SITE, start],
        ),
        thread(
            Arch::Amd64,
            1,
            X64_WORKER_TID,
            crash_ip,
            crash_cx,
            vec![exe + EXE_CALL_SITE, exe + EXE_THREAD_START_SITE, start],
        ),
    ]
}

fn access_violation(thread_id: u32, address: u64, kind: u64, data: u64) -> ExceptionSpec {
    ExceptionSpec {
        thread_id,
        code: ACCESS_VIOLATION,
        flags: 0,
        address,
        parameters: vec![kind, data],
    }
}

fn contoso(threads: Vec<ThreadSpec>, exception: Option<ExceptionSpec>) -> DumpSpec {
    DumpSpec {
        arch: Arch::X86,
        os: WIN10_22H2,
        processors: 8,
        process_id: X86_PID,
        process_create_time: 0x5F5E_0F00,
        modules: contoso_modules(),
        unloaded: vec![UnloadedModuleSpec {
            path: r"C:\Program Files\Contoso\oldplugin.dll".to_string(),
            base: 0x0F00_0000,
            size: 0x1_0000,
            timestamp: 0x5E11_2233,
            checksum: 0x0001_F00D,
        }],
        threads,
        exception,
        memory: Vec::new(),
    }
}

fn fabrikam(crash_ip: u64, crash_cx: u64, exception: ExceptionSpec) -> DumpSpec {
    DumpSpec {
        arch: Arch::Amd64,
        os: WIN11_22H2,
        processors: 16,
        process_id: X64_PID,
        process_create_time: 0x5F5E_0E00,
        modules: fabrikam_modules(),
        unloaded: Vec::new(),
        threads: fabrikam_threads(crash_ip, crash_cx),
        exception: Some(exception),
        memory: Vec::new(),
    }
}

/// An x86 process whose main exe and crashing DLL carry hostile names.
/// The crash is an access violation at `crash_offset` into the DLL.
fn hostile(
    exe_path: &str,
    exe_version: [u16; 4],
    dll_path: &str,
    dll_version: [u16; 4],
    crash_offset: u64,
) -> DumpSpec {
    let exe = X86_EXE_BASE;
    let crash_ip = X86_CRASH_DLL_BASE + crash_offset;
    DumpSpec {
        arch: Arch::X86,
        os: WIN10_22H2,
        processors: 4,
        process_id: 0x0BAD,
        process_create_time: 0x5F5E_0F80,
        modules: vec![
            module(exe_path, exe, 0x3_0000, exe_version, 0x5F00_0001),
            module(
                dll_path,
                X86_CRASH_DLL_BASE,
                0x2_0000,
                dll_version,
                0x5F00_0002,
            ),
        ],
        unloaded: Vec::new(),
        threads: vec![
            thread(
                Arch::X86,
                0,
                X86_MAIN_TID,
                exe + EXE_IDLE_LOOP,
                0,
                vec![exe + EXE_CRT_MAIN_SITE],
            ),
            thread(
                Arch::X86,
                1,
                X86_WORKER_TID,
                crash_ip,
                0,
                vec![exe + EXE_CALL_SITE, exe + EXE_THREAD_START_SITE],
            ),
        ],
        exception: Some(access_violation(X86_WORKER_TID, crash_ip, 0, 0)),
        memory: Vec::new(),
    }
}

/// Every user-mode sample, in a fixed order.
pub fn specs() -> Vec<SampleSpec> {
    let render_crash = X86_CRASH_DLL_BASE + 0x1234;
    let fabcore_crash = X64_FABCORE_BASE + 0x1_ABCD;
    let long_dll = format!(r"C:\app\{}.dll", "a".repeat(296));
    vec![
        SampleSpec {
            file_name: "x86-dll-crash.dmp",
            description: "32-bit contoso.exe: write access violation inside render.dll, two threads, one unloaded module",
            spec: contoso(
                contoso_threads(render_crash, 0x10),
                Some(access_violation(X86_WORKER_TID, render_crash, 1, 0x10)),
            ),
        },
        SampleSpec {
            file_name: "x64-dll-crash.dmp",
            description: "64-bit fabrikam.exe: read access violation at 0xDEADBEEF inside fabcore.dll",
            spec: fabrikam(
                fabcore_crash,
                0xDEAD_BEEF,
                access_violation(X64_WORKER_TID, fabcore_crash, 0, 0xDEAD_BEEF),
            ),
        },
        SampleSpec {
            file_name: "x64-outside-modules.dmp",
            description: "64-bit fabrikam.exe: execute access violation at 0x12345678, outside every module",
            spec: fabrikam(
                0x1234_5678,
                0,
                access_violation(X64_WORKER_TID, 0x1234_5678, 8, 0x1234_5678),
            ),
        },
        SampleSpec {
            file_name: "x64-exception-address-zero.dmp",
            description: "64-bit fabrikam.exe: invalid parameter with ExceptionAddress 0; the context rip is in fabcore.dll",
            spec: fabrikam(
                X64_FABCORE_BASE + 0x2222,
                0,
                ExceptionSpec {
                    thread_id: X64_WORKER_TID,
                    code: INVALID_PARAMETER,
                    flags: 0,
                    address: 0,
                    parameters: Vec::new(),
                },
            ),
        },
        SampleSpec {
            file_name: "x86-no-exception.dmp",
            description: "32-bit contoso.exe without an exception stream (hang report)",
            spec: contoso(contoso_threads(X86_NTDLL_BASE + 0x7_2A8C, 0), None),
        },
        SampleSpec {
            file_name: "x86-hostile-traversal.dmp",
            description: r"hostile names: main exe file name '..', crash module named '..\..\evil.dll'",
            spec: hostile(r"C:\apps\..", [1, 0, 0, 0], r"..\..\evil.dll", [1, 0, 0, 0], 0x100),
        },
        SampleSpec {
            file_name: "x86-hostile-reserved.dmp",
            description: "hostile names: reserved device names CON (main exe) and nul.dll (crash module)",
            spec: hostile(r"C:\app\CON", [1, 2, 3, 4], r"C:\app\nul.dll", [1, 2, 3, 4], 0x42),
        },
        SampleSpec {
            file_name: "x86-hostile-non-ascii.dmp",
            description: "hostile names: non-ASCII module names (Latin accents, CJK)",
            spec: hostile(
                "C:\\app\\\u{dc}n\u{ef}c\u{f8}d\u{e9}.exe",
                [1, 0, 0, 1],
                "C:\\app\\\u{65e5}\u{672c}\u{8a9e}.dll",
                [2, 0, 0, 2],
                0x10,
            ),
        },
        SampleSpec {
            file_name: "x86-hostile-long-name.dmp",
            description: "hostile names: forbidden characters in the exe name, 300-char crash module name",
            spec: hostile(r#"C:\app\bad<>:"|?*name.exe"#, [1, 0, 0, 0], &long_dll, [1, 0, 0, 0], 0x20),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(name: &str) -> Option<String> {
        specs()
            .into_iter()
            .find(|s| s.file_name == name)
            .map(|s| s.spec.expected_cer_subpath())
    }

    #[test]
    fn expected_subpaths_match_the_catalogue() {
        let cases = [
            (
                "x86-dll-crash.dmp",
                r"contoso.exe\3.1.4.1\render.dll\2.7.1828.18\00001234".to_string(),
            ),
            (
                "x64-dll-crash.dmp",
                r"fabrikam.exe\12.0.3.4\fabcore.dll\5.4.3.2\000000000001abcd".to_string(),
            ),
            (
                "x64-outside-modules.dmp",
                r"fabrikam.exe\12.0.3.4\unknown\0.0.0.0\0000000012345678".to_string(),
            ),
            (
                "x64-exception-address-zero.dmp",
                r"fabrikam.exe\12.0.3.4\fabcore.dll\5.4.3.2\0000000000002222".to_string(),
            ),
            (
                "x86-no-exception.dmp",
                r"contoso.exe\3.1.4.1\hungapp\0.0.0.0\00000000".to_string(),
            ),
            (
                "x86-hostile-traversal.dmp",
                r"._\1.0.0.0\evil.dll\1.0.0.0\00000100".to_string(),
            ),
            (
                "x86-hostile-reserved.dmp",
                r"CON_\1.2.3.4\nul_.dll\1.2.3.4\00000042".to_string(),
            ),
            (
                "x86-hostile-non-ascii.dmp",
                r"_n_c_d_.exe\1.0.0.1\___.dll\2.0.0.2\00000010".to_string(),
            ),
            (
                "x86-hostile-long-name.dmp",
                format!(
                    r"bad_______name.exe\1.0.0.0\{}\1.0.0.0\00000020",
                    "a".repeat(64)
                ),
            ),
        ];
        assert_eq!(specs().len(), cases.len());
        for (name, want) in cases {
            assert_eq!(expected(name), Some(want), "{name}");
        }
    }

    #[test]
    fn modules_do_not_overlap_and_every_thread_has_frames() {
        for sample in specs() {
            let mods = &sample.spec.modules;
            for (i, a) in mods.iter().enumerate() {
                for b in mods.iter().skip(i + 1) {
                    let disjoint = a.base + u64::from(a.size) <= b.base
                        || b.base + u64::from(b.size) <= a.base;
                    assert!(
                        disjoint,
                        "{}: {} overlaps {}",
                        sample.file_name, a.path, b.path
                    );
                }
            }
            let exe = mods.first().map(|m| (m.base, m.size));
            for t in &sample.spec.threads {
                let first = t.return_addresses.first().copied().unwrap_or(0);
                let in_exe =
                    exe.is_some_and(|(base, size)| first >= base && first - base < u64::from(size));
                assert!(
                    in_exe,
                    "{}: thread {:#x} frame 1 not in the main exe",
                    sample.file_name, t.id
                );
            }
        }
    }
}
