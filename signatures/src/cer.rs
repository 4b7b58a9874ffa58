//! The WER / CER signature tuple of a user-mode crash and its error subpath.

use serde::Serialize;

use crate::facts::{ModuleFacts, UserCrashFacts};
use crate::placeholder::{sanitize_name, sanitize_version};

/// ModName used when no module contains the faulting instruction.
pub const UNKNOWN_MODULE: &str = "unknown";
/// ModName of a hang report (a dump without an exception stream).
pub const HANG_MODULE: &str = "hungapp";
/// Version written when a module carries no VS_FIXEDFILEINFO.
pub const NO_VERSION: &str = "0.0.0.0";

/// Where the faulting instruction address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultLocation {
    /// The exception record's ExceptionAddress.
    ExceptionAddress,
    /// ExceptionAddress was 0; the crashing thread's context instruction pointer (frame 0).
    ContextInstruction,
    /// No exception stream: a hang-style signature with offset 0.
    NoException,
}

/// The application-fault tuple WER reports and CER files by.
///
/// Values are kept as the dump gives them; [`CerTuple::subpath_components`] sanitizes them for
/// use as directory names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CerTuple {
    /// File name of the main executable.
    pub app_name: String,
    /// File version of the main executable, `0.0.0.0` when it has none.
    pub app_ver: String,
    /// PE TimeDateStamp of the main executable, 8 lowercase hex digits.
    pub app_timestamp: String,
    /// File name of the module containing the faulting instruction (`unknown`, `hungapp`).
    pub mod_name: String,
    /// Its file version.
    pub mod_ver: String,
    /// Its PE TimeDateStamp, 8 lowercase hex digits.
    pub mod_timestamp: String,
    /// Exception code, 8 lowercase hex digits (`00000000` for a hang).
    pub exception_code: String,
    /// Offset of the faulting instruction in its module (or the raw address), zero-padded to
    /// the process pointer width.
    pub offset: String,
    /// The faulting instruction address the tuple was computed from.
    pub fault_address: u64,
    /// Where [`CerTuple::fault_address`] came from.
    pub fault_location: FaultLocation,
}

fn version_or_zero(module: Option<&ModuleFacts>) -> String {
    module
        .and_then(|m| m.version.clone())
        .unwrap_or_else(|| NO_VERSION.to_owned())
}

impl CerTuple {
    /// Derives the tuple from the crash facts, following `signatures.md` section 1.
    pub fn from_facts(facts: &UserCrashFacts) -> CerTuple {
        let main = facts.main_module();
        let app_name = main.map_or("", |m| m.file_name()).to_owned();
        let app_ver = version_or_zero(main);
        let app_timestamp = format!("{:08x}", main.map_or(0, |m| m.timestamp));
        let width = if facts.is_32bit { 8 } else { 16 };

        let Some(exception) = &facts.exception else {
            return CerTuple {
                app_name,
                app_ver,
                app_timestamp,
                mod_name: HANG_MODULE.to_owned(),
                mod_ver: NO_VERSION.to_owned(),
                mod_timestamp: format!("{:08x}", 0),
                exception_code: format!("{:08x}", 0),
                offset: format!("{:0width$x}", 0),
                fault_address: 0,
                fault_location: FaultLocation::NoException,
            };
        };

        let recorded = facts.pointer(exception.address);
        let (fault_address, fault_location) = match (recorded, facts.context_instruction) {
            (_, Some(ip)) if facts.exception_address_is_data => {
                (facts.pointer(ip), FaultLocation::ContextInstruction)
            }
            (0, Some(ip)) => (facts.pointer(ip), FaultLocation::ContextInstruction),
            _ => (recorded, FaultLocation::ExceptionAddress),
        };
        let module = facts.module_at(fault_address);
        let (mod_name, offset) = match module {
            Some(m) => (m.file_name().to_owned(), fault_address - m.base),
            None => (UNKNOWN_MODULE.to_owned(), fault_address),
        };
        CerTuple {
            app_name,
            app_ver,
            app_timestamp,
            mod_name,
            mod_ver: version_or_zero(module),
            mod_timestamp: format!("{:08x}", module.map_or(0, |m| m.timestamp)),
            exception_code: format!("{:08x}", exception.code),
            offset: format!("{:0width$x}", offset),
            fault_address,
            fault_location,
        }
    }

    /// The five sanitized subpath components: AppName, AppVer, ModName, ModVer, Offset.
    pub fn subpath_components(&self) -> [String; 5] {
        [
            sanitize_name(&self.app_name).value,
            sanitize_version(&self.app_ver).value,
            sanitize_name(&self.mod_name).value,
            sanitize_version(&self.mod_ver).value,
            // The offset is our own hex rendering and always safe.
            self.offset.clone(),
        ]
    }

    /// The CER error subpath, backslash-separated exactly as on a Windows share.
    pub fn subpath(&self) -> String {
        self.subpath_components().join("\\")
    }

    /// The WER problem-signature parameters P1..P8 of an APPCRASH report, in order.
    pub fn wer_parameters(&self) -> [(&'static str, &str); 8] {
        [
            ("AppName", &self.app_name),
            ("AppVer", &self.app_ver),
            ("AppTimeStamp", &self.app_timestamp),
            ("ModName", &self.mod_name),
            ("ModVer", &self.mod_ver),
            ("ModTimeStamp", &self.mod_timestamp),
            ("ExceptionCode", &self.exception_code),
            ("Offset", &self.offset),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::ExceptionFacts;

    fn module(path: &str, base: u64, size: u64, version: Option<&str>) -> ModuleFacts {
        ModuleFacts {
            path: path.into(),
            base,
            size,
            version: version.map(Into::into),
            timestamp: 0x5f3a_1b2c,
        }
    }

    fn facts(is_32bit: bool, address: u64, context: Option<u64>) -> UserCrashFacts {
        UserCrashFacts {
            is_32bit,
            modules: vec![
                module(r"C:\app\app.exe", 0x40_0000, 0x1_0000, Some("1.2.3.4")),
                module(r"C:\app\lib.dll", 0x1000_0000, 0x2_0000, None),
            ],
            exception: Some(ExceptionFacts {
                code: 0xC000_0005,
                flags: 0,
                address,
                parameters: vec![1, 0x10],
            }),
            context_instruction: context,
            exception_address_is_data: false,
            fault_function: None,
            null_class_pointer: false,
            frames: vec![],
        }
    }

    #[test]
    fn offset_is_relative_to_the_instruction_module_and_padded_by_bitness() {
        let t = CerTuple::from_facts(&facts(true, 0x1000_1234, None));
        assert_eq!(t.subpath(), r"app.exe\1.2.3.4\lib.dll\0.0.0.0\00001234");
        let t = CerTuple::from_facts(&facts(false, 0x1000_1234, None));
        assert_eq!(
            t.subpath(),
            r"app.exe\1.2.3.4\lib.dll\0.0.0.0\0000000000001234"
        );
    }

    #[test]
    fn x86_addresses_are_truncated_to_32_bits() {
        let t = CerTuple::from_facts(&facts(true, 0xffff_ffff_1000_0010, None));
        assert_eq!(t.offset, "00000010");
        assert_eq!(t.mod_name, "lib.dll");
    }

    #[test]
    fn address_outside_every_module_keeps_the_raw_address() {
        let t = CerTuple::from_facts(&facts(true, 0x003d_f944, None));
        assert_eq!(t.subpath(), r"app.exe\1.2.3.4\unknown\0.0.0.0\003df944");
    }

    #[test]
    fn zero_exception_address_falls_back_to_the_context() {
        let t = CerTuple::from_facts(&facts(false, 0, Some(0x40_0042)));
        assert_eq!(t.fault_location, FaultLocation::ContextInstruction);
        assert_eq!(
            t.subpath(),
            r"app.exe\1.2.3.4\app.exe\1.2.3.4\0000000000000042"
        );
        // Without a context the zero address stays, in no module.
        let t = CerTuple::from_facts(&facts(true, 0, None));
        assert_eq!(t.subpath(), r"app.exe\1.2.3.4\unknown\0.0.0.0\00000000");
    }

    #[test]
    fn no_exception_gives_a_hang_signature() {
        let mut f = facts(false, 0, None);
        f.exception = None;
        let t = CerTuple::from_facts(&f);
        assert_eq!(
            t.subpath(),
            r"app.exe\1.2.3.4\hungapp\0.0.0.0\0000000000000000"
        );
        assert_eq!(t.fault_location, FaultLocation::NoException);
    }

    #[test]
    fn hostile_names_are_sanitized_in_the_subpath_only() {
        let mut f = facts(true, 0x1000_0100, None);
        f.modules[0].path = r"C:\apps\..".into();
        f.modules[1].path = r"..\..\CON".into();
        let t = CerTuple::from_facts(&f);
        assert_eq!(t.app_name, "..");
        assert_eq!(t.subpath(), r"._\1.2.3.4\CON_\0.0.0.0\00000100");
        for part in t.subpath_components() {
            assert!(part != "." && part != ".." && !part.contains(['\\', '/']));
        }
    }

    #[test]
    fn wer_parameters_follow_appcrash_order() {
        let t = CerTuple::from_facts(&facts(true, 0x1000_1234, None));
        let p = t.wer_parameters();
        assert_eq!(p[0], ("AppName", "app.exe"));
        assert_eq!(p[6], ("ExceptionCode", "c0000005"));
        assert_eq!(p[7], ("Offset", "00001234"));
    }
}
