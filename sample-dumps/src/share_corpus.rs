//! A share-sized CER corpus for scale tests and benchmarks: many buckets, a million hits, the
//! tracking logs and dumpsig's own indexes (BucketID registry, kernel index, a seen index with
//! one line per hit), with hostile and damaged entries mixed in.
//!
//! Written from `shared/spec/cer-share.md` with this module's own code (no struct of the share
//! crate), deterministic (a fixed-seed PRNG, fixed times). Hits follow a Zipf-like curve, as
//! crash reports do: a few buckets hold most of them. Report files: every generated minidump
//! sample in the folder of its own subpath (up to five copies, each with its own header
//! timestamp, so distinct content), every kernel sample in `blue`, and in every
//! [`FILES_EVERY`]th application bucket one copy of a sample whose signature does not match the
//! folder (a report a share can hold after a rename; readers must cope). Other buckets kept no
//! report file (`Cabs Gathered=0`), as a share whose crashes-per-bucket limit was reached does.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::kernel::kernel_samples;
use crate::minidump_samples;

/// One application bucket in this many gets a (mismatched) report file.
pub const FILES_EVERY: usize = 10;
/// Report files kept per bucket at most (the CER default).
const MAX_FILES: u64 = 5;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorpusSpec {
    /// Distinct application buckets (subpaths), besides `blue`.
    pub buckets: usize,
    /// Hits over all buckets (count.txt totals; one seen-index line and one log line each).
    pub hits: u64,
    /// Write hits.log and crash.log lines (tracking on).
    pub tracking: bool,
    /// Mix in damaged and hostile entries.
    pub damage: bool,
}

/// What was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusSummary {
    /// Bucket folders with a count.txt.
    pub buckets: usize,
    /// Sum of all valid count.txt `Total Hits`.
    pub hits: u64,
    /// Report files written.
    pub report_files: usize,
    /// Damaged or hostile entries planted (each named).
    pub damaged: Vec<String>,
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn hex64(&mut self) -> String {
        (0..4).map(|_| format!("{:016x}", self.next())).collect()
    }
}

/// Hits per bucket: proportional to 1/(rank+1), at least one each, summing to `total`.
fn zipf(buckets: usize, total: u64) -> Vec<u64> {
    if buckets == 0 {
        return Vec::new();
    }
    let total = total.max(buckets as u64);
    let weights: Vec<f64> = (0..buckets).map(|i| 1.0 / (i as f64 + 1.0)).collect();
    let sum: f64 = weights.iter().sum();
    let spare = (total - buckets as u64) as f64;
    let mut hits: Vec<u64> = weights
        .iter()
        .map(|w| 1 + (spare * w / sum).floor() as u64)
        .collect();
    let short = total - hits.iter().sum::<u64>();
    for h in hits.iter_mut().take(short as usize) {
        *h += 1;
    }
    hits
}

/// `app<a>.exe\<ver>\mod<m>.dll\<ver>\<offset>` for synthetic bucket `i`.
fn synthetic_subpath(i: usize) -> String {
    format!(
        "app{:03}.exe\\1.{}.0.0\\mod{:04}.dll\\2.{}.{}.0\\{:08x}",
        i % 997,
        i % 7,
        i / 7 % 4001,
        i % 13,
        i % 3,
        0x1000 + (i as u64 * 0x2F) % 0xF_F000
    )
}

fn folder(root: &Path, tree: &str, subpath: &str) -> PathBuf {
    let mut p = root.join(tree);
    p.extend(subpath.split('\\'));
    p
}

fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, bytes)
}

/// `HH:MM:SS  MM-DD-YYYY` of the `n`th hit (spread over 2026).
fn stamp(n: u64) -> String {
    let s = n % 86_400;
    let day = n / 86_400 % 365;
    let (month, mday) = (day / 31 % 12 + 1, day % 28 + 1);
    format!(
        "{:02}:{:02}:{:02}  {month:02}-{mday:02}-2026",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

struct Logs {
    crash: Option<BufWriter<File>>,
    seen: Vec<BufWriter<File>>,
    rng: Rng,
    n: u64,
}

impl Logs {
    /// One hit: a seen line, a crash.log line and a hits.log line.
    fn hit(
        &mut self,
        subpath: &str,
        hits_log: &mut Option<BufWriter<File>>,
        file: &str,
    ) -> std::io::Result<()> {
        let id = self.rng.hex64();
        let shard = usize::from_str_radix(&id[..1], 16).unwrap_or(0);
        if let Some(seen) = self.seen.get_mut(shard) {
            write!(seen, "{id}\t{subpath}\r\n")?;
        }
        let line = format!(
            "{}\tMACHINE{:04}\tuser{}\t{file}",
            stamp(self.n),
            self.n % 5000,
            self.n % 300
        );
        if let Some(log) = hits_log {
            write!(log, "{line}\r\n")?;
        }
        if let Some(crash) = &mut self.crash {
            write!(crash, "{line}\t{subpath}\r\n")?;
        }
        self.n += 1;
        Ok(())
    }
}

/// Writes the corpus under `root` (which should not exist or be empty).
pub fn write_corpus(root: &Path, spec: &CorpusSpec) -> std::io::Result<CorpusSummary> {
    fs::create_dir_all(root.join("dumpsig-seen"))?;
    let mut logs = Logs {
        crash: if spec.tracking {
            Some(BufWriter::new(File::create(root.join("crash.log"))?))
        } else {
            None
        },
        seen: (0..16)
            .map(|x| File::create(root.join(format!("dumpsig-seen/{x:x}.tsv"))).map(BufWriter::new))
            .collect::<Result<_, _>>()?,
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        n: 0,
    };
    if spec.tracking {
        write(&root.join("policy.txt"), b"Tracking=YES\r\n")?;
    }
    let mut summary = CorpusSummary::default();
    let samples = minidump_samples();
    // Real samples first (they take the top of the curve), then synthetic buckets.
    let mut subpaths: Vec<String> = Vec::new();
    for s in &samples {
        if !subpaths.contains(&s.expected_cer_subpath) {
            subpaths.push(s.expected_cer_subpath.clone());
        }
    }
    let real = subpaths.len();
    subpaths.extend((0..spec.buckets.saturating_sub(real)).map(synthetic_subpath));
    let kernel = kernel_samples();
    // `blue` takes a twentieth of the hits.
    let blue_hits = (spec.hits / 20).max(kernel.len() as u64);
    let hits = zipf(subpaths.len(), spec.hits.saturating_sub(blue_hits));
    let mut registry = BufWriter::new(File::create(root.join("dumpsig-buckets.tsv"))?);
    for (i, (subpath, &h)) in subpaths.iter().zip(&hits).enumerate() {
        let cabs = folder(root, "cabs", subpath);
        fs::create_dir_all(&cabs)?;
        let mut files: Vec<String> = Vec::new();
        if i < real {
            for (k, s) in samples
                .iter()
                .filter(|s| &s.expected_cer_subpath == subpath)
                .enumerate()
            {
                for copy in 0..MAX_FILES.min(h) as usize / 2 + 1 {
                    let mut bytes = s.bytes.clone();
                    let stamp = 1_700_000_000u32 + (k * 10 + copy) as u32;
                    if let Some(field) = bytes.get_mut(20..24) {
                        field.copy_from_slice(&stamp.to_le_bytes());
                    }
                    let name = format!("{}-{copy}.dmp", s.file_name.trim_end_matches(".dmp"));
                    write(&cabs.join(&name), &bytes)?;
                    files.push(name);
                }
            }
        } else if i % FILES_EVERY == 0 {
            if let Some(s) = samples.get(i % samples.len().max(1)) {
                let mut bytes = s.bytes.clone();
                if let Some(field) = bytes.get_mut(20..24) {
                    field.copy_from_slice(&(1_710_000_000u32 + i as u32).to_le_bytes());
                }
                let name = format!("mismatched-{i}.dmp");
                write(&cabs.join(&name), &bytes)?;
                files.push(name);
            }
        }
        files.truncate(h as usize);
        summary.report_files += files.len();
        let count = format!("Cabs Gathered={}\r\nTotal Hits={h}\r\n", files.len());
        write(
            &folder(root, "counts", subpath).join("count.txt"),
            count.as_bytes(),
        )?;
        let mut hits_log = if spec.tracking {
            Some(BufWriter::new(File::create(cabs.join("hits.log"))?))
        } else {
            None
        };
        for n in 0..h {
            let file = files.get(n as usize).map_or("No CAB", String::as_str);
            logs.hit(subpath, &mut hits_log, file)?;
        }
        write!(
            registry,
            "{}\tAPPLICATION_FAULT_{i}_bucket!Function{i}\r\n",
            i + 1
        )?;
        summary.buckets += 1;
        summary.hits += h;
    }
    // blue: the kernel samples, the rest of its hits counted only.
    let blue = folder(root, "cabs", "blue");
    fs::create_dir_all(&blue)?;
    let mut blue_index = BufWriter::new(File::create(root.join("dumpsig-blue-index.tsv"))?);
    let mut hits_log = if spec.tracking {
        Some(BufWriter::new(File::create(blue.join("hits.log"))?))
    } else {
        None
    };
    for k in 0..blue_hits {
        let file = match kernel.get(k as usize) {
            Some(s) => {
                write(&blue.join(&s.file_name), &s.bytes)?;
                summary.report_files += 1;
                s.file_name.clone()
            }
            None => "No CAB".to_owned(),
        };
        let id = subpaths.len() as u64 + 1 + k % 50;
        write!(
            blue_index,
            "0xD1_IMAGE_driver{}.sys\t{id}\t{file}\t{:064x}\r\n",
            k % 50,
            k
        )?;
        logs.hit("blue", &mut hits_log, &file)?;
    }
    let blue_files = kernel.len().min(blue_hits as usize);
    write(
        &folder(root, "counts", "blue").join("count.txt"),
        format!("Cabs Gathered={blue_files}\r\nTotal Hits={blue_hits}\r\n").as_bytes(),
    )?;
    summary.buckets += 1;
    summary.hits += blue_hits;
    for w in logs.seen.iter_mut().chain(logs.crash.as_mut()) {
        w.flush()?;
    }
    if let Some(log) = hits_log.as_mut() {
        log.flush()?;
    }
    registry.flush()?;
    blue_index.flush()?;
    if spec.damage {
        plant_damage(root, &mut summary)?;
    }
    Ok(summary)
}

/// Damaged and hostile entries: each is a bucket or file a reader must report and get past.
fn plant_damage(root: &Path, summary: &mut CorpusSummary) -> std::io::Result<()> {
    let mut plant = |rel: &str, bytes: &[u8], what: &str| -> std::io::Result<()> {
        write(&root.join(rel), bytes)?;
        summary.damaged.push(format!("{rel}: {what}"));
        Ok(())
    };
    plant(
        "counts/damaged.exe/1.0.0.0/bad.dll/1.0.0.0/00000001/count.txt",
        b"Cabs Gathered=banana\r\nTotal Hits=-4\r\ngarbage\r\n",
        "count.txt with non-numbers and an extra line",
    )?;
    fs::create_dir_all(root.join("cabs/damaged.exe/1.0.0.0/bad.dll/1.0.0.0/00000001"))?;
    plant(
        "counts/huge.exe/1.0.0.0/x.dll/1.0.0.0/00000002/count.txt",
        b"Cabs Gathered=0\r\nTotal Hits=99999999999999999999999\r\n",
        "count.txt whose hits overflow 64 bits",
    )?;
    fs::create_dir_all(root.join("cabs/huge.exe/1.0.0.0/x.dll/1.0.0.0/00000002"))?;
    plant(
        "cabs/nocount.exe/1.0.0.0/y.dll/1.0.0.0/00000003/truncated.dmp",
        b"MDMP\x93\xa7",
        "report file cut after 6 bytes, bucket without count.txt",
    )?;
    plant(
        "cabs/logs.exe/1.0.0.0/z.dll/1.0.0.0/00000004/hits.log",
        &b"not a log line\r\n\x00\x01\x02\xff\r\n".repeat(1000),
        "hits.log of 2000 damaged lines",
    )?;
    plant(
        "counts/logs.exe/1.0.0.0/z.dll/1.0.0.0/00000004/count.txt",
        b"Cabs Gathered=0\r\nTotal Hits=2000\r\n",
        "its count",
    )?;
    plant(
        "dumpsig-seen/0.tsv.dumpsig-tmp",
        b"left over\r\n",
        "a temporary file a killed writer left",
    )?;
    plant(
        "stray.txt",
        b"not part of a share\r\n",
        "a stray file at the root",
    )?;
    plant(
        "cabs/..%2f..%2fetc/1.0.0.0/m.dll/1.0.0.0/00000005/hits.log",
        b"",
        "a hostile folder name",
    )?;
    Ok(())
}
