#![no_main]
//! cargo-fuzz binary of the `minidump_full` target (body: `dumpsig_fuzz_targets`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(target) = dumpsig_fuzz_targets::target("minidump_full") {
        (target.run)(data);
    }
});
