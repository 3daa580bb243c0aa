//! The due-time index of outbound work: what the queue manager keeps scheduled, ordered by
//! the time each entry is due, with lookups by message for "retry now" and "forget".
//!
//! An entry is keyed by its message and destination domain ([`DueKey`]); a key is in the
//! index at most once. Entries due at the same second come out in key order, so dispatch
//! order is deterministic. Times are unix seconds passed by the caller: no clock here.

use std::collections::BTreeMap;

use crate::storage::QueueId;

/// Identifies one scheduled entry: the queued message and the destination domain.
pub type DueKey = (QueueId, String);

/// Scheduled items by due time, also reachable by message id.
#[derive(Debug, Clone)]
pub struct DueIndex<T> {
    /// The schedule proper: due time first, so the earliest entry is the first one.
    by_due: BTreeMap<(i64, QueueId, String), T>,
    /// Due time of every key; ordered by message id so that all the entries of one
    /// message are one range (retry-now and forget cost O(log n), not a scan).
    due_of: BTreeMap<DueKey, i64>,
}

impl<T> Default for DueIndex<T> {
    fn default() -> Self {
        DueIndex {
            by_due: BTreeMap::new(),
            due_of: BTreeMap::new(),
        }
    }
}

impl<T> DueIndex<T> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `item` under `key` at `due`; an entry already under `key` is replaced
    /// (whatever its due time) and returned.
    pub fn insert(&mut self, due: i64, key: DueKey, item: T) -> Option<T> {
        let previous = self.remove(&key);
        let (id, domain) = key;
        self.by_due.insert((due, id, domain.clone()), item);
        self.due_of.insert((id, domain), due);
        previous
    }

    /// Removes the entry under `key`.
    pub fn remove(&mut self, key: &DueKey) -> Option<T> {
        let due = self.due_of.remove(key)?;
        self.by_due.remove(&(due, key.0, key.1.clone()))
    }

    /// Takes the earliest entry if it is due at `now` (due time `<= now`).
    pub fn pop_due(&mut self, now: i64) -> Option<T> {
        let entry = self.by_due.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        let ((_, id, domain), item) = entry.remove_entry();
        self.due_of.remove(&(id, domain));
        Some(item)
    }

    /// Takes up to `max` entries due at `now`, earliest first.
    pub fn take_due(&mut self, now: i64, max: usize) -> Vec<T> {
        let mut taken = Vec::new();
        while taken.len() < max {
            match self.pop_due(now) {
                Some(item) => taken.push(item),
                None => break,
            }
        }
        taken
    }

    /// Removes every entry of message `id`, in domain order.
    pub fn remove_message(&mut self, id: QueueId) -> Vec<(DueKey, T)> {
        self.keys_of(id)
            .into_iter()
            .filter_map(|key| {
                let item = self.remove(&key)?;
                Some((key, item))
            })
            .collect()
    }

    /// Moves every entry of message `id` to `due`; returns how many moved.
    pub fn reschedule_message(&mut self, id: QueueId, due: i64) -> usize {
        let moved = self.remove_message(id);
        let count = moved.len();
        for (key, item) in moved {
            self.insert(due, key, item);
        }
        count
    }

    /// The due time of the entry under `key`.
    pub fn due_of(&self, key: &DueKey) -> Option<i64> {
        self.due_of.get(key).copied()
    }

    /// The earliest due time in the index.
    pub fn next_due(&self) -> Option<i64> {
        self.by_due.keys().next().map(|k| k.0)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_due.len()
    }

    /// True when nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.by_due.is_empty()
    }

    /// Every item, earliest due first.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.by_due.values()
    }

    fn keys_of(&self, id: QueueId) -> Vec<DueKey> {
        // "" is the least String, so the range starts at the message's first domain.
        self.due_of
            .range((id, String::new())..)
            .take_while(|((key_id, _), _)| *key_id == id)
            .map(|(key, _)| key.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: QueueId, domain: &str) -> DueKey {
        (id, domain.to_owned())
    }

    fn drain(index: &mut DueIndex<&'static str>, now: i64) -> Vec<&'static str> {
        index.take_due(now, usize::MAX)
    }

    #[test]
    fn pops_in_due_then_key_order_and_only_when_due() {
        let mut index = DueIndex::new();
        index.insert(30, key(1, "c.example"), "1c@30");
        index.insert(10, key(2, "b.example"), "2b@10");
        index.insert(10, key(1, "z.example"), "1z@10");
        index.insert(20, key(3, "a.example"), "3a@20");
        assert_eq!(index.len(), 4);
        assert_eq!(index.next_due(), Some(10));
        assert_eq!(index.pop_due(9), None);
        assert_eq!(index.pop_due(10), Some("1z@10"));
        assert_eq!(index.pop_due(10), Some("2b@10"));
        assert_eq!(index.pop_due(10), None);
        assert_eq!(drain(&mut index, 100), vec!["3a@20", "1c@30"]);
        assert!(index.is_empty());
        assert_eq!(index.next_due(), None);
        assert_eq!(index.pop_due(i64::MAX), None);
    }

    #[test]
    fn take_due_stops_at_max_and_at_now() {
        let mut index = DueIndex::new();
        for (i, name) in ["a", "b", "c", "d"].into_iter().enumerate() {
            index.insert(i as i64, key(i as QueueId, name), name);
        }
        assert_eq!(index.take_due(3, 2), vec!["a", "b"]);
        assert_eq!(index.take_due(2, 10), vec!["c"]);
        assert_eq!(index.take_due(3, 0), Vec::<&str>::new());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn insert_replaces_the_same_key_at_any_due_time() {
        let mut index = DueIndex::new();
        assert_eq!(index.insert(50, key(7, "x.example"), "old"), None);
        assert_eq!(index.insert(5, key(7, "x.example"), "new"), Some("old"));
        assert_eq!(index.len(), 1);
        assert_eq!(index.due_of(&key(7, "x.example")), Some(5));
        assert_eq!(drain(&mut index, 100), vec!["new"]);
        assert_eq!(index.due_of(&key(7, "x.example")), None);
    }

    #[test]
    fn remove_message_takes_all_its_domains_and_nothing_else() {
        let mut index = DueIndex::new();
        index.insert(10, key(4, "b.example"), "4b");
        index.insert(99, key(4, "a.example"), "4a");
        index.insert(5, key(3, "a.example"), "3a");
        index.insert(5, key(5, ""), "5-empty-domain");
        let removed = index.remove_message(4);
        assert_eq!(
            removed,
            vec![(key(4, "a.example"), "4a"), (key(4, "b.example"), "4b")]
        );
        assert!(index.remove_message(4).is_empty());
        assert!(index.remove_message(6).is_empty());
        assert_eq!(drain(&mut index, 100), vec!["3a", "5-empty-domain"]);
    }

    #[test]
    fn reschedule_message_moves_only_that_message() {
        let mut index = DueIndex::new();
        index.insert(1_000, key(1, "a.example"), "1a");
        index.insert(2_000, key(1, "b.example"), "1b");
        index.insert(500, key(2, "a.example"), "2a");
        assert_eq!(index.reschedule_message(1, 0), 2);
        assert_eq!(index.reschedule_message(9, 0), 0);
        assert_eq!(index.len(), 3);
        assert_eq!(index.next_due(), Some(0));
        assert_eq!(drain(&mut index, 0), vec!["1a", "1b"]);
        assert_eq!(drain(&mut index, 500), vec!["2a"]);
    }

    #[test]
    fn remove_single_key_and_values_in_due_order() {
        let mut index = DueIndex::new();
        index.insert(3, key(1, "a.example"), "third");
        index.insert(1, key(2, "a.example"), "first");
        index.insert(2, key(3, "a.example"), "second");
        assert_eq!(
            index.values().copied().collect::<Vec<_>>(),
            vec!["first", "second", "third"]
        );
        assert_eq!(index.remove(&key(3, "a.example")), Some("second"));
        assert_eq!(index.remove(&key(3, "a.example")), None);
        assert_eq!(index.len(), 2);
        assert_eq!(drain(&mut index, 10), vec!["first", "third"]);
    }

    #[test]
    fn many_entries_keep_both_maps_in_step() {
        let mut index = DueIndex::new();
        for id in 0..1_000u64 {
            let due = (id * 7919 % 1_000) as i64;
            index.insert(due, (id, "d.example".to_owned()), id);
        }
        for id in (0..1_000u64).step_by(3) {
            assert_eq!(index.remove_message(id).len(), 1);
        }
        let mut last = i64::MIN;
        let mut count = 0;
        while let Some(id) = index.pop_due(i64::MAX) {
            let due = (id * 7919 % 1_000) as i64;
            assert!(due >= last, "out of order: {due} after {last}");
            assert_ne!(id % 3, 0, "removed entry {id} came back");
            last = due;
            count += 1;
        }
        assert_eq!(count, 666);
        assert!(index.due_of.is_empty());
    }
}
