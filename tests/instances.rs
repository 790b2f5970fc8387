//! Instantiations never share entries: each instantiation of a generic function (type or const
//! parameters), each type of a generic impl and each type using a trait's cached default
//! method has a table of its own, even when their keys and values have the same types.
//! Instances of one type still share (`self` is not in the key).

use std::sync::atomic::{AtomicUsize, Ordering};

use memo::cached;

static SIZE_CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached(prefix = "inst_size")]
fn size_times<T>(n: u32) -> usize {
    SIZE_CALLS.fetch_add(1, Ordering::SeqCst);
    std::mem::size_of::<T>() * n as usize
}

#[test]
fn each_type_parameter_has_its_own_entries() {
    assert_eq!(size_times::<u8>(2), 2);
    assert_eq!(size_times::<u64>(2), 16);
    assert_eq!(size_times::<[u8; 3]>(2), 6);
    assert_eq!(SIZE_CALLS.load(Ordering::SeqCst), 3);
    // Each instantiation hits its own entry.
    assert_eq!(size_times::<u64>(2), 16);
    assert_eq!(size_times::<u8>(2), 2);
    assert_eq!(size_times::<[u8; 3]>(2), 6);
    assert_eq!(SIZE_CALLS.load(Ordering::SeqCst), 3);
    // All of them under the function's one name, and one pattern reaches them all.
    let row = memo::stats()
        .function("size_times")
        .cloned()
        .expect("listed");
    assert_eq!((row.activity.hits, row.activity.misses), (3, 3));
    assert_eq!(memo::invalidate("inst_size:2").unwrap(), 3);
}

#[cached(prefix = "inst_const")]
fn plus<const N: usize>(x: u32) -> usize {
    N + x as usize
}

#[cached(prefix = "inst_flag")]
fn flagged<const ON: bool>(x: u32) -> u32 {
    if ON { x } else { 0 }
}

#[test]
fn each_const_parameter_has_its_own_entries() {
    assert_eq!(plus::<1>(0), 1);
    assert_eq!(plus::<2>(0), 2);
    assert_eq!(flagged::<true>(5), 5);
    assert_eq!(flagged::<false>(5), 0);
    assert_eq!(flagged::<true>(5), 5);
}

#[cached(prefix = "inst_many")]
fn many<const N: u8>(x: u8) -> u8 {
    N.wrapping_add(x)
}

/// More instantiations than the site looks up without its lock.
#[test]
fn many_instantiations_each_keep_their_own_values() {
    fn all() -> Vec<u8> {
        vec![
            many::<0>(1),
            many::<1>(1),
            many::<2>(1),
            many::<3>(1),
            many::<4>(1),
            many::<5>(1),
            many::<6>(1),
            many::<7>(1),
            many::<8>(1),
            many::<9>(1),
            many::<10>(1),
            many::<11>(1),
        ]
    }
    let want: Vec<u8> = (1..=12).collect();
    assert_eq!(all(), want);
    assert_eq!(all(), want);
    let row = memo::stats().function("many").cloned().expect("listed");
    assert_eq!((row.activity.hits, row.activity.misses), (12, 12));
}

struct Repo<T> {
    /// Not in the key: instances of one type share entries.
    shard: u8,
    _kind: std::marker::PhantomData<T>,
}

struct Users;
struct Orders;

trait Table {
    const NAME: &'static str;
}
impl Table for Users {
    const NAME: &'static str = "users";
}
impl Table for Orders {
    const NAME: &'static str = "orders";
}

impl<T: Table> Repo<T> {
    fn new(shard: u8) -> Self {
        Self {
            shard,
            _kind: std::marker::PhantomData,
        }
    }

    #[cached(prefix = "inst_repo")]
    fn describe(&self, id: u64) -> String {
        format!("{}#{id}@{}", T::NAME, self.shard)
    }
}

#[test]
fn each_type_of_a_generic_impl_has_its_own_entries() {
    let (users, orders) = (Repo::<Users>::new(0), Repo::<Orders>::new(0));
    assert_eq!(users.describe(1), "users#1@0");
    assert_eq!(orders.describe(1), "orders#1@0");
    // Instances of one type share: `self` is not in the key.
    assert_eq!(Repo::<Users>::new(9).describe(1), "users#1@0");
    let stats = memo::stats();
    let rows: Vec<_> = stats
        .functions
        .iter()
        .filter(|f| f.prefix == "inst_repo")
        .collect();
    assert_eq!(rows.len(), 2, "one row per type: {rows:?}");
    assert_eq!(rows.iter().map(|f| f.activity.hits).sum::<u64>(), 1);
}

trait Named {
    fn label(&self) -> &'static str;

    #[cached(prefix = "inst_named")]
    fn name(&self, n: u32) -> String {
        format!("{}{n}", self.label())
    }
}

struct A;
struct B;
impl Named for A {
    fn label(&self) -> &'static str {
        "a"
    }
}
impl Named for B {
    fn label(&self) -> &'static str {
        "b"
    }
}

#[test]
fn each_type_using_a_cached_default_method_has_its_own_entries() {
    assert_eq!(A.name(1), "a1");
    assert_eq!(B.name(1), "b1");
    assert_eq!(A.name(1), "a1");
    assert_eq!(B.name(1), "b1");
}

static ASYNC_CALLS: AtomicUsize = AtomicUsize::new(0);

#[cached(prefix = "inst_async")]
async fn async_size<T>(n: u32) -> usize {
    ASYNC_CALLS.fetch_add(1, Ordering::SeqCst);
    std::mem::size_of::<T>() * n as usize
}

#[test]
fn async_instantiations_have_their_own_entries_too() {
    use futures::executor::block_on;
    assert_eq!(block_on(async_size::<u16>(3)), 6);
    assert_eq!(block_on(async_size::<u32>(3)), 12);
    assert_eq!(block_on(async_size::<u32>(3)), 12);
    assert_eq!(block_on(async_size::<u16>(3)), 6);
    assert_eq!(ASYNC_CALLS.load(Ordering::SeqCst), 2);
}

#[cached(prefix = "inst_closure", key = "{x}")]
fn apply<F: Fn(u64) -> u64>(f: F, x: u64) -> u64 {
    f(x)
}

trait Sized2: Sized {
    #[cached(prefix = "inst_local")]
    fn bytes(&self, n: u64) -> u64 {
        std::mem::size_of::<Self>() as u64 + n
    }
}

/// Types that share a name: every closure of a function is `path::{{closure}}`, and types of
/// one name declared in two blocks of a function have one path. Each is an instantiation of its
/// own all the same. A closure that borrows (not `'static`) is one too.
#[test]
fn closures_and_local_types_of_one_name_have_their_own_entries() {
    assert_eq!(apply(|x| x + 1, 1), 2);
    assert_eq!(apply(|x| x * 10, 1), 10);
    let base = 100_u64;
    let borrowing = |x| x + base;
    assert_eq!(apply(borrowing, 1), 101);
    assert_eq!(apply(borrowing, 1), 101, "its own entry, hit");

    let small = {
        struct S(#[allow(dead_code)] u8);
        impl Sized2 for S {}
        S(0).bytes(1)
    };
    let large = {
        struct S(#[allow(dead_code)] [u8; 64]);
        impl Sized2 for S {}
        S([0; 64]).bytes(1)
    };
    assert_eq!((small, large), (2, 65));
}

trait Tag {
    const NAME: &'static str;
}
struct TagA;
struct TagB;
impl Tag for TagA {
    const NAME: &'static str = "A";
}
impl Tag for TagB {
    const NAME: &'static str = "B";
}

/// A default method of a generic trait: `Self` is the same for both impls below, only the
/// trait's parameter differs.
trait Tagged<T: Tag> {
    #[cached(prefix = "inst_tagged")]
    fn tagged(&self, id: u32) -> String {
        format!("{}{id}", T::NAME)
    }
}
struct Both;
impl Tagged<TagA> for Both {}
impl Tagged<TagB> for Both {}

/// A generic impl whose parameter is not in `Self`.
trait Labelled<T> {
    fn label(&self, id: u32) -> String;
}
struct Plain;
impl<T: Tag> Labelled<T> for Plain {
    #[cached(prefix = "inst_labelled")]
    fn label(&self, id: u32) -> String {
        format!("{}{id}", T::NAME)
    }
}

#[test]
fn each_parameter_of_a_trait_or_impl_has_its_own_entries() {
    for _ in 0..2 {
        assert_eq!(<Both as Tagged<TagA>>::tagged(&Both, 1), "A1");
        assert_eq!(<Both as Tagged<TagB>>::tagged(&Both, 1), "B1");
        assert_eq!(<Plain as Labelled<TagA>>::label(&Plain, 1), "A1");
        assert_eq!(<Plain as Labelled<TagB>>::label(&Plain, 1), "B1");
    }
}

struct Made<T>(String, std::marker::PhantomData<fn() -> T>);

impl<T: Tag + 'static> Made<T> {
    /// No `self`, but the signature names `Self`: told apart by the impl's parameter.
    #[cached(prefix = "inst_made")]
    fn make(id: u32) -> Self {
        Self(format!("{}{id}", T::NAME), std::marker::PhantomData)
    }

    /// No `self` and no `Self` in the signature, but in the body.
    #[cached(prefix = "inst_made_name")]
    fn name_of(id: u32) -> String {
        Self::make(id).0
    }
}

impl<T> Clone for Made<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone(), std::marker::PhantomData)
    }
}

#[test]
fn associated_functions_naming_self_have_entries_per_type() {
    for _ in 0..2 {
        assert_eq!(Made::<TagA>::make(1).0, "A1");
        assert_eq!(Made::<TagB>::make(1).0, "B1");
        assert_eq!(Made::<TagA>::name_of(2), "A2");
        assert_eq!(Made::<TagB>::name_of(2), "B2");
    }
}
