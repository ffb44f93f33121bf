//! Pools and app clients as the sign-in paths read them, held for a second.
//!
//! Every GetUser, InitiateAuth and token refresh names an app client and a pool; on PostgreSQL
//! each read is a round trip. Their configuration changes rarely, so the auth paths read them
//! through this cache: a change made through this node clears it at once, a change made through
//! another node clears it when that node's notice arrives (`Topic::Pools`), and no entry is
//! older than `TTL` in any case (a notice lost to a reconnect is followed by `Resync`, which
//! clears it too). Management operations read the store directly.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gatehouse_store::{AppClient, UserPool};

/// How stale a cached pool or client may get when no notice arrives.
const TTL: Duration = Duration::from_secs(1);
/// Entries kept before the map is emptied (one per pool or client in use).
const MOST_ENTRIES: usize = 10_000;

#[derive(Default)]
pub(crate) struct ReadCache {
    pools: Entries<UserPool>,
    clients: Entries<AppClient>,
}

type Entries<T> = RwLock<HashMap<String, (Instant, Arc<T>)>>;

fn get<T>(map: &Entries<T>, key: &str) -> Option<Arc<T>> {
    let map = map.read().ok()?;
    let (at, v) = map.get(key)?;
    (at.elapsed() < TTL).then(|| Arc::clone(v))
}

fn put<T>(map: &Entries<T>, key: &str, value: Arc<T>) {
    if let Ok(mut map) = map.write() {
        if map.len() >= MOST_ENTRIES && !map.contains_key(key) {
            map.clear();
        }
        map.insert(key.to_string(), (Instant::now(), value));
    }
}

impl ReadCache {
    pub(crate) fn pool(&self, pool_id: &str) -> Option<Arc<UserPool>> {
        get(&self.pools, pool_id)
    }

    pub(crate) fn put_pool(&self, pool: Arc<UserPool>) {
        put(&self.pools, &pool.id.clone(), pool);
    }

    pub(crate) fn client(&self, client_id: &str) -> Option<Arc<AppClient>> {
        get(&self.clients, client_id)
    }

    pub(crate) fn put_client(&self, client: Arc<AppClient>) {
        put(&self.clients, &client.client_id.clone(), client);
    }

    /// Forgets everything (a pool or client changed here or on another node).
    pub(crate) fn clear(&self) {
        if let Ok(mut m) = self.pools.write() {
            m.clear();
        }
        if let Ok(mut m) = self.clients.write() {
            m.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_fresh_for_the_ttl_only() {
        let m: Entries<String> = Default::default();
        put(&m, "k", Arc::new("v".to_string()));
        assert_eq!(get(&m, "k").as_deref().map(String::as_str), Some("v"));
        assert!(get(&m, "other").is_none());
        // Age the entry past the TTL.
        if let Some(e) = m.write().unwrap().get_mut("k") {
            e.0 = Instant::now() - TTL - Duration::from_millis(1);
        }
        assert!(get(&m, "k").is_none());
    }

    #[test]
    fn the_map_is_bounded() {
        let m: Entries<u32> = Default::default();
        for i in 0..(MOST_ENTRIES as u32 + 5) {
            put(&m, &i.to_string(), Arc::new(i));
        }
        assert!(m.read().unwrap().len() <= MOST_ENTRIES);
    }
}
