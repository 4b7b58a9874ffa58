//! A 64-bit triage (small memory) dump, DumpType 4: DUMP_HEADER64, TRIAGE_DUMP64 at 0x2000, then
//! MM information, unloaded drivers, PRCB/EPROCESS/ETHREAD copies, the call stack, the KDBG copy,
//! the driver list (0x90-byte entries naming DUMP_STRINGs in a string pool), data blocks and the
//! `TRGD` validity marker. Every offset is an absolute file offset.

use super::dumpfile::{header_info, DumpOpts};
use super::header::header64;
use super::module_list::{kldr_entry, EntryPtrs};
use super::system::System;
use super::writer::{utf16, Buf};
use super::GenError;

/// An unloaded driver (name, start, end).
pub(crate) type Unloaded = (&'static str, u64, u64);

/// MiniDumpFields of the generated triage dump: context, exception, PRCB, process, thread,
/// stack, driver list, MM info, debugger data, data blocks.
pub(crate) const TRIAGE_FIELDS: u32 =
    0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x100 | 0x400 | 0x800;

const PRCB_SIZE: usize = 0x800;
const EPROCESS_SIZE: usize = 0xA40;
const ETHREAD_SIZE: usize = 0x898;

/// Serialises `sys` as a triage dump.
pub(crate) fn triage_dump(
    sys: &System,
    opts: &DumpOpts,
    unloaded: &[Unloaded],
) -> Result<Vec<u8>, GenError> {
    let m = &sys.machine;
    if m.ptr_width() != 8 {
        return Err(GenError::new("triage dumps are 64-bit here"));
    }
    let mut f = Buf::zeroed(0x2000);
    let t = 0x2000usize;
    // MM information.
    let mm = 0x2080usize;
    f.u32(mm, 1);
    f.u32(mm + 4, 0x50);
    // Unloaded drivers: u64 count, 0x38-byte entries.
    let ul = mm + 0x50;
    f.u64(ul, unloaded.len() as u64);
    for (i, (name, start, end)) in unloaded.iter().enumerate() {
        let e = ul + 8 + 0x38 * i;
        let units = name.encode_utf16().count().min(12);
        f.u16(e, (units * 2) as u16);
        f.u16(e + 2, (units * 2) as u16);
        f.put(e + 0x10, utf16(name).get(..units * 2).unwrap_or(&[]));
        f.u64(e + 0x28, *start);
        f.u64(e + 0x30, *end);
    }
    f.align(8);
    // PRCB, EPROCESS, ETHREAD copies.
    let prcb = f.len();
    let mut p = Buf::zeroed(PRCB_SIZE);
    p.u32(0, 0x0001_0001); // MinorVersion / MajorVersion of the PRCB
    p.u64(8, sys.eprocess + 0x1000); // CurrentThread
    f.put(prcb, p.as_slice());
    let process = f.len();
    let ep = m
        .read(sys.eprocess, EPROCESS_SIZE)
        .ok_or_else(|| GenError::new("EPROCESS not mapped"))?;
    f.put(process, &ep);
    let thread = f.len();
    let mut th = Buf::zeroed(ETHREAD_SIZE);
    th.u8(0, 6); // ThreadObject
    th.u64(0x220, sys.eprocess);
    f.put(thread, th.as_slice());
    // Call stack from the stack pointer to the stack end.
    let stack = f.len();
    let sp = sys.regs.sp;
    let stack_len = sys.stack_end.saturating_sub(sp) as usize;
    let stack_bytes = m
        .read(sp, stack_len)
        .ok_or_else(|| GenError::new("stack not mapped"))?;
    f.put(stack, &stack_bytes);
    f.align(8);
    // KDBG copy (plain, never encoded).
    let kd = f.len();
    f.put(kd, &sys.kdbg);
    f.align(8);
    // Driver list; the string pool follows it.
    let drivers = f.len();
    let count = sys.modules.len();
    let pool = drivers + 0x90 * count;
    let mut strings = Buf::new();
    for (i, md) in sys.modules.iter().enumerate() {
        let name_off = pool + strings.len();
        strings.u32(strings.len(), md.path.encode_utf16().count() as u32);
        strings.append(&utf16(&md.path));
        strings.append(&[0, 0]);
        strings.align(8);
        let entry = sys.entries.get(i).copied().unwrap_or(0);
        let flink = sys
            .entries
            .get(i + 1)
            .copied()
            .unwrap_or(sys.ps_loaded_module_list);
        let blink = if i == 0 {
            sys.ps_loaded_module_list
        } else {
            sys.entries.get(i - 1).copied().unwrap_or(0)
        };
        let kldr = kldr_entry(
            8,
            md,
            EntryPtrs {
                flink,
                blink,
                full_buf: entry + 0xA0,
            },
        );
        let e = drivers + 0x90 * i;
        f.u32(e, name_off as u32);
        f.put(e + 8, kldr.get(..0x88).unwrap_or(&kldr));
    }
    f.put(pool, strings.as_slice());
    f.align(8);
    // Data blocks: the code around the faulting address and KiBugCheckData's neighbourhood.
    let key = sys.params.get(3).copied().unwrap_or(0);
    let blocks = [(key & !0xFF, 0x100usize), (sys.ps_loaded_module_list, 0x40)];
    let table = f.len();
    let mut data_off = table + 16 * blocks.len();
    let mut present = 0usize;
    for (va, size) in blocks {
        if let Some(bytes) = m.read(va, size) {
            let e = table + 16 * present;
            f.u64(e, va);
            f.u32(e + 8, data_off as u32);
            f.u32(e + 12, size as u32);
            f.put(data_off, &bytes);
            data_off += size;
            present += 1;
        }
    }
    f.align(8);
    let valid = f.len();
    f.put(valid, b"TRGD");
    let size = f.len();
    // TRIAGE_DUMP64.
    f.u32(t, 0);
    f.u32(t + 0x04, size as u32);
    f.u32(t + 0x08, valid as u32);
    f.u32(t + 0x0C, 0x348);
    f.u32(t + 0x10, 0xF00);
    f.u32(t + 0x14, mm as u32);
    f.u32(t + 0x18, ul as u32);
    f.u32(t + 0x1C, prcb as u32);
    f.u32(t + 0x20, process as u32);
    f.u32(t + 0x24, thread as u32);
    f.u32(t + 0x28, stack as u32);
    f.u32(t + 0x2C, stack_len as u32);
    f.u32(t + 0x30, drivers as u32);
    f.u32(t + 0x34, count as u32);
    f.u32(t + 0x38, pool as u32);
    f.u32(t + 0x3C, strings.len() as u32);
    f.u32(t + 0x40, 0);
    f.u32(t + 0x44, 0xFFFF_FFFF);
    f.u64(t + 0x48, sp);
    f.u64(t + 0x60, 0);
    f.u32(t + 0x70, kd as u32);
    f.u32(t + 0x74, sys.kdbg.len() as u32);
    f.u32(t + 0x78, table as u32);
    f.u32(t + 0x7C, present as u32);
    let mut o = opts.clone();
    o.minidump_fields = Some(TRIAGE_FIELDS);
    let info = header_info(sys, &o, false, size as u64);
    f.put(0, &header64(&info));
    Ok(f.into_vec())
}
