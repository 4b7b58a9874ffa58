//! Pure bucket-signature logic for dumpsig: crash facts in, signatures out.
//!
//! This crate never touches files or bytes of a dump. The analyzer extracts
//! [`UserCrashFacts`] from a dump and this crate turns them into the three keys every report
//! carries (see `shared/spec/signatures.md`):
//!
//! 1. the Corporate Error Reporting (CER) error subpath ([`CerTuple`]),
//! 2. the failure bucket in the debugger's grammar and its `FAILURE_ID_HASH`
//!    ([`FailureBucket`]),
//! 3. the crash state, the top relevant frames for fuzzy merging ([`CrashState`]).
//!
//! For kernel dumps it holds the stop-code knowledge ([`stop_codes`]), the faulting-module
//! selection ([`module_selection`]), kernel buckets ([`KernelBucket`]), WHEA/CPER decoding
//! ([`cper`]) and the known-issue rules and verdicts ([`known_issues`]).
//!
//! Keeping it free of I/O means every rule can be unit-tested from plain values, and the
//! analyzer, the share writer and the regression checker all derive identical keys.

pub mod cer;
pub mod cper;
pub mod crash_state;
pub mod exception_codes;
pub mod facts;
pub mod hash;
pub mod kernel_bucket;
pub mod known_issues;
pub mod module_selection;
pub mod placeholder;
pub mod stop_codes;
pub mod time;
pub mod user_bucket;

pub use cer::{CerTuple, FaultLocation};
pub use crash_state::CrashState;
pub use facts::{AccessKind, ExceptionFacts, FrameFacts, ModuleFacts, UserCrashFacts};
pub use hash::{failure_id_hash, HashKind};
pub use kernel_bucket::KernelBucket;
pub use module_selection::{KernelCrashFacts, KernelFrame, ModuleRef};
pub use placeholder::{sanitize_name, sanitize_version, Sanitized};
pub use user_bucket::FailureBucket;
