//! `dumpsig analyze` over the real kernel dumps of `../shared/real-dumps/kernel`.

use crate::support::real_dump;
use serde_json::Value;

use crate::support::BIN;

fn analyze_json(file: &str) -> Value {
    crate::support::analyze_json(BIN, &[], &real_dump(file))
}

#[test]
fn triage_dump_is_attributed_to_amdppm() {
    let r = analyze_json("kernel/triage_x64.dmp");
    assert_eq!(r["kind"], "kernel");
    assert_eq!(r["cer_subpath"], "blue");
    let k = &r["kernel"];
    assert_eq!(k["dump_type"], 4);
    assert_eq!(k["bugcheck"]["code"], "0x1000007e");
    assert_eq!(k["bugcheck"]["parameters"][0], "0xffffffffc0000005");
    assert_eq!(k["bugcheck"]["parameters"][1], "0xfffff8048b58334c");
    assert_eq!(k["caused_by"]["driver"], "amdppm.sys");
    assert_eq!(k["caused_by"]["offset"], "0x334c");
    assert_eq!(k["processors"], 16);
    assert_eq!(k["os"]["build"], 19041);
    assert_eq!(k["partial"], false);
    let drivers = k["drivers"].as_array().expect("drivers");
    assert!(drivers
        .iter()
        .any(|d| d["name"] == "amdppm.sys" && d["on_stack"] == true));
    assert!(!k["unloaded_drivers"]
        .as_array()
        .expect("unloaded")
        .is_empty());
}

#[test]
fn full_dump_head_parses_and_says_the_page_data_is_missing() {
    let r = analyze_json("kernel/full-dump-head-x64.dmp");
    assert_eq!(r["error"], Value::Null);
    assert_eq!(r["cer_subpath"], "blue");
    let k = &r["kernel"];
    assert_eq!(k["dump_type"], 1);
    assert_eq!(k["partial"], true);
    assert_eq!(k["bugcheck"]["code"], "0x5454414d");
    assert_eq!(k["attributes_raw"], 0x18);
    let missing = k["missing"].as_array().expect("missing list");
    assert!(
        missing.iter().any(|m| m
            .as_str()
            .is_some_and(|m| m.contains("page data truncated"))),
        "{missing:?}"
    );
    assert!(
        missing
            .iter()
            .filter(|m| m.as_str().is_some_and(|m| m.starts_with("run ")))
            .count()
            == 5
    );
}
