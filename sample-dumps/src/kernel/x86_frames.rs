//! An x86 kernel dump whose stack passes through two functions built without a frame pointer
//! (frame-pointer omission, FPO), with the Breakpad symbols a walker needs to find the callers
//! an EBP chain skips: FUNC records with parameter sizes, one `STACK WIN 0` (FPO) record and
//! one `STACK WIN 4` frame-data program, as `dump_syms` writes them from a PDB's FPO and
//! frame-data streams.
//!
//! The stack of Windows 7 SP1 x86 (PAE), Stop 0xD1 in storvsc.sys:
//! KeBugCheckEx <- KiTrap0E <- StorvscBuildSrb <- StorvscStartIo (FPO) <- RaidAdapterStartIo
//! <- RaidStartIoPacket (frame-data program) <- KiRetireDpcList <- KiIdleLoop.

use super::catalog::win7_x86_set;
use super::dumpfile::full_dump;
use super::paging::Paging;
use super::pe_image::ImageSpec;
use super::samples::{lit, opts, system, X86_PFN, X86_POOL, X86_STACK};
use super::symbols::breakpad_debug_id;
use super::system::{at, build};
use super::GenError;

/// The dump, its symbols and the stack they should give.
#[derive(Debug, Clone)]
pub struct X86FrameDataDump {
    /// The full dump.
    pub bytes: Vec<u8>,
    /// Symbol store files: (path relative to the store root, bytes).
    pub symbols: Vec<(String, Vec<u8>)>,
    /// The return addresses on the stack, innermost first, as `module+0x<offset>`.
    pub frames: Vec<String>,
    /// Those that only frame data finds (an EBP chain skips them).
    pub hidden: Vec<String>,
}

/// A function in the generated symbols: module, RVA, size, parameter bytes, name, and its
/// `STACK WIN` record (without the leading `STACK WIN`) if it has one.
type Function = (&'static str, u32, u32, u32, &'static str, Option<String>);

/// StorvscStartIo keeps 8 bytes of saved registers and 0x18 of locals; it calls
/// StorvscBuildSrb, which takes 8 bytes of parameters.
const STORVSC_FPO: (u32, u32, u32) = (8, 8, 0x18);
/// RaidStartIoPacket keeps 0xC bytes of saved registers and 0x30 of locals; it calls
/// RaidAdapterStartIo, which takes 0x10 bytes of parameters.
const STORPORT_PROGRAM: (u32, u32, u32) = (0x10, 0xC, 0x30);

fn functions() -> Vec<Function> {
    let (callee_params, saved, locals) = STORVSC_FPO;
    let (callee_params2, saved2, locals2) = STORPORT_PROGRAM;
    vec![
        (
            "storvsc.sys",
            0x4B80,
            0x140,
            callee_params,
            "StorvscBuildSrb",
            None,
        ),
        (
            "storvsc.sys",
            0x2900,
            0x180,
            0x4,
            "StorvscStartIo",
            // type rva code prolog epilog params saved locals max_stack program? base_pointer?
            Some(format!("0 2900 180 6 3 4 {saved:x} {locals:x} 0 0 0")),
        ),
        (
            "storport.sys",
            0x1D300,
            0x120,
            callee_params2,
            "RaidAdapterStartIo",
            None,
        ),
        (
            "storport.sys",
            0x1F500,
            0x150,
            0x8,
            "RaidStartIoPacket",
            Some(format!(
                "4 1f500 150 9 2 8 {saved2:x} {locals2:x} 0 1 \
                 $T0 .raSearch = $eip $T0 ^ = $esp $T0 4 + ="
            )),
        ),
    ]
}

/// The Breakpad text of one module's generated symbols.
fn symbol_text(module: &str, image: &ImageSpec) -> String {
    let mut text = format!(
        "MODULE windows x86 {} {}\n",
        breakpad_debug_id(image),
        image.pdb_name
    );
    let mut stack_win = String::new();
    for (m, rva, size, params, name, record) in functions() {
        if m != module {
            continue;
        }
        text.push_str(&format!("FUNC {rva:x} {size:x} {params:x} {name}\n"));
        if let Some(record) = record {
            stack_win.push_str(&format!("STACK WIN {record}\n"));
        }
    }
    text + &stack_win
}

/// Builds the dump and its symbols.
pub fn x86_frame_data_dump() -> Result<X86FrameDataDump, GenError> {
    let nt = |o| at("ntoskrnl.exe", o);
    let stack = [
        ("ntoskrnl.exe", 0x8E0C9),
        ("storvsc.sys", 0x4C1E),
        ("storvsc.sys", 0x2A10),
        ("storport.sys", 0x1D38C),
        ("storport.sys", 0x1F5EA),
        ("ntoskrnl.exe", 0x4A1D3),
        ("ntoskrnl.exe", 0x1B2A5E),
    ];
    let mut spec = system(
        Paging::X86Pae,
        7601,
        "7601.17514.x86fre.win7sp1_rtm.101119-1850",
        win7_x86_set(true),
        (X86_POOL, X86_STACK, X86_PFN),
        &[(0x1, 0x5E), (0x100, 0x40)],
        0xD1,
        [lit(0x44), lit(2), lit(0), at("storvsc.sys", 0x4C1E)],
        nt(0xF0B7B),
        stack.iter().map(|(m, o)| at(m, *o)).collect(),
    );
    let size = |(p, s, l): (u32, u32, u32)| u64::from(p + s + l);
    // frames[2] returns into StorvscStartIo, frames[4] into RaidStartIoPacket.
    spec.x86_fpo = vec![(2, size(STORVSC_FPO)), (4, size(STORPORT_PROGRAM))];
    let sys = build(&spec)?;
    let bytes = full_dump(&sys, &opts(1, None, 1_360_252_931))?;
    let mut symbols = Vec::new();
    for module in ["storvsc.sys", "storport.sys"] {
        let image = &spec
            .modules
            .iter()
            .find(|m| m.name == module)
            .ok_or_else(|| GenError::new(format!("{module} is not in the module set")))?
            .image;
        let stem = image
            .pdb_name
            .strip_suffix(".pdb")
            .unwrap_or(&image.pdb_name);
        symbols.push((
            format!("{}/{}/{stem}.sym", image.pdb_name, breakpad_debug_id(image)),
            symbol_text(module, image).into_bytes(),
        ));
    }
    let name = |(m, o): &(&str, u64)| format!("{m}+0x{o:x}");
    Ok(X86FrameDataDump {
        bytes,
        symbols,
        frames: stack.iter().map(name).collect(),
        hidden: [stack[3], stack[5]].iter().map(name).collect(),
    })
}
