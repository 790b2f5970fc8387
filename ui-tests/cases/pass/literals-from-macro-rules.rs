// Literals handed on by `macro_rules!` (`$x:literal`, `$x:expr`) arrive in an invisible group;
// the attributes read them as if written in place.

macro_rules! cached_pair {
    ($prefix:literal, $ttl:literal, $pattern:literal, $flag:expr) => {
        #[memo::cached(prefix = $prefix, ttl = $ttl, cache_type = $prefix, cache_err = $flag)]
        fn load(id: u64) -> Result<u64, String> {
            Ok(id * 2)
        }

        #[memo::invalidates($pattern)]
        fn forget(id: u64) {
            let _ = id;
        }
    };
}

cached_pair!("from_macro", "5m", "from_macro:*", true);

fn main() {
    assert_eq!(load(2), Ok(4));
    assert_eq!(load(2), Ok(4));
    let stats = memo::stats();
    let f = stats.function("load").unwrap();
    assert_eq!((f.prefix.as_str(), f.ttl_ms), ("from_macro", Some(300_000)));
    assert_eq!(f.activity.hits, 1);
    forget(2);
    assert_eq!(memo::stats().function("load").unwrap().activity.size, 0);
}
