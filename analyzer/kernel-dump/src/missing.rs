//! [`Missing`]: what a dump does not hold or holds damaged, as values. The report lists each in
//! the words of its `Display`; code that needs to know (tests, a later rule) matches the
//! variant instead of parsing the words.

use std::fmt;

use crate::error::KernelError;

/// One part of a dump that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// `EncryptedDumpData` is set: only the header can be read.
    Encrypted {
        /// Offset of the Attributes field.
        attributes_offset: u64,
    },
    /// The triage data could not be parsed.
    TriageData(KernelError),
    /// The context record is not readable for the dump's machine.
    Context {
        /// Its offset.
        offset: u64,
        /// MachineImageType.
        machine: u32,
    },
    /// The run list's page counts overflow.
    RunCountsOverflow,
    /// Page data of a run-list dump past the end of the file.
    RunPagesTruncated {
        /// Pages present.
        present: u64,
        /// Pages the runs describe.
        total: u64,
        /// Runs cut.
        runs_cut: usize,
        /// File length.
        file_len: u64,
    },
    /// One cut run.
    RunTruncated {
        /// Run index.
        index: usize,
        /// First PFN of the run.
        base_page: u64,
        /// Pages in the run.
        page_count: u64,
        /// Pages lost.
        lost: u64,
    },
    /// More cut runs than are listed one by one.
    MoreRunsTruncated(usize),
    /// Page data of a bitmap dump past the end of the file.
    BitmapPagesTruncated {
        /// Pages present.
        present: u64,
        /// Pages the bitmap describes.
        total: u64,
        /// File length.
        file_len: u64,
    },
    /// NumberOfRuns exceeds what the header holds.
    TooManyRuns {
        /// NumberOfRuns.
        declared: u32,
        /// Runs the header holds.
        held: usize,
    },
    /// NumberOfPages differs from the run total.
    PageCountMismatch {
        /// NumberOfPages.
        declared: u64,
        /// Sum of the runs.
        runs: u64,
    },
    /// A bitmap dump header without its signature.
    BitmapSignature {
        /// Header offset.
        offset: u64,
    },
    /// A DumpType with no known page layout.
    UnknownDumpType(u32),
    /// The page bitmap could not be read.
    PageBitmap(KernelError),
    /// A page-data sub-header lies past the end of the file.
    SubHeaderBeyondEnd {
        /// Which header.
        what: &'static str,
        /// Its offset.
        offset: u64,
    },
    /// An RDMP range list runs past the end of the file.
    RangeListBeyondEnd {
        /// Where it stopped.
        offset: u64,
    },
    /// A triage dump shorter than SizeOfDump.
    TriageTruncated {
        /// SizeOfDump.
        size_of_dump: u32,
        /// File length.
        file_len: u64,
    },
    /// No `TRGD` marker at ValidOffset.
    TriageEndMarker {
        /// ValidOffset.
        valid_offset: u32,
    },
    /// A saved triage region (stack, data page, KDBG copy) cut by the end of the file.
    TriageRegion {
        /// Which region.
        what: &'static str,
        /// Its VA.
        va: u64,
        /// Bytes lost.
        lost: u64,
        /// Its size.
        size: u64,
        /// Its file offset.
        offset: u64,
    },
    /// Triage data blocks past the end of the file.
    DataBlocks {
        /// Blocks cut.
        count: u64,
        /// Bytes lost.
        bytes: u64,
    },
    /// Triage driver list entries past the end of the file.
    DriverList {
        /// List offset.
        start: u64,
        /// Entries lost.
        lost: u64,
        /// Entries declared.
        count: u64,
    },
    /// Driver names past the end of the string pool.
    DriverNames {
        /// Drivers without a name.
        unnamed: u64,
        /// String pool offset.
        pool: u32,
    },
    /// The unloaded driver list lies past the end of the file.
    UnloadedList {
        /// List offset.
        start: u64,
    },
    /// Fewer unloaded drivers readable than counted.
    UnloadedListShort {
        /// List offset.
        start: u64,
        /// Entries declared.
        count: u64,
        /// Entries readable.
        readable: u64,
    },
    /// Data block table entries past the end of the file.
    DataBlockTable {
        /// Table offset.
        start: u64,
        /// Entries lost.
        lost: u64,
        /// Entries declared.
        count: u64,
    },
    /// No loaded-module list head anywhere.
    ModuleListHead,
    /// The `PsLoadedModuleList` walk stopped early.
    ModuleListWalk {
        /// List head.
        head: u64,
        /// Entries read.
        entries: usize,
        /// Why it stopped.
        error: KernelError,
    },
    /// The stack at SP is not readable.
    Stack {
        /// SP.
        sp: u64,
        /// Why.
        error: KernelError,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Encrypted { attributes_offset } => write!(
                f,
                "all page data: the dump is encrypted (Attributes at {attributes_offset:#x} has EncryptedDumpData); only the header was analyzed"
            ),
            Missing::TriageData(e) => write!(f, "triage data: {e}"),
            Missing::Context { offset, machine } => write!(
                f,
                "context record at {offset:#x}: unreadable for machine {machine:#x}"
            ),
            Missing::RunCountsOverflow => {
                f.write_str("run list page counts overflow: later runs ignored")
            }
            Missing::RunPagesTruncated {
                present,
                total,
                runs_cut,
                file_len,
            } => write!(
                f,
                "page data truncated: {:#x} of {total:#x} pages present, {:#x} pages ({runs_cut} runs) beyond end of file at {file_len:#x}",
                (*present).min(*total),
                total.saturating_sub(*present),
            ),
            Missing::RunTruncated {
                index,
                base_page,
                page_count,
                lost,
            } => write!(
                f,
                "run {index} (PFN {base_page:#x}..{:#x}): {lost:#x} of {page_count:#x} pages beyond end of file (from PFN {:#x})",
                base_page.saturating_add(*page_count),
                base_page.saturating_add(page_count.saturating_sub(*lost)),
            ),
            Missing::MoreRunsTruncated(n) => write!(f, "... and {n} more runs beyond end of file"),
            Missing::BitmapPagesTruncated {
                present,
                total,
                file_len,
            } => write!(
                f,
                "page data truncated: {present:#x} of {total:#x} pages present, {:#x} pages beyond end of file at {file_len:#x}",
                total.saturating_sub(*present)
            ),
            Missing::TooManyRuns { declared, held } => write!(
                f,
                "NumberOfRuns {declared} exceeds the {held} runs the header can hold: the rest are unknown"
            ),
            Missing::PageCountMismatch { declared, runs } => write!(
                f,
                "NumberOfPages {declared:#x} differs from the run total {runs:#x}"
            ),
            Missing::BitmapSignature { offset } => write!(
                f,
                "bitmap dump header at {offset:#x} lacks the SDMP/FDMP DUMP signature: page data may be wrong"
            ),
            Missing::UnknownDumpType(t) => write!(f, "page data: unknown DumpType {t:#x}"),
            Missing::PageBitmap(e) => write!(f, "all page data: {e}"),
            Missing::SubHeaderBeyondEnd { what, offset } => write!(
                f,
                "all page data: the {what} at {offset:#x} is beyond end of file"
            ),
            Missing::RangeListBeyondEnd { offset } => {
                write!(f, "RDMP range list beyond end of file at {offset:#x}")
            }
            Missing::TriageTruncated {
                size_of_dump,
                file_len,
            } => write!(
                f,
                "triage dump truncated: SizeOfDump is {size_of_dump:#x} but the file ends at {file_len:#x}"
            ),
            Missing::TriageEndMarker { valid_offset } => write!(
                f,
                "triage end marker TRGD not found at ValidOffset {valid_offset:#x}"
            ),
            Missing::TriageRegion {
                what,
                va,
                lost,
                size,
                offset,
            } => write!(
                f,
                "{what} at VA {va:#x}: {lost:#x} of {size:#x} bytes beyond end of file (file offset {offset:#x})"
            ),
            Missing::DataBlocks { count, bytes } => write!(
                f,
                "{count} data blocks ({bytes:#x} bytes) beyond end of file"
            ),
            Missing::DriverList { start, lost, count } => write!(
                f,
                "driver list at {start:#x}: {lost} of {count} entries beyond end of file"
            ),
            Missing::DriverNames { unnamed, pool } => write!(
                f,
                "names of {unnamed} drivers: beyond end of file (string pool at {pool:#x})"
            ),
            Missing::UnloadedList { start } => write!(
                f,
                "unloaded driver list at {start:#x}: beyond end of file"
            ),
            Missing::UnloadedListShort {
                start,
                count,
                readable,
            } => write!(
                f,
                "unloaded driver list at {start:#x}: count {count} but only {readable} entries readable"
            ),
            Missing::DataBlockTable { start, lost, count } => write!(
                f,
                "data block table at {start:#x}: {lost} of {count} entries beyond end of file"
            ),
            Missing::ModuleListHead => f.write_str(
                "loaded modules: no PsLoadedModuleList in the header or a readable KDBG block",
            ),
            Missing::ModuleListWalk {
                head,
                entries,
                error,
            } => write!(
                f,
                "loaded modules: walk of PsLoadedModuleList {head:#x} stopped after {entries} entries: {error}"
            ),
            Missing::Stack { sp, error } => write!(f, "stack at SP {sp:#x}: {error}"),
        }
    }
}

/// Written as its words: the JSON schema lists what is missing as sentences.
impl serde::Serialize for Missing {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
