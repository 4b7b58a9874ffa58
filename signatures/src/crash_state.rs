//! Crash state: the top relevant frames, for fuzzy merging of near-duplicate buckets.

use serde::Serialize;

use crate::facts::UserCrashFacts;

/// How many frames a crash state keeps.
pub const STATE_FRAMES: usize = 3;
/// Longest frame text kept in a state.
pub const MAX_FRAME_CHARS: usize = 80;

/// User-mode modules that are plumbing called *by* the culprit: a frame there is rarely where
/// the bug is, so the state skips it (matched case-insensitively on the file name).
pub const USER_SKIP_LIST: &[&str] = &[
    "ntdll.dll",
    "kernelbase.dll",
    "kernel32.dll",
    "ucrtbase.dll",
    "ucrtbased.dll",
    "msvcrt.dll",
    "vcruntime140.dll",
    "vcruntime140d.dll",
    "wow64.dll",
    "wow64cpu.dll",
    "wow64win.dll",
];

/// The version of [`USER_SKIP_LIST`], recorded with every state so a change is visible.
pub const USER_SKIP_LIST_VERSION: u32 = 1;

/// The top relevant frames of the crashing thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrashState {
    /// Up to three frames, `module!function` or `module+0xoffset`.
    pub frames: Vec<String>,
    /// Version of the skip list used.
    pub skip_list_version: u32,
}

impl CrashState {
    /// Derives the state from the walked frames. Frames in no module are kept as raw
    /// addresses; when every framed module is skipped, the top frames are used as they are.
    pub fn for_user(facts: &UserCrashFacts) -> CrashState {
        let describe = |instruction: u64, function: Option<&str>| -> (String, bool) {
            let address = facts.pointer(instruction);
            match facts.module_at(address) {
                Some(m) => {
                    let name = m.file_name();
                    let skipped = USER_SKIP_LIST.iter().any(|s| s.eq_ignore_ascii_case(name));
                    let text = match function {
                        Some(f) => format!("{name}!{f}"),
                        None => format!("{name}+0x{:x}", address - m.base),
                    };
                    (text, skipped)
                }
                None => (format!("0x{address:x}"), false),
            }
        };
        let all: Vec<(String, bool)> = facts
            .frames
            .iter()
            .map(|f| describe(f.instruction, f.function.as_deref()))
            .collect();
        let relevant: Vec<&String> = all
            .iter()
            .filter(|(_, skip)| !skip)
            .map(|(t, _)| t)
            .collect();
        let chosen: Vec<&String> = if relevant.is_empty() {
            all.iter().map(|(t, _)| t).collect()
        } else {
            relevant
        };
        let frames = chosen
            .into_iter()
            .take(STATE_FRAMES)
            .map(|t| t.chars().take(MAX_FRAME_CHARS).collect())
            .collect();
        CrashState {
            frames,
            skip_list_version: USER_SKIP_LIST_VERSION,
        }
    }

    /// Two crashes are likely the same when their states share at least two frames in order.
    pub fn likely_same_as(&self, other: &CrashState) -> bool {
        // Longest common subsequence over at most 3x3 frames.
        let (a, b) = (&self.frames, &other.frames);
        let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, fa) in a.iter().enumerate() {
            for (j, fb) in b.iter().enumerate() {
                let best = if fa == fb {
                    table.get(i).and_then(|r| r.get(j)).copied().unwrap_or(0) + 1
                } else {
                    let up = table
                        .get(i)
                        .and_then(|r| r.get(j + 1))
                        .copied()
                        .unwrap_or(0);
                    let left = table
                        .get(i + 1)
                        .and_then(|r| r.get(j))
                        .copied()
                        .unwrap_or(0);
                    up.max(left)
                };
                if let Some(cell) = table.get_mut(i + 1).and_then(|r| r.get_mut(j + 1)) {
                    *cell = best;
                }
            }
        }
        table.last().and_then(|r| r.last()).copied().unwrap_or(0) >= 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{FrameFacts, ModuleFacts};

    fn module(path: &str, base: u64) -> ModuleFacts {
        ModuleFacts {
            path: path.into(),
            base,
            size: 0x1000,
            version: None,
            timestamp: 0,
        }
    }

    fn frame(instruction: u64, function: Option<&str>) -> FrameFacts {
        FrameFacts {
            instruction,
            function: function.map(Into::into),
        }
    }

    fn facts(frames: Vec<FrameFacts>) -> UserCrashFacts {
        UserCrashFacts {
            is_32bit: true,
            modules: vec![
                module(r"C:\a\app.exe", 0x1000),
                module(r"C:\w\ntdll.dll", 0x8000),
            ],
            exception: None,
            context_instruction: None,
            exception_address_is_data: false,
            fault_function: None,
            null_class_pointer: false,
            frames,
        }
    }

    #[test]
    fn skips_plumbing_and_formats_frames() {
        let f = facts(vec![
            frame(0x8010, None),
            frame(0x1020, Some("Crash")),
            frame(0x1030, None),
            frame(0x9_0000, None),
            frame(0x1040, None),
        ]);
        let s = CrashState::for_user(&f);
        assert_eq!(s.frames, vec!["app.exe!Crash", "app.exe+0x30", "0x90000"]);
    }

    #[test]
    fn all_skipped_keeps_top_frames_and_caps_length() {
        let long = "f".repeat(200);
        let f = facts(vec![frame(0x8010, Some(&long))]);
        let s = CrashState::for_user(&f);
        assert_eq!(s.frames.len(), 1);
        assert_eq!(s.frames[0].len(), MAX_FRAME_CHARS);
    }

    #[test]
    fn likely_same_needs_two_frames_in_order() {
        let s = |v: &[&str]| CrashState {
            frames: v.iter().map(|x| x.to_string()).collect(),
            skip_list_version: 1,
        };
        assert!(s(&["a", "b", "c"]).likely_same_as(&s(&["x", "b", "c"])));
        assert!(s(&["a", "b", "c"]).likely_same_as(&s(&["a", "c"])));
        assert!(!s(&["a", "b", "c"]).likely_same_as(&s(&["c", "b", "x"])));
        assert!(!s(&["a"]).likely_same_as(&s(&["a"])));
    }
}
