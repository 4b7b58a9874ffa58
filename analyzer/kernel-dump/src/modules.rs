//! Loaded kernel modules: the `PsLoadedModuleList` walk, PE enrichment and address lookup.
//!
//! Full, summary and bitmap dumps keep the module list only in kernel memory, as a circular
//! LIST_ENTRY of LDR_DATA_TABLE_ENTRY records reached through virtual memory. The walk is
//! bounded (visited set, entry cap, string-length cap) because the list in a crash dump may be
//! corrupt: a loop that never returns to the head ends with an error and the entries read so far.
//! Triage dumps carry a flat driver list instead (see `triage.rs`); both end up as
//! [`LoadedModule`]s.

use std::collections::HashSet;

use serde::Serialize;

use super::bytes::utf16_lossy;
use super::error::KernelError;
use super::header::Width;
use super::pe::{read_pe_info, CodeViewId};
use super::triage::TriageDriver;
use super::virtual_memory::VirtualRead;

/// Most modules a walk reads before it gives up.
pub const MAX_MODULES: usize = 4096;
/// Longest UNICODE_STRING read, in bytes.
const MAX_STRING_BYTES: u16 = 1024;

/// A loaded kernel module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedModule {
    /// File name (`amdppm.sys`).
    pub name: String,
    /// Full path as the kernel recorded it.
    pub path: String,
    /// DllBase.
    pub base: u64,
    /// SizeOfImage.
    pub size: u64,
    /// PE TimeDateStamp, when known.
    pub timestamp: Option<u32>,
    /// PE CheckSum, when known.
    pub checksum: Option<u32>,
    /// File version from the version resource, when its pages are in the dump.
    pub file_version: Option<String>,
    /// CodeView debug id, when its pages are in the dump.
    pub codeview: Option<CodeViewId>,
}

impl LoadedModule {
    /// One past the module's last byte (saturating).
    pub fn end(&self) -> u64 {
        self.base.saturating_add(self.size)
    }

    /// Whether `addr` lies inside the module.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr < self.end()
    }

    /// A module from a triage driver-list entry.
    pub fn from_triage(d: &TriageDriver) -> LoadedModule {
        LoadedModule {
            name: file_name(&d.name).to_string(),
            path: d.name.clone(),
            base: d.base,
            size: d.size,
            timestamp: Some(d.timestamp),
            checksum: Some(d.checksum),
            file_version: None,
            codeview: None,
        }
    }

    /// Fills timestamp, checksum, debug id and version from the image's PE headers when they
    /// are readable; the list's own values are kept when the headers are not.
    pub fn enrich(&mut self, mem: &dyn VirtualRead) {
        if let Ok(pe) = read_pe_info(mem, self.base) {
            self.timestamp = Some(pe.timestamp);
            self.checksum = Some(pe.checksum);
            if self.size == 0 {
                self.size = u64::from(pe.size_of_image);
            }
            self.file_version = pe.file_version;
            self.codeview = pe.codeview;
        }
    }
}

/// The last path component.
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Reads a UNICODE_STRING at `va`; an unreadable buffer gives `None`.
fn unicode_string(mem: &dyn VirtualRead, va: u64, width: Width) -> Option<String> {
    let len = mem.read_u16(va).ok()?.min(MAX_STRING_BYTES) & !1;
    let buffer = match width {
        Width::Bits64 => mem.read_u64(va.wrapping_add(8)).ok()?,
        Width::Bits32 => u64::from(mem.read_u32(va.wrapping_add(4)).ok()?),
    };
    if len == 0 || buffer == 0 {
        return None;
    }
    let mut bytes = vec![0u8; usize::from(len)];
    mem.read_virtual(buffer, &mut bytes).ok()?;
    Some(utf16_lossy(&bytes))
}

/// Walks the LDR_DATA_TABLE_ENTRY list whose head is at `head`. Returns the modules read and,
/// when the walk stopped early, why.
pub fn walk_module_list(
    mem: &dyn VirtualRead,
    head: u64,
    width: Width,
) -> (Vec<LoadedModule>, Option<KernelError>) {
    let ptr64 = width == Width::Bits64;
    let (dll_base, size_of_image, full_name, base_name) = if ptr64 {
        (0x30u64, 0x40u64, 0x48u64, 0x58u64)
    } else {
        (0x18, 0x20, 0x24, 0x2C)
    };
    let mut modules = Vec::new();
    let mut visited = HashSet::new();
    let mut cur = match mem.read_ptr(head, ptr64) {
        Ok(flink) => flink,
        Err(e) => return (modules, Some(e)),
    };
    while cur != head {
        if modules.len() >= MAX_MODULES || !visited.insert(cur) {
            let err = KernelError::RunawayList {
                what: "PsLoadedModuleList",
                va: cur,
                count: modules.len(),
            };
            return (modules, Some(err));
        }
        let entry = (|| -> Result<(LoadedModule, u64), KernelError> {
            let next = mem.read_ptr(cur, ptr64)?;
            let base = mem.read_ptr(cur.wrapping_add(dll_base), ptr64)?;
            let size = u64::from(mem.read_u32(cur.wrapping_add(size_of_image))?);
            let path = unicode_string(mem, cur.wrapping_add(full_name), width).unwrap_or_default();
            let name = unicode_string(mem, cur.wrapping_add(base_name), width)
                .unwrap_or_else(|| file_name(&path).to_string());
            let module = LoadedModule {
                name,
                path,
                base,
                size,
                timestamp: None,
                checksum: None,
                file_version: None,
                codeview: None,
            };
            Ok((module, next))
        })();
        match entry {
            Ok((module, next)) => {
                modules.push(module);
                cur = next;
            }
            Err(e) => return (modules, Some(e)),
        }
    }
    (modules, None)
}

/// Address -> module lookup over modules sorted by base.
#[derive(Debug, Clone)]
pub struct ModuleIndex {
    /// (base, end, index into the module list), sorted by base.
    ranges: Vec<(u64, u64, usize)>,
}

impl ModuleIndex {
    /// Indexes `modules` (empty modules are skipped).
    pub fn new(modules: &[LoadedModule]) -> ModuleIndex {
        let mut ranges: Vec<(u64, u64, usize)> = modules
            .iter()
            .enumerate()
            .filter(|(_, m)| m.size > 0)
            .map(|(i, m)| (m.base, m.end(), i))
            .collect();
        ranges.sort_unstable();
        ModuleIndex { ranges }
    }

    /// Index of the module containing `addr`.
    pub fn find(&self, addr: u64) -> Option<usize> {
        let pos = self.ranges.partition_point(|r| r.0 <= addr);
        // Overlapping (corrupt) entries: look back a little for one that contains addr.
        self.ranges
            .get(..pos)?
            .iter()
            .rev()
            .take(4)
            .find(|r| addr < r.1)
            .map(|r| r.2)
    }
}

/// A pointer-sized stack value that lies inside a module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackHit {
    /// Where on the stack it was found.
    pub stack_address: u64,
    /// The value (a likely return address).
    pub value: u64,
    /// Index into the module list.
    pub module: usize,
}

/// Scans `stack` (saved at VA `stack_va`) from `from` upward for values inside modules.
pub fn scan_stack(
    stack: &[u8],
    stack_va: u64,
    from: u64,
    ptr64: bool,
    index: &ModuleIndex,
) -> Vec<StackHit> {
    let step = if ptr64 { 8 } else { 4 };
    let skip = from
        .checked_sub(stack_va)
        .filter(|s| *s < stack.len() as u64)
        .unwrap_or(0);
    let skip = usize::try_from(skip).unwrap_or(0);
    let skip = skip - skip % step;
    let mut hits = Vec::new();
    let body = stack.get(skip..).unwrap_or(&[]);
    for (i, chunk) in body.chunks_exact(step).enumerate() {
        let value = match chunk {
            [a, b, c, d, e, f, g, h] => u64::from_le_bytes([*a, *b, *c, *d, *e, *f, *g, *h]),
            [a, b, c, d] => u64::from(u32::from_le_bytes([*a, *b, *c, *d])),
            _ => continue,
        };
        if let Some(module) = index.find(value) {
            hits.push(StackHit {
                stack_address: stack_va.wrapping_add((skip + i * step) as u64),
                value,
                module,
            });
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Sparse virtual memory.
    #[derive(Default)]
    struct FakeVm(HashMap<u64, u8>);

    impl FakeVm {
        fn put(&mut self, va: u64, bytes: &[u8]) {
            for (i, b) in bytes.iter().enumerate() {
                self.0.insert(va + i as u64, *b);
            }
        }
        fn put_str(&mut self, at: u64, buffer: u64, s: &str) {
            let units: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
            self.put(at, &(units.len() as u16).to_le_bytes());
            self.put(at + 2, &(units.len() as u16).to_le_bytes());
            self.put(at + 8, &buffer.to_le_bytes());
            self.put(buffer, &units);
        }
    }

    impl VirtualRead for FakeVm {
        fn read_virtual(&self, va: u64, buf: &mut [u8]) -> Result<(), KernelError> {
            for (i, slot) in buf.iter_mut().enumerate() {
                let a = va + i as u64;
                *slot = *self
                    .0
                    .get(&a)
                    .ok_or(KernelError::VirtualNotInDump { va: a })?;
            }
            Ok(())
        }
    }

    fn entry(vm: &mut FakeVm, at: u64, next: u64, base: u64, size: u32, name: &str) {
        vm.put(at, &next.to_le_bytes());
        vm.put(at + 0x30, &base.to_le_bytes());
        vm.put(at + 0x40, &size.to_le_bytes());
        vm.put_str(
            at + 0x48,
            at + 0x200,
            &format!("\\SystemRoot\\system32\\{name}"),
        );
        vm.put_str(at + 0x58, at + 0x400, name);
    }

    #[test]
    fn walks_list_and_stops_on_loops() {
        let head = 0x1000u64;
        let mut vm = FakeVm::default();
        vm.put(head, &0x2000u64.to_le_bytes());
        entry(&mut vm, 0x2000, 0x3000, 0xF000_0000, 0x1000, "ntoskrnl.exe");
        entry(&mut vm, 0x3000, head, 0xF100_0000, 0x2000, "hal.dll");
        let (mods, err) = walk_module_list(&vm, head, Width::Bits64);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(mods.len(), 2);
        assert_eq!(mods[1].name, "hal.dll");
        assert_eq!(mods[1].path, "\\SystemRoot\\system32\\hal.dll");
        let idx = ModuleIndex::new(&mods);
        assert_eq!(idx.find(0xF100_1FFF), Some(1));
        assert_eq!(idx.find(0xF100_2000), None);
        // A loop that never returns to the head.
        entry(&mut vm, 0x3000, 0x2000, 0xF100_0000, 0x2000, "hal.dll");
        let (mods, err) = walk_module_list(&vm, head, Width::Bits64);
        assert_eq!(mods.len(), 2);
        assert!(matches!(err, Some(KernelError::RunawayList { .. })));
        // A broken link.
        entry(&mut vm, 0x3000, 0x9000, 0xF100_0000, 0x2000, "hal.dll");
        let (mods, err) = walk_module_list(&vm, head, Width::Bits64);
        assert_eq!(mods.len(), 2);
        assert!(matches!(err, Some(KernelError::VirtualNotInDump { .. })));
    }

    #[test]
    fn stack_scan_finds_module_addresses() {
        let mods = vec![LoadedModule::from_triage(&TriageDriver {
            name: "\\x\\a.sys".into(),
            base: 0x1000,
            size: 0x100,
            checksum: 0,
            timestamp: 0,
        })];
        assert_eq!(mods[0].name, "a.sys");
        let idx = ModuleIndex::new(&mods);
        let mut stack = Vec::new();
        for v in [0x10u64, 0x1010, 0x2000, 0x10FF] {
            stack.extend(v.to_le_bytes());
        }
        let hits = scan_stack(&stack, 0x8000, 0x8008, true, &idx);
        assert_eq!(hits.len(), 2);
        assert_eq!((hits[0].stack_address, hits[0].value), (0x8008, 0x1010));
        assert_eq!(hits[1].value, 0x10FF);
    }
}
