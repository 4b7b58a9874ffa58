//! Group commit: a whole group of filings under one lock, one journal and one write of each
//! file it touches.
//!
//! Filing one report at a time costs a lock, a journal, a count.txt rewrite and a handful of
//! appends (each with its fsync) per report, about a millisecond, which is twenty times the
//! analysis of a minidump. A group of filings makes the same decisions in the same order as
//! one-by-one filings would (each report sees the counts the ones before it left), but the
//! results are carried out together: count.txt written once per bucket with its final value,
//! one append per log with all its lines, one journal for all of it. A writer killed during a
//! group leaves the same kind of journal as a single filing, and the next writer completes the
//! whole group.
//!
//! The seen index and the BucketID registry are append-only, so the writer keeps what it read
//! of them between groups, together with the length it expects each file to have; a file
//! whose length differs (another writer was there in between) is read again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::appends::Appends;
use super::config::{effective, read_config, ConfigKind, Effective};
use super::error::io_err;
use super::index::{self, clean_key};
use super::index_cache::IndexCache;
use super::jail;
use super::journal::{self, commit, file_len, recover, temp_path, Action, Durability, ShareLock};
use super::paths::{check_content_id, longest_path, BucketFiles, MAX_PATH_CHARS};
use super::text::{
    log_item, log_line, MAX_MACHINE, MAX_USER, NO_CAB, UNKNOWN_MACHINE, UNKNOWN_USER,
};
use super::{
    copy_report, read_counts, rel, BucketPath, CerShare, Counts, CrashTime, FileOutcome, NotCopied,
    ReportToFile, ShareError, CRASH_LOG,
};

/// A test hook standing for a killed writer (see [`journal::commit`]); step 0 is "report
/// copies written, journal not yet".
pub(crate) type Fault<'f> = &'f (dyn Fn(usize) -> Result<(), ShareError> + Sync);

/// Files reports into one share in groups (see the module docs). Keep one per run: it caches
/// the append-only indexes between groups.
pub struct ShareWriter<'s> {
    share: &'s CerShare,
    copy_threads: usize,
    cache: IndexCache,
}

/// A bucket's state while a group is planned: its files, its rules, and its counters as the
/// reports planned so far leave them.
struct BucketState {
    files: BucketFiles,
    rules: Effective,
    counts: Option<Counts>,
    /// Whether count.txt must be written (a report was counted here).
    touched: bool,
    /// The report files in the bucket's cabs folder, listed once per group; `None` when the
    /// bucket holds too many to list (each report is then looked up on its own).
    present: Option<HashSet<String>>,
}

/// Buckets that counted at most this many report files have their folder listed once per
/// group instead of a lookup per report (one `getdents` against a `stat` per report, on the
/// thread every filing waits for).
pub(crate) const LIST_AT_MOST: u64 = 4096;

/// The names in `dir` (none if it does not exist); `None` if it cannot be listed.
/// A link on the way is an error (the report is not filed there).
fn list_names(root: &Path, dir: &Path) -> Result<Option<HashSet<String>>, ShareError> {
    let entries = match jail::list(root, dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(HashSet::new())),
        Err(e) if jail::link_of(&e).is_some() => return Err(io_err(dir)(e)),
        Err(_) => return Ok(None),
    };
    // A name that is not UTF-8 is not one of ours (they are hex digits and `.cab`).
    Ok(Some(
        entries
            .into_iter()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect(),
    ))
}

/// One report copy the plan needs: which report, and where its temp file goes.
struct ReportCopy {
    report: usize,
    temp: PathBuf,
}

/// Everything a group will do, before any of it is done.
#[derive(Default)]
struct Plan {
    outcomes: Vec<Option<Result<FileOutcome, ShareError>>>,
    copies: Vec<ReportCopy>,
    counts: Vec<(Vec<String>, Counts)>,
    renames: Vec<Action>,
    seen: Appends,
    hits: Appends,
    crash: Appends,
    registry: Appends,
    blue: Appends,
    /// Seen lines and registry entries the group adds, merged into the caches on success.
    new_seen: Vec<(Vec<String>, String)>,
    new_ids: Vec<(String, u64)>,
}

impl<'s> ShareWriter<'s> {
    /// A writer for `share`; report copies of a group are written on up to `copy_threads`
    /// threads (packing a raw dump into a CAB is the costly part).
    pub fn new(share: &'s CerShare, copy_threads: usize) -> ShareWriter<'s> {
        ShareWriter {
            share,
            copy_threads: copy_threads.max(1),
            cache: IndexCache::new(&share.root, share.durability == Durability::Flushed),
        }
    }

    /// The BucketID of `failure_bucket` in the share's registry, registering the next free
    /// one (through the journal, under the lock) when it has none. Groups assign IDs by the
    /// same rule from the same cache ([`IndexCache`]).
    pub fn bucket_id(&mut self, failure_bucket: &str) -> Result<u64, ShareError> {
        let _lock = ShareLock::acquire(&self.share.root)?;
        recover(&self.share.root, self.share.durability)?;
        self.cache.begin_group();
        let key = clean_key(failure_bucket);
        let registry = self.cache.registry()?;
        if let Some(id) = registry.ids.get(&key) {
            return Ok(*id);
        }
        let id = registry.next_id(0);
        let len_before = self.cache.registry_len();
        let data = format!("{id}\t{key}\r\n").into_bytes();
        let rel = vec![index::REGISTRY_FILE.to_owned()];
        let expected = [(rel.clone(), len_before + data.len() as u64)];
        let action = Action::Append {
            path: rel,
            len_before,
            data,
        };
        if let Err(e) = commit(
            &self.share.root,
            vec![action],
            &|_| Ok(()),
            1,
            self.share.durability,
        ) {
            self.cache.forget();
            return Err(e);
        }
        self.cache.remember(Vec::new(), vec![(key, id)], &expected);
        Ok(id)
    }

    /// Files a group of reports, in order, as if each were filed by [`CerShare::file`] after
    /// the one before it. The outer error means the group as a whole could not be filed (the
    /// lock, or a damaged journal); the inner results are per report.
    pub fn file_group(
        &mut self,
        reports: &[ReportToFile<'_>],
    ) -> Result<Vec<Result<FileOutcome, ShareError>>, ShareError> {
        self.file_group_with(reports, &|_| Ok(()))
    }

    pub(crate) fn file_group_with(
        &mut self,
        reports: &[ReportToFile<'_>],
        fault: Fault<'_>,
    ) -> Result<Vec<Result<FileOutcome, ShareError>>, ShareError> {
        // Checks that need no lock: the inputs themselves and the 260-character rule.
        let mut early: Vec<Option<Result<FileOutcome, ShareError>>> =
            reports.iter().map(|r| self.precheck(r)).collect();
        if early.iter().all(Option::is_some) {
            return Ok(early.into_iter().flatten().collect());
        }

        let _lock = ShareLock::acquire(&self.share.root)?;
        recover(&self.share.root, self.share.durability)?;
        self.cache.begin_group();
        let mut copied: HashSet<usize> = HashSet::new();
        let plan = loop {
            let plan = self.plan(reports, &early);
            let todo: Vec<&ReportCopy> = plan
                .copies
                .iter()
                .filter(|c| !copied.contains(&c.report))
                .collect();
            let failures = self.run_copies(reports, &todo);
            copied.extend(todo.iter().map(|c| c.report));
            if failures.is_empty() {
                break plan;
            }
            // A report whose copy failed is out of the group; the others are planned again,
            // since a later report may now take the slot it held under the limit.
            for (report, error) in failures {
                copied.remove(&report);
                if let Some(slot) = early.get_mut(report) {
                    *slot = Some(Err(error));
                }
            }
        };
        // Copies made for a plan that was then replaced are not needed any more.
        let planned: HashSet<usize> = plan.copies.iter().map(|c| c.report).collect();
        for report in copied.difference(&planned) {
            if let Some(r) = reports.get(*report) {
                let _ = jail::remove_file(&self.share.root, &temp_path(&self.report_path(r)));
            }
        }
        // The copies must be on disk before a journal that renames them into place.
        let temps: Vec<PathBuf> = plan.copies.iter().map(|c| c.temp.clone()).collect();
        if let Err(e) = journal::sync_files(&self.share.root, &temps, self.share.durability) {
            self.cache.forget();
            return Err(e);
        }
        if let Err(e) = fault(0) {
            self.cache.forget();
            return Err(e);
        }

        let mut actions: Vec<Action> = plan
            .counts
            .iter()
            .map(|(path, counts)| Action::Write {
                path: path.clone(),
                data: counts.to_file_bytes(),
            })
            .collect();
        actions.extend(plan.renames);
        for appends in [plan.seen, plan.hits, plan.crash, plan.registry, plan.blue] {
            appends.into_actions(&mut actions);
        }
        let expected: Vec<(Vec<String>, u64)> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Append {
                    path,
                    len_before,
                    data,
                } => Some((path.clone(), len_before + data.len() as u64)),
                _ => None,
            })
            .collect();
        if !actions.is_empty() {
            if let Err(e) = commit(
                &self.share.root,
                actions,
                fault,
                self.copy_threads,
                self.share.durability,
            ) {
                self.cache.forget();
                return Err(e);
            }
        }
        self.cache.remember(plan.new_seen, plan.new_ids, &expected);

        let mut outcomes = plan.outcomes;
        for (slot, first) in outcomes.iter_mut().zip(early) {
            if slot.is_none() {
                *slot = first;
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(super::unreachable_outcome))
            .collect())
    }

    /// The outcome decided without the lock: an invalid input, or a discard by the
    /// 260-character rule. `None` when the report goes on to be filed.
    fn precheck(&self, r: &ReportToFile<'_>) -> Option<Result<FileOutcome, ShareError>> {
        if let Err(e) = r.bucket.checked_components() {
            return Some(Err(e));
        }
        if let Err(e) = check_content_id(r.content_id) {
            return Some(Err(e));
        }
        let report_name = format!("{}.cab", r.content_id);
        let named = r.report.is_some().then_some(report_name.as_str());
        let (path, chars) =
            longest_path(&self.share.windows_root, &r.bucket.windows_subpath(), named);
        (chars > MAX_PATH_CHARS).then_some(Ok(FileOutcome::Discarded { path, chars }))
    }

    fn bucket_files(&self, r: &ReportToFile<'_>) -> BucketFiles {
        // Checked by `precheck` before any report gets here.
        let components = r.bucket.checked_components().unwrap_or_default();
        BucketFiles::new(&self.share.root, &components)
    }

    fn report_path(&self, r: &ReportToFile<'_>) -> PathBuf {
        self.bucket_files(r)
            .cabs_dir
            .join(format!("{}.cab", r.content_id))
    }

    /// Decides every report of the group in order, under the lock; nothing is written.
    fn plan(
        &mut self,
        reports: &[ReportToFile<'_>],
        early: &[Option<Result<FileOutcome, ShareError>>],
    ) -> Plan {
        let mut plan = Plan {
            outcomes: (0..reports.len()).map(|_| None).collect(),
            ..Plan::default()
        };
        let mut buckets: HashMap<String, BucketState> = HashMap::new();
        let mut bucket_order: Vec<String> = Vec::new();
        let mut group_seen: HashSet<String> = HashSet::new();
        let mut group_ids: HashMap<String, u64> = HashMap::new();
        for (i, r) in reports.iter().enumerate() {
            if early.get(i).is_some_and(Option::is_some) {
                continue;
            }
            let outcome = self.plan_one(
                i,
                r,
                &mut plan,
                &mut buckets,
                &mut bucket_order,
                &mut group_seen,
                &mut group_ids,
            );
            if let Some(slot) = plan.outcomes.get_mut(i) {
                *slot = Some(outcome);
            }
        }
        for key in bucket_order {
            if let Some(state) = buckets.get(&key).filter(|s| s.touched) {
                if let Some(counts) = state.counts {
                    plan.counts
                        .push((rel(&state.files.counts_rel, "count.txt"), counts));
                }
            }
        }
        plan
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_one(
        &mut self,
        index: usize,
        r: &ReportToFile<'_>,
        plan: &mut Plan,
        buckets: &mut HashMap<String, BucketState>,
        bucket_order: &mut Vec<String>,
        group_seen: &mut HashSet<String>,
        group_ids: &mut HashMap<String, u64>,
    ) -> Result<FileOutcome, ShareError> {
        // The share outlives `self`: borrowing its root does not borrow the writer.
        let root = &self.share.root;
        let subpath = r.bucket.windows_subpath();
        let report_name = format!("{}.cab", r.content_id);
        let seen_rel = index::seen_rel(r.content_id);
        let seen_line = index::seen_entry(r.content_id, &subpath);
        if group_seen.contains(&seen_line) || self.cache.seen_contains(&seen_rel, &seen_line)? {
            return Ok(FileOutcome::AlreadyFiled { subpath });
        }
        if !buckets.contains_key(&subpath) {
            let files = self.bucket_files(r);
            let status = read_config(root, &files.status_txt, ConfigKind::Status)?;
            let rules = effective(
                self.share.policy.as_ref().map(|p| &p.settings),
                status.as_ref().map(|s| &s.settings),
                r.bucket.is_special(),
            );
            let counts = read_counts(root, &files.count_txt)?;
            let present = if counts.map_or(true, |c| c.cabs_gathered <= LIST_AT_MOST) {
                list_names(root, &files.cabs_dir)?
            } else {
                None
            };
            // Files a filing appends to must not be links either: found now, the report is
            // not filed, rather than the group's journal failing half way.
            file_len(root, &files.hits_log)?;
            buckets.insert(
                subpath.clone(),
                BucketState {
                    files,
                    rules,
                    counts,
                    touched: false,
                    present,
                },
            );
            bucket_order.push(subpath.clone());
        }
        let Some(state) = buckets.get_mut(&subpath) else {
            return Err(ShareError::InvalidInput {
                what: "bucket",
                value: subpath,
                reason: "bucket state lost",
            });
        };
        let report_path = state.files.cabs_dir.join(&report_name);
        let already = match &state.present {
            Some(names) => names.contains(&report_name),
            None => jail::kind(root, &report_path)
                .map_err(io_err(&report_path))?
                .is_some(),
        };
        if already {
            return Ok(FileOutcome::AlreadyFiled { subpath });
        }
        let rules = state.rules;
        let gathered = state.counts.map_or(0, |c| c.cabs_gathered);
        let not_copied = match (&r.report, rules.crashes_per_bucket) {
            (None, _) => Some(NotCopied::NoReport),
            _ if !rules.report_wanted => Some(NotCopied::NotWanted),
            (_, Some(limit)) if gathered >= limit => Some(NotCopied::OverLimit { limit }),
            _ => None,
        };
        let overflow = || ShareError::CounterOverflow(state.files.count_txt.clone());
        let counts = Counts {
            cabs_gathered: gathered
                .checked_add(u64::from(not_copied.is_none()))
                .ok_or_else(overflow)?,
            total_hits: state
                .counts
                .map_or(0, |c| c.total_hits)
                .checked_add(1)
                .ok_or_else(overflow)?,
        };
        let files = state.files.clone();

        // The BucketID first: it is the one step left that can fail on a read.
        let mut bucket_id = None;
        let mut register = None;
        if let Some(failure_bucket) = r.failure_bucket.filter(|b| !b.is_empty()) {
            let key = clean_key(failure_bucket);
            let id = match group_ids.get(&key) {
                Some(id) => *id,
                None => {
                    let registry = self.cache.registry()?;
                    match registry.ids.get(&key) {
                        Some(id) => *id,
                        None => {
                            let next =
                                registry.next_id(group_ids.values().copied().max().unwrap_or(0));
                            register = Some((key.clone(), next));
                            next
                        }
                    }
                }
            };
            group_ids.insert(key, id);
            bucket_id = Some((id, failure_bucket));
        }

        // Decided: record it.
        if let Some(state) = buckets.get_mut(&subpath) {
            state.counts = Some(counts);
            state.touched = true;
        }
        if not_copied.is_none() {
            plan.copies.push(ReportCopy {
                report: index,
                temp: temp_path(&report_path),
            });
            plan.renames.push(Action::Rename {
                from: rel(
                    &files.cabs_rel,
                    &format!("{report_name}{}", journal::TEMP_SUFFIX),
                ),
                to: rel(&files.cabs_rel, &report_name),
            });
        }
        let seen_len = self.cache.seen_len(&seen_rel);
        plan.seen.push(
            seen_rel.clone(),
            || Ok(seen_len),
            format!("{seen_line}\r\n").as_bytes(),
        )?;
        group_seen.insert(seen_line.clone());
        plan.new_seen.push((seen_rel, seen_line));
        if rules.tracking {
            let time = r
                .crash_time
                .or_else(|| r.file_mtime.and_then(CrashTime::from_system_time))
                .or_else(|| CrashTime::from_system_time(SystemTime::now()))
                .unwrap_or(CrashTime::EPOCH);
            let machine = log_item(r.machine, MAX_MACHINE, UNKNOWN_MACHINE);
            let user = log_item(r.user, MAX_USER, UNKNOWN_USER);
            let file_item = if not_copied.is_none() {
                report_name.as_str()
            } else {
                NO_CAB
            };
            let crash_item = rules.bucket_id.map_or(subpath.clone(), |id| id.to_string());
            plan.hits.push(
                rel(&files.cabs_rel, "hits.log"),
                || file_len(root, &files.hits_log),
                &log_line(&time, &machine, &user, file_item),
            )?;
            plan.crash.push(
                vec![CRASH_LOG.to_owned()],
                || file_len(root, &root.join(CRASH_LOG)),
                &log_line(&time, &machine, &user, &crash_item),
            )?;
        }
        if let Some((key, id)) = register {
            plan.registry.push(
                vec![index::REGISTRY_FILE.to_owned()],
                || Ok(self.cache.registry_len()),
                format!("{id}\t{key}\r\n").as_bytes(),
            )?;
            plan.new_ids.push((key, id));
        }
        if let (Some((id, failure_bucket)), BucketPath::Blue) = (bucket_id, &r.bucket) {
            let copied = not_copied.is_none().then_some(report_name.as_str());
            plan.blue.push(
                vec![index::BLUE_INDEX_FILE.to_owned()],
                || file_len(root, &root.join(index::BLUE_INDEX_FILE)),
                index::blue_index_line(failure_bucket, id, copied, r.content_id).as_bytes(),
            )?;
        }
        let tracked = rules.tracking;
        let bucket_id = bucket_id.map(|(id, _)| id);
        Ok(match not_copied {
            None => FileOutcome::Filed {
                report: report_path,
                counts,
                bucket_id,
                tracked,
            },
            Some(reason) => FileOutcome::CountedOnly {
                reason,
                counts,
                bucket_id,
                tracked,
            },
        })
    }

    /// Writes the report temp files, on up to `copy_threads` threads. Returns the failures.
    fn run_copies(
        &self,
        reports: &[ReportToFile<'_>],
        todo: &[&ReportCopy],
    ) -> Vec<(usize, ShareError)> {
        let copy_one = |c: &ReportCopy| -> Option<(usize, ShareError)> {
            let result = match reports.get(c.report).and_then(|r| r.report.as_ref()) {
                Some(source) => copy_report(&self.share.root, source, &c.temp),
                None => Ok(()),
            };
            result.err().map(|e| {
                // Best effort; repair removes it otherwise.
                let _ = jail::remove_file(&self.share.root, &c.temp);
                (c.report, e)
            })
        };
        let threads = self.copy_threads.min(todo.len());
        if threads <= 1 {
            return todo.iter().filter_map(|c| copy_one(c)).collect();
        }
        let chunk = todo.len().div_ceil(threads);
        let copy_one = &copy_one;
        std::thread::scope(|scope| {
            let handles: Vec<_> = todo
                .chunks(chunk)
                .map(|part| {
                    let handle = scope
                        .spawn(move || part.iter().filter_map(|c| copy_one(c)).collect::<Vec<_>>());
                    (part, handle)
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|(part, handle)| {
                    // A panic while packing fails that thread's reports, not the group.
                    handle.join().unwrap_or_else(|_| {
                        part.iter()
                            .map(|c| {
                                let _ = jail::remove_file(&self.share.root, &c.temp);
                                (
                                    c.report,
                                    ShareError::InvalidInput {
                                        what: "report copy",
                                        value: c.temp.display().to_string(),
                                        reason: "packing the report panicked",
                                    },
                                )
                            })
                            .collect()
                    })
                })
                .collect()
        })
    }
}
