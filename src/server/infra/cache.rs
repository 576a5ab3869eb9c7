//! Short-lived, in-process caches for what the gateway reads on every call: who a token
//! belongs to, an account's own prices, and which provider key pays. Each entry lives a
//! few seconds ([`FRESH_FOR`]); a change made through this instance drops the entry at
//! once, and a change made elsewhere (another instance, the admin CLI) is seen within
//! that time (plus, while one caller is already asking again, [`REFRESH_GRACE`]).
//!
//! Money is cached in one place only, and only to say yes sooner: the balance a call's
//! estimate is checked against before any work ([`Caches::balances`]). An entry is used
//! while this instance has committed no write since it was read (and for at most
//! [`BALANCE_FRESH_FOR`]; calls arriving while one caller asks again get the last
//! answer for up to [`REFRESH_GRACE`]); a refusal is always confirmed with the database first; and the
//! hold that funds a real call is taken in the database, where it cannot overdraw.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::server::services::accounts::tokens::TokenOwner;
use crate::shared::money::Micros;

/// How long a cached answer is used before the database is asked again.
pub const FRESH_FOR: Duration = Duration::from_secs(5);
/// How long a balance read is used, at most, to let a call's estimate through.
pub const BALANCE_FRESH_FOR: Duration = Duration::from_secs(1);
/// Entries one cache keeps at most; past that, expired entries go, then all of them.
const CAPACITY: usize = 50_000;

/// While one caller asks the database again for an entry that has just gone stale, the
/// others keep getting the last answer for at most this long, instead of all asking at
/// once (which shows up as a latency spike every time a busy entry expires).
const REFRESH_GRACE: Duration = Duration::from_millis(500);

struct Entry<V> {
    at: Instant,
    value: V,
    /// When a caller was told to refresh this entry.
    refreshing_since: Option<Instant>,
}

pub struct TtlCache<K, V> {
    ttl: Duration,
    map: Mutex<HashMap<K, Entry<V>>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, map: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Entry<V>>> {
        // A panic elsewhere while holding the lock leaves a map that is still usable.
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached value while it is fresh. Once it is stale, the first caller gets `None`
    /// (and is expected to ask the database and [`insert`](Self::insert) the answer);
    /// callers meanwhile get the last value for up to [`REFRESH_GRACE`].
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_if(key, |_| true)
    }

    /// As [`get`](Self::get), with `current` saying whether the value still holds (a value
    /// that does not is stale, whatever its age).
    pub fn get_if<Q>(&self, key: &Q, current: impl FnOnce(&V) -> bool) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut map = self.lock();
        let entry = map.get_mut(key)?;
        if entry.at.elapsed() < self.ttl && current(&entry.value) {
            return Some(entry.value.clone());
        }
        match entry.refreshing_since {
            Some(since) if since.elapsed() < REFRESH_GRACE => Some(entry.value.clone()),
            _ => {
                entry.refreshing_since = Some(Instant::now());
                None
            }
        }
    }

    pub fn insert(&self, key: K, value: V) {
        let mut map = self.lock();
        if map.len() >= CAPACITY {
            let ttl = self.ttl;
            map.retain(|_, e| e.at.elapsed() < ttl);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(key, Entry { at: Instant::now(), value, refreshing_since: None });
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(key);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// The caches an app instance keeps.
pub struct Caches {
    /// API token digest → its owner, its id and its team.
    pub tokens: TtlCache<String, TokenOwner>,
    /// User id → the prices an administrator set for them.
    pub account_prices: TtlCache<String, Arc<BTreeMap<String, Micros>>>,
    /// (user id, provider) → the key that pays for their calls, if any.
    pub provider_keys: TtlCache<(String, &'static str), Option<String>>,
    /// Wallet owner id (a person's or a team's) → (the database's write generation when
    /// read, what was available).
    pub balances: TtlCache<String, (u64, Micros)>,
}

impl Default for Caches {
    fn default() -> Self {
        Self {
            tokens: TtlCache::new(FRESH_FOR),
            account_prices: TtlCache::new(FRESH_FOR),
            provider_keys: TtlCache::new(FRESH_FOR),
            balances: TtlCache::new(BALANCE_FRESH_FOR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_dropped() {
        let cache = TtlCache::new(Duration::from_millis(50));
        cache.insert("a".to_string(), 1);
        assert_eq!(cache.get("a"), Some(1));
        cache.remove("a");
        assert_eq!(cache.get("a"), None);
        cache.insert("b".to_string(), 2);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("b"), None, "the first caller after expiry asks again");
        assert_eq!(cache.get("b"), Some(2), "the others get the last answer meanwhile");
        cache.insert("b".to_string(), 3);
        assert_eq!(cache.get("b"), Some(3));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("b"), None);
        std::thread::sleep(REFRESH_GRACE);
        assert_eq!(cache.get("b"), None, "a refresh that never came is not waited for forever");
        cache.insert("c".to_string(), 4);
        assert_eq!(cache.get_if("c", |v| *v == 5), None, "a value that no longer holds is stale");
        assert_eq!(cache.get_if("c", |v| *v == 5), Some(4), "while it is being asked again");
        assert_eq!(cache.get_if("c", |v| *v == 4), Some(4));
        cache.remove("b");
        assert_eq!(cache.get("b"), None, "a dropped entry is gone for everyone");
    }
}
