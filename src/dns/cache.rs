//! A bounded LRU cache of resolved destinations whose entries expire with their DNS TTLs.
//!
//! Pure: the caller passes the current time, so expiry is tested without sleeping.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// One cached entry and its place in the recency order.
struct Slot<V> {
    value: V,
    expires: Instant,
    tick: u64,
}

/// Bounded map from a domain to a value valid until a deadline; least recently used goes first.
pub(crate) struct TtlCache<V> {
    capacity: usize,
    slots: HashMap<String, Slot<V>>,
    /// Recency order: tick of the last use -> key. Ticks are unique and only grow.
    order: BTreeMap<u64, String>,
    next_tick: u64,
}

impl<V: Clone> TtlCache<V> {
    /// A cache holding at most `capacity` entries; 0 caches nothing.
    pub(crate) fn new(capacity: usize) -> Self {
        TtlCache {
            capacity,
            slots: HashMap::new(),
            order: BTreeMap::new(),
            next_tick: 0,
        }
    }

    /// The value for `key` if present and not expired at `now`; refreshes its recency.
    pub(crate) fn get(&mut self, key: &str, now: Instant) -> Option<V> {
        let tick = self.bump();
        let slot = self.slots.get_mut(key)?;
        if slot.expires <= now {
            let old = slot.tick;
            self.slots.remove(key);
            self.order.remove(&old);
            return None;
        }
        self.order.remove(&slot.tick);
        slot.tick = tick;
        self.order.insert(tick, key.to_string());
        Some(slot.value.clone())
    }

    /// Stores `value` for `key` until `expires`, evicting the least recently used entry when full.
    pub(crate) fn insert(&mut self, key: &str, value: V, expires: Instant) {
        if self.capacity == 0 {
            return;
        }
        let tick = self.bump();
        if let Some(old) = self.slots.remove(key) {
            self.order.remove(&old.tick);
        }
        while self.slots.len() >= self.capacity {
            let Some((_, victim)) = self.order.pop_first() else {
                break;
            };
            self.slots.remove(&victim);
        }
        self.order.insert(tick, key.to_string());
        self.slots.insert(
            key.to_string(),
            Slot {
                value,
                expires,
                tick,
            },
        );
    }

    /// Number of entries held, expired or not.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn bump(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn entries_expire_with_their_ttl() {
        let t0 = Instant::now();
        let mut cache = TtlCache::new(4);
        cache.insert("a", 1, t0 + Duration::from_secs(10));
        assert_eq!(cache.get("a", t0 + Duration::from_secs(9)), Some(1));
        assert_eq!(cache.get("a", t0 + Duration::from_secs(10)), None);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn least_recently_used_is_evicted_at_capacity() {
        let t0 = Instant::now();
        let later = t0 + Duration::from_secs(60);
        let mut cache = TtlCache::new(2);
        cache.insert("a", 1, later);
        cache.insert("b", 2, later);
        assert_eq!(cache.get("a", t0), Some(1));
        cache.insert("c", 3, later);
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("b", t0), None);
        assert_eq!(cache.get("a", t0), Some(1));
        assert_eq!(cache.get("c", t0), Some(3));
    }

    #[test]
    fn replacing_a_key_keeps_one_entry() {
        let t0 = Instant::now();
        let mut cache = TtlCache::new(2);
        cache.insert("a", 1, t0 + Duration::from_secs(5));
        cache.insert("a", 2, t0 + Duration::from_secs(50));
        cache.insert("b", 3, t0 + Duration::from_secs(50));
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get("a", t0 + Duration::from_secs(20)), Some(2));
    }

    #[test]
    fn bound_holds_under_many_inserts() {
        let t0 = Instant::now();
        let mut cache = TtlCache::new(16);
        for i in 0..1000 {
            cache.insert(&format!("d{i}"), i, t0 + Duration::from_secs(60));
            assert!(cache.len() <= 16);
        }
        assert_eq!(cache.order.len(), cache.len());
        assert_eq!(cache.get("d999", t0), Some(999));
        assert_eq!(cache.get("d0", t0), None);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let t0 = Instant::now();
        let mut cache = TtlCache::new(0);
        cache.insert("a", 1, t0 + Duration::from_secs(60));
        assert_eq!(cache.get("a", t0), None);
    }
}
