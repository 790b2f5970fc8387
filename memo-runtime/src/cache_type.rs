//! A named cache type: the capacity, default TTL, policy and clock shared by the stores of the
//! functions (and the manual handle) that use it.

use std::any::Any;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use crate::clock::{Clock, NEVER, duration_nanos};
use crate::config::{CacheConfig, EvictionPolicy};
use crate::key::TextKey;
use crate::store::{ErasedStore, Store, StoreInfo, entry_bytes};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize, Mutex, Ordering, RwLock};

/// The value type of the manual API's store.
pub(crate) type ManualValue = Arc<dyn Any + Send + Sync>;
/// The manual API's store.
pub(crate) type ManualStore = Store<TextKey, ManualValue>;

/// The most first segments of manual keys that get a store of their own, per cache type.
const MANUAL_SEGMENTS: usize = 32;

/// The manual API's stores of one cache type: one per first segment of its keys (`user:` of
/// `user:42`), for the first [`MANUAL_SEGMENTS`] segments seen, so that the keys a pattern
/// `user:*` matches sit together, apart from the rest (it then costs what they cost, not what
/// the cache type holds). Keys without a `:`, and the segments beyond the limit, share one
/// store.
///
/// A key's store never changes: a segment's slot is set once and never cleared, and once the
/// limit is reached (`full`), no segment gets a store of its own any more.
struct ManualStores {
    /// Open addressing over the segment's [`Signature`]; a slot is set once, under `made`.
    slots: Box<[OnceLock<SegmentSlot>]>,
    /// The number of segment stores made; held while making one.
    made: Mutex<usize>,
    /// Set when `made` reaches [`MANUAL_SEGMENTS`].
    full: AtomicBool,
    /// One bit per [`Signature::filter_bit`] of the segments with a store of their own, set
    /// before their slot: a key whose bit is clear (nearly every key past the limit) goes to the
    /// shared store without probing.
    filter: [std::sync::atomic::AtomicU64; FILTER_WORDS],
    shared: OnceLock<&'static ManualStore>,
    /// The key hasher of every manual store of the cache type.
    hasher: ahash::RandomState,
}

/// The words of [`ManualStores::filter`]: 1,024 bits for at most [`MANUAL_SEGMENTS`] segments.
const FILTER_WORDS: usize = 16;

/// A segment with a store of its own.
struct SegmentSlot {
    /// Compared first: most probes are decided by it alone, and it is the whole comparison for
    /// segments of up to 16 bytes.
    signature: Signature,
    /// Its `key_start` is the segment.
    store: &'static ManualStore,
}

impl SegmentSlot {
    #[inline]
    fn is(&self, signature: Signature, segment: &str) -> bool {
        self.signature == signature
            && (signature.len <= 16 || *self.store.info.key_start == *segment)
    }
}

/// A segment's first and last eight bytes (fewer if it is shorter) and its length: a key
/// to its store computed with a few loads, which determines a segment of up to 16 bytes.
/// Finding the store is on the path of every manual call, where hashing the segment and
/// comparing it with `memcmp` cost as much as the rest of a hit.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Signature {
    head: u64,
    tail: u64,
    len: usize,
}

impl Signature {
    #[inline]
    fn of(segment: &str) -> Self {
        let b = segment.as_bytes();
        let (head, tail) = if b.len() >= 8 {
            (word(&b[..8]), word(&b[b.len() - 8..]))
        } else {
            let head = b
                .iter()
                .rev()
                .fold(0_u64, |w, &byte| (w << 8) | u64::from(byte));
            (head, 0)
        };
        Self {
            head,
            tail,
            len: b.len(),
        }
    }

    #[inline]
    fn mixed(self) -> u64 {
        (self.head ^ self.tail.rotate_left(29) ^ self.len as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    /// The slot a probe starts at, out of `slots` (a power of two).
    #[inline]
    fn start(self, slots: usize) -> usize {
        // The top bits are the best mixed; truncation is intended.
        #[allow(clippy::cast_possible_truncation)]
        let top = (self.mixed() >> 32) as usize;
        top & (slots - 1)
    }

    /// The word and the bit of the segment in [`ManualStores::filter`].
    #[inline]
    fn filter_bit(self) -> (usize, u64) {
        // Truncation is intended: ten bits are kept.
        #[allow(clippy::cast_possible_truncation)]
        let bit = (self.mixed() >> 20) as usize & (FILTER_WORDS * 64 - 1);
        (bit / 64, 1 << (bit % 64))
    }
}

/// The position of the first `:` in `text`, eight bytes at a time (keys are short, and a call
/// to `memchr` costs more than the search).
#[inline]
pub(crate) fn first_colon(text: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const COLONS: u64 = ONES * b':' as u64;
    let mut at = 0;
    while at + 8 <= text.len() {
        // Bytes equal to `:` become zero; the lowest zero byte is found exactly (a borrow can
        // only mark bytes above it).
        let x = word(&text[at..at + 8]) ^ COLONS;
        let found = x.wrapping_sub(ONES) & !x & (ONES << 7);
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    text[at..].iter().position(|&b| b == b':').map(|i| at + i)
}

/// Eight bytes as a number.
#[inline]
fn word(eight: &[u8]) -> u64 {
    let mut w = [0_u8; 8];
    w.copy_from_slice(eight);
    u64::from_le_bytes(w)
}

impl ManualStores {
    fn new() -> Self {
        Self {
            slots: (0..2 * MANUAL_SEGMENTS).map(|_| OnceLock::new()).collect(),
            made: Mutex::new(0),
            full: AtomicBool::new(false),
            filter: std::array::from_fn(|_| std::sync::atomic::AtomicU64::new(0)),
            shared: OnceLock::new(),
            hasher: ahash::RandomState::new(),
        }
    }

    /// The slot a probe for `signature` looks at `i`-th.
    #[inline]
    fn slot(&self, signature: Signature, i: usize) -> &OnceLock<SegmentSlot> {
        let n = self.slots.len();
        &self.slots[signature.start(n).wrapping_add(i) & (n - 1)]
    }

    /// The store of `segment`, if it has one (`None`: not yet made, or never will be).
    #[inline]
    fn find(&self, segment: &str, signature: Signature) -> Option<&'static ManualStore> {
        let (word, bit) = signature.filter_bit();
        if self.filter[word].load(std::sync::atomic::Ordering::Relaxed) & bit == 0 {
            return None;
        }
        for i in 0..self.slots.len() {
            match self.slot(signature, i).get() {
                Some(s) if s.is(signature, segment) => return Some(s.store),
                Some(_) => {}
                None => return None,
            }
        }
        None
    }
}

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
    manual: ManualStores,
}

/// How many times [`CacheType::reserve`] waits for a place held by a value on its way into a
/// table before it gives up.
const MAX_LANDING_WAITS: u32 = 100_000;

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
            manual: ManualStores::new(),
        }
    }

    #[inline]
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

    #[inline]
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
        // Under the policy's lock, which `apply` holds while it switches the stores listed: a
        // store made with the policy read before a switch is either listed before that
        // switch (and switched by it) or switched here.
        let policy = self.policy.lock();
        {
            let mut stores = self.stores.write();
            stores.push(store);
            self.single_store
                .store(stores.len() == 1, Ordering::Relaxed);
        }
        store.set_policy(*policy);
    }

    /// Whether one store holds all the cache type's entries (then a full store evicts from
    /// itself without looking at the others).
    #[inline]
    pub(crate) fn has_single_store(&self) -> bool {
        self.single_store.load(Ordering::Relaxed)
    }

    /// The hash of a manual key in whichever manual store holds it: they share a hasher, so
    /// that a call can hash its key without waiting for the store to be found.
    #[inline]
    pub(crate) fn manual_hash(&self, key: &str) -> u64 {
        crate::key::hash_key(&self.manual.hasher, key)
    }

    /// The manual API's store for `key`: its first segment's (`user:` of `user:42`), or the
    /// shared one. Made on first use.
    #[inline]
    pub(crate) fn manual_store(&'static self, key: &str) -> &'static ManualStore {
        let Some(end) = first_colon(key.as_bytes()) else {
            return self.shared_manual_store();
        };
        // `:` is ASCII: the byte after it starts a character.
        let segment = &key[..=end];
        let signature = Signature::of(segment);
        // Read before looking: once `full` is seen set, every segment store (all were made
        // before it was set) is seen too, and a segment not found has none.
        let full = self.manual.full.load(Ordering::Acquire);
        if let Some(store) = self.manual.find(segment, signature) {
            return store;
        }
        if full {
            return self.shared_manual_store();
        }
        self.make_segment_store(segment, signature)
    }

    #[cold]
    fn make_segment_store(
        &'static self,
        segment: &str,
        signature: Signature,
    ) -> &'static ManualStore {
        let mut made = self.manual.made.lock();
        for i in 0..self.manual.slots.len() {
            let slot = self.manual.slot(signature, i);
            match slot.get() {
                Some(s) if s.is(signature, segment) => return s.store,
                Some(_) => {}
                None if *made < MANUAL_SEGMENTS => {
                    let store = self.new_manual_store(segment);
                    let (word, bit) = signature.filter_bit();
                    self.manual.filter[word].fetch_or(bit, std::sync::atomic::Ordering::Relaxed);
                    // Slots are only set here, under `made`: this one is still empty.
                    let _ = slot.set(SegmentSlot { signature, store });
                    *made += 1;
                    if *made == MANUAL_SEGMENTS {
                        self.manual.full.store(true, Ordering::Release);
                    }
                    return store;
                }
                None => break,
            }
        }
        drop(made);
        self.shared_manual_store()
    }

    /// The manual store of the keys without a segment of their own.
    fn shared_manual_store(&'static self) -> &'static ManualStore {
        self.manual.shared.get_or_init(|| self.new_manual_store(""))
    }

    fn new_manual_store(&'static self, segment: &str) -> &'static ManualStore {
        let info = StoreInfo::manual(entry_bytes::<TextKey, ManualValue>(false), segment);
        let hasher = self.manual.hasher.clone();
        let store: &'static ManualStore =
            Box::leak(Box::new(Store::with_hasher(self, info, None, hasher)));
        crate::registry::registry().add_store(store);
        store
    }

    /// Applies a new configuration to a cache type in use; a smaller capacity evicts at once.
    pub(crate) fn apply(&self, config: &CacheConfig) {
        self.configured.store(true, Ordering::Relaxed);
        self.default_ttl.store(
            config.ttl().map_or(NEVER, duration_nanos),
            Ordering::Relaxed,
        );
        {
            // The lock is held while the stores switch (see `add_store`), so that two
            // configurations at once leave the stores with the policy the cache type shows.
            let mut p = self.policy.lock();
            if *p != config.policy() {
                *p = config.policy();
                for s in self.stores() {
                    s.set_policy(config.policy());
                }
            }
        }
        // Sequentially consistent with `try_reserve`'s places (see there).
        self.capacity.store(config.capacity(), Ordering::SeqCst);
        while self.live.load(Ordering::SeqCst) > self.capacity() {
            if !self.evict_from_largest(None) {
                break;
            }
        }
    }

    /// Takes one place for a new entry, evicting if the cache type is full. False only if
    /// nothing could be evicted even after waiting for the places held by values on their way
    /// into a table (which would mean a miscount).
    pub(crate) fn reserve(&self, requester: &dyn ErasedStore) -> bool {
        let backoff = crossbeam_utils::Backoff::new();
        let mut waits = 0_u32;
        loop {
            if self.try_reserve() {
                return true;
            }
            if self.evict_from_largest(Some(requester)) {
                continue;
            }
            // Nothing to evict: every place is held by a value on its way into a table (other
            // threads storing at once into a cache type of a few entries). No user code runs
            // between a place and its table, so one lands soon: wait, then evict it. Bounded,
            // so that a miscount could never hang a caller (the value is then not stored).
            if waits == MAX_LANDING_WAITS {
                return false;
            }
            waits += 1;
            crate::sync::snooze(&backoff);
        }
    }

    /// Takes one place if the cache type is not full.
    ///
    /// The capacity is read again once the place is taken: a capacity lowered meanwhile by
    /// [`apply`](Self::apply), which then evicts down to it, would otherwise let a place taken
    /// against the old capacity, after those evictions, stay above the new one. Both sides are
    /// sequentially consistent: either the place is taken before the new capacity is stored
    /// (then `apply`'s look at `live` sees it and evicts for it) or after (then the look
    /// here sees the new capacity, and the place is given back).
    #[inline]
    pub(crate) fn try_reserve(&self) -> bool {
        let capacity = self.capacity();
        let mut live = self.live.load(Ordering::Relaxed);
        while live < capacity {
            match self.live.compare_exchange_weak(
                live,
                live + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if live < self.capacity.load(Ordering::SeqCst) {
                        return true;
                    }
                    self.release();
                    return false;
                }
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
        // Usually the largest store has an entry to evict: find it without allocating.
        let largest = stores
            .iter()
            .copied()
            .max_by_key(|s| (s.len(), is_requester(s)));
        drop(stores);
        if largest.is_some_and(ErasedStore::evict_one) {
            return true;
        }
        // Its entries are all being computed: try the others, largest first. Each size is read
        // once: sizes change as other threads insert and evict, and a sort that read them anew
        // at each comparison would see no consistent order (and panic saying so).
        let mut order: Vec<(usize, bool, &'static dyn ErasedStore)> = self
            .stores()
            .into_iter()
            .map(|s| (s.len(), is_requester(&s), s))
            .collect();
        order.sort_unstable_by_key(|&(len, requester, _)| std::cmp::Reverse((len, requester)));
        order.into_iter().any(|(_, _, s)| s.evict_one())
    }
}

#[cfg(all(test, not(memo_shuttle)))]
mod tests {
    use super::*;
    use crate::registry::registry;

    fn same(a: &ManualStore, b: &ManualStore) -> bool {
        std::ptr::eq(a, b)
    }

    #[test]
    fn first_colon_is_found_at_every_position() {
        for len in 0..40 {
            let mut text = vec![b'a'; len];
            assert_eq!(first_colon(&text), None);
            for at in (0..len).rev() {
                text[at] = b':';
                assert_eq!(first_colon(&text), Some(at), "len {len}");
            }
        }
        // Bytes one above and below `:`, and multi-byte characters, are not colons.
        assert_eq!(first_colon("9;\u{e9}\u{263a}:x".as_bytes()), Some(7));
    }

    /// Segments of up to 16 bytes are told apart by their signature alone; longer ones with the
    /// same ends by their text.
    #[test]
    fn signatures_determine_short_segments() {
        let base = "abcdefghijklmnop:"; // 17 bytes
        for len in 1..=16 {
            let seg = &base[base.len() - len..];
            assert!(Signature::of(seg) == Signature::of(&String::from(seg)));
            for at in 0..len {
                let mut other = seg.as_bytes().to_vec();
                other[at] ^= 0x20;
                let other = String::from_utf8(other).unwrap();
                assert!(
                    Signature::of(seg) != Signature::of(&other),
                    "{seg} vs {other}"
                );
            }
            let shorter = &seg[1..];
            assert!(Signature::of(seg) != Signature::of(shorter));
        }
        let ty = registry().cache_type("unit_manual_signatures");
        let (a, b) = ("0123456789-one-76543210:", "0123456789-two-76543210:");
        assert!(Signature::of(a) == Signature::of(b), "same ends and length");
        let sa = ty.manual_store(&format!("{a}1"));
        let sb = ty.manual_store(&format!("{b}1"));
        assert!(!same(sa, sb));
        assert_eq!((&*sa.info.key_start, &*sb.info.key_start), (a, b));
        assert!(same(ty.manual_store(&format!("{b}2")), sb));
    }

    /// A store whose size changes at every look (as other threads insert and evict), and which
    /// has nothing to evict: eviction from the largest looks at the sizes once per store.
    struct Shifting {
        ty: &'static CacheType,
        info: StoreInfo,
        looks: &'static AtomicUsize,
    }

    impl ErasedStore for Shifting {
        fn info(&self) -> &StoreInfo {
            &self.info
        }
        fn cache_type(&self) -> &'static CacheType {
            self.ty
        }
        fn len(&self) -> usize {
            // A different, scrambled size at every look.
            self.looks
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(7919)
                % 1000
        }
        fn evict_one(&self) -> bool {
            false
        }
        fn invalidate(&self, _: &crate::pattern::Pattern) -> usize {
            0
        }
        fn invalidate_key(&self, _: &str) -> usize {
            0
        }
        fn clear(&self) -> usize {
            0
        }
        fn sweep(&self) -> usize {
            0
        }
        fn set_policy(&self, _: EvictionPolicy) {}
        fn counters(&self) -> (crate::stats::Counters, usize, usize) {
            (crate::stats::Counters::default(), 0, 0)
        }
    }

    /// Sizes that change while the stores are ordered (other threads inserting) do not upset
    /// the ordering: with 40 stores, sorting by sizes read anew at every comparison panicked
    /// (`user-provided comparison function does not correctly implement a total order`).
    #[test]
    fn eviction_orders_stores_whose_sizes_change_meanwhile() {
        let config = crate::CacheConfig::builder().capacity(10).build().unwrap();
        let ty: &'static CacheType =
            Box::leak(Box::new(CacheType::new("unit_shifting", &config, true)));
        let looks: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        for _ in 0..40 {
            let store = Box::leak(Box::new(Shifting {
                ty,
                info: StoreInfo::manual(0, ""),
                looks,
            }));
            ty.add_store(store);
        }
        for _ in 0..20 {
            assert!(!ty.evict_from_largest(None));
        }
        // Each round looks at each store's size twice at most: once for the largest, once for
        // the order of the others.
        assert!(looks.load(Ordering::Relaxed) <= 20 * 2 * 40);
    }

    /// Two threads routing keys of the segment that takes the last place, at the same moment,
    /// get the same store (one of them makes it while the other probes).
    #[test]
    fn the_last_segment_store_is_the_same_for_racing_callers() {
        let config = crate::CacheConfig::builder().capacity(100).build().unwrap();
        for round in 0..50 {
            let name = format!("unit_manual_race_{round}");
            crate::configure(&name, config.clone()).unwrap();
            let ty = registry().cache_type(&name);
            for i in 0..MANUAL_SEGMENTS - 1 {
                ty.manual_store(&format!("s{i}:x"));
            }
            let barrier = std::sync::Barrier::new(2);
            let (a, b) = std::thread::scope(|s| {
                let route = || {
                    barrier.wait();
                    (0..64)
                        .map(|i| std::ptr::from_ref(ty.manual_store(&format!("last:{i}"))) as usize)
                        .collect::<Vec<_>>()
                };
                let a = s.spawn(route);
                let b = s.spawn(route);
                (a.join().unwrap(), b.join().unwrap())
            });
            let own = std::ptr::from_ref(ty.manual_store("last:0")) as usize;
            assert!(a.iter().chain(&b).all(|&p| p == own), "round {round}");
            assert!(!same(ty.manual_store("late:0"), ty.manual_store("last:0")));
        }
    }

    /// A segment's store is made once and found again; past the limit, new segments (and keys
    /// without a colon) go to the shared store, for good.
    #[test]
    fn manual_keys_get_a_store_per_segment_up_to_the_limit() {
        let ty = registry().cache_type("unit_manual_segments");
        let user = ty.manual_store("user:1");
        assert!(same(user, ty.manual_store("user:2")));
        assert!(same(user, ty.manual_store("user:")));
        assert!(!same(user, ty.manual_store("team:1")));
        let shared = ty.manual_store("user");
        assert_eq!(&*user.info.key_start, "user:");
        assert_eq!(&*shared.info.key_start, "");
        // `user:` and `team:` took two places.
        let own: Vec<_> = (0..MANUAL_SEGMENTS - 2)
            .map(|i| ty.manual_store(&format!("s{i}:x")))
            .collect();
        for (i, s) in own.iter().enumerate() {
            assert!(!same(s, shared));
            assert_eq!(&*s.info.key_start, format!("s{i}:"));
        }
        for extra in ["late:1", "later:2", "s999:3"] {
            assert!(same(ty.manual_store(extra), shared), "{extra}");
        }
        assert!(same(ty.manual_store("s0:y"), own[0]));
        assert!(same(ty.manual_store("team:9"), ty.manual_store("team:1")));
        assert_eq!(ty.stores().len(), MANUAL_SEGMENTS + 1);
    }
}
