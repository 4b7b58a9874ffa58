//! The batch pipeline shared by `analyze`, `bucket` and `scan`: inputs discovered lazily,
//! analyzed on worker threads, results handed on in input order with bounded memory, an
//! optional progress display. (Which inputs a run takes, `--shard` included, is
//! [`crate::inputs`]' business.)
//!
//! Ordering and memory: at most `jobs * IN_FLIGHT_PER_JOB` inputs are between discovery and
//! the sink at any time (running, or finished and waiting for an earlier one), so a batch of a
//! million dumps holds the same few hundred reports in memory as a batch of ten, while one
//! slow dump stalls only the sink, not the workers, until the window is full.
//!
//! Tasks: small inputs are handed to workers in chunks sized to a few milliseconds of work
//! (measured as the batch goes), because a task per 20-microsecond minidump spends more on
//! spawning and waking threads than on the dump; a slow kernel dump still gets a task alone.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{AnalyzeError, Result};
use crate::inputs::Input;

/// Inputs in flight per worker thread: enough that a slow input does not idle the others,
/// and room for a few chunks of [`MAX_CHUNK`] small inputs per worker.
const IN_FLIGHT_PER_JOB: usize = 4 * MAX_CHUNK;
/// Most inputs one task analyzes.
const MAX_CHUNK: usize = 128;

/// How a batch runs (by default: one worker per processor, no progress display).
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchOptions {
    /// Worker threads; `None` for one per processor, asked of the system only when a run has
    /// more than one input (the question reads several cgroup files: a visible part of a
    /// one-dump run).
    pub jobs: Option<usize>,
    /// Makes the progress display of a run, when one is wanted (the command line draws a bar
    /// on a terminal only); `None` shows nothing.
    pub progress: Option<fn() -> Box<dyn Progress>>,
}

/// A progress display: told of every finished input, then that the run is over. Kept as a
/// trait so this crate draws nothing itself (the command line owns the terminal).
pub trait Progress: Send + Sync {
    /// One more input is done.
    fn inc(&self);
    /// The run is over: clear the display.
    fn finish(self: Box<Self>);
}

impl BatchOptions {
    /// The worker threads a run of several inputs uses (at least one). Asking the system
    /// reads files: a caller that needs the number more than once takes [`Self::resolved`].
    pub fn jobs(&self) -> usize {
        self.jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    /// These options with the number of workers decided.
    pub fn resolved(&self) -> BatchOptions {
        BatchOptions {
            jobs: Some(self.jobs()),
            ..*self
        }
    }
}

/// Runs `work` over every input on `options.jobs` worker threads (on the calling thread
/// alone for one job) and hands each result to `sink` in input order. Unreadable directory
/// entries are passed to `work` too (it decides what they become), so they keep their place
/// in the order.
pub fn run_batch<I, T, W, S>(inputs: I, options: &BatchOptions, work: W, mut sink: S) -> Result<()>
where
    I: IntoIterator<Item = Input>,
    T: Send,
    W: Fn(&Input) -> T + Sync,
    S: FnMut(Input, T),
{
    // One input (a WER hook, a CI step calling dumpsig per crash): no pool to start and stop.
    let mut inputs = inputs.into_iter().peekable();
    let first = inputs.next();
    let single = inputs.peek().is_none();
    let inputs = first.into_iter().chain(inputs);
    if single {
        run_serially(inputs, options, work, sink);
        return Ok(());
    }
    let jobs = options.jobs();
    if jobs == 1 {
        run_serially(inputs, options, work, sink);
        return Ok(());
    }
    let window = max_in_flight(jobs);
    let progress = options.progress.map(|make| make());
    // Each chunk's results; `None` when its worker panicked (outside `work`'s own guards),
    // so the order is never waited for a chunk that will not come.
    let (tx, rx) = mpsc::channel::<(usize, Option<Vec<(Input, T)>>)>();
    // Chunks to analyze. Idle workers block on the queue: a pool whose idle threads spin
    // (rayon's do, briefly, before sleeping) takes the processor from the thread that
    // discovers inputs and writes results, and on two cores that cost a third of the speed-up.
    let (work_tx, work_rx) = mpsc::channel::<(usize, Vec<Input>)>();
    let work_rx = Mutex::new(work_rx);
    let work = &work;
    let timing = WorkTiming::default();
    let timing = &timing;
    let mut inputs = inputs.into_iter();
    std::thread::scope(|scope| -> Result<()> {
        for n in 0..jobs {
            let (tx, work_rx) = (tx.clone(), &work_rx);
            std::thread::Builder::new()
                .name(format!("dumpsig-worker-{n}"))
                .spawn_scoped(scope, move || loop {
                    // The lock is held only to take the next chunk; a poisoned lock (a worker
                    // panicked while taking one) cannot leave the queue inconsistent.
                    let next = match work_rx.lock() {
                        Ok(queue) => queue.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    let Ok((index, chunk)) = next else {
                        return; // the queue is closed: no more work
                    };
                    let results = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        chunk
                            .into_iter()
                            .map(|input| {
                                let begun = Instant::now();
                                let result = work(&input);
                                timing.record(begun.elapsed());
                                (input, result)
                            })
                            .collect::<Vec<_>>()
                    }));
                    match results {
                        // The receiver lives until every worker has finished.
                        Ok(results) => drop(tx.send((index, Some(results)))),
                        Err(panic) => {
                            let _ = tx.send((index, None));
                            std::panic::resume_unwind(panic);
                        }
                    }
                })
                .map_err(|e| {
                    AnalyzeError::Internal(format!("cannot start {jobs} worker threads: {e}"))
                })?;
        }
        drop(tx);
        // Finished chunks waiting for an earlier one, by chunk number.
        let mut waiting: BTreeMap<usize, Vec<(Input, T)>> = BTreeMap::new();
        let worker_panicked = std::cell::Cell::new(false);
        let (mut next_chunk, mut chunks) = (0usize, 0usize);
        let (mut started, mut delivered) = (0usize, 0usize);
        let mut deliver = |block: bool,
                           waiting: &mut BTreeMap<usize, Vec<(Input, T)>>,
                           next_chunk: &mut usize,
                           delivered: &mut usize| {
            let got = if block {
                rx.recv().ok()
            } else {
                rx.try_recv().ok()
            };
            let received = got.is_some();
            match got {
                Some((index, Some(results))) => drop(waiting.insert(index, results)),
                Some((_, None)) => {
                    worker_panicked.set(true);
                    return false;
                }
                None => {}
            }
            while let Some(results) = waiting.remove(next_chunk) {
                for (input, result) in results {
                    if let Some(bar) = &progress {
                        bar.inc();
                    }
                    sink(input, result);
                    *delivered += 1;
                }
                *next_chunk += 1;
            }
            received
        };
        while !worker_panicked.get() {
            let size = timing.chunk_len().min(window);
            while started - delivered + size > window {
                if !deliver(true, &mut waiting, &mut next_chunk, &mut delivered) {
                    break; // every worker is gone (they only leave when the queue closes)
                }
            }
            let chunk: Vec<Input> = inputs.by_ref().take(size).collect();
            if chunk.is_empty() {
                break;
            }
            started += chunk.len();
            if work_tx.send((chunks, chunk)).is_err() {
                break;
            }
            chunks += 1;
            while deliver(false, &mut waiting, &mut next_chunk, &mut delivered) {}
        }
        drop(work_tx);
        // (After a worker's panic, leaving the scope raises it here.)
        while next_chunk < chunks && !worker_panicked.get() {
            if !deliver(true, &mut waiting, &mut next_chunk, &mut delivered) {
                break;
            }
        }
        Ok(())
    })?;
    if let Some(bar) = progress {
        bar.finish();
    }
    Ok(())
}

/// Most inputs between discovery and the sink at once (running, or finished and waiting for
/// an earlier one).
pub(crate) fn max_in_flight(jobs: usize) -> usize {
    jobs * IN_FLIGHT_PER_JOB
}

/// Work per task the chunking aims at. Each task wakes a worker and then the sink, and on two
/// cores every wake-up takes the processor from a worker: with 1 ms tasks a batch of 10,000
/// minidumps made ~1,300 context switches (~600 with 4 ms tasks) and used ~6% more processor
/// time.
const TARGET_TASK_NANOS: u64 = 4_000_000;

/// How long inputs take, so tasks carry several small inputs (a minidump's signature takes
/// tens of microseconds) but one large one each (a kernel dump can take a second).
#[derive(Default)]
struct WorkTiming {
    nanos: AtomicU64,
    count: AtomicU64,
}

impl WorkTiming {
    fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Inputs per task: one until something is measured, then about a millisecond's worth.
    fn chunk_len(&self) -> usize {
        let (nanos, count) = (
            self.nanos.load(Ordering::Relaxed),
            self.count.load(Ordering::Relaxed),
        );
        if count == 0 {
            return 1;
        }
        let per_input = (nanos / count).max(1);
        usize::try_from(TARGET_TASK_NANOS / per_input)
            .unwrap_or(MAX_CHUNK)
            .clamp(1, MAX_CHUNK)
    }
}

/// One job: everything on the calling thread, so `--jobs 1` uses one processor (with a
/// worker thread beside the coordinating one it would use up to two).
fn run_serially<I, T, W, S>(inputs: I, options: &BatchOptions, work: W, mut sink: S)
where
    I: IntoIterator<Item = Input>,
    W: Fn(&Input) -> T,
    S: FnMut(Input, T),
{
    let progress = options.progress.map(|make| make());
    for input in inputs {
        let result = work(&input);
        sink(input, result);
        if let Some(bar) = &progress {
            bar.inc();
        }
    }
    if let Some(bar) = progress {
        bar.finish();
    }
}

#[cfg(test)]
mod tests;
