//! Kernel dumps built to a failure bucket's description: a Windows 10 19041 x64 full dump with
//! the stop code and parameters, the drivers, a kernel stack of named functions, the running
//! process, Driver Verifier and the live-dump attribute a bucket row implies, plus Breakpad
//! symbols that name those functions. Tests check that the analysis gives the row's bucket
//! (`shared/spec/analyze-buckets.md`, `failure-bucket-vectors.tsv`).

use super::catalog::{contoso, win10_set, WIN10_19041};
use super::current_thread::CurrentThread;
use super::dumpfile::{full_dump, DumpOpts};
use super::paging::Paging;
use super::pe_image::ImageSpec;
use super::phys::Run;
use super::symbols::breakpad_debug_id;
use super::system::{at, build, Addr, ModuleDef, SystemSpec};
use super::triage::triage_dump;
use super::unwind_info::{fits, FunctionUnwind, PrologOp};
use super::whea::{machine_check_record, MachineCheck};
use super::writer::Buf;
use super::GenError;

const NT: u64 = 0xFFFF_F807_5B00_0000;
const DRV: u64 = 0xFFFF_F807_5E60_0000;
/// Drivers of a case load here, one every 1 MiB.
const CASE_DRIVERS: u64 = 0xFFFF_F807_6000_0000;
const CASE_DRIVER_SIZE: u32 = 0x2_0000;
const POOL: u64 = 0xFFFF_C50B_2A4F_0000;
const STACK: u64 = 0xFFFF_A08D_6F2C_A000;
const PFN: u64 = 0xFFFF_EC00_0000_0000;
/// Functions of a module are laid out from this RVA, one every 0x100 bytes.
const FIRST_FUNCTION: u64 = 0x2000;
const FUNCTION_SIZE: u64 = 0x100;
/// Where in its function a frame's address lies.
const FRAME_DISPLACEMENT: u64 = 0x2A;
/// Where a function with a chained part splits: past every template's prolog, before the
/// frame's address.
const CHAIN_SPLIT: u32 = 0x20;
/// KeBugCheckEx, where the processor stopped.
const KE_BUG_CHECK_EX: &str = "KeBugCheckEx";

/// A bug check parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseParam {
    /// A plain value.
    Value(u64),
    /// The address of the frame of this function (module file name, function), as the stop
    /// code names a faulting instruction.
    Function(String, String),
    /// The EPROCESS of the running process (0xEF's P1).
    CurrentProcess,
    /// A KTRAP_FRAME whose saved Rip is in this function (module file name, function): 0x8E's
    /// P3, 0x139's P2.
    TrapFrame(String, String),
    /// A WHEA_ERROR_RECORD of a fatal machine check (cache error, bank 2) from a processor
    /// with this brand string: 0x124's P2.
    MachineCheck(String),
    /// A DEVICE_OBJECT whose driver (`\Driver\<stem of the module>`) was loaded from this
    /// module: 0x9F's P2, the physical device object.
    DeviceObject(String),
    /// An IRP whose current stack location's device belongs to the driver of this module:
    /// 0x9F's P4, the blocked IRP.
    BlockedIrp(String),
}

/// One frame: a function of a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFrame {
    /// Module file name (`ntoskrnl.exe`, `Driver.sys`).
    pub module: String,
    /// Function name.
    pub function: String,
}

/// A kernel crash as a bucket row describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelBucketCase {
    /// Bug check code.
    pub code: u32,
    /// P1..P4.
    pub params: [CaseParam; 4],
    /// Return addresses on the stack, innermost first, below KeBugCheckEx.
    pub stack: Vec<CaseFrame>,
    /// Modules whose functions the symbols name (file names; `ntoskrnl.exe` for the kernel).
    pub symbols_for: Vec<String>,
    /// The running process's image name.
    pub process: Option<String>,
    /// Driver Verifier on.
    pub verifier: bool,
    /// Header attribute LiveDumpGeneratedDump.
    pub live_dump: bool,
    /// Give every function x64 unwind data (KeBugCheckEx a frame register, its RSP moved past
    /// an `alloca`) and lay the stack out as that data says, so the analyzer can unwind it;
    /// otherwise KeBugCheckEx is a leaf and the stack has the irregular spacing of the
    /// samples, which only a scan walks.
    pub unwind: bool,
    /// Decoys a scan would take: `(frame index, at least 1; a function)`, written inside that
    /// frame's area just below the next return address.
    pub decoys: Vec<(usize, CaseFrame)>,
    /// Write a small (triage) dump: the stack, the modules list and copies of the process and
    /// thread, but no image pages; their unwind data is in [`KernelBucketDump::images`].
    pub triage: bool,
}

/// A generated dump and its symbol store.
#[derive(Debug, Clone)]
pub struct KernelBucketDump {
    /// The dump file.
    pub bytes: Vec<u8>,
    /// Breakpad symbol files, `(path relative to the store root, bytes)`.
    pub symbols: Vec<(String, Vec<u8>)>,
    /// An image store of every module of the case, `(path relative to the store root, PE file
    /// bytes)` in the `<name>/<TIMESTAMP><SIZE>/<name>` layout.
    pub images: Vec<(String, Vec<u8>)>,
}

impl CaseFrame {
    /// A frame of `function` in `module`.
    pub fn new(module: &str, function: &str) -> CaseFrame {
        CaseFrame {
            module: module.to_owned(),
            function: function.to_owned(),
        }
    }
}

/// KeBugCheckEx's prolog: RBP saved, a frame, RBP set as the frame register (`UWOP_SET_FPREG`)
/// 0x20 above the frame's bottom.
fn bug_check_prolog() -> Vec<PrologOp> {
    vec![
        PrologOp::Push(5),
        PrologOp::Alloc(0x40),
        PrologOp::SetFpReg(5, 0x20),
    ]
}

/// Whether `function` is a trap or interrupt handler, entered through a machine frame the
/// processor pushed (`KiPageFault`, `KiGeneralProtectionFault`, `KiInterrupt...`).
fn is_trap_handler(function: &str) -> bool {
    function.starts_with("Ki")
        && (function.ends_with("Fault")
            || function.starts_with("KiTrap")
            || function.starts_with("KiInterrupt"))
}

/// A trap handler's prolog: the machine frame with an error code, RBP saved, a frame.
fn trap_handler_prolog() -> Vec<PrologOp> {
    vec![
        PrologOp::PushMachFrame(true),
        PrologOp::Push(5),
        PrologOp::Alloc(0x60),
    ]
}

/// The functions of each module, in first-seen order: each gets its own RVA.
struct Functions(Vec<(String, Vec<String>)>);

impl Functions {
    fn of(case: &KernelBucketCase) -> Functions {
        let mut f = Functions(vec![("ntoskrnl.exe".to_owned(), Vec::new())]);
        f.add("ntoskrnl.exe", KE_BUG_CHECK_EX);
        for p in &case.params {
            match p {
                CaseParam::Function(m, n) | CaseParam::TrapFrame(m, n) => f.add(m, n),
                CaseParam::DeviceObject(m) | CaseParam::BlockedIrp(m) => f.add(m, "DriverEntry"),
                _ => {}
            }
        }
        for fr in case.stack.iter().chain(case.decoys.iter().map(|d| &d.1)) {
            f.add(&fr.module, &fr.function);
        }
        f
    }

    /// The prolog of the `n`th function with unwind data, from a few templates that between
    /// them use every prolog operation a stack of this size can hold: pushes of low and high
    /// registers, small allocations and large ones in both forms (16-bit scaled, 32-bit),
    /// register and XMM saves in their near and far forms.
    fn prolog(n: usize) -> Vec<PrologOp> {
        match n % 6 {
            0 => vec![PrologOp::Push(3), PrologOp::Alloc(0x20)],
            1 => vec![
                PrologOp::Push(5),
                PrologOp::Push(6),
                PrologOp::Push(7),
                PrologOp::Alloc(0x40),
                PrologOp::SaveNonvol(12, 0x10),
            ],
            2 => vec![
                PrologOp::Push(12),
                PrologOp::Alloc(0x218),
                PrologOp::SaveXmm128(6, 0x20),
            ],
            3 => vec![
                PrologOp::Push(13),
                PrologOp::Alloc(0x60),
                PrologOp::SaveNonvolFar(14, 0x18),
                PrologOp::SaveXmm128Far(7, 0x30),
            ],
            4 => vec![PrologOp::Push(15), PrologOp::AllocLarge32(0x28)],
            _ => vec![PrologOp::Alloc(0x48)],
        }
    }

    /// Unwind data of every function of `module` (KeBugCheckEx's from [`bug_check_prolog`]); `n`
    /// numbers the other functions across modules so the templates vary.
    fn unwind_of(&self, module: &str, n: &mut usize) -> Vec<FunctionUnwind> {
        let Some((_, list)) = self.0.iter().find(|(m, _)| m == module) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, f) in list.iter().enumerate() {
            let begin = (FIRST_FUNCTION + FUNCTION_SIZE * i as u64) as u32;
            if f == KE_BUG_CHECK_EX {
                out.push(FunctionUnwind {
                    begin,
                    end: begin + FUNCTION_SIZE as u32,
                    prolog: bug_check_prolog(),
                    chain_at: None,
                });
                continue;
            }
            if is_trap_handler(f) {
                out.push(FunctionUnwind {
                    begin,
                    end: begin + FUNCTION_SIZE as u32,
                    prolog: trap_handler_prolog(),
                    chain_at: None,
                });
                continue;
            }
            out.push(FunctionUnwind {
                begin,
                end: begin + FUNCTION_SIZE as u32,
                prolog: Functions::prolog(*n),
                // Every third function's frames lie in a part described by chained unwind
                // info (the split falls between the prolog and the frame's address).
                chain_at: (*n % 3 == 2).then_some(begin + CHAIN_SPLIT),
            });
            *n += 1;
        }
        out
    }

    fn add(&mut self, module: &str, function: &str) {
        match self.0.iter_mut().find(|(m, _)| m == module) {
            Some((_, list)) => {
                if !list.iter().any(|f| f == function) {
                    list.push(function.to_owned());
                }
            }
            None => self.0.push((module.to_owned(), vec![function.to_owned()])),
        }
    }

    /// The RVA where `function` starts.
    fn rva(&self, module: &str, function: &str) -> Result<u64, GenError> {
        let list = self
            .0
            .iter()
            .find(|(m, _)| m == module)
            .map(|(_, l)| l)
            .ok_or_else(|| GenError::new(format!("no module {module}")))?;
        let i = list
            .iter()
            .position(|f| f == function)
            .ok_or_else(|| GenError::new(format!("no function {module}!{function}")))?;
        Ok(FIRST_FUNCTION + FUNCTION_SIZE * i as u64)
    }

    fn frame(&self, module: &str, function: &str) -> Result<Addr, GenError> {
        Ok(at(module, self.rva(module, function)? + FRAME_DISPLACEMENT))
    }
}

/// Builds the dump a bucket case describes, with symbols for `case.symbols_for`.
pub fn kernel_bucket_dump(case: &KernelBucketCase) -> Result<KernelBucketDump, GenError> {
    let functions = Functions::of(case);
    let mut modules = win10_set(&WIN10_19041, NT, DRV);
    for (i, (name, _)) in functions.0.iter().enumerate() {
        if modules.iter().any(|m| m.name.eq_ignore_ascii_case(name)) {
            continue;
        }
        modules.push(contoso(
            true,
            name,
            CASE_DRIVERS + 0x10_0000 * i as u64,
            CASE_DRIVER_SIZE,
            "Driver of a bucket case",
        ));
    }
    if case.unwind {
        let mut n = 0;
        for m in &mut modules {
            m.image.unwind = functions.unwind_of(&m.name, &mut n);
            if !fits(&m.image.unwind) {
                return Err(GenError::new(format!(
                    "{}: too many functions for the unwind data's page",
                    m.name
                )));
            }
        }
    }
    // Each return address sits 8 + the frame size of the function it returns into above the
    // previous one, as that function's unwind data says. Above a trap handler's frame stands
    // its machine frame: the interrupted code's RIP in the place of a return address, then CS,
    // EFLAGS, RSP and SS (0x20 more), the interrupted code's frame right past them.
    let unwind_of = |fr: &CaseFrame| -> Result<&FunctionUnwind, GenError> {
        let rva = functions.rva(&fr.module, &fr.function)?;
        modules
            .iter()
            .find(|m| m.name == fr.module)
            .and_then(|m| m.image.unwind.iter().find(|u| u64::from(u.begin) == rva))
            .ok_or_else(|| GenError::new(format!("no unwind data for {}", fr.function)))
    };
    let mut machine_frames = Vec::new();
    let frame_gaps = if case.unwind {
        let mut gaps = Vec::new();
        for (j, fr) in case.stack.iter().enumerate() {
            let interrupted = machine_frames.contains(&j);
            let unwind = unwind_of(fr)?;
            gaps.push(8 + unwind.frame_size() + if interrupted { 0x20 } else { 0 });
            if unwind.machine_frame() {
                machine_frames.push(j + 1);
            }
        }
        Some(gaps)
    } else {
        None
    };
    let decoys = case
        .decoys
        .iter()
        .map(|(i, fr)| Ok((*i, functions.frame(&fr.module, &fr.function)?)))
        .collect::<Result<Vec<_>, GenError>>()?;
    let param = |p: &CaseParam| -> Result<Addr, GenError> {
        Ok(match p {
            CaseParam::Value(v) => Addr::Lit(*v),
            CaseParam::Function(m, f) => functions.frame(m, f)?,
            CaseParam::CurrentProcess => Addr::CurrentProcess,
            CaseParam::TrapFrame(_, _) => Addr::TrapFrame,
            CaseParam::MachineCheck(_) => Addr::Whea,
            CaseParam::DeviceObject(_) => Addr::Lit(POOL + PDO_OFF),
            CaseParam::BlockedIrp(_) => Addr::Lit(POOL + IRP_OFF),
        })
    };
    let mut pool_objects = Vec::new();
    for p in &case.params {
        let (module, object) = match p {
            CaseParam::DeviceObject(m) => (m, (DRV_A_OFF, PDO_OFF)),
            CaseParam::BlockedIrp(m) => (m, (DRV_B_OFF, FDO_OFF)),
            _ => continue,
        };
        let base = modules
            .iter()
            .find(|d| &d.name == module)
            .map(|d| d.image.base)
            .ok_or_else(|| GenError::new(format!("{module} is not loaded")))?;
        let stem = module.rsplit_once('.').map_or(module.as_str(), |(s, _)| s);
        pool_objects.extend(driver_and_device(object, base, stem));
        if matches!(p, CaseParam::BlockedIrp(_)) {
            pool_objects.extend(blocked_irp());
        }
    }
    let whea = case.params.iter().find_map(|p| match p {
        CaseParam::MachineCheck(brand) => Some(machine_check_record(&MachineCheck {
            brand: brand.clone(),
            cpu_version: 0x00A2_0F12,
            apic_id: 2,
            processor: 1,
            bank: 2,
            status: 0xBE00_0000_0001_0134,
            address: 0x0000_0002_1A2F_1C40,
            misc: 0x0000_0000_8000_0086,
            ip: 0,
            time: [12, 30, 9, 14, 3, 24, 20],
            record_id: 0x01DA_75E0_0000_0001,
        })),
        _ => None,
    });
    let trap_rip = case
        .params
        .iter()
        .find_map(|p| match p {
            CaseParam::TrapFrame(m, f) => Some(functions.frame(m, f)),
            _ => None,
        })
        .transpose()?;
    let [p1, p2, p3, p4] = &case.params;
    let frames = case
        .stack
        .iter()
        .map(|f| functions.frame(&f.module, &f.function))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = SystemSpec {
        paging: Paging::X64,
        build: 19041,
        build_lab: "19041.1.amd64fre.vb_release.191206-1406".to_owned(),
        csd_version: 0,
        processors: 2,
        runs: vec![
            Run {
                base: 0x1,
                count: 0x9E,
            },
            Run {
                base: 0x100,
                count: 0x200,
            },
        ],
        pool_seed: Some(u64::from(case.code)),
        large_page_pfn: 0,
        modules: modules.clone(),
        pool_va: POOL,
        stack_va: STACK,
        pfn_database: PFN,
        bugcheck: case.code,
        params: [param(p1)?, param(p2)?, param(p3)?, param(p4)?],
        exception: None,
        ip: functions.frame("ntoskrnl.exe", KE_BUG_CHECK_EX)?,
        frames,
        stack_last: false,
        whea,
        trap_rip,
        frame_gaps,
        decoys,
        pool_objects,
        current: case.process.as_ref().map(|name| CurrentThread {
            process: name.clone(),
            pid: 0x1A2C,
            tid: 0x2F10,
            irql: 2,
        }),
        verifier_level: Some(if case.verifier { 0x209BB } else { 0 }),
        x86_fpo: Vec::new(),
        arm64_frames: Vec::new(),
        // With unwind data KeBugCheckEx has a frame (8 for RBP, 0x40 allocated, RBP 0x20 up).
        x64_first_frame: case.unwind.then_some((8 + 0x40, 0x20)),
        machine_frames,
    };
    let system = build(&spec)?;
    let opts = DumpOpts {
        dump_type: 1,
        attributes: Some(if case.live_dump { 0x10 } else { 0 }),
        system_time: (1_700_000_000 + 11_644_473_600) * 10_000_000,
        uptime: 0x0000_0004_7A3C_91E0,
        product_type: 1,
        suite_mask: 0x110,
        ..DumpOpts::default()
    };
    let bytes = if case.triage {
        triage_dump(
            &system,
            &DumpOpts {
                dump_type: 4,
                ..opts
            },
            &[],
        )?
    } else {
        full_dump(&system, &opts)?
    };
    let images = modules
        .iter()
        .map(|m| {
            let key = format!("{:08X}{:x}", m.image.timestamp, m.image.size);
            (format!("{0}/{key}/{0}", m.name), m.image.file_image())
        })
        .collect();
    let mut symbols = Vec::new();
    for name in &case.symbols_for {
        let module = modules
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| GenError::new(format!("symbols for {name}, which is not loaded")))?;
        let names = functions
            .0
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(name))
            .map_or(&[][..], |(_, l)| &l[..]);
        symbols.push(symbol_file(module, names)?);
    }
    Ok(KernelBucketDump {
        bytes,
        symbols,
        images,
    })
}

/// The Breakpad file naming `functions` at their RVAs, under the image's CodeView id.
fn symbol_file(module: &ModuleDef, functions: &[String]) -> Result<(String, Vec<u8>), GenError> {
    let image: &ImageSpec = &module.image;
    let id = breakpad_debug_id(image);
    let mut text = format!("MODULE windows x86_64 {id} {}\n", image.pdb_name);
    text.push_str(&format!(
        "INFO CODE_ID {:08X}{:x} {}\n",
        image.timestamp, image.size, module.name
    ));
    for (i, f) in functions.iter().enumerate() {
        let rva = FIRST_FUNCTION + FUNCTION_SIZE * i as u64;
        text.push_str(&format!("FUNC {rva:x} {FUNCTION_SIZE:x} 0 {f}\n"));
    }
    let stem = image
        .pdb_name
        .strip_suffix(".pdb")
        .unwrap_or(&image.pdb_name);
    Ok((
        format!("{}/{id}/{stem}.sym", image.pdb_name),
        text.into_bytes(),
    ))
}

/// Pool offsets of the 0x9F objects: two DRIVER_OBJECTs with their names, the physical device
/// object, the device holding the IRP, the IRP and its current stack location.
const DRV_A_OFF: u64 = 0x4200;
const DRV_B_OFF: u64 = 0x4380;
const PDO_OFF: u64 = 0x4500;
const FDO_OFF: u64 = 0x4600;
const IRP_OFF: u64 = 0x4700;
const ISL_OFF: u64 = 0x4800;

/// A DRIVER_OBJECT (x64: DriverStart 0x18, DriverName 0x38 with its buffer 0x100 further on)
/// named `\Driver\<stem>` and a DEVICE_OBJECT (DriverObject 0x8) of it.
fn driver_and_device((driver, device): (u64, u64), start: u64, stem: &str) -> Vec<(u64, Vec<u8>)> {
    let name: Vec<u8> = format!("\\Driver\\{stem}")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut d = Buf::zeroed(0x100);
    d.u8(0, 4); // IO_TYPE_DRIVER
    d.u64(0x18, start);
    d.u16(0x38, name.len() as u16);
    d.u16(0x3A, name.len() as u16);
    d.u64(0x40, POOL + driver + 0x100);
    let mut dev = Buf::zeroed(0x100);
    dev.u8(0, 3); // IO_TYPE_DEVICE
    dev.u64(8, POOL + driver);
    vec![
        (driver, d.into_vec()),
        (driver + 0x100, name),
        (device, dev.into_vec()),
    ]
}

/// An IRP (x64: Tail.Overlay.CurrentStackLocation 0xB8) whose current IO_STACK_LOCATION
/// (DeviceObject 0x28) is on the device at [`FDO_OFF`].
fn blocked_irp() -> Vec<(u64, Vec<u8>)> {
    let mut irp = Buf::zeroed(0xD0);
    irp.u8(0, 6); // IO_TYPE_IRP
    irp.u64(0xB8, POOL + ISL_OFF);
    let mut isl = Buf::zeroed(0x48);
    isl.u8(0, 0x16); // IRP_MJ_POWER
    isl.u8(1, 2); // IRP_MN_SET_POWER
    isl.u64(0x28, POOL + FDO_OFF);
    vec![(IRP_OFF, irp.into_vec()), (ISL_OFF, isl.into_vec())]
}
