//! Allocations per hit: a hit on a small `Copy` or `Arc` value, with owned or borrowed (`&str`,
//! `&[T]`) arguments, allocates nothing, through `#[cached]` (sync, async, methods) and through
//! the manual API's `get`.
//!
//! Counts are exact, so this is a test rather than a benchmark (issue 4). A counting global
//! allocator, for this test binary only, counts the allocations of the thread that asks, while
//! it asks; every case warms its cache first, then counts over `HITS` hits.

#![allow(unsafe_code)] // the counting allocator: `GlobalAlloc` is an unsafe trait

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use memo::cached;

struct CountingAlloc;

thread_local! {
    // `const` thread-locals without destructors: reading them never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: a thread that is exiting may allocate after its thread-locals are gone.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; counting
// touches only `const` thread-locals, which never allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// Hits counted per case.
const HITS: u64 = 1_000;
/// Keys per case.
const KEYS: u64 = 64;

/// Allocations made by the current thread while `f` runs.
fn allocations(f: impl FnOnce()) -> u64 {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    f();
    COUNTING.with(|on| on.set(false));
    ALLOCATIONS.with(Cell::get)
}

/// Polls a future once with a waker that does nothing (no executor, so nothing but the future
/// itself can allocate); panics if it is not ready, since a hit must not wait.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a hit must complete on its first poll"),
    }
}

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

#[test]
fn the_counting_allocator_counts() {
    let n = allocations(|| {
        black_box(Box::new(7_u64));
    });
    assert_eq!(n, 1);
    assert_eq!(allocations(|| black_box(())), 0);
}

#[test]
fn a_miss_is_seen_by_the_counter() {
    // The counter sees memo's own allocations: a miss on a borrowed key makes its owned form.
    #[cached(prefix = "alloc_miss")]
    fn shout(name: &str) -> Arc<str> {
        Arc::from(name.to_uppercase())
    }

    let n = allocations(|| {
        black_box(shout("a key that is not cached yet"));
    });
    assert!(n > 0, "a miss allocated nothing: is the counter wired?");
}

#[test]
fn a_hit_on_a_copy_value_allocates_nothing() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "alloc_copy")]
    fn square(x: u64) -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        x * x
    }

    for k in 0..KEYS {
        square(k);
    }
    let n = allocations(|| {
        for i in 0..HITS {
            black_box(square(black_box(i % KEYS)));
        }
    });
    assert_eq!(runs(&RUNS), KEYS as usize, "every counted call was a hit");
    assert_eq!(n, 0, "{n} allocations in {HITS} hits on a u64 value");
}

#[test]
fn a_hit_under_lru_allocates_nothing() {
    // LRU requeues the entry on every hit; the queue it grows must be reused, not reallocated
    // after each compaction (110 allocations in 1,000 hits before).
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(cache_type = "alloc_lru")]
    fn twice(x: u64) -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        x * 2
    }

    memo::configure(
        "alloc_lru",
        memo::CacheConfig::builder()
            .capacity(1_000)
            .policy(memo::EvictionPolicy::Lru)
            .build()
            .unwrap(),
    )
    .unwrap();
    for k in 0..KEYS {
        twice(k);
    }
    // Past the first compactions, so that the queue has reached its working size.
    for i in 0..10 * HITS {
        black_box(twice(black_box(i % KEYS)));
    }
    let n = allocations(|| {
        for i in 0..10 * HITS {
            black_box(twice(black_box(i % KEYS)));
        }
    });
    assert_eq!(runs(&RUNS), KEYS as usize, "every counted call was a hit");
    assert_eq!(n, 0, "{n} allocations in {} LRU hits", 10 * HITS);
}

#[test]
fn a_hit_on_an_arc_value_allocates_nothing() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "alloc_arc")]
    fn label(x: u64) -> Arc<str> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Arc::from(format!("label {x}"))
    }

    for k in 0..KEYS {
        label(k);
    }
    let n = allocations(|| {
        for i in 0..HITS {
            black_box(label(black_box(i % KEYS)));
        }
    });
    assert_eq!(runs(&RUNS), KEYS as usize);
    assert_eq!(n, 0, "{n} allocations in {HITS} hits on an Arc<str> value");
}

#[test]
fn a_hit_with_a_borrowed_str_key_allocates_nothing() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "alloc_str")]
    fn name_len(name: &str, n: u32) -> Arc<Vec<u64>> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Arc::new(vec![name.len() as u64, u64::from(n)])
    }

    let names: Vec<String> = (0..KEYS).map(|i| format!("customer-{i:06}")).collect();
    for (i, name) in names.iter().enumerate() {
        name_len(name, i as u32);
    }
    let n = allocations(|| {
        for i in 0..HITS as usize {
            let k = i % names.len();
            black_box(name_len(black_box(&names[k]), k as u32));
        }
    });
    assert_eq!(runs(&RUNS), names.len());
    assert_eq!(n, 0, "{n} allocations in {HITS} hits with a &str key");
}

#[test]
fn a_hit_with_a_borrowed_slice_key_allocates_nothing() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "alloc_slice")]
    fn total(xs: &[u64]) -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        xs.iter().sum()
    }

    let keys: Vec<Vec<u64>> = (0..KEYS).map(|i| vec![i, i + 1, i + 2]).collect();
    for k in &keys {
        total(k);
    }
    let n = allocations(|| {
        for i in 0..HITS as usize {
            black_box(total(black_box(&keys[i % keys.len()])));
        }
    });
    assert_eq!(runs(&RUNS), keys.len());
    assert_eq!(n, 0, "{n} allocations in {HITS} hits with a &[u64] key");
}

#[test]
fn a_hit_with_a_ttl_allocates_nothing() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "alloc_ttl", ttl = 300)]
    fn cube(x: u64) -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        x * x * x
    }

    for k in 0..KEYS {
        cube(k);
    }
    let n = allocations(|| {
        for i in 0..HITS {
            black_box(cube(black_box(i % KEYS)));
        }
    });
    assert_eq!(runs(&RUNS), KEYS as usize);
    assert_eq!(n, 0, "{n} allocations in {HITS} hits with a TTL");
}

#[test]
fn a_hit_on_an_option_or_result_allocates_nothing() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    #[cached(prefix = "alloc_option")]
    fn find(x: u64) -> Option<u64> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Some(x + 1)
    }

    #[cached(prefix = "alloc_result")]
    fn load(x: u64) -> Result<Arc<str>, String> {
        RUNS.fetch_add(1, Ordering::SeqCst);
        Ok(Arc::from(format!("row {x}")))
    }

    for k in 0..KEYS {
        find(k);
        let _ = load(k);
    }
    let n = allocations(|| {
        for i in 0..HITS {
            black_box(find(black_box(i % KEYS)));
            let _ = black_box(load(black_box(i % KEYS)));
        }
    });
    assert_eq!(runs(&RUNS), 2 * KEYS as usize);
    assert_eq!(
        n,
        0,
        "{n} allocations in {} hits on Option/Result",
        2 * HITS
    );
}

#[test]
fn an_async_hit_allocates_nothing() {
    static RUNS: AtomicUsize = AtomicUsize::new(0);

    struct Catalog;

    impl Catalog {
        #[cached(prefix = "alloc_async_method")]
        async fn price(&self, sku: &str) -> Arc<str> {
            RUNS.fetch_add(1, Ordering::SeqCst);
            Arc::from(format!("{} cents", sku.len() * 100))
        }
    }

    #[cached(prefix = "alloc_async_fn")]
    async fn double(x: u64) -> u64 {
        RUNS.fetch_add(1, Ordering::SeqCst);
        x * 2
    }

    let catalog = Catalog;
    let skus: Vec<String> = (0..KEYS).map(|i| format!("sku-{i}")).collect();
    futures::executor::block_on(async {
        for (i, sku) in skus.iter().enumerate() {
            catalog.price(sku).await;
            double(i as u64).await;
        }
    });
    let n = allocations(|| {
        for i in 0..HITS as usize {
            let k = i % skus.len();
            black_box(ready(catalog.price(black_box(&skus[k]))));
            black_box(ready(double(black_box(k as u64))));
        }
    });
    assert_eq!(runs(&RUNS), 2 * skus.len());
    assert_eq!(n, 0, "{n} allocations in {} async hits", 2 * HITS);
}

#[test]
fn a_manual_get_allocates_nothing() {
    let c = memo::configure(
        "alloc_manual",
        memo::CacheConfig::builder()
            .capacity(1_000)
            .ttl(Duration::from_secs(300))
            .build()
            .unwrap(),
    )
    .unwrap();
    let keys: Vec<String> = (0..KEYS).map(|i| format!("alloc_manual:{i}")).collect();
    for (i, k) in keys.iter().enumerate() {
        c.insert(k, i as u64);
        c.insert(&format!("{k}:arc"), Arc::<str>::from(k.as_str()));
    }
    let arc_keys: Vec<String> = keys.iter().map(|k| format!("{k}:arc")).collect();

    let copies = allocations(|| {
        for i in 0..HITS as usize {
            let k = i % keys.len();
            assert_eq!(black_box(c.get::<u64>(black_box(&keys[k]))), Some(k as u64));
        }
    });
    assert_eq!(
        copies, 0,
        "{copies} allocations in {HITS} manual get::<u64> hits"
    );

    let arcs = allocations(|| {
        for i in 0..HITS as usize {
            black_box(
                c.get::<Arc<str>>(black_box(&arc_keys[i % keys.len()]))
                    .unwrap(),
            );
        }
    });
    assert_eq!(
        arcs, 0,
        "{arcs} allocations in {HITS} manual get::<Arc<str>> hits"
    );

    let computed = allocations(|| {
        for i in 0..HITS as usize {
            let k = i % keys.len();
            let v = c.get_or_insert_with(black_box(&keys[k]), || -> u64 { unreachable!("a hit") });
            assert_eq!(black_box(v), k as u64);
        }
    });
    assert_eq!(
        computed, 0,
        "{computed} allocations in {HITS} get_or_insert_with hits"
    );
}
