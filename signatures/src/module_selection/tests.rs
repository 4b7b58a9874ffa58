//! Tests of the module selection and the skip list.
use super::*;

fn module(name: &str, base: u64) -> ModuleRef {
    ModuleRef {
        name: name.into(),
        base,
        size: 0x10_0000,
        timestamp: 0x4D5B_7A3E,
        version: None,
    }
}

fn frame(address: u64, m: Option<ModuleRef>, function: Option<&str>) -> KernelFrame {
    KernelFrame {
        address,
        module: m,
        function: function.map(Into::into),
    }
}

#[test]
fn builtin_list_parses_and_protects_the_dump_stack() {
    let list = SkipList::builtin();
    assert!(SkipList::parse(SKIP_LIST_TEXT).is_ok());
    assert_eq!(list.version, 2);
    for skipped in [
        "ntoskrnl.exe",
        "NT",
        "ntkrnlmp.exe",
        "hal.dll",
        "Wdf01000.sys",
        "VerifierExt.sys",
        "ndis.sys",
        "tcpip.sys",
    ] {
        assert!(list.skip_entry(skipped).is_some(), "{skipped}");
    }
    for kept in [
        "crashdmp.sys",
        "dump_diskdump.sys",
        "DUMP_storvsc.sys",
        "dump_dumpfve.sys",
        "myfault.sys",
        "storport.sys",
    ] {
        assert!(list.skip_entry(kept).is_none(), "{kept}");
    }
    // Even a list that tries to skip them cannot.
    let hostile =
        SkipList::parse("version 9\nskip *\nskip crashdmp.sys\nnever crashdmp.sys\nnever dump_*\n");
    let hostile = hostile.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(hostile.skip_entry("crashdmp.sys").is_none());
    assert!(hostile
        .skip_entry(r"\SystemRoot\System32\Drivers\dump_diskdump.sys")
        .is_none());
    assert!(hostile.skip_entry("anything.sys").is_some());
}

#[test]
fn parse_reports_line_numbers() {
    let errors = SkipList::parse("version 1\nbogus line\nversion x\n")
        .err()
        .unwrap_or_default();
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 3]);
}

#[test]
fn debugger_names() {
    assert_eq!(
        module(r"\SystemRoot\system32\ntoskrnl.exe", 0).debugger_name(),
        "nt"
    );
    assert_eq!(
        module("dump_diskdump.sys", 0).debugger_name(),
        "dump_diskdump"
    );
    assert_eq!(module("ovpn-dco.sys", 0).debugger_name(), "ovpn-dco");
    assert_eq!(
        frame(5, None, Some("nt!KiBugCheck+0x12")).clean_function(),
        Some("KiBugCheck")
    );
}

#[test]
fn skips_plumbing_and_stops_at_the_dump_stack() {
    let nt = module("ntoskrnl.exe", 0xFFFF_F800_0000_0000);
    let dd = module("dump_diskdump.sys", 0xFFFF_F880_0100_0000);
    let frames = vec![
        frame(
            0xFFFF_F800_0000_1000,
            Some(nt.clone()),
            Some("KeBugCheckEx"),
        ),
        frame(0x1234, None, None),
        frame(0xFFFF_F880_0100_0456, Some(dd), None),
        frame(0xFFFF_F800_0000_2000, Some(nt), None),
    ];
    let s = select_module(&frames, SkipList::builtin());
    assert_eq!(s.rule, SelectionRule::FirstNotSkipped);
    assert_eq!(s.frame_index, Some(2));
    assert_eq!(s.name, "dump_diskdump");
    assert_eq!(s.offset, Some(0x456));
    assert_eq!(
        s.skipped.iter().map(|k| k.index).collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(
        s.reason.contains("frame 2")
            && s.reason
                .contains("skipped frames 0 (ntoskrnl.exe), 1 (no module)"),
        "{}",
        s.reason
    );
    let state = kernel_crash_state(&frames, SkipList::builtin());
    assert_eq!(state.frames, vec!["0x1234", "dump_diskdump+0x456"]);
}

#[test]
fn fallbacks() {
    let nt = module("ntkrnlmp.exe", 0x1000_0000);
    let hal = module("hal.dll", 0x2000_0000);
    let frames = vec![
        frame(0x10, None, None),
        frame(0x2000_0010, Some(hal), None),
        frame(0x1000_0020, Some(nt), Some("KiPageFault")),
    ];
    let s = select_module(&frames, SkipList::builtin());
    assert_eq!(
        (s.rule, s.frame_index, s.name.as_str()),
        (SelectionRule::AllSkippedFirstFrame, Some(1), "hal")
    );
    assert_eq!(s.skipped.len(), 3);
    let state = kernel_crash_state(&frames, SkipList::builtin());
    assert_eq!(state.frames, vec!["0x10"]);

    let s = select_module(&[frame(0xDEAD, None, None)], SkipList::builtin());
    assert_eq!(
        (s.rule, s.name.as_str(), s.address),
        (SelectionRule::NoModule, "nt", Some(0xDEAD))
    );
    let s = select_module(&[], SkipList::builtin());
    assert_eq!((s.rule, s.address), (SelectionRule::NoFrames, None));
}

#[test]
fn state_caps_frames_at_80_chars_and_keeps_three() {
    let m = module("drv.sys", 0);
    let long = "F".repeat(200);
    let frames: Vec<KernelFrame> = (0..5)
        .map(|i| frame(i, Some(m.clone()), Some(&long)))
        .collect();
    let state = kernel_crash_state(&frames, SkipList::builtin());
    assert_eq!(state.frames.len(), 3);
    assert!(state
        .frames
        .iter()
        .all(|f| f.chars().count() == MAX_FRAME_CHARS));
}

#[test]
fn crash_state_keeps_a_repeated_frame_once() {
    let dd = module("dump_diskdump.sys", 0xFFFF_F880_0100_0000);
    let nt = module("ntoskrnl.exe", 0xFFFF_F800_0000_0000);
    let at = |m: &ModuleRef, o: u64| frame(m.base + o, Some(m.clone()), None);
    // P4 as frame 0, the same address as a return address and again as the parameters' copy.
    let frames = vec![
        at(&dd, 0x1A2C),
        at(&nt, 0x70469),
        at(&dd, 0x1A2C),
        at(&dd, 0x1A2C),
        at(&dd, 0x1D80),
        at(&dd, 0x1A2C),
    ];
    let state = kernel_crash_state(&frames, SkipList::builtin());
    assert_eq!(
        state.frames,
        vec![
            "dump_diskdump+0x1a2c",
            "dump_diskdump+0x1d80",
            "dump_diskdump+0x1a2c"
        ]
    );
}
