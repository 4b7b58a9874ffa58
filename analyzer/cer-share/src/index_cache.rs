//! What a [`super::ShareWriter`] remembers of the append-only indexes (the seen shards and
//! the BucketID registry) between groups, with the length it expects each file to have: a
//! file of another length was written by someone else in between and is read again.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::index;
use super::journal::file_len;
use super::seen::SeenShard;
use super::ShareError;

/// What the writer knows of the BucketID registry.
pub(crate) struct Registry {
    len: u64,
    pub(crate) ids: HashMap<String, u64>,
    max: u64,
}

impl Registry {
    /// The BucketID a new failure bucket gets: one more than every ID registered, and than
    /// `pending` (the highest one a group being planned has handed out but not yet written).
    /// IDs are never reused or renumbered.
    pub(crate) fn next_id(&self, pending: u64) -> u64 {
        self.max.max(pending) + 1
    }
}

/// The cached indexes of one share root.
pub(crate) struct IndexCache {
    root: PathBuf,
    /// Whether rebuilt seen tables are flushed to disk (the share's durability).
    flush: bool,
    seen: HashMap<Vec<String>, SeenShard>,
    registry: Option<Registry>,
    /// Files whose length was checked since the group began: under the lock nobody else
    /// changes them, so one check per group is enough.
    checked: HashSet<Vec<String>>,
}

impl IndexCache {
    pub(crate) fn new(root: &Path, flush: bool) -> IndexCache {
        IndexCache {
            root: root.to_path_buf(),
            flush,
            seen: HashMap::new(),
            registry: None,
            checked: HashSet::new(),
        }
    }

    /// Starts a group: every file is checked against its remembered length again.
    pub(crate) fn begin_group(&mut self) {
        self.checked.clear();
    }

    /// Length of a seen shard as read in this group (0 if never read).
    pub(crate) fn seen_len(&self, rel: &[String]) -> u64 {
        self.seen.get(rel).map_or(0, |s| s.log_len)
    }

    /// Length of the registry as last read (or after our own appends).
    pub(crate) fn registry_len(&self) -> u64 {
        self.registry.as_ref().map_or(0, |r| r.len)
    }

    /// Whether the seen index has `line`, reading the shard again when its length is not the
    /// one remembered.
    pub(crate) fn seen_contains(&mut self, rel: &[String], line: &str) -> Result<bool, ShareError> {
        if !self.checked.contains(rel) {
            self.refresh_shard(rel)?;
            self.checked.insert(rel.to_vec());
        }
        match self.seen.get_mut(rel) {
            Some(shard) => shard.contains(&self.root, line),
            None => Ok(false),
        }
    }

    fn refresh_shard(&mut self, rel: &[String]) -> Result<(), ShareError> {
        let mut path = self.root.clone();
        path.extend(rel.iter());
        let len = file_len(&self.root, &path)?;
        let fresh = self.seen.get(rel).is_some_and(|s| s.log_len == len);
        if !fresh {
            let shard = SeenShard::open(&self.root, path, self.flush)?;
            self.seen.insert(rel.to_vec(), shard);
        }
        Ok(())
    }

    /// The registry as on disk, read again when its length is not the one remembered.
    pub(crate) fn registry(&mut self) -> Result<&Registry, ShareError> {
        let key = vec![index::REGISTRY_FILE.to_owned()];
        let len = match (&self.registry, self.checked.contains(&key)) {
            (Some(registry), true) => registry.len,
            _ => file_len(&self.root, &self.root.join(index::REGISTRY_FILE))?,
        };
        self.checked.insert(key);
        if self.registry.as_ref().map_or(true, |r| r.len != len) {
            let (entries, _) = index::read_registry(&self.root)?;
            let max = entries.iter().map(|e| e.bucket_id).max().unwrap_or(0);
            let ids = entries
                .into_iter()
                .map(|e| (e.failure_bucket, e.bucket_id))
                .collect::<HashMap<_, _>>();
            self.registry = Some(Registry { len, ids, max });
        }
        self.registry.as_ref().ok_or(ShareError::InvalidInput {
            what: "registry",
            value: String::new(),
            reason: "not read",
        })
    }

    /// After a committed group: adds its lines to the caches, with the lengths the files now
    /// have if nobody else wrote to them.
    pub(crate) fn remember(
        &mut self,
        seen: Vec<(Vec<String>, String)>,
        ids: Vec<(String, u64)>,
        expected: &[(Vec<String>, u64)],
    ) {
        for (rel, line) in seen {
            if let Some(shard) = self.seen.get_mut(&rel) {
                shard.insert(line);
            }
        }
        if let Some(registry) = self.registry.as_mut() {
            for (key, id) in ids {
                registry.max = registry.max.max(id);
                registry.ids.insert(key, id);
            }
        }
        for (rel, len) in expected {
            if let Some(shard) = self.seen.get_mut(rel) {
                shard.log_len = *len;
            }
            if rel.len() == 1 && rel.first().is_some_and(|p| p == index::REGISTRY_FILE) {
                if let Some(registry) = self.registry.as_mut() {
                    registry.len = *len;
                }
            }
        }
    }

    /// Drops the caches (after a failure, what is on disk is not known).
    pub(crate) fn forget(&mut self) {
        self.seen.clear();
        self.registry = None;
        self.checked.clear();
    }
}
