//! An ARM64 kernel dump (Windows 11 22621 on ARM64, 4 KiB granule page tables) whose stack
//! unwinds only with the images' `.pdata`: packed entries (chained frames) and `.xdata` codes
//! (pre-indexed pairs, `save_next`, a 4 KiB allocation, `add_fp`), a decoy return address in
//! two frames that a stack scan would take. Stop 0xD1 with P4 in a third-party driver.

use super::arm64_unwind::{arm64_fits, Arm64Frame, Arm64Function, Arm64Prolog};
use super::catalog::{module, spec, DRIVERS, HAL_DESC, NT_DESC, SYS32};
use super::dumpfile::full_dump;
use super::paging::Paging;
use super::samples::{lit, opts, system};
use super::system::{at, build, ModuleDef};
use super::GenError;

const NT: u64 = 0xFFFF_F806_2A00_0000;
const HAL: u64 = 0xFFFF_F806_29E0_0000;
const DRIVER: u64 = 0xFFFF_F806_3100_0000;
const POOL: u64 = 0xFFFF_B00C_4A10_0000;
const STACK: u64 = 0xFFFF_F98A_1C6E_0000;
const PFN: u64 = 0xFFFF_DE00_0000_0000;
const BUILD: u32 = 22621;

/// The dump and what its analysis must show.
#[derive(Debug, Clone)]
pub struct Arm64Dump {
    /// The full dump.
    pub bytes: Vec<u8>,
    /// The return addresses on the stack, innermost first, as `module+0x<offset>`.
    pub frames: Vec<String>,
    /// The decoys a scan would take, as `module+0x<offset>`.
    pub decoys: Vec<String>,
    /// The module the crash is attributed to.
    pub culprit: String,
}

use Arm64Prolog::{AddFp, Alloc, SaveFpLr, SaveFpLrX, SaveNext, SaveR19R20X, SaveRegPair, SetFp};

/// (module, function RVA, frame): every function on the stack, the stopped one first.
fn functions() -> Vec<(&'static str, u32, Arm64Frame)> {
    vec![
        // KeBugCheckEx
        (
            "ntoskrnl.exe",
            0x2000,
            Arm64Frame::Packed {
                reg_i: 2,
                size: 0x40,
            },
        ),
        // KiBugCheckDispatch
        (
            "ntoskrnl.exe",
            0x2100,
            Arm64Frame::Codes(vec![SaveFpLrX(0x20), SetFp, Alloc(0x30)]),
        ),
        // ContosoDpc: x19..x22 and x29/LR in a 0x40-byte area, 4 KiB of locals, x29 set by add.
        (
            "contosoarm.sys",
            0x2000,
            Arm64Frame::Codes(vec![
                SaveR19R20X(0x40),
                SaveNext,
                SaveFpLr(0x20),
                Alloc(0x1000),
                AddFp(0x10),
            ]),
        ),
        // ContosoStartIo
        (
            "contosoarm.sys",
            0x2100,
            Arm64Frame::Packed {
                reg_i: 3,
                size: 0x60,
            },
        ),
        // KiExecuteAllDpcs
        (
            "ntoskrnl.exe",
            0x2300,
            Arm64Frame::Codes(vec![
                SaveFpLrX(0x50),
                SaveRegPair(19, 0x10),
                SaveRegPair(21, 0x20),
                SetFp,
            ]),
        ),
        // KiIdleLoop
        (
            "ntoskrnl.exe",
            0x2400,
            Arm64Frame::Packed {
                reg_i: 0,
                size: 0x20,
            },
        ),
    ]
}

/// Where in its function each frame's address lies.
const DISPLACEMENT: u64 = 0x48;

fn modules() -> Result<Vec<ModuleDef>, GenError> {
    let windows = (
        "Microsoft Corporation",
        "Microsoft\u{ae} Windows\u{ae} Operating System",
    );
    let label = "22621.1.arm64fre.ni_release.220506-1250";
    let version = [10, 0, 22621, 2506];
    let mut mods = vec![
        module(
            true,
            &spec(
                "ntoskrnl.exe",
                SYS32,
                NT,
                0x104_0000,
                NT_DESC,
                "ntkrnlmp.pdb",
                1,
            ),
            version,
            label,
            0x6537_A1C4,
            (windows.0, windows.1, "ntkrnlmp.exe"),
        ),
        module(
            true,
            &spec("hal.dll", SYS32, HAL, 0x8_0000, HAL_DESC, "hal.pdb", 2),
            version,
            label,
            0x5C1E_2D77,
            (windows.0, windows.1, "hal.dll"),
        ),
        module(
            true,
            &spec(
                "contosoarm.sys",
                DRIVERS,
                DRIVER,
                0x2_0000,
                "Contoso ARM Storage Filter",
                "contosoarm.pdb",
                3,
            ),
            [3, 2, 104, 0],
            "",
            0x6441_0B2E,
            ("Contoso Ltd.", "Contoso Storage Suite", "contosoarm.sys"),
        ),
    ];
    for m in &mut mods {
        let mut own: Vec<Arm64Function> = functions()
            .into_iter()
            .filter(|(name, ..)| *name == m.name)
            .map(|(_, begin, frame)| Arm64Function {
                begin,
                length: 0x100,
                frame,
            })
            .collect();
        own.sort_by_key(|f| f.begin);
        if !arm64_fits(&own) {
            return Err(GenError::new(format!("{}: unwind data too large", m.name)));
        }
        m.image.arm64 = Some(own);
    }
    Ok(mods)
}

/// Builds the dump.
pub fn arm64_dump() -> Result<Arm64Dump, GenError> {
    let stack = functions();
    let places: Vec<(&str, u64)> = stack
        .iter()
        .map(|(m, rva, _)| (*m, u64::from(*rva) + DISPLACEMENT))
        .collect();
    let (stopped, returns) = places
        .split_first()
        .ok_or_else(|| GenError::new("no functions"))?;
    let mods = modules()?;
    let mut s = system(
        Paging::Arm64,
        BUILD,
        "22621.1.arm64fre.ni_release.220506-1250",
        mods.clone(),
        (POOL, STACK, PFN),
        &[(0x1, 0x9E), (0x100, 0x300)],
        0xD1,
        [
            lit(0x10),
            lit(2),
            lit(0),
            at("contosoarm.sys", 0x2000 + DISPLACEMENT),
        ],
        at(stopped.0, stopped.1),
        returns.iter().map(|(m, o)| at(m, *o)).collect(),
    );
    s.arm64_frames = stack
        .iter()
        .map(|(_, begin, frame)| {
            Arm64Function {
                begin: *begin,
                length: 0x100,
                frame: frame.clone(),
            }
            .layout()
        })
        .collect();
    // Decoys in KeBugCheckEx's and ContosoDpc's frames: addresses after a `bl` in nt.
    let decoys = [("ntoskrnl.exe", 0x2404u64), ("ntoskrnl.exe", 0x2364)];
    s.decoys = vec![
        (0, at(decoys[0].0, decoys[0].1)),
        (2, at(decoys[1].0, decoys[1].1)),
    ];
    let sys = build(&s)?;
    let bytes = full_dump(&sys, &opts(1, Some(0), 1_700_001_234))?;
    let name = |(m, o): &(&str, u64)| format!("{m}+0x{o:x}");
    Ok(Arm64Dump {
        bytes,
        frames: returns.iter().map(name).collect(),
        decoys: decoys.iter().map(name).collect(),
        culprit: "contosoarm.sys".to_owned(),
    })
}
