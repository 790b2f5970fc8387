//! The secondary index of a store: a tag (the hash of a rendered key, or of a manual key's first
//! segment) to the table hashes of the keys that have it, with reference counts.
//!
//! A rendered-key tag almost always has one key, so the first member lives in the group itself
//! and only a tag shared by several keys (a segment such as `user:`) gets a table of members:
//! adding and removing stay O(1) however many keys share a tag.

use hashbrown::HashTable;

/// One tag's members.
struct Group {
    tag: u64,
    first: (u64, u32),
    rest: Option<Box<HashTable<(u64, u32)>>>,
}

/// A shard of the index.
#[derive(Default)]
pub(crate) struct TagIndex {
    groups: HashTable<Group>,
}

impl TagIndex {
    /// Records one more key with `hash` under `tag`.
    pub(crate) fn add(&mut self, tag: u64, hash: u64) {
        let Some(group) = self.groups.find_mut(tag, |g| g.tag == tag) else {
            self.groups.insert_unique(
                tag,
                Group {
                    tag,
                    first: (hash, 1),
                    rest: None,
                },
                |g| g.tag,
            );
            return;
        };
        if group.first.0 == hash {
            group.first.1 += 1;
            return;
        }
        let rest = group.rest.get_or_insert_with(Box::default);
        match rest.find_mut(hash, |m| m.0 == hash) {
            Some(m) => m.1 += 1,
            None => {
                rest.insert_unique(hash, (hash, 1), |m| m.0);
            }
        }
    }

    /// Forgets one key with `hash` under `tag`.
    pub(crate) fn remove(&mut self, tag: u64, hash: u64) {
        let Ok(mut entry) = self.groups.find_entry(tag, |g| g.tag == tag) else {
            return;
        };
        let group = entry.get_mut();
        if group.first.0 == hash {
            if group.first.1 > 1 {
                group.first.1 -= 1;
                return;
            }
            // Promote a member of `rest`, or drop the group.
            let promoted = group.rest.as_mut().and_then(|rest| {
                let h = rest.iter().next()?.0;
                rest.find_entry(h, |m| m.0 == h).ok().map(|e| e.remove().0)
            });
            let Some(m) = promoted else {
                entry.remove();
                return;
            };
            group.first = m;
        } else if let Some(rest) = group.rest.as_mut() {
            if let Ok(m) = rest.find_entry(hash, |m| m.0 == hash) {
                if m.get().1 > 1 {
                    m.into_mut().1 -= 1;
                } else {
                    m.remove();
                }
            }
        }
        if group.rest.as_ref().is_some_and(|r| r.is_empty()) {
            group.rest = None;
        }
    }

    /// The first table hash recorded under `tag`, and the others: a tag with one key (every
    /// rendered key, nearly) allocates nothing.
    pub(crate) fn hashes_split(&self, tag: u64) -> (Option<u64>, Vec<u64>) {
        match self.groups.find(tag, |g| g.tag == tag) {
            None => (None, Vec::new()),
            Some(g) => (
                Some(g.first.0),
                g.rest.iter().flat_map(|r| r.iter().map(|m| m.0)).collect(),
            ),
        }
    }

    /// The hashes recorded under `tag`.
    pub(crate) fn hashes(&self, tag: u64) -> Vec<u64> {
        let (first, rest) = self.hashes_split(tag);
        first.into_iter().chain(rest).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<u64>) -> Vec<u64> {
        v.sort_unstable();
        v
    }

    #[test]
    fn many_keys_under_one_tag_are_added_and_removed_one_by_one() {
        let mut ix = TagIndex::default();
        for h in 0..10_000 {
            ix.add(7, h);
        }
        assert_eq!(ix.hashes(7).len(), 10_000);
        for h in (0..10_000).step_by(2) {
            ix.remove(7, h);
        }
        assert_eq!(
            sorted(ix.hashes(7)),
            (1..10_000).step_by(2).collect::<Vec<_>>()
        );
        for h in (1..10_000).step_by(2) {
            ix.remove(7, h);
        }
        assert!(ix.hashes(7).is_empty());
        assert!(ix.groups.is_empty());
    }

    #[test]
    fn counts_keep_a_member_until_its_last_removal() {
        let mut ix = TagIndex::default();
        ix.add(1, 5);
        ix.add(1, 5);
        ix.add(1, 6);
        ix.remove(1, 5);
        assert_eq!(sorted(ix.hashes(1)), vec![5, 6]);
        ix.remove(1, 5);
        assert_eq!(ix.hashes(1), vec![6]);
        ix.remove(1, 9); // absent: nothing happens
        ix.remove(2, 6);
        assert_eq!(ix.hashes(1), vec![6]);
    }
}
