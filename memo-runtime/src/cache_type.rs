//! A named cache type: the capacity, default TTL, policy and clock shared by the stores of the
//! functions (and the manual handle) that use it.

use std::any::Any;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use crate::clock::{Clock, NEVER, duration_nanos};
use crate::config::{CacheConfig, EvictionPolicy};
use crate::store::{ErasedStore, Store, StoreInfo, entry_bytes};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, RwLock};

/// The value type of the manual API's store.
pub(crate) type ManualValue = Arc<dyn Any + Send + Sync>;
/// The manual API's store.
pub(crate) type ManualStore = Store<Box<str>, ManualValue>;

pub(crate) struct CacheType {
    pub(crate) name: &'static str,
    capacity: AtomicUsize,
    default_ttl: AtomicU64,
    policy: Mutex<EvictionPolicy>,
    clock: Clock,
    configured: AtomicBool,
    live: AtomicUsize,
    stores: RwLock<Vec<&'static dyn ErasedStore>>,
    single_store: AtomicBool,
    manual: OnceLock<&'static ManualStore>,
}

impl CacheType {
    pub(crate) fn new(name: &'static str, config: &CacheConfig, configured: bool) -> Self {
        Self {
            name,
            capacity: AtomicUsize::new(config.capacity()),
            default_ttl: AtomicU64::new(config.ttl().map_or(NEVER, duration_nanos)),
            policy: Mutex::new(config.policy()),
            clock: config.clock().clone(),
            configured: AtomicBool::new(configured),
            live: AtomicUsize::new(0),
            stores: RwLock::new(Vec::new()),
            single_store: AtomicBool::new(false),
            manual: OnceLock::new(),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity.load(Ordering::Relaxed)
    }

    pub(crate) fn policy(&self) -> EvictionPolicy {
        *self.policy.lock()
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn is_configured(&self) -> bool {
        self.configured.load(Ordering::Relaxed)
    }

    pub(crate) fn default_ttl_nanos(&self) -> Option<u64> {
        match self.default_ttl.load(Ordering::Relaxed) {
            NEVER => None,
            ttl => Some(ttl),
        }
    }

    pub(crate) fn default_ttl(&self) -> Option<Duration> {
        self.default_ttl_nanos().map(Duration::from_nanos)
    }

    /// Entries held (and places reserved for entries being stored).
    pub(crate) fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The configuration now in force.
    pub(crate) fn config(&self) -> CacheConfig {
        let b = CacheConfig::builder()
            .capacity(self.capacity())
            .policy(self.policy())
            .clock(self.clock.clone());
        let b = match self.default_ttl() {
            Some(ttl) => b.ttl(ttl),
            None => b,
        };
        b.build().unwrap_or_default()
    }

    pub(crate) fn stores(&self) -> Vec<&'static dyn ErasedStore> {
        self.stores.read().clone()
    }

    pub(crate) fn add_store(&self, store: &'static dyn ErasedStore) {
        let mut stores = self.stores.write();
        stores.push(store);
        self.single_store
            .store(stores.len() == 1, Ordering::Relaxed);
    }

    /// Whether one store holds all the cache type's entries (then a full store evicts from
    /// itself without looking at the others).
    #[inline]
    pub(crate) fn has_single_store(&self) -> bool {
        self.single_store.load(Ordering::Relaxed)
    }

    /// The store of the manual API, made on first use.
    pub(crate) fn manual_store(&'static self) -> &'static ManualStore {
        self.manual.get_or_init(|| {
            let info = StoreInfo::manual(entry_bytes::<Box<str>, ManualValue>(false));
            let store: &'static ManualStore = Box::leak(Box::new(Store::new(self, info, None)));
            crate::registry::registry().add_store(store);
            store
        })
    }

    /// Applies a new configuration to a cache type in use; a smaller capacity evicts at once.
    pub(crate) fn apply(&self, config: &CacheConfig) {
        self.configured.store(true, Ordering::Relaxed);
        self.default_ttl.store(
            config.ttl().map_or(NEVER, duration_nanos),
            Ordering::Relaxed,
        );
        let policy_changed = {
            let mut p = self.policy.lock();
            let changed = *p != config.policy();
            *p = config.policy();
            changed
        };
        if policy_changed {
            for s in self.stores() {
                s.set_policy(config.policy());
            }
        }
        self.capacity.store(config.capacity(), Ordering::Relaxed);
        while self.live() > self.capacity() {
            if !self.evict_from_largest(None) {
                break;
            }
        }
    }

    /// Takes one place for a new entry, evicting if the cache type is full. False if nothing
    /// could be evicted (every entry is being computed).
    pub(crate) fn reserve(&self, requester: &dyn ErasedStore) -> bool {
        loop {
            if self.try_reserve() {
                return true;
            }
            if !self.evict_from_largest(Some(requester)) {
                return false;
            }
        }
    }

    /// Takes one place if the cache type is not full.
    #[inline]
    pub(crate) fn try_reserve(&self) -> bool {
        let capacity = self.capacity();
        let mut live = self.live.load(Ordering::Relaxed);
        while live < capacity {
            match self.live.compare_exchange_weak(
                live,
                live + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => live = now,
            }
        }
        false
    }

    /// Gives back a place (an entry left, or a reservation went unused).
    pub(crate) fn release(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    /// Evicts one entry from the store holding the most, preferring the requester on ties, so
    /// that functions sharing a cache type converge to equal shares.
    fn evict_from_largest(&self, requester: Option<&dyn ErasedStore>) -> bool {
        let stores = self.stores.read();
        if let [only] = stores.as_slice() {
            return only.evict_one();
        }
        let is_requester = |s: &&'static dyn ErasedStore| {
            requester
                .is_some_and(|r| std::ptr::addr_eq(std::ptr::from_ref(*s), std::ptr::from_ref(r)))
        };
        let mut order: Vec<&'static dyn ErasedStore> = stores.clone();
        drop(stores);
        order.sort_by_key(|s| std::cmp::Reverse((s.len(), is_requester(s))));
        order.into_iter().any(ErasedStore::evict_one)
    }
}
