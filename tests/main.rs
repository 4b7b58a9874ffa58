//! dumpsig's end-to-end tests: one test binary (in the manner of ripgrep's `tests/`) that runs
//! the `dumpsig` binary users run, built by Cargo for this test (`CARGO_BIN_EXE_dumpsig`), in
//! temporary directories, over the generated samples and the real dumps in `../shared`.
//!
//! A test that needs something this machine may lack (Chromium, cabextract, the PDB fixtures)
//! says on stderr that it skipped and why; under `CI=true` it fails instead
//! ([`support::require`]).

// Test code: a panic is a failed test with its message.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

mod allocator;
mod arm64_kernel;
mod bad_inputs;
mod batch_outputs;
mod bucket_vectors;
mod damaged_minidumps;
mod determinism;
mod generated_samples;
mod image_store;
mod kernel_bucket_vectors;
mod kernel_samples;
mod kernel_symbols;
mod kernel_unwinding;
mod odd_inputs;
mod one_answer;
mod real_kernel_dumps;
mod real_minidumps;
mod shard_share;
mod share_bucket;
mod share_jail;
mod share_scale;
mod symbols;
mod x86_frames;
