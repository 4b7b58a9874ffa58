//! x86 kernel stacks through functions built without a frame pointer: with the symbols'
//! `STACK WIN` records (an FPO record and a frame-data program) the walk finds the two callers
//! an EBP chain skips, and marks them as unwound; without symbols those frames are missing, as
//! in any EBP walk.

use crate::support::{analyze_json, kernel_stack as stack, scratch_dir, BIN};
use sample_dumps::kernel::x86_frame_data_dump;

#[test]
fn x86_frame_data_finds_the_callers_an_ebp_chain_skips() {
    let case = x86_frame_data_dump().unwrap();
    let dir = scratch_dir("x86-frames");
    let dump = dir.join("x86-fpo.dmp");
    std::fs::write(&dump, &case.bytes).unwrap();
    let symbols = dir.join("symbols");
    for (rel, bytes) in &case.symbols {
        let file = symbols.join(rel);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }

    let with = stack(&analyze_json(
        BIN,
        &["--symbols", symbols.to_str().unwrap()],
        &dump,
    ));
    let names: Vec<&str> = with.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, case.frames, "{with:#?}");
    for (name, trust) in &with {
        let want = if case.hidden.contains(name) {
            "call_frame_info"
        } else {
            "frame_pointer"
        };
        assert_eq!(trust, want, "{name}: {with:#?}");
    }

    // Without the symbols the chain passes both by: every other frame is still there.
    let without = stack(&analyze_json(BIN, &[], &dump));
    let expected: Vec<&String> = case
        .frames
        .iter()
        .filter(|f| !case.hidden.contains(f))
        .collect();
    let got: Vec<&String> = without.iter().map(|(n, _)| n).collect();
    assert_eq!(got, expected, "{without:#?}");
    assert!(without.iter().all(|(_, t)| t == "frame_pointer"));
}
