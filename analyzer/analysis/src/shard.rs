//! `--shard K/N`: one of N disjoint parts of an input set, chosen by a stable hash of each
//! input's path below the argument it was found under, so N machines running the same
//! command split one input set without overlap.

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
