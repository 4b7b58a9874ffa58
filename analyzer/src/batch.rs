//! The batch pipeline shared by `analyze`, `bucket` and `scan`: inputs discovered lazily,
//! analyzed on a rayon pool, results handed on in input order with bounded memory, an
//! optional progress bar, and sharding so N machines split one input set without overlap.
//!
//! Ordering and memory: at most `jobs * IN_FLIGHT_PER_JOB` inputs are between discovery and
//! the sink at any time (running, or finished and waiting for an earlier one), so a batch of a
//! million dumps holds the same few reports in memory as a batch of ten, while one slow dump
//! stalls only the sink, not the workers, until the window is full.

use std::collections::BTreeMap;
use std::sync::mpsc;

use crate::error::{AnalyzeError, Result};
use crate::inputs::Input;

/// Inputs in flight per worker thread: enough that a slow input does not idle the others.
const IN_FLIGHT_PER_JOB: usize = 8;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Worker threads.
    pub jobs: usize,
    /// Draw a progress bar on stderr (the caller decides: only when stderr is a terminal).
    pub progress: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            progress: false,
        }
    }
}

/// Runs `work` over every input on `options.jobs` threads and hands each result to `sink`
/// in input order. Unreadable directory entries are passed to `work` too (it decides what
/// they become), so they keep their place in the order.
pub fn run_batch<I, T, W, S>(inputs: I, options: &BatchOptions, work: W, mut sink: S) -> Result<()>
where
    I: IntoIterator<Item = Input>,
    T: Send,
    W: Fn(&Input) -> T + Sync,
    S: FnMut(Input, T),
{
    let jobs = options.jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| AnalyzeError::Internal(format!("cannot start {jobs} worker threads: {e}")))?;
    let window = jobs * IN_FLIGHT_PER_JOB;
    let progress = options.progress.then(progress_bar);
    let (tx, rx) = mpsc::channel::<(usize, Input, T)>();
    let work = &work;
    pool.in_place_scope(|scope| {
        let mut waiting: BTreeMap<usize, (Input, T)> = BTreeMap::new();
        let mut next = 0usize;
        let mut started = 0usize;
        let mut drain =
            |block: bool, waiting: &mut BTreeMap<usize, (Input, T)>, next: &mut usize| {
                let got = if block {
                    rx.recv().ok()
                } else {
                    rx.try_recv().ok()
                };
                let received = got.is_some();
                if let Some((i, input, result)) = got {
                    waiting.insert(i, (input, result));
                }
                while let Some((input, result)) = waiting.remove(next) {
                    if let Some(bar) = &progress {
                        bar.inc(1);
                    }
                    sink(input, result);
                    *next += 1;
                }
                received
            };
        for input in inputs {
            while started - next >= window {
                drain(true, &mut waiting, &mut next);
            }
            let tx = tx.clone();
            let index = started;
            started += 1;
            scope.spawn(move |_| {
                let result = work(&input);
                // The receiver lives until every spawned task has finished.
                let _ = tx.send((index, input, result));
            });
            while drain(false, &mut waiting, &mut next) {}
        }
        while next < started {
            if !drain(true, &mut waiting, &mut next) {
                break;
            }
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(())
}

fn progress_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {human_pos} inputs done in {elapsed} ({per_sec})",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

#[cfg(test)]
mod tests;
