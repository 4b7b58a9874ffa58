//! Damaged variants of a minidump: the damage real dumps written by crashing processes show,
//! one stream at a time, for the analyzer's partial-results tests.
//!
//! Each variant is the undamaged dump of the same [`DumpSpec`] with one structure broken in
//! place: a count that does not fit its stream, a range past the end of the file. The streams
//! a writer may add and the analyzer must never trust (thread names, handle data) are added
//! with a hostile count. [`Damage::Essentials`] breaks both the module list and the exception
//! stream: nothing identifies that crash any more.

use super::{build_with, DumpSpec};

/// `ThreadNamesStream`.
const THREAD_NAMES: u32 = 24;
/// `HandleDataStream`.
const HANDLE_DATA: u32 = 12;
/// A count no stream of these dumps can hold.
const HOSTILE_COUNT: u32 = 0x7FFF_FFFF;

/// One kind of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// The thread list declares far more threads than it holds.
    ThreadList,
    /// The crashing thread's stack memory lies past the end of the file.
    OneStack,
    /// The memory list declares far more ranges than it holds.
    MemoryList,
    /// The unloaded module list declares billions of entries.
    UnloadedModules,
    /// The misc info stream's SizeOfInfo exceeds the stream.
    MiscInfo,
    /// A thread names stream declaring billions of names.
    ThreadNames,
    /// A handle data stream declaring billions of zero-sized descriptors (a reader that
    /// trusts it reserves hundreds of gigabytes).
    HandleData,
    /// Both the module list and the exception stream are unusable.
    Essentials,
}

impl Damage {
    /// Every kind, in a fixed order.
    pub const ALL: [Damage; 8] = [
        Damage::ThreadList,
        Damage::OneStack,
        Damage::MemoryList,
        Damage::UnloadedModules,
        Damage::MiscInfo,
        Damage::ThreadNames,
        Damage::HandleData,
        Damage::Essentials,
    ];

    /// A short name for file names.
    pub fn name(self) -> &'static str {
        match self {
            Damage::ThreadList => "thread-list",
            Damage::OneStack => "one-stack",
            Damage::MemoryList => "memory-list",
            Damage::UnloadedModules => "unloaded-modules",
            Damage::MiscInfo => "misc-info",
            Damage::ThreadNames => "thread-names",
            Damage::HandleData => "handle-data",
            Damage::Essentials => "essentials",
        }
    }

    /// The stream the damage is in (`MINIDUMP_STREAM_TYPE`).
    pub fn stream_type(self) -> u32 {
        match self {
            Damage::ThreadList | Damage::OneStack => 3,
            Damage::MemoryList => 5,
            Damage::UnloadedModules => 14,
            Damage::MiscInfo => 15,
            Damage::ThreadNames => THREAD_NAMES,
            Damage::HandleData => HANDLE_DATA,
            Damage::Essentials => 6,
        }
    }
}

fn put_u32(bytes: &mut [u8], at: u32, value: u32) {
    let at = at as usize;
    if let Some(field) = bytes.get_mut(at..at + 4) {
        field.copy_from_slice(&value.to_le_bytes());
    }
}

/// The dump of `spec` with `damage`.
pub fn damaged(spec: &DumpSpec, damage: Damage) -> Vec<u8> {
    let extra = match damage {
        Damage::ThreadNames => {
            // NumberOfThreadNames, then one MINIDUMP_THREAD_NAME (ThreadId, RvaOfThreadName).
            let mut s = HOSTILE_COUNT.to_le_bytes().to_vec();
            s.extend_from_slice(&spec.threads.first().map_or(0, |t| t.id).to_le_bytes());
            s.extend_from_slice(&0u64.to_le_bytes());
            vec![(THREAD_NAMES, s)]
        }
        Damage::HandleData => {
            // MINIDUMP_HANDLE_DATA_STREAM: SizeOfHeader, SizeOfDescriptor, NumberOfDescriptors,
            // Reserved; then no descriptor at all. A descriptor size of 0 lets any count "fit"
            // the stream: a reader that checks count x size reserves by the count alone.
            let s = [16u32, 0, u32::MAX, 0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect();
            vec![(HANDLE_DATA, s)]
        }
        _ => Vec::new(),
    };
    let built = build_with(spec, &extra);
    let mut bytes = built.bytes.clone();
    let end = bytes.len() as u32;
    let stream = |kind: u32| built.stream(kind).unwrap_or((0, 0));
    match damage {
        Damage::ThreadList => put_u32(&mut bytes, stream(3).0, HOSTILE_COUNT),
        Damage::OneStack => {
            // MINIDUMP_THREAD i at rva + 4 + 48 i; its stack's location Rva at +36.
            let (rva, _) = stream(3);
            let crashing = spec
                .crashing_thread()
                .and_then(|c| spec.threads.iter().position(|t| t.id == c.id))
                .unwrap_or(0) as u32;
            put_u32(&mut bytes, rva + 4 + 48 * crashing + 36, end + 0x1000);
        }
        Damage::MemoryList => put_u32(&mut bytes, stream(5).0, HOSTILE_COUNT),
        // MINIDUMP_UNLOADED_MODULE_LIST: NumberOfEntries at +8.
        Damage::UnloadedModules => put_u32(&mut bytes, stream(14).0 + 8, u32::MAX),
        Damage::MiscInfo => put_u32(&mut bytes, stream(15).0, 0x1_0000),
        Damage::ThreadNames | Damage::HandleData => {}
        Damage::Essentials => {
            put_u32(&mut bytes, stream(4).0, HOSTILE_COUNT);
            // The exception stream's directory entry: its Rva past the end of the file.
            if let Some(i) = built.streams.iter().position(|(k, _, _)| *k == 6) {
                put_u32(&mut bytes, 32 + 12 * i as u32 + 8, end + 0x1000);
            }
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::minidump::samples::specs;

    #[test]
    fn each_damage_changes_the_dump_and_keeps_its_length_or_adds_a_stream() {
        let spec = &specs()[0].spec;
        let clean = crate::minidump::build(spec);
        for damage in Damage::ALL {
            let bytes = damaged(spec, damage);
            assert_ne!(bytes, clean, "{damage:?}");
            assert_eq!(&bytes[..4], b"MDMP");
        }
    }
}
