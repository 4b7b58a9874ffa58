//! Which driver a crash is attributed to: a pure function over plain facts.
//!
//! Kept free of dump types on purpose: a later step moves it into the `signatures` crate, which
//! must not depend on the dump reader. The rule: the address the stop code names (P4 for 0xA /
//! 0xD1, P2 for 0x1E / 0x7E / 0x8E / 0x3B and their 0x1000000x variants, P3 for 0x50, otherwise
//! the context PC) if it lies in a module; otherwise the first stack address in a module that is
//! not the kernel or the HAL. The rule applied is recorded in words.

use serde::Serialize;

/// A module as the attribution sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleRange<'a> {
    /// File name.
    pub name: &'a str,
    /// Base address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

/// The facts the attribution needs.
#[derive(Debug, Clone, Copy)]
pub struct CrashFacts<'a> {
    /// Stop code as written.
    pub bugcheck_code: u32,
    /// The four parameters.
    pub parameters: [u64; 4],
    /// Program counter of the crash context, if known.
    pub context_pc: Option<u64>,
    /// Loaded modules.
    pub modules: &'a [ModuleRange<'a>],
    /// Stack values that lie in modules, innermost first.
    pub stack_addresses: &'a [u64],
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// Index into the module list, when a module was found.
    pub module_index: Option<usize>,
    /// Module name.
    pub module: Option<String>,
    /// The attributed address.
    pub address: Option<u64>,
    /// Offset of `address` in the module.
    pub offset: Option<u64>,
    /// The rule that applied, in words.
    pub rule: String,
}

/// The stop code without the 0x10000000 "_M" flag for the codes that have such variants.
pub fn base_code(code: u32) -> u32 {
    let low = code & 0x0FFF_FFFF;
    if code & 0xF000_0000 == 0x1000_0000
        && matches!(low, 0xA | 0xD1 | 0x1E | 0x7E | 0x8E | 0x3B | 0x50 | 0x7F)
    {
        low
    } else {
        code
    }
}

/// The address the stop code names and the words for where it came from.
pub fn named_address(
    code: u32,
    parameters: [u64; 4],
    context_pc: Option<u64>,
) -> Option<(u64, String)> {
    let [_, p2, p3, p4] = parameters;
    let pick = match base_code(code) {
        0xA | 0xD1 => Some((p4, "P4 (the instruction address) of stop")),
        0x1E | 0x7E | 0x8E | 0x3B => Some((p2, "P2 (the exception address) of stop")),
        0x50 if p3 != 0 => Some((p3, "P3 (the instruction address) of stop")),
        _ => None,
    };
    match pick {
        Some((addr, why)) if addr != 0 => Some((addr, format!("{why} {code:#X}"))),
        _ => context_pc.filter(|&pc| pc != 0).map(|pc| {
            (
                pc,
                format!("the context PC (stop {code:#X} names no address)"),
            )
        }),
    }
}

/// Whether a module is the kernel or the HAL (never blamed from the stack).
pub fn is_kernel_or_hal(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("ntoskrnl")
        || n.starts_with("ntkr")
        || (n.starts_with("hal") && n.ends_with(".dll"))
}

fn module_of(modules: &[ModuleRange<'_>], addr: u64) -> Option<usize> {
    modules
        .iter()
        .position(|m| addr >= m.base && addr - m.base < m.size)
}

/// Attributes the crash.
pub fn attribute(facts: &CrashFacts<'_>) -> Attribution {
    let named = named_address(facts.bugcheck_code, facts.parameters, facts.context_pc);
    if let Some((addr, why)) = &named {
        if let Some(i) = module_of(facts.modules, *addr) {
            let m = facts.modules.get(i);
            return Attribution {
                module_index: Some(i),
                module: m.map(|m| m.name.to_string()),
                address: Some(*addr),
                offset: m.map(|m| addr - m.base),
                rule: format!("{why} lies in {}", m.map_or("?", |m| m.name)),
            };
        }
    }
    let prefix = match &named {
        Some((addr, why)) => format!("{why} {addr:#x} lies in no module"),
        None => "no faulting address is known".to_string(),
    };
    for &addr in facts.stack_addresses {
        if let Some(i) = module_of(facts.modules, addr) {
            if let Some(m) = facts.modules.get(i).filter(|m| !is_kernel_or_hal(m.name)) {
                return Attribution {
                    module_index: Some(i),
                    module: Some(m.name.to_string()),
                    address: Some(addr),
                    offset: Some(addr - m.base),
                    rule: format!(
                        "{prefix}; first stack address in a module other than the kernel or HAL"
                    ),
                };
            }
        }
    }
    Attribution {
        module_index: None,
        module: None,
        address: named.map(|(a, _)| a),
        offset: None,
        rule: format!("{prefix}; no stack address lies in a module other than the kernel or HAL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODS: [ModuleRange<'static>; 3] = [
        ModuleRange {
            name: "ntoskrnl.exe",
            base: 0x1000,
            size: 0x1000,
        },
        ModuleRange {
            name: "hal.dll",
            base: 0x3000,
            size: 0x1000,
        },
        ModuleRange {
            name: "foo.sys",
            base: 0x5000,
            size: 0x1000,
        },
    ];

    fn facts(
        code: u32,
        params: [u64; 4],
        pc: Option<u64>,
        stack: &'static [u64],
    ) -> CrashFacts<'static> {
        CrashFacts {
            bugcheck_code: code,
            parameters: params,
            context_pc: pc,
            modules: &MODS,
            stack_addresses: stack,
        }
    }

    #[test]
    fn picks_the_named_parameter() {
        let a = attribute(&facts(0x1000_007E, [0xC000_0005, 0x5010, 0, 0], None, &[]));
        assert_eq!(
            (a.module.as_deref(), a.offset),
            (Some("foo.sys"), Some(0x10))
        );
        assert!(a.rule.starts_with("P2"), "{}", a.rule);
        let a = attribute(&facts(0xD1, [0, 2, 0, 0x1010], None, &[]));
        assert_eq!(a.module.as_deref(), Some("ntoskrnl.exe"));
        assert!(a.rule.starts_with("P4"));
        let a = attribute(&facts(0x50, [0, 0, 0x5020, 0], Some(0x1000), &[]));
        assert_eq!(a.offset, Some(0x20));
        let a = attribute(&facts(0xEF, [1, 0, 0, 0], Some(0x3004), &[]));
        assert_eq!(a.module.as_deref(), Some("hal.dll"));
        assert!(a.rule.contains("context PC"));
    }

    #[test]
    fn falls_back_to_the_stack_skipping_kernel_and_hal() {
        let a = attribute(&facts(
            0xA,
            [0, 2, 0, 0x9999],
            None,
            &[0x1010, 0x3010, 0x5040],
        ));
        assert_eq!(
            (a.module.as_deref(), a.address),
            (Some("foo.sys"), Some(0x5040))
        );
        assert!(a.rule.contains("lies in no module"), "{}", a.rule);
        let a = attribute(&facts(0xA, [0, 2, 0, 0x9999], None, &[0x1010]));
        assert_eq!(a.module, None);
        assert_eq!(a.address, Some(0x9999));
    }
}
