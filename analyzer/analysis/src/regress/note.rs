//! [`RunNote`]: caveats about the runs `regress` compares.

use serde::Serialize;

/// A caveat about one of the two runs compared, shown in the words of `Display`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunNote {
    /// The baseline holds no record.
    EmptyBaseline {
        /// The run's source.
        source: String,
    },
    /// The baseline carries no verdicts or codes at all.
    BlindBaseline {
        /// The run's source.
        source: String,
    },
    /// A share counted hits that no report file attributes to a failure bucket.
    UnattributedHits {
        /// The run's source.
        source: String,
        /// The CER subpath.
        subpath: String,
        /// Hits left out.
        hits: usize,
    },
    /// Kernel records of a run written before schema version 3, compared with a run written
    /// after: the same crash has another bucket string in each.
    OlderKernelGrammar {
        /// The older run's source.
        source: String,
        /// Its kernel records.
        records: usize,
    },
    /// Some records carry no verdicts or codes (bucket output, signature-only runs).
    SummaryOnly {
        /// The run's source.
        source: String,
        /// Such records.
        summary_only: usize,
        /// All records.
        reports: usize,
    },
}

impl std::fmt::Display for RunNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunNote::OlderKernelGrammar { source, records } => write!(
                f,
                "{source}: {records} kernel record(s) written before schema version 3, whose \
                 buckets use the older grammar (0xD1_... where version 3 says AV_...): the \
                 same crash shows as one gone and one new bucket; re-run the older run's \
                 inputs to compare buckets"
            ),
            RunNote::EmptyBaseline { source } => {
                write!(f, "{source}: empty, so every bucket is new")
            }
            RunNote::BlindBaseline { source } => write!(
                f,
                "{source}: no verdicts or codes at all, so every regression verdict counts and codes are not compared"
            ),
            RunNote::UnattributedHits {
                source,
                subpath,
                hits,
            } => write!(
                f,
                "{source}: {hits} hits of {subpath} have no report file naming their failure bucket and are left out"
            ),
            RunNote::SummaryOnly {
                source,
                summary_only,
                reports,
            } => write!(
                f,
                "{source}: {summary_only} of {reports} records carry no verdicts or codes"
            ),
        }
    }
}

/// Written as its words.
impl Serialize for RunNote {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
