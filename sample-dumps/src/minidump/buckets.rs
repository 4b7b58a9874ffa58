//! Minidumps made to order for the failure-bucket grammar: one crash of a named process in a
//! named module, with the exception code and parameters a bucket class needs, Application
//! Verifier loaded or not, and a Breakpad symbol file naming the faulting function when the
//! bucket names one. The tests derive each case from a published `!analyze` row and check that
//! the analysis gives that row's bucket and hash.

use super::{Arch, DumpSpec, ExceptionSpec, ModuleSpec, OsVersion, PdbSpec, ThreadSpec};

/// Where the fault is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultSite {
    /// In the module of this file name (the process's executable when it is `app`).
    Module(String),
    /// In no module at all.
    Nowhere,
}

/// One crash to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketCase {
    /// The process's executable file name (`AccessV.exe`).
    pub app: String,
    /// Where the faulting instruction is.
    pub site: FaultSite,
    /// ExceptionCode.
    pub code: u32,
    /// ExceptionInformation; the fault address stands in for `None` entries.
    pub parameters: Vec<Option<u64>>,
    /// The faulting function, written to a Breakpad symbol file for the faulting module.
    pub function: Option<String>,
    /// Load `verifier.dll` (Application Verifier).
    pub verifier: bool,
    /// The faulting instruction's bytes, captured in the memory list (the context's rcx and
    /// the other general registers but the stack pointer are 0).
    pub instruction: Option<Vec<u8>>,
}

/// A generated case: the dump, and the symbol file (`<pdb>/<id>/<stem>.sym`, text) if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketDump {
    /// The minidump.
    pub bytes: Vec<u8>,
    /// Path below a symbol folder and the Breakpad text.
    pub symbols: Option<(String, String)>,
}

const EXE_BASE: u64 = 0x0000_7FF6_1000_0000;
const DLL_BASE: u64 = 0x0000_7FFA_2000_0000;
const VERIFIER_BASE: u64 = 0x0000_7FFA_3000_0000;
const IMAGE_SIZE: u32 = 0x10_0000;
/// The faulting instruction's offset in its module (inside the one FUNC of the symbols).
const FAULT_RVA: u64 = 0x1234;
/// A faulting instruction outside every module.
const NOWHERE: u64 = 0x0000_0000_5555_0000;
const THREAD: u32 = 0x1F04;

fn pdb_for(file: &str) -> PdbSpec {
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    // A GUID that depends on the name only: the same case gives the same bytes.
    let mut guid = [0u8; 16];
    for (i, b) in file.bytes().enumerate() {
        if let Some(g) = guid.get_mut(i % 16) {
            *g = g.wrapping_mul(31).wrapping_add(b);
        }
    }
    PdbSpec {
        name: format!("{stem}.pdb"),
        guid,
        age: 1,
    }
}

fn module(file: &str, base: u64) -> ModuleSpec {
    ModuleSpec {
        path: format!(r"C:\Program Files\Case\{file}"),
        base,
        size: IMAGE_SIZE,
        version: Some([1, 0, 0, 0]),
        timestamp: 0x6000_0000,
        checksum: 0,
        is_exe: !file.to_ascii_lowercase().ends_with(".dll"),
        pdb: Some(pdb_for(file)),
    }
}

/// Builds the case.
pub fn bucket_dump(case: &BucketCase) -> BucketDump {
    let mut modules = vec![module(&case.app, EXE_BASE)];
    let faulting = match &case.site {
        FaultSite::Module(m) if m.eq_ignore_ascii_case(&case.app) => Some(0),
        FaultSite::Module(m) => {
            modules.push(module(m, DLL_BASE));
            Some(1)
        }
        FaultSite::Nowhere => None,
    };
    if case.verifier {
        modules.push(module("verifier.dll", VERIFIER_BASE));
    }
    let ip = faulting
        .and_then(|i| modules.get(i))
        .map_or(NOWHERE, |m| m.base + FAULT_RVA);
    let thread = ThreadSpec {
        id: THREAD,
        teb: 0x0000_00D5_6F4A_0000,
        ip,
        cx: 0,
        stack_start: 0x0000_00D5_6F8F_E000,
        return_addresses: vec![EXE_BASE + 0x2000],
    };
    let spec = DumpSpec {
        arch: Arch::Amd64,
        os: OsVersion {
            major: 10,
            minor: 0,
            build: 19045,
        },
        processors: 4,
        process_id: 0x1234,
        process_create_time: 0x6000_0000,
        modules: modules.clone(),
        unloaded: Vec::new(),
        threads: vec![thread],
        exception: Some(ExceptionSpec {
            thread_id: THREAD,
            code: case.code,
            flags: 0,
            address: ip,
            parameters: case.parameters.iter().map(|p| p.unwrap_or(ip)).collect(),
        }),
        memory: case
            .instruction
            .iter()
            .map(|code| (ip, code.clone()))
            .collect(),
    };
    let symbols = case.function.as_ref().and_then(|function| {
        let m = modules.get(faulting?)?;
        let pdb = m.pdb.as_ref()?;
        let id = pdb.debug_id();
        let stem = pdb.name.trim_end_matches(".pdb");
        let text = format!(
            "MODULE windows x86_64 {id} {}\nFUNC {:x} 100 0 {function}\n",
            pdb.name,
            FAULT_RVA & !0xFF
        );
        Some((format!("{}/{id}/{stem}.sym", pdb.name), text))
    });
    BucketDump {
        bytes: super::build(&spec),
        symbols,
    }
}
