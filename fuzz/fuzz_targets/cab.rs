#![no_main]
//! cargo-fuzz binary of the `cab` target (body: `dumpsig_fuzz_targets`).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(target) = dumpsig_fuzz_targets::target("cab") {
        (target.run)(data);
    }
});
