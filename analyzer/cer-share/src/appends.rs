//! The appends of one group, collected per file so that each file gets one journal action.

use std::collections::HashMap;

use super::error::ShareError;
use super::journal::Action;

/// Appends to one file, collected over a group: one journal action per file.
#[derive(Default)]
pub(crate) struct Appends {
    order: Vec<Vec<String>>,
    files: HashMap<Vec<String>, (u64, Vec<u8>)>,
}

impl Appends {
    /// Adds `data` to the append of `rel`; `current_len` gives the file's length before the
    /// group when this is the group's first append to it.
    pub(crate) fn push(
        &mut self,
        rel: Vec<String>,
        current_len: impl FnOnce() -> Result<u64, ShareError>,
        data: &[u8],
    ) -> Result<(), ShareError> {
        if let Some((_, pending)) = self.files.get_mut(&rel) {
            pending.extend_from_slice(data);
            return Ok(());
        }
        let len = current_len()?;
        self.files.insert(rel.clone(), (len, data.to_vec()));
        self.order.push(rel);
        Ok(())
    }

    /// One journal action per file, in the order the files were first appended to.
    pub(crate) fn into_actions(mut self, out: &mut Vec<Action>) {
        for rel in self.order {
            if let Some((len_before, data)) = self.files.remove(&rel) {
                out.push(Action::Append {
                    path: rel,
                    len_before,
                    data,
                });
            }
        }
    }
}
