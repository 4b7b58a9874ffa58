//! The batch pipeline shared by `analyze`, `bucket` and `scan`: inputs discovered lazily,
//! analyzed on a rayon pool, results handed on in input order with bounded memory, an
//! optional progress bar, and sharding so N machines split one input set without overlap.
//!
//! Ordering and memory: at most `jobs * IN_FLIGHT_PER_JOB` inputs are between discovery and
//! the sink at any time (running, or finished and waiting for an earlier one), so a batch of a
//! million dumps holds the same few hundred reports in memory as a batch of ten, while one
//! slow dump stalls only the sink, not the workers, until the window is full.
//!
//! Tasks: small inputs are handed to workers in chunks sized to about a millisecond of work
//! (measured as the batch goes), because a task per 20-microsecond minidump spends more on
//! spawning and waking threads than on the dump; a slow kernel dump still gets a task alone.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{AnalyzeError, Result};
use crate::inputs::Input;

/// Inputs in flight per worker thread: enough that a slow input does not idle the others,
/// and room for a few chunks of [`MAX_CHUNK`] small inputs per worker.
const IN_FLIGHT_PER_JOB: usize = 4 * MAX_CHUNK;
/// Most inputs one task analyzes.
const MAX_CHUNK: usize = 32;

/// One of N disjoint parts of an input set: `--shard K/N` (K from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, 1-based.
    pub index: u64,
    /// N.
    pub count: u64,
}

impl Shard {
    /// Parses `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> std::result::Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("`{text}` is not K/N (e.g. 3/8)"))?;
        let index: u64 = k
            .trim()
            .parse()
            .map_err(|_| format!("`{k}` in `{text}` is not a number"))?;
        let count: u64 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` in `{text}` is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!(
                "shard `{text}`: K must be between 1 and N, and N at least 1"
            ));
        }
        Ok(Shard { index, count })
    }

    /// A shard from a scheduler's array index (0-based, as Kubernetes indexed Jobs'
    /// `JOB_COMPLETION_INDEX` and Slurm's `SLURM_ARRAY_TASK_ID` give it) and the count.
    pub fn from_zero_based(index: u64, count: u64) -> Option<Shard> {
        (count > 0 && index < count).then_some(Shard {
            index: index + 1,
            count,
        })
    }

    /// Whether the input `relative` (its path below the input argument it was found under)
    /// belongs to this shard. The split hashes the path, not the position in the listing, so
    /// every machine agrees even when their directory listings come in different orders or
    /// files appear between listings.
    pub fn owns(&self, relative: &str) -> bool {
        fnv1a(relative.replace('\\', "/").as_bytes()) % self.count == self.index - 1
    }
}

/// FNV-1a, 64-bit: stable across platforms and releases (unlike `std`'s hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How a batch runs.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Worker threads.
    pub jobs: usize,
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

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            progress: None,
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
    let jobs = options.jobs.max(1);
    if jobs == 1 {
        run_serially(inputs, options, work, sink);
        return Ok(());
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| AnalyzeError::Internal(format!("cannot start {jobs} worker threads: {e}")))?;
    let window = max_in_flight(jobs);
    let progress = options.progress.map(|make| make());
    let (tx, rx) = mpsc::channel::<(usize, Vec<(Input, T)>)>();
    let work = &work;
    let timing = WorkTiming::default();
    let timing = &timing;
    let mut inputs = inputs.into_iter();
    pool.in_place_scope(|scope| {
        // Finished chunks waiting for an earlier one, by chunk number.
        let mut waiting: BTreeMap<usize, Vec<(Input, T)>> = BTreeMap::new();
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
            if let Some((index, results)) = got {
                waiting.insert(index, results);
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
        loop {
            let size = timing.chunk_len().min(window);
            while started - delivered + size > window {
                deliver(true, &mut waiting, &mut next_chunk, &mut delivered);
            }
            let chunk: Vec<Input> = inputs.by_ref().take(size).collect();
            if chunk.is_empty() {
                break;
            }
            started += chunk.len();
            let tx = tx.clone();
            let index = chunks;
            chunks += 1;
            scope.spawn(move |_| {
                let results = chunk
                    .into_iter()
                    .map(|input| {
                        let begun = Instant::now();
                        let result = work(&input);
                        timing.record(begun.elapsed());
                        (input, result)
                    })
                    .collect();
                // The receiver lives until every spawned task has finished.
                let _ = tx.send((index, results));
            });
            while deliver(false, &mut waiting, &mut next_chunk, &mut delivered) {}
        }
        while next_chunk < chunks {
            if !deliver(true, &mut waiting, &mut next_chunk, &mut delivered) {
                break;
            }
        }
    });
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

/// Work per task the chunking aims at: spawning a task and waking the sink cost some
/// microseconds each, noise against a millisecond of work.
const TARGET_TASK_NANOS: u64 = 1_000_000;

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
