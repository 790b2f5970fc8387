//! The `#[cached]` and `#[invalidates]` attributes of memo. Use them through the `memo` crate,
//! whose documentation they are part of.
//!
//! Each attribute reads its options (`attr.rs`), takes a typed view of the function
//! (`model.rs`), checks both together collecting every error (`valid.rs`), then generates code
//! (`expand.rs`) or, on error, emits the function as written with the errors (`fallback.rs`).

mod attr;
mod ctxt;
mod expand;
mod fallback;
mod model;
mod suggest;
mod template;
mod valid;

use proc_macro::TokenStream;

/// Caches the results of a function, an `async fn` or a method taking `&self`.
///
/// The first call with some arguments runs the body and stores its result; later calls with
/// equal arguments return a copy of it without running the body.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use memo::cached;
///
/// static QUERIES: AtomicUsize = AtomicUsize::new(0);
///
/// #[cached]
/// fn word_count(text: &str) -> usize {
///     QUERIES.fetch_add(1, Ordering::Relaxed);
///     text.split_whitespace().count()
/// }
///
/// assert_eq!(word_count("a b c"), 3);
/// assert_eq!(word_count("a b c"), 3);
/// assert_eq!(QUERIES.load(Ordering::Relaxed), 1);
///
/// let stats = memo::stats();
/// let f = stats.function("word_count").unwrap();
/// assert_eq!((f.activity.hits, f.activity.misses), (1, 1));
/// ```
///
/// Every option is optional: `#[cached(ttl = "10m", prefix = "user", cache_type = "user")]`.
/// The sections below describe each; the rest of this page says what is stored, what forms the
/// key, and how methods, async functions and concurrent calls behave.
///
/// # What is stored
///
/// - A `Result<T, E>`: only `Ok(T)`; an `Err` is returned and the next call runs again.
/// - An `Option<T>`: only `Some(T)`.
/// - Anything else: the whole value.
///
/// The choice is made by type, not by how the return type is spelled, so
/// `type MyResult<T> = Result<T, MyError>` behaves like `Result`. [`cache_err`](#cache_err) and
/// [`cache_none`](#cache_none) store errors and `None` too.
///
/// A hit returns a clone of the stored value, so the stored part must be
/// `Clone + Send + Sync + 'static` (an `Arc<T>` makes hits cheap for large values). The error
/// for a value that is not `Clone` points at the return type. Functions returning nothing,
/// references (other than `&'static`), types with lifetimes, or `impl Trait` cannot be cached.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use memo::cached;
///
/// #[derive(Debug)]
/// struct DbError;
/// type DbResult<T> = Result<T, DbError>;
///
/// static CALLS: AtomicUsize = AtomicUsize::new(0);
///
/// #[cached]
/// fn load(id: u64) -> DbResult<String> {
///     CALLS.fetch_add(1, Ordering::Relaxed);
///     if id == 0 {
///         return Err(DbError);
///     }
///     Ok(format!("row {id}"))
/// }
///
/// assert!(load(0).is_err());
/// assert!(load(0).is_err()); // errors are not stored: the body ran twice
/// assert_eq!(load(1).unwrap(), "row 1");
/// assert_eq!(load(1).unwrap(), "row 1"); // stored
/// assert_eq!(CALLS.load(Ordering::Relaxed), 3);
/// ```
///
/// # Keys
///
/// By default every argument is part of the key, in order. Arguments can be owned values or
/// shared references (`&str`, `&[T]`, `&T`) of any type that is `Hash + Eq`; the owned form
/// (the argument itself, or the `T` of `&T`, the `Vec<T>` of `&[T]`) is also `Clone + Send +
/// Sync + 'static`. A borrowed argument is turned into an owned value only when the call
/// misses; a hit only hashes and compares. Only that outer `&` may borrow: an argument with a
/// borrow inside its type (`Option<&str>`, `(&str, u32)`, `&&str`, `Cow<'a, str>`) is an error
/// at the borrow, to be written with an owned type (`Option<String>`) or left out of the key. An argument
/// written `&str`, `&String` or `String` is stored as a compact string: up to 24 bytes inside
/// the entry itself (a hit then reads no other allocation, and a miss allocates nothing for
/// it), longer ones on the heap.
///
/// - An argument bound to `_` is not part of the key: calls that differ only in it share an
///   entry. Use it for arguments that do not change the result (a logger, a request id). A
///   named argument is part of the key even when its name starts with `_` (`_request_id`):
///   the body may read it.
/// - The [`key`](#key) option chooses the arguments (and fields of `self`) that form the key;
///   arguments it does not name are left out in the same way.
/// - `&mut` and `impl Trait` arguments cannot be part of the key: they are errors unless left
///   out with `_` or a `key` template. Arguments are bound to names (or `_`): destructure them
///   in the body.
///
/// The key's text, which patterns match and stats show, is the prefix followed by each part:
/// `prefix:arg1:arg2`. Each part is written with its `Display` if it has one, else its
/// `Debug`, else `#` and a stable hash; `\` and `:` inside a part are escaped with `\`, so the
/// parts of a key can always be told apart. In a generic function, an argument whose type is a
/// type parameter is written as the parameter's bounds allow, whatever type it has at the call:
/// with `T: Hash + Eq` alone it is `#` and a hash even for a `u32`, so that a pattern such as
/// `"load:{id}"` does not match it. Bound the parameter by `Display` (or `Debug`) to have its
/// values written out.
///
/// ```
/// use memo::cached;
///
/// #[cached(prefix = "member")]
/// fn member(team: &str, id: u64, _: &str) -> String {
///     format!("{team}/{id}")
/// }
///
/// member("core", 7, "request 1");
/// member("core", 7, "request 2"); // a hit: `_` is not in the key
/// assert_eq!(memo::invalidate("member:core:7")?, 1);
/// member("a:b", 7, "");
/// assert_eq!(memo::invalidate(r"member:a\\:b:7")?, 1); // `:` escaped, then escaped for the pattern
/// # Ok::<(), memo::PatternError>(())
/// ```
///
/// Two functions never share entries, even with the same prefix and argument types. The
/// arguments of a key are compared in full, never only by hash.
///
/// # Methods
///
/// Methods take `&self`, or borrow a pointer to it (`self: &Arc<Self>`); `&mut self` and
/// `self` by value are errors: a hit would skip the method's effect on its receiver. **`self` is not part of the key**: a service struct is
/// usually one per process, and all its instances share the method's entries. To keep instances
/// apart, name fields of `self` in a [`key`](#key) template: `key = "{id}:{self.region}"`.
///
/// Types never share entries, though: each type of a generic impl (`Repo<User>` and
/// `Repo<Order>`), each type that uses a trait's cached default method and each parameter of a
/// generic trait or impl (`impl<T: Tag> Named<T> for S`) has a table of its own, even when
/// their keys and values have the same types. So does each instantiation of a generic function,
/// by its type and const parameters (`size::<u8>(2)` and `size::<u64>(2)` are two entries):
/// what the body computes may depend on them. Types are told apart by identity, not by name
/// (two closures passed as `F`, or two local types both named `S`, are two instantiations);
/// lifetimes alone do not make another one. The one exception is an associated function without
/// `self` in a generic impl that has no type parameters of its own and names `Self` nowhere
/// (neither in its signature nor in its body): the attribute cannot tell it from a free
/// function, so its instantiations share entries when their keys and values have the same
/// types; put what tells them apart into its arguments. All instantiations render their keys
/// alike (`size:2`), so one pattern invalidates them all.
///
/// `#[cached]` works in inherent impls, trait impls, trait default methods and on native
/// `async fn` in traits. It cannot be used inside an impl or trait under `#[async_trait]`,
/// which has already turned each `async fn` into a function returning a boxed future (an
/// error says so; the same holds for `#[invalidates]`): put it on an inherent `async fn` and
/// call that from the trait method. Stats name a method `module::Type::method` (one row per type); a
/// generic function is one row, adding up its instantiations. An associated function without
/// `self` is named `module::function`, as a free function is; the two have a row each in stats
/// when their prefixes differ (`prefix = "..."`), and share one when they do not (the prefix
/// is the function's name by default).
///
/// ```
/// use memo::cached;
///
/// struct Prices {
///     currency: &'static str,
/// }
///
/// impl Prices {
///     #[cached(key = "{sku}:{self.currency}")]
///     fn price(&self, sku: &str) -> u64 {
///         if self.currency == "eur" { 100 } else { 110 }
///     }
/// }
///
/// assert_eq!(Prices { currency: "eur" }.price("apple"), 100);
/// assert_eq!(Prices { currency: "usd" }.price("apple"), 110);
/// assert_eq!(memo::invalidate("price:apple:usd")?, 1);
/// # Ok::<(), memo::PatternError>(())
/// ```
///
/// # Async functions
///
/// An `async fn` is cached the same way, on any executor: the runtime is executor-agnostic and
/// a hit completes on the first poll without awaiting anything, and allocates nothing. The
/// function's future holds its arguments and one pointer whatever the body: a miss puts its
/// computation (the body's future) in one box. The future is `Send` when the arguments are
/// `Sync` and the body's future is `Send`. `?` and `return` work in the body.
///
/// ```
/// use memo::cached;
///
/// #[cached(ttl = "5m")]
/// async fn profile(id: u64) -> Option<String> {
///     Some(format!("profile {id}"))
/// }
///
/// let p = futures::executor::block_on(profile(1));
/// assert_eq!(p.as_deref(), Some("profile 1"));
/// ```
///
/// # Concurrent calls on the same key
///
/// Concurrent misses on one key run the body once: the other callers (threads or tasks) wait
/// and share its value. Calls on other keys never wait for it. No lock is held while the body
/// runs, so it may call other cached functions, or its own function on other keys: recursion
/// goes through the cache.
///
/// If the computing caller panics, or its future is dropped, a waiting caller computes
/// instead; nothing is poisoned.
///
/// ```
/// use memo::cached;
///
/// #[cached]
/// fn fib(n: u64) -> u64 {
///     if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
/// }
///
/// assert_eq!(fib(90), 2_880_067_194_370_816_120);
/// ```
///
/// # Panics
///
/// When the body asks for its own key (directly or through other cached functions on the same
/// thread or task): waiting would never end, so the call panics with a message naming the key.
///
/// What is not detected: a wait that goes through another thread or another task. A body that
/// spawns a task (or a thread) asking for its own key and waits for that task, or two
/// computations on different threads each needing the other's key, wait for ever, as two
/// locks taken in opposite orders would. A synchronous call that blocks the only thread of an
/// executor on a key an async computation suspended there is computing waits for ever too, as
/// any blocking call inside async code can.
///
/// # `ttl`
///
/// How long a stored value stays fresh, counted from when it is stored: whole seconds
/// (`ttl = 300`) or a duration string of numbers with units `d`, `h`, `m`, `s`, `ms` from the
/// largest to the smallest (`ttl = "250ms"`, `"5m"`, `"1h30m"`). It is read at compile time:
/// zero, negative, malformed and out-of-range TTLs are compile errors. Without `ttl`, the cache
/// type's default TTL applies (none by default: entries stay until evicted or invalidated).
///
/// ```
/// use std::time::Duration;
/// use memo::{CacheConfig, ManualClock, cached};
///
/// #[cached(ttl = "1m", cache_type = "sessions")]
/// fn session(id: u64) -> String {
///     format!("session {id}")
/// }
///
/// // A manual clock, given to the cache type before its first use, lets time be moved by hand.
/// let clock = ManualClock::new();
/// memo::configure("sessions", CacheConfig::builder().clock(&clock).build()?)?;
/// session(1);
/// clock.advance(Duration::from_secs(59));
/// session(1); // a hit
/// clock.advance(Duration::from_secs(1));
/// session(1); // expired: computed again
/// let stats = memo::stats();
/// let f = stats.function("session").unwrap();
/// assert_eq!((f.activity.hits, f.activity.misses), (1, 2));
/// assert_eq!(f.ttl_ms, Some(60_000));
/// # Ok::<(), memo::ConfigError>(())
/// ```
///
/// # `prefix`
///
/// The first segment of the rendered keys (default: the function's name), which patterns such
/// as `"user:*"` select. It may not be empty nor contain whitespace or the pattern characters
/// `*`, `?`, `[`, `]`, `\`.
///
/// ```
/// use memo::cached;
///
/// #[cached(prefix = "user")]
/// fn load_user(id: u64) -> String {
///     format!("user {id}")
/// }
///
/// load_user(1);
/// load_user(2);
/// assert_eq!(memo::invalidate("user:*")?, 2);
/// # Ok::<(), memo::PatternError>(())
/// ```
///
/// # `cache_type`
///
/// The named cache type that stores the entries (default: [`memo::DEFAULT_CACHE_TYPE`]). A
/// cache type has a capacity, a default TTL, an eviction policy and a clock, set with
/// `memo::configure`; a name nothing configured gets the defaults. Names are ASCII letters,
/// digits, `_`, `-`, `.` and `:`, checked at compile time.
///
/// [`memo::DEFAULT_CACHE_TYPE`]: https://docs.rs/memo/latest/memo/constant.DEFAULT_CACHE_TYPE.html
///
/// ```
/// use memo::{CacheConfig, cached};
///
/// #[cached(cache_type = "url")]
/// fn expand(short: &str) -> Option<String> {
///     Some(format!("https://example.org/{short}"))
/// }
///
/// memo::configure("url", CacheConfig::builder().capacity(5_000).build()?)?;
/// expand("abc");
/// let stats = memo::stats();
/// assert_eq!(stats.function("expand").unwrap().cache_type, "url");
/// assert_eq!(stats.cache_type("url").unwrap().capacity, 5_000);
/// # Ok::<(), memo::ConfigError>(())
/// ```
///
/// # `key`
///
/// A key template: the values that form the key, as placeholders separated by `:`. A
/// placeholder names an argument (`{id}`), the receiver (`{self}`, which must then be
/// `Hash + Eq + Clone`) or a field of it, possibly nested (`{self.region}`,
/// `{self.config.zone}`, `{self.0}`). A field that is a reference (`name: &'a str`,
/// `tags: &'a [u8]`) is copied into the stored key on a miss (a `String`, a `Vec<u8>`), as a
/// borrowed argument is, so a struct that borrows can key by what it borrows. The rendered key
/// is the prefix followed by the values in the template's order. Arguments the template does
/// not name are not part of the key (and may then be `&mut` or `impl Trait`). Names are checked at compile time, with a suggestion for a
/// misspelled argument. An argument with a raw name (`r#type`) is named with or without its
/// `r#` (`{type}`), here and in `#[invalidates]` patterns.
///
/// ```
/// use memo::cached;
///
/// struct Db;
///
/// struct Catalog {
///     region: String,
/// }
///
/// impl Catalog {
///     #[cached(prefix = "page", key = "{page}:{self.region}")]
///     fn page(&self, db: &mut Db, page: u32) -> Vec<String> {
///         let _ = db;
///         vec![format!("{}-{page}", self.region)]
///     }
/// }
///
/// let eu = Catalog { region: "eu".into() };
/// eu.page(&mut Db, 1);
/// assert_eq!(memo::invalidate("page:1:eu")?, 1);
/// # Ok::<(), memo::PatternError>(())
/// ```
///
/// # `cache_err`
///
/// Stores `Err` values too, so that a failing call is not repeated until the entry expires or is
/// invalidated (for example with a short `ttl`). The function must return a `Result` (an alias
/// works), and the whole `Result` must be `Clone`.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use memo::cached;
///
/// static CALLS: AtomicUsize = AtomicUsize::new(0);
///
/// #[cached(cache_err, ttl = 30)]
/// fn resolve(host: &str) -> Result<String, String> {
///     CALLS.fetch_add(1, Ordering::Relaxed);
///     Err(format!("{host}: no such host"))
/// }
///
/// assert!(resolve("nowhere").is_err());
/// assert!(resolve("nowhere").is_err());
/// assert_eq!(CALLS.load(Ordering::Relaxed), 1);
/// ```
///
/// # `cache_none`
///
/// Stores `None` too (negative caching). The function must return an `Option`, and the whole
/// `Option` must be `Clone`. `cache_err = false` and `cache_none = false` are accepted and mean
/// the default.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use memo::cached;
///
/// static CALLS: AtomicUsize = AtomicUsize::new(0);
///
/// #[cached(cache_none)]
/// fn find(id: u64) -> Option<String> {
///     CALLS.fetch_add(1, Ordering::Relaxed);
///     None
/// }
///
/// assert_eq!(find(1), None);
/// assert_eq!(find(1), None);
/// assert_eq!(CALLS.load(Ordering::Relaxed), 1);
/// ```
///
/// # Stats
///
/// A cached function registers itself the first time it runs; `memo::stats()` then lists it as
/// `module::function` with its prefix, cache type, TTL and counters (hits, misses, inserts,
/// evictions by cause, size, load count and time).
///
/// # Compile errors
///
/// Each mistake is an error at the token that causes it, saying what to write instead, and the
/// function is still emitted so that no secondary error follows: `#[cached]` on something that
/// is not a function, unknown or repeated options, a bad `ttl`, `prefix` or `cache_type`,
/// `key` placeholders that name nothing, `const fn`, a missing body, `&mut self` or `self` by
/// value, `&mut`/`impl Trait`/destructured arguments in the key or ones with a borrow inside
/// their type, a second `#[cached]` on the same function, a return type that is nothing,
/// borrowed or `impl Trait`. Types that are not `Hash + Eq` (arguments) or `Clone` (values) are
/// reported by the compiler at the argument's or the return type's tokens.
///
/// The generated code names only `::memo::__private`, `::core` and `::std`, adds no item to the
/// surrounding module, and its locals cannot clash with the function's own names. It requires
/// the `memo` crate under that name (a dependency renamed in `Cargo.toml` works once the crate
/// root says `extern crate its_name as memo;`).
#[proc_macro_attribute]
pub fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::cached(args.into(), item.into()).into()
}

/// Invalidates cached entries after a function succeeds: the function that changes data drops
/// the entries that have become stale.
///
/// `#[invalidates("pattern", ...)]` takes one or more patterns. The body runs first; if it
/// succeeded (an `Ok` for a function returning a `Result`, any value otherwise), every entry
/// whose key matches a pattern is removed, in every cache type. An `Err` invalidates nothing.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use memo::{cached, invalidates};
///
/// static LOADS: AtomicUsize = AtomicUsize::new(0);
///
/// #[cached(prefix = "user")]
/// fn load_user(id: u64) -> Result<String, String> {
///     LOADS.fetch_add(1, Ordering::Relaxed);
///     Ok(format!("user {id}"))
/// }
///
/// #[invalidates("user:{id}", "team:*")]
/// fn rename_user(id: u64, name: &str) -> Result<(), String> {
///     if name.is_empty() { Err("empty name".into()) } else { Ok(()) }
/// }
///
/// load_user(1)?;
/// load_user(2)?;
/// rename_user(1, "ada")?;
/// load_user(1)?; // computed again
/// load_user(2)?; // still cached
/// assert_eq!(LOADS.load(Ordering::Relaxed), 3);
/// assert!(rename_user(2, "").is_err()); // failed: nothing invalidated
/// load_user(2)?;
/// assert_eq!(LOADS.load(Ordering::Relaxed), 3);
/// # Ok::<(), String>(())
/// ```
///
/// # Patterns
///
/// The grammar is the one of `memo::invalidate` and of Redis `MATCH`: `*` matches any run of
/// characters, `?` one character, `[abc]`, `[a-z]` and `[^a]` a character class, and `\`
/// escapes the next character. A pattern without wildcards removes one key at O(1); `prefix:*`
/// costs the entries under that prefix, not a scan of every cache.
///
/// Placeholders insert the value of an argument (`{id}`), of the receiver (`{self}`) or of a
/// field of it (`{self.region}`), written exactly as `#[cached]` writes key parts and escaped,
/// so that the value matches only itself: an argument `"a:b*"` matches the key part `a:b*` and
/// nothing else. `{{` and `}}` are literal braces. Values are read before the body runs (the
/// body may consume the arguments).
///
/// Everything is checked at compile time: each pattern must be a non-empty string literal in
/// the pattern grammar, and each placeholder must name an argument (or, in a method, `self`).
///
/// ```
/// use memo::{cached, invalidates};
///
/// #[cached(prefix = "page")]
/// fn render(path: &str) -> String {
///     path.to_uppercase()
/// }
///
/// #[invalidates("page:{path}")]
/// fn edit(path: &str) {}
///
/// render("docs/a*");
/// render("docs/ab");
/// edit("docs/a*"); // removes `page:docs/a*` only: the `*` of the value is literal
/// assert_eq!(memo::invalidate("page:docs/ab")?, 1);
/// # Ok::<(), memo::PatternError>(())
/// ```
///
/// # Methods, async functions and other modules
///
/// `#[invalidates]` works on free functions, `async fn` and methods, whatever their receiver
/// (`&self`, `&mut self` or `self`) and arguments. Patterns reach the entries of any cached
/// function, in any module, by their prefix: they compose with `memo::invalidate`, which takes
/// the same patterns at run time.
///
/// ```
/// use memo::{cached, invalidates};
///
/// mod catalog {
///     #[memo::cached(prefix = "product")]
///     pub async fn product(id: u64) -> Option<String> {
///         Some(format!("product {id}"))
///     }
/// }
///
/// struct Admin {
///     edits: u32,
/// }
///
/// impl Admin {
///     #[invalidates("product:{id}")]
///     async fn update_product(&mut self, id: u64) -> Result<(), String> {
///         self.edits += 1;
///         Ok(())
///     }
/// }
///
/// futures::executor::block_on(async {
///     catalog::product(1).await;
///     let mut admin = Admin { edits: 0 };
///     admin.update_product(1).await.unwrap();
///     let stats = memo::stats();
///     assert_eq!(stats.function("product").unwrap().activity.evictions.invalidated, 1);
/// });
/// ```
///
/// # Concurrent calls
///
/// Once the invalidation returns, no call that starts afterwards sees a value computed before it
/// began: computations of matching keys still running when it happens do not store their
/// results.
///
/// # With `#[cached]` on the same function
///
/// Each attribute wraps the code of those written above it. Written above `#[cached]`,
/// `#[invalidates]` runs only when the body does (a miss); written below it, on every call,
/// hits included:
///
/// ```
/// use memo::{cached, invalidates};
///
/// #[cached(prefix = "summary", cache_type = "doc_both")]
/// fn summary(day: u32) -> String {
///     format!("summary {day}")
/// }
///
/// // Computing a report drops the summaries it makes stale; a hit drops nothing.
/// #[invalidates("summary:*")]
/// #[cached(cache_type = "doc_both")]
/// fn report(day: u32) -> String {
///     format!("report {day}")
/// }
///
/// summary(1);
/// report(1); // a miss: drops `summary:1`
/// summary(1);
/// report(1); // a hit: drops nothing
/// let stats = memo::stats();
/// assert_eq!(stats.function("summary").unwrap().activity.evictions.invalidated, 1);
/// ```
///
/// # Compile errors
///
/// `#[invalidates]` without patterns, a pattern that is not a string literal, an empty or
/// malformed pattern (with the position of the mistake), an unclosed placeholder, a placeholder
/// that names no argument (or `self` outside a method), `const fn`, a missing body and a
/// function that never returns (`-> !`, which never succeeds) are errors at the offending
/// tokens; the function is still emitted as written. A placeholder's value whose type has
/// none of `Display`, `Debug` and `Hash` cannot be rendered: the compiler reports it at the
/// pattern, naming the type.
#[proc_macro_attribute]
pub fn invalidates(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::invalidates(args.into(), item.into()).into()
}
