//! A body handed on by a `macro_rules!` macro as a `$body:block` fragment compiles without
//! lints, as it does without the attributes (the fragment is not taken for needless braces).
#![deny(warnings)]

macro_rules! cached_fn {
    (fn $name:ident($arg:ident: $t:ty) -> $r:ty $body:block) => {
        #[memo::cached]
        fn $name($arg: $t) -> $r {
            let _ = 0;
            $body
        }
    };
    (async fn $name:ident($arg:ident: $t:ty) -> $r:ty $body:block) => {
        #[memo::cached]
        async fn $name($arg: $t) -> $r {
            let _ = 0;
            $body
        }
    };
}

macro_rules! invalidating_fn {
    (fn $name:ident($arg:ident: $t:ty) -> $r:ty $body:block) => {
        #[memo::invalidates("length:{s}")]
        fn $name($arg: $t) -> $r {
            let _ = 0;
            $body
        }
    };
    (async fn $name:ident($arg:ident: $t:ty) -> $r:ty $body:block) => {
        #[memo::invalidates("length:{s}")]
        async fn $name($arg: $t) -> $r {
            let _ = 0;
            $body
        }
    };
}

cached_fn!(fn length(s: &str) -> usize { s.len() });
cached_fn!(async fn length_async(s: &str) -> usize { s.len() });
invalidating_fn!(fn forget(s: &str) -> usize { s.len() });
invalidating_fn!(async fn forget_async(s: &str) -> usize { s.len() });

fn main() {
    assert_eq!(length("ab"), 2);
    assert_eq!(forget("ab"), 2);
    let (a, b) = futures::executor::block_on(async {
        (length_async("abc").await, forget_async("abc").await)
    });
    assert_eq!((a, b), (3, 3));
}
