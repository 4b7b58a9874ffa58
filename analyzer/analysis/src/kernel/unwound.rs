//! The crashing thread's stack, unwound by the `unwind` crate over the dump's memory, with the
//! loaded modules' images (headers, exception directory, unwind data, code) read from the dump
//! too, or where the dump lacks them (small dumps keep a few pages) from the image store, by
//! name, timestamp and SizeOfImage; scanned only where unwinding cannot go on, and each frame
//! says how it was found.

use std::cell::{Cell, OnceCell};
use std::sync::Arc;

use kernel_dump::modules::{LoadedModule, ModuleIndex};
use kernel_dump::pe_file::PeFile;
use kernel_dump::virtual_memory::{translate, VirtualRead};
use kernel_dump::{Context, KernelDump};
use symbols::image_store::ImageStore;
use unwind::{
    Arm64Registers, Frame, Image, Images, Memory, X64Registers, X86FrameData, X86Registers,
};

/// The dump's virtual memory, remembering the last page's translation: a stack scan reads
/// each slot of one page in turn, and a four-level walk per 8-byte read was the largest part
/// of a small kernel dump's analysis.
struct DumpMemory<'d, 'a> {
    dump: &'d KernelDump<'a>,
    /// Virtual page -> physical page of the last read within one page of paged memory.
    last: Cell<Option<(u64, u64)>>,
}

impl<'d, 'a> DumpMemory<'d, 'a> {
    fn new(dump: &'d KernelDump<'a>) -> Self {
        DumpMemory {
            dump,
            last: Cell::new(None),
        }
    }
}

impl Memory for DumpMemory<'_, '_> {
    fn read(&self, address: u64, buf: &mut [u8]) -> bool {
        const PAGE: u64 = 0x1000;
        let offset = address % PAGE;
        let in_one_page = offset.saturating_add(buf.len() as u64) <= PAGE;
        let paged = matches!(self.dump.memory(), kernel_dump::DumpMemory::Paged(_));
        if !(in_one_page && paged) {
            return self.dump.read_virtual(address, buf).is_ok();
        }
        let page = address - offset;
        let physical = match self.last.get() {
            Some((v, p)) if v == page => p,
            _ => match translate(self.dump.paging(), self.dump.physical(), page) {
                Ok(p) => {
                    self.last.set(Some((page, p)));
                    p
                }
                Err(_) => return false,
            },
        };
        physical
            .checked_add(offset)
            .is_some_and(|pa| self.dump.physical().read(pa, buf).is_ok())
    }
}

/// A loaded module whose image is read from the dump, or from the image store's copy of the
/// same build (fetched at the first read the dump cannot answer).
struct ModuleImage<'d, 'a> {
    dump: &'d KernelDump<'a>,
    base: u64,
    size: u64,
    module: &'d LoadedModule,
    store: Option<&'d ImageStore>,
    file: OnceCell<Option<Arc<Vec<u8>>>>,
}

impl ModuleImage<'_, '_> {
    fn read_stored(&self, rva: u64, buf: &mut [u8]) -> bool {
        let file = self.file.get_or_init(|| {
            let store = self.store?;
            store.image_file(&self.module.name, self.module.timestamp?, self.size)
        });
        file.as_ref().is_some_and(|bytes| {
            PeFile::parse(bytes).is_ok_and(|pe| pe.read_virtual(rva, buf).is_ok())
        })
    }
}

impl Image for ModuleImage<'_, '_> {
    fn base(&self) -> u64 {
        self.base
    }
    fn size(&self) -> u64 {
        self.size
    }
    fn read_rva(&self, rva: u64, buf: &mut [u8]) -> bool {
        rva < self.size
            && (self
                .base
                .checked_add(rva)
                .is_some_and(|va| self.dump.read_virtual(va, buf).is_ok())
                || self.read_stored(rva, buf))
    }
}

struct ModuleImages<'d, 'a> {
    images: Vec<ModuleImage<'d, 'a>>,
    index: &'d ModuleIndex,
}

impl Images for ModuleImages<'_, '_> {
    fn image_at(&self, address: u64) -> Option<&dyn Image> {
        let i = self.index.find(address)?;
        self.images.get(i).map(|m| m as &dyn Image)
    }
}

/// x64 registers from a decoded context, by unwind-code number.
fn x64_registers(context: &Context) -> X64Registers {
    const ORDER: [&str; 16] = [
        "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15",
    ];
    let mut regs = X64Registers {
        rip: context.pc,
        ..X64Registers::default()
    };
    for (slot, name) in regs.gpr.iter_mut().zip(ORDER) {
        if let Some((_, value)) = context.registers.iter().find(|(n, _)| *n == name) {
            *slot = *value;
        }
    }
    regs.gpr[4] = context.sp;
    regs
}

/// Walks the stack of the dump's context (x64 and ARM64 unwind data; x86 frame data from
/// symbols, then the EBP chain); `None` without a context or for another architecture.
pub(crate) fn walk(
    dump: &KernelDump<'_>,
    modules: &[LoadedModule],
    index: &ModuleIndex,
    store: Option<&ImageStore>,
    frame_data: Option<&dyn X86FrameData>,
) -> Option<Vec<Frame>> {
    walk_context(dump, modules, index, dump.context()?, store, frame_data)
}

/// Walks the stack from `context` (the header's, or a context record or trap frame a stop
/// code names).
pub(crate) fn walk_context(
    dump: &KernelDump<'_>,
    modules: &[LoadedModule],
    index: &ModuleIndex,
    context: &Context,
    store: Option<&ImageStore>,
    frame_data: Option<&dyn X86FrameData>,
) -> Option<Vec<Frame>> {
    let memory = DumpMemory::new(dump);
    let images = ModuleImages {
        images: modules
            .iter()
            .map(|m| ModuleImage {
                dump,
                base: m.base,
                size: m.size,
                module: m,
                store,
                file: OnceCell::new(),
            })
            .collect(),
        index,
    };
    match context.arch {
        "x64" => Some(unwind::walk_x64(x64_registers(context), &memory, &images)),
        "x86" => {
            let register = |name: &str| {
                context
                    .registers
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, v)| u32::try_from(*v).ok())
            };
            let start = X86Registers {
                eip: u32::try_from(context.pc).ok()?,
                esp: u32::try_from(context.sp).ok()?,
                ebp: u32::try_from(context.fp).ok()?,
                ebx: register("ebx"),
                esi: register("esi"),
                edi: register("edi"),
            };
            Some(unwind::walk_x86(start, &memory, &images, frame_data))
        }
        "ARM64" => Some(unwind::walk_arm64(
            arm64_registers(context),
            &memory,
            &images,
        )),
        _ => None,
    }
}

/// ARM64 registers from a decoded context.
fn arm64_registers(context: &Context) -> Arm64Registers {
    let mut regs = Arm64Registers {
        pc: context.pc,
        sp: context.sp,
        ..Arm64Registers::default()
    };
    for (name, value) in &context.registers {
        let index = match *name {
            "fp" => Some(29),
            "lr" => Some(30),
            n => n.strip_prefix('x').and_then(|i| i.parse::<usize>().ok()),
        };
        if let Some(slot) = index.and_then(|i| regs.x.get_mut(i)) {
            *slot = *value;
        }
    }
    regs
}
