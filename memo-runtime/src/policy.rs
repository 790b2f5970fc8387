//! Eviction policies, per shard: S3-FIFO (the default) and LRU.
//!
//! Both keep queues of `(bucket, stamp)` items: where the slot sits in the shard's table, and the
//! stamp it was queued with. A slot's stamp changes whenever the slot is queued again, so an
//! item whose bucket is empty or holds a slot of another stamp is stale and skipped; removing a
//! slot therefore never searches a queue. Queues are compacted when stale items outnumber live
//! ones, which keeps their memory proportional to the live entries.
//!
//! An item names its slot's bucket rather than its hash: it takes 8 bytes instead of 16, and an
//! eviction reaches its victim without probing the table (W2's miss touches one cache line
//! fewer, and its queues half the memory). Buckets move only when the table is rehashed; the
//! store then calls [`Policy::reindex`], which rebuilds the queues from the slots.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};

use hashbrown::HashTable;

use crate::config::EvictionPolicy;

/// Which queue a ready slot sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueId {
    /// Not queued (an in-flight slot).
    None,
    /// S3-FIFO's probationary queue.
    Small,
    /// S3-FIFO's main queue, or the LRU queue.
    Main,
}

/// The policy fields of a slot.
///
/// Stamps are 32 bits and wrap; an item whose stamp comes round again to a live slot in the same
/// bucket is also checked against the slot's queue, so a collision can only make the policy act
/// on a slot a little early, never unbalance its counts.
///
/// The slot's hash is not kept here: callers pass it in (and [`Tracked::hash`] gives it for
/// an evicted slot), which keeps slots small.
///
/// The frequency is an atomic so that a hit can count itself with the shard only read-locked;
/// it saturates at [`MAX_FREQ`], after which hits no longer write it.
#[derive(Debug)]
pub(crate) struct Meta {
    pub(crate) stamp: u32,
    freq: AtomicU8,
    pub(crate) queue: QueueId,
}

impl Meta {
    pub(crate) fn new() -> Self {
        Self {
            stamp: 0,
            freq: AtomicU8::new(0),
            queue: QueueId::None,
        }
    }

    /// Counts a hit for S3-FIFO through a shared reference (LRU hits go through
    /// [`Policy::on_hit`]). Two hits at once may count as one: the frequency is a hint.
    #[inline]
    pub(crate) fn touch(&self) {
        let f = self.freq.load(Ordering::Relaxed);
        if f < MAX_FREQ {
            self.freq.store(f + 1, Ordering::Relaxed);
        }
    }

    #[inline]
    fn freq(&self) -> u8 {
        self.freq.load(Ordering::Relaxed)
    }

    #[inline]
    fn set_freq(&mut self, f: u8) {
        *self.freq.get_mut() = f;
    }
}

/// What the policy needs from a slot.
pub(crate) trait Tracked {
    fn meta(&self) -> &Meta;
    fn meta_mut(&mut self) -> &mut Meta;
    /// The hash the slot is stored under (remembered by the ghost queue when it is evicted).
    fn hash(&self) -> u64;
}

/// A queued slot: its bucket in the table and the stamp it was queued with.
#[derive(Clone, Copy, Debug)]
struct Item {
    bucket: u32,
    stamp: u32,
}

impl Item {
    /// An item for the slot in `bucket`. A table has far fewer than 2^32 buckets (each holds a
    /// slot of 24 bytes or more); a bucket beyond that would make an item that is never live.
    fn new(bucket: usize, stamp: u32) -> Self {
        Self {
            bucket: u32::try_from(bucket).unwrap_or(u32::MAX),
            stamp,
        }
    }

    /// Whether `slot`, found in this item's bucket, is the one it stands for: queued in
    /// `queue` with this item's stamp.
    #[inline]
    fn is_for<S: Tracked>(self, slot: &S, queue: QueueId) -> bool {
        slot.meta().stamp == self.stamp && slot.meta().queue == queue
    }

    /// Whether this item's slot is still in `table`, queued in `queue`.
    fn is_live<S: Tracked>(self, table: &HashTable<S>, queue: QueueId) -> bool {
        table
            .get_bucket(self.bucket as usize)
            .is_some_and(|s| self.is_for(s, queue))
    }
}

/// The bytes one queued entry takes in the policy's queues.
pub(crate) const ITEM_BYTES: usize = size_of::<Item>();

/// How long ago a stamp was handed out, given the next one: larger is more recent. Stamps wrap,
/// and every live one was handed out within the last 2^32.
fn recency(stamp: u32, next: u32) -> u32 {
    stamp.wrapping_sub(next)
}

/// Highest frequency S3-FIFO counts to.
const MAX_FREQ: u8 = 3;

/// S3-FIFO's probationary queue holds one entry in `SMALL_SHARE` (2.5%). The paper suggests
/// 10%; on the Zipf, scan and shifting traces of the benchmark suite 2.5% gives 0.3 to 0.5
/// points more hits at every size (10%: 63.9% at Zipf 0.99 / 1% capacity, 2.5%: 64.3%).
const SMALL_SHARE: usize = 40;

/// The eviction state of one shard.
#[derive(Debug)]
pub(crate) struct Policy {
    kind: EvictionPolicy,
    small: VecDeque<Item>,
    main: VecDeque<Item>,
    small_live: usize,
    main_live: usize,
    ghost: Ghost,
    next_stamp: u32,
}

impl Policy {
    pub(crate) fn new(kind: EvictionPolicy) -> Self {
        Self {
            kind,
            small: VecDeque::new(),
            main: VecDeque::new(),
            small_live: 0,
            main_live: 0,
            ghost: Ghost::default(),
            next_stamp: 1,
        }
    }

    pub(crate) fn kind(&self) -> EvictionPolicy {
        self.kind
    }

    /// A stamp not handed out in this shard for the last 2^32 stamps.
    pub(crate) fn fresh_stamp(&mut self) -> u32 {
        let s = self.next_stamp;
        self.next_stamp = self.next_stamp.wrapping_add(1);
        s
    }

    #[inline]
    fn live(&self) -> usize {
        self.small_live + self.main_live
    }

    /// Queues a slot that just became ready, stored under `hash` in `bucket`.
    #[inline]
    pub(crate) fn on_insert(&mut self, meta: &mut Meta, bucket: usize, hash: u64) {
        meta.set_freq(0);
        let to_main = match self.kind {
            EvictionPolicy::Lru => true,
            _ => self.ghost.remove(hash),
        };
        self.push(
            meta,
            bucket,
            if to_main {
                QueueId::Main
            } else {
                QueueId::Small
            },
        );
    }

    /// Records a hit on the slot in `bucket`.
    #[inline]
    pub(crate) fn on_hit(&mut self, meta: &mut Meta, bucket: usize) {
        match self.kind {
            EvictionPolicy::Lru => {
                // Requeue at the back; the old item becomes stale.
                self.main_live -= 1;
                self.push(meta, bucket, QueueId::Main);
            }
            _ => {
                meta.touch();
            }
        }
    }

    /// Forgets a slot that is being removed from the table for another reason than eviction.
    pub(crate) fn on_remove(&mut self, meta: &Meta) {
        match meta.queue {
            QueueId::Small => self.small_live -= 1,
            QueueId::Main => self.main_live -= 1,
            QueueId::None => {}
        }
    }

    #[inline]
    fn push(&mut self, meta: &mut Meta, bucket: usize, queue: QueueId) {
        meta.stamp = self.fresh_stamp();
        meta.queue = queue;
        let item = Item::new(bucket, meta.stamp);
        match queue {
            QueueId::Small => {
                self.small_live += 1;
                self.small.push_back(item);
            }
            QueueId::Main => {
                self.main_live += 1;
                self.main.push_back(item);
            }
            QueueId::None => {}
        }
    }

    /// Whether the next eviction looks at the probationary queue first.
    #[inline]
    fn evicts_from_small(&self) -> bool {
        self.kind != EvictionPolicy::Lru
            && self.small_live > 0
            && (self.small_live * SMALL_SHARE > self.live() || self.main_live == 0)
    }

    /// The bucket the next eviction looks at first (its victim, unless that slot is stale or
    /// was read meanwhile), for prefetching it.
    #[inline]
    pub(crate) fn next_victim(&self) -> Option<usize> {
        let queue = if self.evicts_from_small() {
            &self.small
        } else {
            &self.main
        };
        queue.front().map(|item| item.bucket as usize)
    }

    /// Removes one ready slot chosen by the policy and returns it.
    pub(crate) fn evict<S: Tracked>(&mut self, table: &mut HashTable<S>) -> Option<S> {
        loop {
            if self.live() == 0 {
                return None;
            }
            let from_small = self.evicts_from_small();
            let (queue, queue_id) = if from_small {
                (&mut self.small, QueueId::Small)
            } else {
                (&mut self.main, QueueId::Main)
            };
            let Some(item) = queue.pop_front() else {
                // Live counts say there is an entry but the queue is empty: cannot happen while
                // the bookkeeping is right; refuse rather than loop.
                debug_assert!(false, "policy queues out of step with live counts");
                return None;
            };
            let bucket = item.bucket as usize;
            let Ok(entry) = table.get_bucket_entry(bucket) else {
                continue; // stale: the bucket is empty
            };
            if !item.is_for(entry.get(), queue_id) {
                continue; // stale: another slot, or this one queued again
            }
            if from_small {
                if entry.get().meta().freq() > 0 {
                    // Read while on probation: promote.
                    let meta = entry.into_mut().meta_mut();
                    self.small_live -= 1;
                    meta.set_freq(0);
                    self.push(meta, bucket, QueueId::Main);
                    continue;
                }
                self.small_live -= 1;
                self.ghost.insert(entry.get().hash(), self.live().max(16));
            } else {
                if self.kind != EvictionPolicy::Lru && entry.get().meta().freq() > 0 {
                    let meta = entry.into_mut().meta_mut();
                    let f = meta.freq();
                    meta.set_freq(f - 1);
                    self.main_live -= 1;
                    self.push(meta, bucket, QueueId::Main);
                    continue;
                }
                self.main_live -= 1;
            }
            let (slot, _) = entry.remove();
            return Some(slot);
        }
    }

    /// Whether the queues hold many more items than live slots.
    pub(crate) fn needs_compaction(&self) -> bool {
        let items = self.small.len() + self.main.len();
        items > 64 && items > 2 * self.live() + 32
    }

    /// Rebuilds the queues from the slots they still refer to, keeping their order.
    pub(crate) fn compact<S: Tracked>(&mut self, table: &HashTable<S>) {
        self.small
            .retain(|item| item.is_live(table, QueueId::Small));
        self.main.retain(|item| item.is_live(table, QueueId::Main));
        shrink_queue(&mut self.small);
        shrink_queue(&mut self.main);
    }

    /// The queued slots of `table`: bucket, queue and stamp, oldest stamp first (the order
    /// each queue holds them in).
    fn queued<S: Tracked>(&self, table: &HashTable<S>) -> Vec<(usize, QueueId, u32)> {
        let mut items: Vec<(usize, QueueId, u32)> = table
            .iter_buckets()
            .filter_map(|bucket| {
                let meta = table.get_bucket(bucket)?.meta();
                (meta.queue != QueueId::None).then_some((bucket, meta.queue, meta.stamp))
            })
            .collect();
        let next = self.next_stamp;
        items.sort_unstable_by_key(|&(_, _, stamp)| recency(stamp, next));
        items
    }

    /// Rebuilds the queues after the table moved its slots to other buckets (it grew, shrank
    /// or was rehashed in place): every queued slot keeps its queue, stamp and place in its
    /// queue; stale items are dropped.
    #[cold]
    #[inline(never)]
    pub(crate) fn reindex<S: Tracked>(&mut self, table: &HashTable<S>) {
        let items = self.queued(table);
        self.small.clear();
        self.main.clear();
        for (bucket, queue, stamp) in items {
            let item = Item::new(bucket, stamp);
            match queue {
                QueueId::Small => self.small.push_back(item),
                QueueId::Main => self.main.push_back(item),
                QueueId::None => {}
            }
        }
        debug_assert_eq!(
            (self.small.len(), self.main.len()),
            (self.small_live, self.main_live),
            "live counts out of step with the queued slots"
        );
        shrink_queue(&mut self.small);
        shrink_queue(&mut self.main);
    }

    /// Switches to another policy, requeueing every ready slot.
    pub(crate) fn switch<S: Tracked>(&mut self, kind: EvictionPolicy, table: &mut HashTable<S>) {
        let items = self.queued(table);
        *self = Policy {
            next_stamp: self.next_stamp,
            ..Policy::new(kind)
        };
        for (bucket, _, _) in items {
            let Some(s) = table.get_bucket_mut(bucket) else {
                continue;
            };
            let meta = s.meta_mut();
            meta.set_freq(0);
            self.push(meta, bucket, QueueId::Main);
        }
    }

    /// Forgets everything (after the table was cleared).
    pub(crate) fn reset(&mut self) {
        *self = Policy {
            next_stamp: self.next_stamp,
            ghost: std::mem::take(&mut self.ghost),
            ..Policy::new(self.kind)
        };
    }
}

/// Gives back a compacted queue's memory only when it holds far more than the queue can grow
/// to before the next compaction (twice the live items and a few more), so that steady
/// requeueing (every LRU hit) never reallocates: shrinking to the trigger's size made each
/// compaction cycle reallocate once, an allocation on one hit in ten.
fn shrink_queue(queue: &mut VecDeque<Item>) {
    let room = 2 * queue.len() + 64;
    if queue.capacity() > 2 * room {
        queue.shrink_to(room);
    }
}

/// Hashes of keys recently evicted from the small queue (S3-FIFO's ghost queue), as 32-bit
/// fingerprints in a set-associative array: a fingerprint picks one bucket (one cache line of
/// sixteen fingerprints) and each bucket forgets its oldest fingerprint first, so the array as
/// a whole forgets in about the order it learnt. Remembering and looking up a hash touch one
/// cache line (and one byte of the small array of cursors), and a remembered hash takes 4
/// bytes.
///
/// It holds at least as many fingerprints as the shard has live entries (growing with them,
/// by a quarter more at a time), as the paper's ghost queue holds as many as the main queue.
/// Two keys of one shard share a fingerprint with probability 2^-32; the only effect is that a
/// key may be admitted to the main queue once when it should not have been.
#[derive(Debug, Default)]
struct Ghost {
    buckets: Vec<GhostBucket>,
    /// Per bucket, the way the next fingerprint goes to (its oldest). Apart from the buckets,
    /// so that a search compares a whole line of fingerprints and nothing else: the compiler
    /// makes that four vector compares (a cursor in the line, which the search must not match,
    /// cost twice as many instructions, on every miss).
    cursors: Vec<u8>,
}

/// Fingerprints per ghost bucket.
const GHOST_WAYS: usize = 16;

/// One cache line of the ghost: fingerprints, 0 for an empty way.
#[derive(Debug, Default, Clone, Copy)]
#[repr(align(64))]
struct GhostBucket {
    words: [u32; GHOST_WAYS],
}

impl GhostBucket {
    /// Whether a way holds `fingerprint`: four vector compares of the whole line, the only
    /// work of most searches (they find nothing).
    #[inline]
    fn holds(&self, fingerprint: u32) -> bool {
        let mut any = 0_u32;
        for &w in &self.words {
            any |= u32::from(w == fingerprint);
        }
        any != 0
    }

    /// The way holding `fingerprint`, if one does.
    #[inline]
    fn find(&self, fingerprint: u32) -> Option<usize> {
        if self.holds(fingerprint) {
            self.position(fingerprint)
        } else {
            None
        }
    }

    /// [`find`](Self::find)'s second step, out of line: inlined, the compiler merged it with
    /// the compares of [`holds`](Self::holds) into code three times as long, run by every search.
    #[cold]
    #[inline(never)]
    fn position(&self, fingerprint: u32) -> Option<usize> {
        self.words.iter().position(|&w| w == fingerprint)
    }
}

impl Ghost {
    /// A hash's fingerprint: its low 32 bits (the shard is chosen by higher ones), never 0.
    #[inline]
    fn fingerprint(hash: u64) -> u32 {
        #[allow(clippy::cast_possible_truncation)] // the low half, on purpose
        let f = hash as u32;
        f.max(1)
    }

    /// The bucket of a fingerprint (a multiply-shift, so any bucket count works).
    #[inline]
    fn bucket_of(&self, fingerprint: u32) -> usize {
        #[allow(clippy::cast_possible_truncation)] // < buckets.len()
        let i = ((u64::from(fingerprint) * self.buckets.len() as u64) >> 32) as usize;
        i
    }

    fn capacity(&self) -> usize {
        self.buckets.len() * GHOST_WAYS
    }

    /// Remembers a hash, holding at least `limit` fingerprints.
    #[inline]
    fn insert(&mut self, hash: u64, limit: usize) {
        if limit > self.capacity() {
            self.grow(limit + limit / 4);
        }
        self.add(Self::fingerprint(hash));
    }

    /// Remembers a fingerprint in its bucket, in place of the bucket's oldest.
    #[inline]
    fn add(&mut self, fingerprint: u32) {
        let i = self.bucket_of(fingerprint);
        let bucket = &mut self.buckets[i];
        if !bucket.holds(fingerprint) {
            let cursor = &mut self.cursors[i];
            bucket.words[usize::from(*cursor) % GHOST_WAYS] = fingerprint;
            #[allow(clippy::cast_possible_truncation)] // < GHOST_WAYS
            let after = ((usize::from(*cursor) + 1) % GHOST_WAYS) as u8;
            *cursor = after;
        }
    }

    /// Makes room for `size` fingerprints, keeping those remembered (in bucket order, not
    /// exactly the order they were learnt).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, size: usize) {
        let count = size.div_ceil(GHOST_WAYS);
        let old = std::mem::replace(&mut self.buckets, vec![GhostBucket::default(); count]);
        let old_cursors = std::mem::replace(&mut self.cursors, vec![0; count]);
        for (bucket, next) in old.into_iter().zip(old_cursors) {
            for k in 0..GHOST_WAYS {
                // Oldest first: the way at the cursor was written longest ago.
                let f = bucket.words[(usize::from(next) + k) % GHOST_WAYS];
                if f != 0 {
                    self.add(f);
                }
            }
        }
    }

    /// Whether the hash was remembered; a remembered hash is forgotten.
    #[inline]
    fn remove(&mut self, hash: u64) -> bool {
        if self.buckets.is_empty() {
            return false;
        }
        let f = Self::fingerprint(hash);
        let i = self.bucket_of(f);
        match self.buckets[i].find(f) {
            Some(w) => {
                self.buckets[i].words[w] = 0;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct S {
        meta: Meta,
        key: u64,
    }
    impl Tracked for S {
        fn meta(&self) -> &Meta {
            &self.meta
        }
        fn meta_mut(&mut self) -> &mut Meta {
            &mut self.meta
        }
        fn hash(&self) -> u64 {
            self.key
        }
    }

    /// Inserts `key` (its own hash) the way the store does: reindexing the queues when the
    /// insert moved the table's slots.
    fn insert(p: &mut Policy, t: &mut HashTable<S>, key: u64) {
        let s = S {
            meta: Meta::new(),
            key,
        };
        let was_full = t.len() == t.capacity();
        let entry = t.insert_unique(key, s, |s| s.key);
        let bucket = entry.bucket_index();
        p.on_insert(&mut entry.into_mut().meta, bucket, key);
        if was_full && t.len() < t.capacity() {
            p.reindex(t);
        }
    }

    fn hit(p: &mut Policy, t: &mut HashTable<S>, key: u64) {
        let entry = t.find_entry(key, |s| s.key == key).ok().unwrap();
        let bucket = entry.bucket_index();
        p.on_hit(&mut entry.into_mut().meta, bucket);
    }

    #[test]
    fn lru_evicts_least_recently_used() {
        let mut p = Policy::new(EvictionPolicy::Lru);
        let mut t = HashTable::new();
        for k in 1..=3 {
            insert(&mut p, &mut t, k);
        }
        hit(&mut p, &mut t, 1);
        assert_eq!(p.evict(&mut t).unwrap().key, 2);
        assert_eq!(p.evict(&mut t).unwrap().key, 3);
        assert_eq!(p.evict(&mut t).unwrap().key, 1);
        assert!(p.evict(&mut t).is_none());
    }

    #[test]
    fn s3fifo_keeps_keys_read_on_probation() {
        let mut p = Policy::new(EvictionPolicy::S3Fifo);
        let mut t = HashTable::new();
        for k in 1..=10 {
            insert(&mut p, &mut t, k);
        }
        hit(&mut p, &mut t, 1);
        // 1 was read, so it is promoted instead of evicted; 2 goes first.
        assert_eq!(p.evict(&mut t).unwrap().key, 2);
        assert!(t.find(1, |s| s.key == 1).is_some());
    }

    #[test]
    fn s3fifo_readmits_ghosts_to_main() {
        let mut p = Policy::new(EvictionPolicy::S3Fifo);
        let mut t = HashTable::new();
        for k in 1..=10 {
            insert(&mut p, &mut t, k);
        }
        let gone = p.evict(&mut t).unwrap().key;
        insert(&mut p, &mut t, gone);
        let back = t.find(gone, |s| s.key == gone).unwrap();
        assert_eq!(back.meta.queue, QueueId::Main);
    }

    /// Distinct pseudo-random hashes from a fixed seed.
    fn hashes(n: usize) -> Vec<u64> {
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            })
            .collect()
    }

    #[test]
    fn ghost_remembers_about_its_limit_and_forgets_the_oldest() {
        let hs = hashes(1000);
        let mut g = Ghost::default();
        for &h in &hs {
            g.insert(h, 100);
        }
        assert!(g.capacity() >= 100 && g.capacity() <= 150);
        let recent = hs[900..].iter().filter(|&&h| g.remove(h)).count();
        assert!(recent >= 90, "{recent} of the last 100 remembered");
        let old = hs[..500].iter().filter(|&&h| g.remove(h)).count();
        assert_eq!(old, 0, "the oldest half is forgotten");
    }

    #[test]
    fn ghost_forgets_what_it_readmits_and_keeps_what_it_knew_when_growing() {
        let hs = hashes(40);
        let mut g = Ghost::default();
        assert!(!g.remove(hs[0]));
        for &h in &hs[..10] {
            g.insert(h, 16);
        }
        assert!(g.remove(hs[0]));
        assert!(!g.remove(hs[0]), "a readmitted hash is forgotten");
        for &h in &hs[10..] {
            g.insert(h, 1000);
        }
        assert!(g.capacity() >= 1000);
        assert!(
            hs[1..].iter().all(|&h| g.remove(h)),
            "growing forgets nothing"
        );
        g.insert(0, 16);
        assert!(g.remove(0), "a hash whose low half is 0 is remembered too");
    }

    #[test]
    fn compaction_drops_stale_items() {
        let mut p = Policy::new(EvictionPolicy::Lru);
        let mut t = HashTable::new();
        insert(&mut p, &mut t, 1);
        for _ in 0..200 {
            hit(&mut p, &mut t, 1);
        }
        assert!(p.needs_compaction());
        p.compact(&t);
        assert_eq!(p.main.len(), 1);
        assert_eq!(p.evict(&mut t).unwrap().key, 1);
    }

    #[test]
    fn compaction_keeps_room_to_requeue_and_gives_back_the_rest() {
        let mut p = Policy::new(EvictionPolicy::Lru);
        let mut t = HashTable::new();
        insert(&mut p, &mut t, 1);
        for _ in 0..200 {
            hit(&mut p, &mut t, 1);
        }
        p.compact(&t);
        // Room kept for the requeues before the next compaction: no reallocation meanwhile.
        let kept = p.main.capacity();
        assert!(kept >= 2 + 32, "{kept}");
        while !p.needs_compaction() {
            hit(&mut p, &mut t, 1);
        }
        assert_eq!(
            p.main.capacity(),
            kept,
            "requeueing up to compaction reallocated"
        );
        // A queue far larger than its live items gives memory back.
        for _ in 0..10_000 {
            p.main.push_back(Item::new(0, 0));
        }
        p.compact(&t);
        assert!(p.main.capacity() < 1_000, "{}", p.main.capacity());
    }

    #[test]
    fn an_item_takes_eight_bytes() {
        assert_eq!(size_of::<Item>(), 8);
    }

    /// LRU against a model of its order, through enough inserts, evictions and hits that the
    /// table grows and later rehashes in place (erasing leaves tombstones): evictions keep the
    /// exact order across every reindex.
    #[test]
    fn eviction_order_survives_the_table_moving_its_slots() {
        const CAP: usize = 50;
        let mut p = Policy::new(EvictionPolicy::Lru);
        let mut t: HashTable<S> = HashTable::new();
        let mut model: VecDeque<u64> = VecDeque::new();
        let mut moves = 0;
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for step in 0..200_000_u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x % 3 == 0 && !model.is_empty() {
                let key = model[(x >> 8) as usize % model.len()];
                hit(&mut p, &mut t, key);
                model.retain(|&k| k != key);
                model.push_back(key);
                continue;
            }
            if model.len() == CAP {
                let victim = p.evict(&mut t).unwrap().key;
                assert_eq!(Some(victim), model.pop_front(), "step {step}");
            }
            // Keys spread over the whole hash range, so that buckets fill unevenly.
            let key = x | 1;
            let was_full = t.len() == t.capacity();
            insert(&mut p, &mut t, key);
            if was_full && t.len() < t.capacity() {
                moves += 1;
            }
            model.push_back(key);
        }
        assert!(moves > 3, "the table moved its slots {moves} times");
        while let Some(k) = model.pop_front() {
            assert_eq!(p.evict(&mut t).map(|s| s.key), Some(k));
        }
        assert!(p.evict(&mut t).is_none());
    }

    #[test]
    fn switching_policy_keeps_every_entry() {
        let mut p = Policy::new(EvictionPolicy::S3Fifo);
        let mut t = HashTable::new();
        for k in 1..=5 {
            insert(&mut p, &mut t, k);
        }
        p.switch(EvictionPolicy::Lru, &mut t);
        let mut out: Vec<u64> = std::iter::from_fn(|| p.evict(&mut t).map(|s| s.key)).collect();
        out.sort_unstable();
        assert_eq!(out, vec![1, 2, 3, 4, 5]);
    }
}
