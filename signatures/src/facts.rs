//! Crash facts: what the analyzer extracted from a user-mode dump, as plain values.

use serde::Serialize;

/// A loaded module as the signature rules need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModuleFacts {
    /// The module's path or name exactly as the dump records it.
    pub path: String,
    /// Load address.
    pub base: u64,
    /// Size of the image in memory.
    pub size: u64,
    /// File version `a.b.c.d` from VS_FIXEDFILEINFO, if the dump carries one.
    pub version: Option<String>,
    /// PE TimeDateStamp.
    pub timestamp: u32,
}

impl ModuleFacts {
    /// The file name: the part after the last `\` or `/` of the recorded path.
    ///
    /// Minidumps record full paths (`C:\Windows\System32\ntdll.dll`); Linux minidumps record
    /// `/usr/lib/libc.so.6`. WER uses only the file name.
    pub fn file_name(&self) -> &str {
        file_name_of(&self.path)
    }

    /// True when `address` lies inside `[base, base + size)`.
    pub fn contains(&self, address: u64) -> bool {
        address >= self.base && address - self.base < self.size
    }
}

/// The part of `path` after its last `\` or `/`.
pub fn file_name_of(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Kind of memory access that raised an access violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessKind {
    /// The instruction read the data address.
    Read,
    /// The instruction wrote the data address.
    Write,
    /// The CPU fetched an instruction from a non-executable page (DEP).
    Execute,
}

/// The exception record of the crashing thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExceptionFacts {
    /// NTSTATUS-style exception code.
    pub code: u32,
    /// ExceptionFlags.
    pub flags: u32,
    /// ExceptionAddress as recorded (0 happens: `invalid-parameter.dmp`).
    pub address: u64,
    /// ExceptionInformation[0..NumberParameters].
    pub parameters: Vec<u64>,
}

impl ExceptionFacts {
    /// For an access violation (or in-page error): the access kind and the data address.
    pub fn access(&self) -> Option<(AccessKind, u64)> {
        if self.code != 0xC000_0005 && self.code != 0xC000_0006 {
            return None;
        }
        let kind = match self.parameters.first()? {
            0 => AccessKind::Read,
            1 => AccessKind::Write,
            8 => AccessKind::Execute,
            _ => return None,
        };
        Some((kind, *self.parameters.get(1)?))
    }
}

/// One frame of the crashing thread's stack, as far as the walker and symbols got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrameFacts {
    /// Instruction address of the frame.
    pub instruction: u64,
    /// Function name when symbols resolved it.
    pub function: Option<String>,
}

/// Everything the user-mode signature rules look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserCrashFacts {
    /// True for a 32-bit process (offsets are 8 hex digits, addresses truncated to 32 bits).
    pub is_32bit: bool,
    /// Modules in the order of the module list; the first is the main executable.
    pub modules: Vec<ModuleFacts>,
    /// The exception, or `None` for a dump without an exception stream (a hang report).
    pub exception: Option<ExceptionFacts>,
    /// Instruction pointer of the crashing thread's context: the fallback when
    /// ExceptionAddress is 0, and the faulting instruction when
    /// [`UserCrashFacts::exception_address_is_data`].
    pub context_instruction: Option<u64>,
    /// The dump's writer records the faulting *data* address in ExceptionAddress: Breakpad and
    /// Crashpad on Linux, Android and macOS (`docs/minidump-platforms.md`). The instruction is
    /// then the crashing thread's context IP.
    pub exception_address_is_data: bool,
    /// Frames of the crashing thread from the top, empty when the stack was not walked.
    pub frames: Vec<FrameFacts>,
    /// The function at the fault address from one symbol lookup, for when frame 0 of a walk is
    /// not the fault address or there was no walk: the bucket names the same function on
    /// every path.
    pub fault_function: Option<String>,
    /// The faulting read or write went through a base register holding NULL (the faulting
    /// instruction decoded against the exception context): the debugger's `NULL_CLASS_PTR_*`.
    pub null_class_pointer: bool,
}

impl UserCrashFacts {
    /// The module containing `address`, if any.
    pub fn module_at(&self, address: u64) -> Option<&ModuleFacts> {
        self.modules.iter().find(|m| m.contains(address))
    }

    /// The main executable (the first module of the list).
    pub fn main_module(&self) -> Option<&ModuleFacts> {
        self.modules.first()
    }

    /// Truncates an address to the process pointer width.
    pub fn pointer(&self, address: u64) -> u64 {
        if self.is_32bit {
            address & 0xFFFF_FFFF
        } else {
            address
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_name_handles_both_separators() {
        assert_eq!(file_name_of(r"C:\Windows\System32\ntdll.dll"), "ntdll.dll");
        assert_eq!(file_name_of("/usr/lib/libc.so.6"), "libc.so.6");
        assert_eq!(file_name_of(r"..\..\evil.dll"), "evil.dll");
        assert_eq!(file_name_of("plain.exe"), "plain.exe");
        assert_eq!(file_name_of(r"C:\apps\.."), "..");
    }

    #[test]
    fn contains_is_half_open_and_overflow_safe() {
        let m = ModuleFacts {
            path: "a".into(),
            base: u64::MAX - 4,
            size: 0x10,
            version: None,
            timestamp: 0,
        };
        assert!(m.contains(u64::MAX));
        assert!(!m.contains(0));
        let n = ModuleFacts {
            base: 0x1000,
            size: 0x100,
            ..m
        };
        assert!(n.contains(0x1000) && n.contains(0x10ff) && !n.contains(0x1100));
    }
}
