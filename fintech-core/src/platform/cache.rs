//! A small time-bounded cache for reads this process repeats often (API keys by the hash of
//! their secret, a tenant's bank accounts). It is never the source of truth: entries expire
//! after a TTL, so another process's change is seen within it; this process's own changes
//! invalidate at once. A load that raced an invalidation is not stored (generation check), so
//! an old value cannot outlive the change that replaced it here.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) struct TtlCache<K, V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<K, (V, Instant)>>,
    /// Bumped by every invalidation.
    generation: AtomicU64,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    pub(super) fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value, if cached and younger than the TTL.
    pub(super) fn get(&self, key: &K) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        self.lock()
            .get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(v, _)| v.clone())
    }

    /// Where a load starts: pass it to [`put`](Self::put) with what was loaded.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Stores a value loaded since `generation`, unless something was invalidated meanwhile.
    pub(super) fn put(&self, key: K, value: V, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= self.max_entries {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Drops one entry after a change to it.
    pub(super) fn forget(&self, key: &K) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    /// Drops the entries `stale` says are affected by a change.
    pub(super) fn forget_where(&self, stale: impl Fn(&K, &V) -> bool) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|k, (v, _)| !stale(k, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_invalidate() {
        let c: TtlCache<&str, u32> = TtlCache::new(Duration::from_millis(50), 10);
        let g = c.generation();
        c.put("a", 1, g);
        assert_eq!(c.get(&"a"), Some(1));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(&"a"), None, "expired");
        let g = c.generation();
        c.put("a", 2, g);
        c.forget_where(|k, _| *k == "a");
        assert_eq!(c.get(&"a"), None, "invalidated");
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_stored() {
        let c: TtlCache<&str, u32> = TtlCache::new(Duration::from_secs(5), 10);
        let g = c.generation();
        // a change lands while the old value is being read
        c.forget_where(|k, _| *k == "a");
        c.put("a", 1, g);
        assert_eq!(c.get(&"a"), None);
    }

    #[test]
    fn a_zero_ttl_caches_nothing_and_size_is_bounded() {
        let off: TtlCache<u32, u32> = TtlCache::new(Duration::ZERO, 10);
        off.put(1, 1, off.generation());
        assert_eq!(off.get(&1), None);
        let c: TtlCache<u32, u32> = TtlCache::new(Duration::from_secs(5), 3);
        for i in 0..10 {
            c.put(i, i, c.generation());
        }
        assert!(c.lock().len() <= 3);
        assert_eq!(c.get(&9), Some(9), "the newest entry is kept");
    }
}
