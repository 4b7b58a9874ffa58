//! An ARM64 kernel dump from the generator: translated through ARM64 page tables, its stack
//! unwound with the images' `.pdata` (packed and `.xdata` entries) past decoy return addresses
//! a scan would take, the architecture and the culprit reported.

use serde_json::Value;

use crate::support::{analyze_json, kernel_stack as stack, scratch_dir, BIN};
use sample_dumps::kernel::arm64_dump;

#[test]
fn arm64_dump_is_translated_and_unwound_with_pdata() {
    let case = arm64_dump().unwrap();
    let dir = scratch_dir("arm64-kernel");
    let dump = dir.join("arm64-full.dmp");
    std::fs::write(&dump, &case.bytes).unwrap();
    for extra in [&[][..], &["--signature-only"][..]] {
        let report = analyze_json(BIN, extra, &dump);
        assert_eq!(report["error"], Value::Null, "{report:#}");
        let kernel = &report["kernel"];
        assert_eq!(kernel["architecture"], "ARM64", "{kernel:#}");
        let got = stack(&report);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, case.frames, "{got:#?}");
        assert!(got.iter().all(|(_, t)| t == "call_frame_info"), "{got:#?}");
        for decoy in &case.decoys {
            assert!(
                !names.contains(&decoy.as_str()),
                "decoy {decoy} taken: {got:#?}"
            );
        }
        assert_eq!(
            kernel["caused_by"]["driver"],
            case.culprit.as_str(),
            "{kernel:#}"
        );
        assert!(
            report["failure_bucket"]
                .as_str()
                .is_some_and(|b| b.contains("contosoarm")),
            "{report:#}"
        );
    }
}
