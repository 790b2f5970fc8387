//! Request traces for the hit-ratio replay (W4) and the offline optimum (Belady's MIN).

use std::collections::BinaryHeap;

use hashbrown::HashMap;

use crate::harness::Rng;

/// A Zipf distribution over ranks `0..n`: rank `r` has weight `1 / (r + 1)^s`.
pub(crate) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub(crate) fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for r in 0..n {
            sum += 1.0 / ((r + 1) as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Self { cdf }
    }

    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1)
    }
}

/// A random permutation of `0..n`: rank to key, so that popularity does not follow key order.
pub(crate) fn permutation(n: usize, rng: &mut Rng) -> Vec<u64> {
    let mut p: Vec<u64> = (0..n as u64).collect();
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// `len` requests drawn from `zipf`, ranks mapped to keys by `perm`.
pub(crate) fn zipf_requests(len: usize, zipf: &Zipf, perm: &[u64], rng: &mut Rng) -> Vec<u64> {
    (0..len).map(|_| perm[zipf.sample(rng)]).collect()
}

/// Zipf requests polluted by one-hit sequential scans: blocks of `block` requests, the first
/// 80% drawn from `zipf`, the last 20% a scan of keys in key order (continuing where the last
/// scan stopped), each scanned key read once by the scan.
pub(crate) fn scan_polluted(
    len: usize,
    block: usize,
    zipf: &Zipf,
    perm: &[u64],
    rng: &mut Rng,
) -> Vec<u64> {
    let universe = perm.len() as u64;
    let scan = block / 5;
    let mut next_scan = 0_u64;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        for _ in 0..block - scan {
            out.push(perm[zipf.sample(rng)]);
        }
        for _ in 0..scan {
            out.push(next_scan % universe);
            next_scan += 1;
        }
    }
    out.truncate(len);
    out
}

/// Hits of the offline optimum (Belady's MIN, with bypass: a key never requested again, or
/// requested later than every cached key, is not stored) with room for `capacity` keys.
pub(crate) fn belady_hits(trace: &[u64], capacity: usize) -> u64 {
    const NEVER: usize = usize::MAX;
    let n = trace.len();
    let mut next = vec![NEVER; n];
    let mut last: HashMap<u64, usize, ahash::RandomState> =
        HashMap::with_capacity_and_hasher(n / 2, ahash::RandomState::new());
    for i in (0..n).rev() {
        if let Some(j) = last.insert(trace[i], i) {
            next[i] = j;
        }
    }
    drop(last);
    // Cached keys and their next use; a max-heap of (next use, key) with stale items skipped.
    let mut cached: HashMap<u64, usize, ahash::RandomState> =
        HashMap::with_capacity_and_hasher(capacity, ahash::RandomState::new());
    let mut heap: BinaryHeap<(usize, u64)> = BinaryHeap::with_capacity(capacity * 2);
    let mut hits = 0;
    for (i, &k) in trace.iter().enumerate() {
        let nu = next[i];
        if let Some(at) = cached.get_mut(&k) {
            hits += 1;
            if nu == NEVER {
                cached.remove(&k);
            } else {
                *at = nu;
                heap.push((nu, k));
            }
            continue;
        }
        if nu == NEVER {
            continue;
        }
        if cached.len() < capacity {
            cached.insert(k, nu);
            heap.push((nu, k));
            continue;
        }
        let (far, far_key) = loop {
            let &(far, far_key) = heap.peek().expect("a full cache has heap items");
            if cached.get(&far_key) == Some(&far) {
                break (far, far_key);
            }
            heap.pop();
        };
        if far > nu {
            heap.pop();
            cached.remove(&far_key);
            cached.insert(k, nu);
            heap.push((nu, k));
        }
    }
    hits
}
