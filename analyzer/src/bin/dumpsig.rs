//! `dumpsig`: crash-dump analyzer for Windows dumps. See `dumpsig --help`.

/// mimalloc rather than glibc's allocator: a batch allocates each dump's buffer and report on
/// a worker thread and frees them on the filing thread, and glibc's per-thread arenas then
/// return and re-fault pages group after group (twice the page faults of one job, and
/// malloc/free took an eighth of a batch's time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    analyzer::cli::main()
}
