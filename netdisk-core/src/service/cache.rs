//! [`ReadCache`]: what a service read from the database, kept in memory for a short time
//! ([`Config::read_cache_ms`](crate::Config::read_cache_ms), half a second by default), so that
//! the hot reads (a session on every request, the catalogue's pages, a person's download
//! records) do not each cost a query.
//!
//! The rule every use follows: a change made through this process clears the entries it affects
//! before the call that made it returns, so a person always reads their own writes; a change made
//! through another process sharing the database is seen once the entry is older than the time
//! limit. A generation number keeps a read that started before a clearing from putting its
//! (older) answer back after it.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Entries kept at most; past it, expired entries go first, then all.
const CAPACITY: usize = 100_000;

/// Values by key, each trusted for `ttl` after it was read.
pub(crate) struct ReadCache<K, V> {
    ttl: Duration,
    state: Mutex<State<K, V>>,
}

struct State<K, V> {
    entries: HashMap<K, (Instant, V)>,
    /// Bumped by every clearing.
    generation: u64,
}

/// When a read started, for [`ReadCache::put`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Generation(u64);

impl<K: Hash + Eq, V: Clone> ReadCache<K, V> {
    /// A cache whose entries are trusted for `ttl` (zero: the cache keeps nothing).
    pub(crate) fn new(ttl: Duration) -> Self {
        ReadCache {
            ttl,
            state: Mutex::new(State {
                entries: HashMap::new(),
                generation: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State<K, V>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of `key`, if it was read less than the time limit ago.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let state = self.state();
        let (read_at, value) = state.entries.get(key)?;
        (read_at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// Call before reading what will be [`put`](ReadCache::put).
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.state().generation)
    }

    /// Keeps `value`, read from the database since `since`, unless the entries were cleared
    /// meanwhile (the value may predate the change that cleared them).
    pub(crate) fn put(&self, key: K, value: V, since: Generation) {
        if self.ttl.is_zero() {
            return;
        }
        let mut state = self.state();
        if state.generation != since.0 {
            return;
        }
        if state.entries.len() >= CAPACITY {
            let ttl = self.ttl;
            state
                .entries
                .retain(|_, (read_at, _)| read_at.elapsed() < ttl);
            if state.entries.len() >= CAPACITY {
                state.entries.clear();
            }
        }
        state.entries.insert(key, (Instant::now(), value));
    }

    /// Changes the kept value of `key`, if any (this process changed it in the database too).
    pub(crate) fn update(&self, key: &K, change: impl FnOnce(&mut V)) {
        if let Some((_, value)) = self.state().entries.get_mut(key) {
            change(value);
        }
    }

    /// Drops the entries for which `affected` is true (a change through this process).
    pub(crate) fn clear(&self, mut affected: impl FnMut(&K, &V) -> bool) {
        let mut state = self.state();
        state.generation += 1;
        state
            .entries
            .retain(|key, (_, value)| !affected(key, value));
    }

    /// The value of `key`: kept, or read by `load` (run only when needed) and kept.
    pub(crate) async fn get_or_load<E>(
        &self,
        key: K,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let since = self.generation();
        let value = load.await?;
        self.put(key, value.clone(), since);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_entry_is_trusted_for_its_time_only() {
        let cache = ReadCache::new(Duration::from_millis(500));
        cache.put("k", 1, cache.generation());
        assert_eq!(cache.get(&"k"), Some(1));
        tokio::time::advance(Duration::from_millis(499)).await;
        assert_eq!(cache.get(&"k"), Some(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(cache.get(&"k"), None);
    }

    #[tokio::test]
    async fn a_read_from_before_a_clearing_is_not_kept() {
        let cache = ReadCache::new(Duration::from_secs(60));
        let since = cache.generation();
        cache.clear(|_: &&str, _: &i32| true);
        cache.put("k", 1, since);
        assert_eq!(cache.get(&"k"), None, "older than the change that cleared");
        cache.put("k", 2, cache.generation());
        assert_eq!(cache.get(&"k"), Some(2));
        cache.clear(|key, _| *key == "other");
        assert_eq!(cache.get(&"k"), Some(2), "only the affected entries go");
    }

    #[tokio::test]
    async fn a_zero_time_keeps_nothing() {
        let cache = ReadCache::new(Duration::ZERO);
        let loaded = cache.get_or_load("k", async { Ok::<_, ()>(7) }).await;
        assert_eq!(loaded, Ok(7));
        assert_eq!(cache.get(&"k"), None);
    }
}
