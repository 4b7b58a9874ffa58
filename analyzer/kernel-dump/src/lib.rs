//! Our own reader for Windows kernel crash dumps (`PAGEDUMP` / `PAGEDU64`).
//!
//! Why our own: the analysis needs facts no existing crate gives together and safely on hostile
//! input: the header in both widths, every page-data layout (run lists, summary and bitmap
//! dumps, triage dumps), address translation for x64, PAE and non-PAE, the loaded-module list
//! with PE details, and a clear account of what a truncated dump is missing. Everything is
//! zero-copy over one `&[u8]` (the caller's memory map); memory use grows with the number of runs
//! or bitmap words, never with the number of pages. Layouts follow `shared/spec/kernel-dumps.md`.
//!
//! Entry point: [`KernelDump::parse`]. Only an unusable header is an error; everything else
//! parses, with what could not be read listed by [`KernelDump::missing`]. What the facts mean
//! (attribution, buckets, reports) is decided elsewhere: this crate only reads.

mod bytes;
pub use bytes::{set32, UNSET32, UNSET64};
pub mod context;
pub mod error;
pub mod header;
pub mod missing;
pub mod modules;
pub mod pe;
pub mod pe_file;
pub mod physical;
pub mod process;
pub mod triage;
pub mod virtual_memory;

pub use context::{Context, ExceptionRecord};
pub use error::KernelError;
pub use header::{DumpHeader, Width};
pub use missing::Missing;
pub use modules::LoadedModule;
pub use physical::PhysicalMemory;
pub use triage::TriageDump;
pub use virtual_memory::{Paging, VirtualRead};

use header::ATTRIBUTE_ENCRYPTED;
use triage::TriageMemory;
use virtual_memory::PagedMemory;

/// A parsed kernel dump borrowing the file bytes.
#[derive(Debug, Clone)]
pub struct KernelDump<'a> {
    data: &'a [u8],
    header: DumpHeader,
    context: Option<Context>,
    exception: Option<ExceptionRecord>,
    physical: PhysicalMemory<'a>,
    triage: Option<TriageDump<'a>>,
    paging: Paging,
    missing: Vec<Missing>,
}

/// Virtual memory of a dump: page tables, saved triage regions, or nothing.
#[derive(Debug, Clone)]
pub enum DumpMemory<'d, 'a> {
    /// Full, summary, bitmap dumps.
    Paged(PagedMemory<'d, PhysicalMemory<'a>>),
    /// Triage dumps.
    Triage(&'d TriageMemory<'a>),
    /// No readable memory, and why.
    None(&'d PhysicalMemory<'a>),
}

impl VirtualRead for DumpMemory<'_, '_> {
    fn read_virtual(&self, va: u64, buf: &mut [u8]) -> Result<(), KernelError> {
        match self {
            DumpMemory::Paged(m) => m.read_virtual(va, buf),
            DumpMemory::Triage(m) => m.read_virtual(va, buf),
            // An empty physical memory explains itself in its error.
            DumpMemory::None(p) => p
                .page(0)
                .map(|_| ())
                .and(Err(KernelError::VirtualNotInDump { va })),
        }
    }
}

impl<'a> KernelDump<'a> {
    /// Parses the header and locates the page data. Fails only for an unusable header.
    pub fn parse(data: &'a [u8]) -> Result<KernelDump<'a>, KernelError> {
        let header = DumpHeader::parse(data)?;
        let ptr64 = header.width == Width::Bits64;
        let mut missing = Vec::new();
        let encrypted = header
            .attributes
            .is_some_and(|a| a & ATTRIBUTE_ENCRYPTED != 0);
        let attr_offset = if ptr64 { 0x1050 } else { 0x8A0 };
        let (physical, triage) = if encrypted {
            missing.push(Missing::Encrypted {
                attributes_offset: attr_offset,
            });
            let pm = PhysicalMemory::none(data, attr_offset, "the dump's page data is encrypted");
            (pm, None)
        } else if header.dump_type == 4 {
            let pm = PhysicalMemory::from_dump(data, &header);
            match TriageDump::parse(data, &header) {
                Ok(t) => (pm, Some(t)),
                Err(e) => {
                    missing.push(Missing::TriageData(e));
                    (pm, None)
                }
            }
        } else {
            (PhysicalMemory::from_dump(data, &header), None)
        };
        let context_offset = triage
            .as_ref()
            .map(|t| u64::from(t.header.context_offset))
            .filter(|&o| o != 0)
            .unwrap_or(header.context_offset);
        let context = Context::parse(data, context_offset, header.machine_image_type);
        if context.is_none() {
            missing.push(Missing::Context {
                offset: context_offset,
                machine: header.machine_image_type,
            });
        }
        let exception = ExceptionRecord::parse(data, header.exception_offset, ptr64)
            .filter(|e| e.code != bytes::UNSET32);
        let paging = Paging::for_machine(
            header.machine_image_type,
            header.directory_table_base,
            header.pae_enabled,
        );
        Ok(KernelDump {
            data,
            header,
            context,
            exception,
            physical,
            triage,
            paging,
            missing,
        })
    }

    /// The file bytes.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The header.
    pub fn header(&self) -> &DumpHeader {
        &self.header
    }

    /// The crash context, when decodable.
    pub fn context(&self) -> Option<&Context> {
        self.context.as_ref()
    }

    /// The header's exception record, when written.
    pub fn exception(&self) -> Option<&ExceptionRecord> {
        self.exception.as_ref()
    }

    /// Physical memory (empty for triage and header-only dumps).
    pub fn physical(&self) -> &PhysicalMemory<'a> {
        &self.physical
    }

    /// The triage part (DumpType 4).
    pub fn triage(&self) -> Option<&TriageDump<'a>> {
        self.triage.as_ref()
    }

    /// The paging mode used for virtual reads.
    pub fn paging(&self) -> Paging {
        self.paging
    }

    /// Virtual memory of the dump.
    pub fn memory(&self) -> DumpMemory<'_, 'a> {
        if let Some(t) = &self.triage {
            DumpMemory::Triage(&t.memory)
        } else if self.physical.has_pages() {
            DumpMemory::Paged(PagedMemory {
                paging: self.paging,
                memory: &self.physical,
            })
        } else {
            DumpMemory::None(&self.physical)
        }
    }

    /// Reads virtual memory.
    pub fn read_virtual(&self, va: u64, buf: &mut [u8]) -> Result<(), KernelError> {
        self.memory().read_virtual(va, buf)
    }

    /// Everything the parse found missing (page data, triage parts, context).
    pub fn missing(&self) -> Vec<Missing> {
        let mut all = self.missing.clone();
        all.extend(self.physical.missing().iter().cloned());
        if let Some(t) = &self.triage {
            all.extend(t.missing.iter().cloned());
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parsed dump can be shared by the threads of a batch.
    #[test]
    fn kernel_dump_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<KernelDump<'static>>();
        check::<PhysicalMemory<'static>>();
        check::<TriageDump<'static>>();
    }

    /// Hostile bytes are an error or a partial dump, never a panic.
    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"PAGE", b"PAGEDU64", b"PAGEDUMP\0\0\0\0"] {
            assert!(KernelDump::parse(bytes).is_err());
        }
    }
}
