//! Builds the memory of a crashed machine: page tables, loaded images, the loaded-module list,
//! KDDEBUGGER_DATA64, the process list, a kernel stack with return addresses, and the bug check.

use super::current_thread::{write_current, CurrentThread};
use super::header::{context_x64, context_x86, exception_record, Regs};
use super::module_list::{kdbg_bytes, write_module_list, Kdbg, Loaded};
use super::paging::{Machine, Paging, Prot};
use super::pe_image::ImageSpec;
use super::phys::{PhysMem, Run};
use super::writer::{Buf, Prng, PAGE};
use super::x86_stack::x86_slots;
use super::GenError;

/// A module to load.
#[derive(Debug, Clone)]
pub(crate) struct ModuleDef {
    /// BaseDllName.
    pub(crate) name: String,
    /// FullDllName.
    pub(crate) path: String,
    /// The image (base, size, version...).
    pub(crate) image: ImageSpec,
    /// Map the first 2 MiB (4 MiB without PAE) with one large page.
    pub(crate) large_page: bool,
    /// Map the `.rsrc` page with a transition PTE instead of a valid one.
    pub(crate) transition_rsrc: bool,
}

/// An address that is only known once the memory is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Addr {
    /// A literal value.
    Lit(u64),
    /// `module base + offset` (module by BaseDllName).
    Mod(String, u64),
    /// The EXCEPTION_RECORD the generator places on the stack.
    ExceptionRecord,
    /// The CONTEXT the generator places on the stack.
    ContextRecord,
    /// The WHEA_ERROR_RECORD in pool.
    Whea,
    /// The EPROCESS of [`SystemSpec::current`] (0xEF names it in P1).
    CurrentProcess,
    /// The KTRAP_FRAME of [`SystemSpec::trap_rip`] (0x8E P3, 0x139 P2).
    TrapFrame,
}

/// Shorthand for [`Addr::Mod`].
pub(crate) fn at(module: &str, offset: u64) -> Addr {
    Addr::Mod(module.to_string(), offset)
}

/// Everything that describes one simulated crash.
#[derive(Debug, Clone)]
pub(crate) struct SystemSpec {
    /// Paging mode (decides 32/64-bit).
    pub(crate) paging: Paging,
    /// NT build number (header MinorVersion).
    pub(crate) build: u32,
    /// NtBuildLab string.
    pub(crate) build_lab: String,
    /// CmNtCSDVersion (0x100 = Service Pack 1).
    pub(crate) csd_version: u32,
    /// NumberProcessors.
    pub(crate) processors: u32,
    /// Physical memory runs.
    pub(crate) runs: Vec<Run>,
    /// Seed that scatters page allocation over the runs (`None`: ascending PFNs).
    pub(crate) pool_seed: Option<u64>,
    /// First PFN of the large page (if a module wants one).
    pub(crate) large_page_pfn: u64,
    /// Modules in load order; the first one is the kernel.
    pub(crate) modules: Vec<ModuleDef>,
    /// Nonpaged pool area (loader entries, EPROCESS, WHEA record).
    pub(crate) pool_va: u64,
    /// Kernel stack area (three pages).
    pub(crate) stack_va: u64,
    /// PfnDataBase.
    pub(crate) pfn_database: u64,
    /// Bug check code.
    pub(crate) bugcheck: u32,
    /// Bug check parameters.
    pub(crate) params: [Addr; 4],
    /// Exception (code, parameters) recorded on the stack; its address is P2.
    pub(crate) exception: Option<(u32, Vec<u64>)>,
    /// Instruction pointer of the bug-checking CPU (inside KeBugCheckEx).
    pub(crate) ip: Addr,
    /// Return addresses on the stack, innermost first.
    pub(crate) frames: Vec<Addr>,
    /// Allocate the stack pages from the end of physical memory (truncation tests).
    pub(crate) stack_last: bool,
    /// A WHEA_ERROR_RECORD to place in pool.
    pub(crate) whea: Option<Vec<u8>>,
    /// The running thread and process, reachable through KiProcessorBlock.
    pub(crate) current: Option<CurrentThread>,
    /// An x64 KTRAP_FRAME on the stack whose saved Rip is this (the interrupted instruction).
    pub(crate) trap_rip: Option<Addr>,
    /// x64: the distance from each return address on the stack to the next, as the unwind
    /// data of the function it returns into says (8 + its frame size); `None`: the samples'
    /// irregular spacing.
    pub(crate) frame_gaps: Option<Vec<u64>>,
    /// Decoys: an address in a module (after a call instruction, as a scan wants) written 8
    /// bytes below the return address of frame `index + 1`, inside frame `index`'s area.
    pub(crate) decoys: Vec<(usize, Addr)>,
    /// Bytes written into the pool area at these offsets (kernel objects a stop code's
    /// parameters point at), after everything else there.
    pub(crate) pool_objects: Vec<(u64, Vec<u8>)>,
    /// MM_DRIVER_VERIFIER_DATA.Level, reachable through MmVerifierData (non-zero: Driver
    /// Verifier on).
    pub(crate) verifier_level: Option<u32>,
    /// x86: `(k, bytes)` for return addresses `frames[k]` (k >= 1) into functions built without
    /// a frame pointer: `frames[k + 1]` is written that many bytes above the slot after
    /// `frames[k]` (the callee's parameters, the function's saved registers and locals), not
    /// in an EBP block, and the EBP chain passes it by.
    pub(crate) x86_fpo: Vec<(usize, u64)>,
    /// ARM64: the frame of the stopped function, then of each function a return address lies
    /// in (the stack is laid out by them; required for [`Paging::Arm64`]).
    pub(crate) arm64_frames: Vec<super::arm64_unwind::Arm64Layout>,
    /// x64: the stopped function's frame (its size up to the return address, and where its
    /// frame register points above the body's RSP); `None`: a leaf, the return address at RSP.
    pub(crate) x64_first_frame: Option<(u64, u64)>,
    /// x64: indices of `frames` that are the RIP of a machine frame (the interrupted code's
    /// instruction, pushed with CS, EFLAGS, RSP and SS by the processor), not return addresses.
    pub(crate) machine_frames: Vec<usize>,
}

/// The built machine and what the dump header needs to say about it.
#[derive(Debug, Clone)]
pub(crate) struct System {
    /// Paging, physical memory and page tables.
    pub(crate) machine: Machine,
    /// Build number.
    pub(crate) build: u32,
    /// NumberProcessors.
    pub(crate) processors: u32,
    /// Loaded modules in list order.
    pub(crate) modules: Vec<Loaded>,
    /// Loader entry addresses.
    pub(crate) entries: Vec<u64>,
    /// PsLoadedModuleList.
    pub(crate) ps_loaded_module_list: u64,
    /// PsActiveProcessHead.
    pub(crate) ps_active_process_head: u64,
    /// KdDebuggerDataBlock.
    pub(crate) kdbg_va: u64,
    /// KDDEBUGGER_DATA64 bytes.
    pub(crate) kdbg: Vec<u8>,
    /// PfnDataBase.
    pub(crate) pfn_database: u64,
    /// Bug check code.
    pub(crate) bugcheck: u32,
    /// Bug check parameters.
    pub(crate) params: [u64; 4],
    /// Registers of the header's CONTEXT.
    pub(crate) regs: Regs,
    /// The header's CONTEXT bytes.
    pub(crate) context: Vec<u8>,
    /// The header's EXCEPTION_RECORD bytes.
    pub(crate) exception: Vec<u8>,
    /// End (exclusive) of the stack area.
    pub(crate) stack_end: u64,
    /// System EPROCESS address.
    pub(crate) eprocess: u64,
}

impl System {
    /// The module containing `addr` and the offset into it.
    pub(crate) fn locate(&self, addr: u64) -> Option<(String, u64)> {
        self.modules
            .iter()
            .find(|m| addr >= m.base && addr < m.base + u64::from(m.size))
            .map(|m| (m.name.clone(), addr - m.base))
    }
}

const STACK_SIZE: u64 = 3 * PAGE;
const SP_OFFSET: u64 = 0x1E40;
const EXR_OFFSET: u64 = 0x2600;
const CXR_OFFSET: u64 = 0x2700;
const LDR_OFFSET: u64 = 0x900;
const EPROCESS_OFFSET: u64 = 0x2010;
const WHEA_OFFSET: u64 = 0x3C80;
/// The KTRAP_FRAME in the stack area (past the CONTEXT at 0x2700..0x2BD0), and the interrupted
/// code's stack pointer it saves.
const TRAP_OFFSET: u64 = 0x2C00;
const TRAP_RSP_OFFSET: u64 = 0x2E00;
/// The current thread's EPROCESS in pool (its ETHREAD and KPCR follow: current_thread.rs).
const CURRENT_EPROCESS_OFFSET: u64 = 0x2800;
const POOL_SIZE: u64 = 5 * PAGE;
/// At most this many PFNs (the lowest ones) are candidates for allocation.
const POOL_LIMIT: usize = 0x1_0000;

/// (UniqueProcessId, ActiveProcessLinks, ImageFileName, DirectoryTableBase) offsets in EPROCESS.
fn eprocess_offsets(paging: Paging, build: u32) -> (u64, u64, u64, u64) {
    match (paging, build) {
        (Paging::X64, b) if b < 9200 => (0x180, 0x188, 0x2E0, 0x28),
        (Paging::X64, b) if b < 19041 => (0x2E0, 0x2E8, 0x450, 0x28),
        (Paging::X64 | Paging::Arm64, _) => (0x440, 0x448, 0x5A8, 0x28),
        _ => (0xB4, 0xB8, 0x16C, 0x18),
    }
}

fn resolve(
    a: &Addr,
    mods: &[Loaded],
    (exr, cxr, whea, process, trap): (u64, u64, u64, u64, u64),
) -> Result<u64, GenError> {
    match a {
        Addr::Lit(v) => Ok(*v),
        Addr::Mod(name, off) => mods
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name))
            .map(|m| m.base + off)
            .ok_or_else(|| GenError::new(format!("no module {name}"))),
        Addr::ExceptionRecord => Ok(exr),
        Addr::ContextRecord => Ok(cxr),
        Addr::Whea => Ok(whea),
        Addr::CurrentProcess => Ok(process),
        Addr::TrapFrame => Ok(trap),
    }
}

/// Builds the machine described by `spec`.
pub(crate) fn build(spec: &SystemSpec) -> Result<System, GenError> {
    let large_pages = if spec.paging == Paging::X86 {
        1024
    } else {
        512
    };
    let large = spec.modules.iter().any(|m| m.large_page);
    let mut pool: Vec<u64> = PhysMem::all_pfns(&spec.runs)
        .filter(|p| !large || *p < spec.large_page_pfn || *p >= spec.large_page_pfn + large_pages)
        .take(POOL_LIMIT)
        .collect();
    if let Some(seed) = spec.pool_seed {
        Prng::new(seed).shuffle(&mut pool);
    }
    let phys = PhysMem::new(spec.runs.clone(), pool)?;
    let mut m = Machine::new(spec.paging, phys)?;
    let w = m.ptr_width();
    let wu = w as u64;

    let mods: Vec<Loaded> = spec
        .modules
        .iter()
        .map(|d| Loaded {
            name: d.name.clone(),
            path: d.path.clone(),
            base: d.image.base,
            size: d.image.size,
            entry: d.image.base + u64::from(d.image.layout().text) + 0x140,
            checksum: d.image.checksum,
            timestamp: d.image.timestamp,
        })
        .collect();
    let exr = spec.stack_va + EXR_OFFSET;
    let cxr = spec.stack_va + CXR_OFFSET;
    let whea_va = spec.pool_va + WHEA_OFFSET;
    let current_process = spec.pool_va + CURRENT_EPROCESS_OFFSET;
    let trap = spec.stack_va + TRAP_OFFSET;
    let res = |a: &Addr| resolve(a, &mods, (exr, cxr, whea_va, current_process, trap));
    let params = [
        res(&spec.params[0])?,
        res(&spec.params[1])?,
        res(&spec.params[2])?,
        res(&spec.params[3])?,
    ];
    let ip = res(&spec.ip)?;
    let frames = spec
        .frames
        .iter()
        .map(&res)
        .collect::<Result<Vec<_>, _>>()?;

    // Images: large page first, then header/.rdata/.rsrc pages and the referenced code pages.
    let decoys = spec
        .decoys
        .iter()
        .map(|(i, a)| Ok((*i, res(a)?)))
        .collect::<Result<Vec<(usize, u64)>, GenError>>()?;
    let mut code: Vec<u64> = frames.clone();
    code.extend(decoys.iter().map(|d| d.1));
    code.push(ip);
    code.extend(params.iter().copied());
    for d in &spec.modules {
        let img = &d.image;
        let l = img.layout();
        if d.large_page {
            m.map_large(img.base, spec.large_page_pfn)?;
        }
        m.ensure(img.base, PAGE, Prot::Data, false)?;
        m.write(img.base, &img.header_page())?;
        let rdata = img.base + u64::from(l.rdata);
        m.ensure(rdata, PAGE, Prot::Data, false)?;
        m.write(rdata, &img.rdata_page())?;
        let rsrc = img.base + u64::from(l.rsrc);
        if d.transition_rsrc && m.translate(rsrc).is_none() {
            let pfn = m.phys.alloc()?;
            m.map_transition(rsrc, pfn)?;
        }
        m.ensure(rsrc, PAGE, Prot::Data, false)?;
        m.write(rsrc, &img.rsrc_page())?;
        let text = img.base + u64::from(l.text)..img.base + u64::from(l.rdata);
        let mut rng = Prng::from_str(&d.name);
        for page in code
            .iter()
            .filter(|a| text.contains(a))
            .map(|a| a & !(PAGE - 1))
        {
            if m.translate(page).is_none() {
                m.ensure(page, PAGE, Prot::Code, false)?;
                let mut bytes = vec![0u8; PAGE as usize];
                rng.fill(&mut bytes);
                m.write(page, &bytes)?;
            }
        }
    }

    // Each return address on the stack follows a call (`call rel32`, E8), as on a real stack:
    // a stack scan takes nothing else.
    let arm64 = spec.paging == Paging::Arm64;
    for f in frames.iter().chain(decoys.iter().map(|d| &d.1)) {
        let site = f.wrapping_sub(if arm64 { 4 } else { 5 });
        let in_code = |a: u64| {
            spec.modules.iter().any(|d| {
                let l = d.image.layout();
                a >= d.image.base + u64::from(l.text) && a < d.image.base + u64::from(l.rdata)
            })
        };
        if in_code(site) && in_code(*f) && m.translate(site).is_some() && m.translate(*f).is_some()
        {
            // ARM64: `bl` (opcode 100101, imm26 16 instructions on).
            let call: &[u8] = if arm64 {
                &[0x10, 0, 0, 0x94]
            } else {
                &[0xE8, 0x10, 0, 0, 0]
            };
            m.write(site, call)?;
        }
    }

    // Kernel data page: list heads, KiBugCheckData, NtBuildLab, KDBG.
    let nt = spec
        .modules
        .first()
        .ok_or_else(|| GenError::new("no kernel module"))?;
    let data = nt.image.base + u64::from(nt.image.layout().data) + 0x2A0;
    m.ensure(data, 0x800, Prot::Data, false)?;
    let ps_loaded = data;
    let ps_active = data + 0x40;
    let pfn_var = data + 0x80;
    let bugcheck_data = data + 0xC0;
    let build_lab = data + 0x100;
    let csd = data + 0x180;
    let processor_block = data + 0x1A0;
    let verifier_data = data + 0x1E0;
    let kd_list = data + 0x1F0;
    let kdbg_va = data + 0x200;
    m.write_ptr(pfn_var, spec.pfn_database)?;
    m.write_ptr(bugcheck_data, u64::from(spec.bugcheck))?;
    for (i, p) in params.iter().enumerate() {
        m.write_ptr(bugcheck_data + wu * (i as u64 + 1), *p)?;
    }
    let mut lab = spec.build_lab.as_bytes().to_vec();
    lab.push(0);
    m.write(build_lab, &lab)?;
    m.write(csd, &spec.csd_version.to_le_bytes())?;
    m.write_ptr(kd_list, kdbg_va)?;
    m.write_ptr(kd_list + wu, kdbg_va)?;
    let kdbg = kdbg_bytes(
        &Kdbg {
            size: if spec.build >= 9200 { 0x380 } else { 0x340 },
            list_head: kd_list,
            kern_base: nt.image.base,
            breakpoint: ip & !0xFFF,
            pae: spec.paging == Paging::X86Pae,
            ps_loaded_module_list: ps_loaded,
            ps_active_process_head: ps_active,
            ki_bugcheck_data: bugcheck_data,
            mm_pfn_database: pfn_var,
            nt_build_lab: build_lab,
            cm_nt_csd_version: csd,
            ki_processor_block: if spec.current.is_some() {
                processor_block
            } else {
                0
            },
            mm_verifier_data: if spec.verifier_level.is_some() {
                verifier_data
            } else {
                0
            },
        },
        w,
    );
    m.write(kdbg_va, &kdbg)?;

    // Pool: loader entries (crossing a page boundary), System EPROCESS, WHEA record.
    m.ensure(spec.pool_va, POOL_SIZE, Prot::Data, false)?;
    let entries = write_module_list(&mut m, ps_loaded, spec.pool_va + LDR_OFFSET, &mods)?;
    let eprocess = spec.pool_va + EPROCESS_OFFSET;
    let (pid, links, name, dtb) = eprocess_offsets(spec.paging, spec.build);
    m.write(eprocess - 0x10 + 4, b"Proc")?;
    m.write(eprocess, &[3u8])?; // KOBJECTS ProcessObject
    m.write_ptr(eprocess + dtb, m.directory_table_base())?;
    m.write_ptr(eprocess + pid, 4)?;
    m.write_ptr(eprocess + links, ps_active)?;
    m.write_ptr(eprocess + links + wu, ps_active)?;
    m.write(eprocess + name, b"System\0")?;
    m.write_ptr(ps_active, eprocess + links)?;
    m.write_ptr(ps_active + wu, eprocess + links)?;
    if let Some(rec) = &spec.whea {
        m.write(whea_va, rec)?;
    }
    for (offset, bytes) in &spec.pool_objects {
        if offset + bytes.len() as u64 > POOL_SIZE {
            return Err(GenError::new("a pool object past the pool area"));
        }
        m.write(spec.pool_va + offset, bytes)?;
    }
    if let Some(level) = spec.verifier_level {
        m.write(verifier_data, &level.to_le_bytes())?;
    }
    if let Some(c) = &spec.current {
        if spec.paging != Paging::X64 || !(19041..=19045).contains(&spec.build) {
            return Err(GenError::new(
                "a current thread is written with Windows 10 19041 x64 layouts only",
            ));
        }
        write_current(
            &mut m,
            c,
            spec.pool_va,
            spec.processors,
            processor_block,
            current_process,
        )?;
    }

    // Stack.
    m.ensure(spec.stack_va, STACK_SIZE, Prot::Data, spec.stack_last)?;
    let mut junk = Buf::new();
    let mut rng = Prng::new(u64::from(spec.bugcheck) ^ spec.stack_va);
    for i in 0..(STACK_SIZE / wu) {
        let v = if i % 3 == 0 {
            spec.pool_va + (rng.below(POOL_SIZE) & !0xF)
        } else {
            rng.below(0x1000)
        };
        junk.ptr((i * wu) as usize, w, v);
    }
    m.write(spec.stack_va, junk.as_slice())?;
    let mut rng = Prng::new(u64::from(spec.bugcheck));
    let regs = if spec.paging == Paging::Arm64 {
        let (sp, f) = (spec.stack_va + SP_OFFSET, &spec.arm64_frames);
        let mut r = super::arm64_stack::write_arm64_stack(&mut m, sp, ip, &frames, f, &decoys)?;
        (r.cx, r.dx, r.r8, r.r9) = (u64::from(spec.bugcheck), params[0], params[1], params[2]);
        r
    } else if w == 8 {
        // The stopped function's own frame, when it has one: the body's RSP, the frame register
        // RBP set `fp` above it, and RSP another 0x40 below (an `alloca`: only RBP finds the
        // frame then).
        let body = spec.stack_va + SP_OFFSET;
        let (sp, bp, mut pos) = match spec.x64_first_frame {
            Some((size, fp)) => (body - 0x40, body + fp, body + size),
            None => (body, body + 0x80, body),
        };
        for (i, f) in frames.iter().enumerate() {
            m.write_ptr(pos, *f)?;
            if i == 0 {
                m.write_ptr(pos + 8, u64::from(spec.bugcheck))?;
                for (k, p) in params.iter().enumerate() {
                    m.write_ptr(pos + 16 + 8 * k as u64, *p)?;
                }
            }
            let gap = match &spec.frame_gaps {
                Some(gaps) => *gaps
                    .get(i)
                    .ok_or_else(|| GenError::new("a frame without its gap"))?,
                None if i == 0 => 0x68,
                None => 0x40 + 8 * rng.below(16),
            };
            if spec.machine_frames.contains(&i) {
                // CS, EFLAGS, then the interrupted code's RSP (right past the frame), SS.
                m.write_ptr(pos + 8, 0x10)?;
                m.write_ptr(pos + 0x10, 0x282)?;
                m.write_ptr(pos + 0x18, pos + 0x28)?;
                m.write_ptr(pos + 0x20, 0x18)?;
            }
            for (_, decoy) in decoys.iter().filter(|(k, _)| *k == i) {
                m.write_ptr(pos + gap - 8, *decoy)?;
            }
            pos += gap;
        }
        Regs {
            ip,
            sp,
            bp,
            cx: u64::from(spec.bugcheck),
            dx: params[0],
            r8: params[1],
            r9: params[2],
            ..Regs::default()
        }
    } else {
        let sp = spec.stack_va + SP_OFFSET + 0x40;
        let bp = sp + 0x1C;
        let slots = x86_slots(&spec.x86_fpo, frames.len(), bp, &mut rng)?;
        for (i, (f, (slot, block))) in frames.iter().zip(&slots).enumerate() {
            m.write_ptr(*slot, *f)?;
            if *block {
                // The saved EBP: the next EBP block up (an FPO function leaves EBP alone).
                let next = slots
                    .iter()
                    .skip(i + 1)
                    .find(|(_, b)| *b)
                    .map(|(s, _)| s - 4);
                m.write_ptr(slot - 4, next.unwrap_or(0))?;
            }
            if i == 0 {
                m.write_ptr(slot + 4, u64::from(spec.bugcheck))?;
                for (k, p) in params.iter().enumerate() {
                    m.write_ptr(slot + 8 + 4 * k as u64, *p)?;
                }
            }
        }
        Regs {
            ip,
            sp,
            bp,
            cx: u64::from(spec.bugcheck),
            ..Regs::default()
        }
    };
    if let Some((code, info)) = &spec.exception {
        let rec = exception_record(w, *code, 0, params[1], info);
        m.write(exr, &rec)?;
        let fault = Regs {
            ip: params[1],
            sp: regs.sp + 0x300,
            bp: regs.sp + 0x380,
            ax: info.get(1).copied().unwrap_or(0),
            ..Regs::default()
        };
        let ctx = if w == 8 {
            context_x64(&fault)
        } else {
            context_x86(&fault)
        };
        m.write(cxr, &ctx)?;
    }
    if let Some(rip) = &spec.trap_rip {
        if w != 8 {
            return Err(GenError::new("trap frames are written for x64 only"));
        }
        // x64 KTRAP_FRAME: Rbp 0x158, Rip 0x168, SegCs 0x170, EFlags 0x178, Rsp 0x180, SegSs 0x188.
        let mut t = Buf::zeroed(0x190);
        let rsp = spec.stack_va + TRAP_RSP_OFFSET;
        t.u64(0x158, rsp + 0x40);
        t.u64(0x168, res(rip)?);
        t.u64(0x170, 0x10);
        t.u64(0x178, 0x282);
        t.u64(0x180, rsp);
        t.u64(0x188, 0x18);
        m.write(trap, t.as_slice())?;
    }
    let context = if spec.paging == Paging::Arm64 {
        super::header::context_arm64(&regs)
    } else if w == 8 {
        context_x64(&regs)
    } else {
        context_x86(&regs)
    };
    let exception = exception_record(w, 0x8000_0003, 1, ip, &[]);
    Ok(System {
        machine: m,
        build: spec.build,
        processors: spec.processors,
        modules: mods,
        entries,
        ps_loaded_module_list: ps_loaded,
        ps_active_process_head: ps_active,
        kdbg_va,
        kdbg,
        pfn_database: spec.pfn_database,
        bugcheck: spec.bugcheck,
        params,
        regs,
        context,
        exception,
        stack_end: spec.stack_va + STACK_SIZE,
        eprocess,
    })
}
