//! Keys: borrowed argument tuples that are hashed and compared on the hit path and made owned
//! only on a miss, and the rendering of keys to text (`prefix:arg1:arg2`).

use std::borrow::Borrow;
use std::fmt::{self, Write as _};
use std::hash::{BuildHasher, Hash, Hasher};

/// One argument of a cached function, borrowed for the lookup.
///
/// Implemented for `&T` whenever `T: ToOwned` and the owned form hashes and compares like the
/// borrowed one (the contract of [`Borrow`]): `&u64` (owned `u64`), `&str` (owned `String`),
/// `&[T]` (owned `Vec<T>`), `&MyKey` (owned `MyKey`, which must be `Clone`). `#[cached]` passes
/// arguments written `&str`, `&String` or `String` as [`StrArg`] instead, which stores short
/// strings inline.
pub trait ArgKey {
    /// The owned form stored in the cache.
    type Owned: Send + Sync + 'static;
    /// Feeds the argument to a hasher.
    fn hash_arg<H: Hasher>(&self, state: &mut H);
    /// Whether the stored owned form equals this argument.
    fn eq_arg(&self, owned: &Self::Owned) -> bool;
    /// Makes the owned form (on a miss only).
    fn to_owned_arg(&self) -> Self::Owned;
}

impl<T> ArgKey for &T
where
    T: ?Sized + ToOwned + Hash + Eq,
    T::Owned: Borrow<T> + Send + Sync + 'static,
{
    type Owned = T::Owned;

    #[inline]
    fn hash_arg<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state);
    }

    #[inline]
    fn eq_arg(&self, owned: &Self::Owned) -> bool {
        owned.borrow() == *self
    }

    fn to_owned_arg(&self) -> Self::Owned {
        (**self).to_owned()
    }
}

/// A string argument of a cached function (`name: &str`, `name: &String`, `name: String`), which
/// `#[cached]` wraps in this type.
///
/// Its owned form is a [`CompactString`](compact_str::CompactString): a string of up to 24 bytes
/// is kept inside the entry, so that a hit compares it without reading another allocation (one
/// memory access fewer on the way of every hit) and a miss allocates nothing for it. Longer
/// strings are stored on the heap, as a `String` would be. It hashes, compares and renders as
/// the `str` it holds.
#[derive(Clone, Copy, Debug)]
pub struct StrArg<'a>(pub &'a str);

impl ArgKey for StrArg<'_> {
    type Owned = TextKey;

    #[inline]
    fn hash_arg<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }

    #[inline]
    fn eq_arg(&self, owned: &Self::Owned) -> bool {
        owned.as_str() == self.0
    }

    fn to_owned_arg(&self) -> Self::Owned {
        TextKey::new(self.0)
    }
}

/// A whole key, borrowed for the lookup: a tuple of [`ArgKey`]s (what `#[cached]` builds from
/// the arguments), or a `str` (the string keys of the manual API).
pub trait KeyArgs {
    /// The owned form stored in the cache. Stored keys are never hashed again: the cache keeps
    /// the hash of the borrowed form.
    type Owned: Send + Sync + 'static;
    /// Feeds the key to a hasher.
    fn hash_key<H: Hasher>(&self, state: &mut H);
    /// Whether the stored owned key equals this key.
    fn eq_key(&self, owned: &Self::Owned) -> bool;
    /// Makes the owned form (on a miss only).
    fn to_owned_key(&self) -> Self::Owned;
}

/// The owned form of a text key (the manual API's keys, `&str` arguments): up to 24 bytes
/// inside the entry, longer ones on the heap.
pub(crate) type TextKey = compact_str::CompactString;

impl KeyArgs for str {
    type Owned = TextKey;

    #[inline]
    fn hash_key<H: Hasher>(&self, state: &mut H) {
        self.hash(state);
    }

    #[inline]
    fn eq_key(&self, owned: &TextKey) -> bool {
        owned.as_str() == self
    }

    fn to_owned_key(&self) -> TextKey {
        TextKey::new(self)
    }
}

impl KeyArgs for () {
    type Owned = ();

    #[inline]
    fn hash_key<H: Hasher>(&self, _: &mut H) {}

    #[inline]
    fn eq_key(&self, (): &()) -> bool {
        true
    }

    fn to_owned_key(&self) {}
}

macro_rules! tuple_key_args {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: ArgKey),+> KeyArgs for ($($name,)+) {
            type Owned = ($($name::Owned,)+);

            #[inline]
            fn hash_key<Hs: Hasher>(&self, state: &mut Hs) {
                $(self.$idx.hash_arg(state);)+
            }

            #[inline]
            fn eq_key(&self, owned: &Self::Owned) -> bool {
                $(self.$idx.eq_arg(&owned.$idx))&&+
            }

            fn to_owned_key(&self) -> Self::Owned {
                ($(self.$idx.to_owned_arg(),)+)
            }
        }
    };
}

tuple_key_args!(A 0);
tuple_key_args!(A 0, B 1);
tuple_key_args!(A 0, B 1, C 2);
tuple_key_args!(A 0, B 1, C 2, D 3);
tuple_key_args!(A 0, B 1, C 2, D 3, E 4);
tuple_key_args!(A 0, B 1, C 2, D 3, E 4, F 5);
tuple_key_args!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_key_args!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);

/// Nested tuples extend keys past eight arguments: `((a, b, ...), (i, j))`.
impl<T: KeyArgs> ArgKey for KeyGroup<T> {
    type Owned = T::Owned;

    #[inline]
    fn hash_arg<H: Hasher>(&self, state: &mut H) {
        self.0.hash_key(state);
    }

    #[inline]
    fn eq_arg(&self, owned: &Self::Owned) -> bool {
        self.0.eq_key(owned)
    }

    fn to_owned_arg(&self) -> Self::Owned {
        self.0.to_owned_key()
    }
}

/// A group of key arguments used as one argument, so that keys can have more than eight parts.
#[derive(Debug)]
pub struct KeyGroup<T>(pub T);

/// Hashes a key with a store's hasher.
#[inline]
pub(crate) fn hash_key<K: KeyArgs + ?Sized>(state: &ahash::RandomState, key: &K) -> u64 {
    let mut h = state.build_hasher();
    key.hash_key(&mut h);
    h.finish()
}

/// Writes the text form of a key: `prefix:arg1:arg2`.
///
/// Each argument's text has `\` and `:` escaped with a `\`, so the parts of a key can be told
/// apart whatever the arguments contain: the arguments `("a:b", "c")` render as `a\:b:c`, and
/// `("a", "b:c")` as `a:b\:c`.
pub struct KeyWriter<'a> {
    out: &'a mut String,
}

impl<'a> KeyWriter<'a> {
    pub(crate) fn new(out: &'a mut String) -> Self {
        Self { out }
    }

    /// Appends one argument, using its `Display` text.
    pub fn display(&mut self, value: &(impl fmt::Display + ?Sized)) {
        self.out.push(':');
        let start = self.out.len();
        // Writing into a String cannot fail.
        let _ = write!(self.out, "{value}");
        escape_from(self.out, start);
    }

    /// Appends one argument, using its `Debug` text.
    pub fn debug(&mut self, value: &(impl fmt::Debug + ?Sized)) {
        self.out.push(':');
        let start = self.out.len();
        let _ = write!(self.out, "{value:?}");
        escape_from(self.out, start);
    }

    /// Appends one argument that has neither `Display` nor `Debug`, as `#` and a stable hash.
    pub fn opaque(&mut self, value: &(impl Hash + ?Sized)) {
        // Fixed keys, so that the text is the same in every process.
        let state = ahash::RandomState::with_seeds(0x6d65_6d6f, 0x6b65_7973, 0x7265_6e64, 0x6572);
        let _ = write!(self.out, ":#{:016x}", state.hash_one(value));
    }
}

/// Escapes `\` and `:` in `out[start..]` (most texts have neither, and are left as written).
fn escape_from(out: &mut String, start: usize) {
    if !out[start..].contains([':', '\\']) {
        return;
    }
    let part = out.split_off(start);
    for c in part.chars() {
        if c == '\\' || c == ':' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Chooses how an argument is rendered: `Display` if it has it, else `Debug`, else a hash.
///
/// Used by generated code as `(&&&&Render(&arg)).render_arg(writer)`: method resolution picks the
/// first of [`RenderDisplay`], [`RenderDebug`], [`RenderOpaque`] whose bound holds, and else
/// the fallback the call site imports: [`RenderUnkeyed`] where the argument is a key (whose
/// missing `Hash` is reported already, so that no second error follows), [`RenderRequired`]
/// where it fills a pattern (an error that names the three traits).
#[derive(Debug)]
pub struct Render<'a, T: ?Sized>(pub &'a T);

/// Renders with `Display` (first choice).
pub trait RenderDisplay {
    /// Appends the argument.
    fn render_arg(&self, out: &mut KeyWriter<'_>);
}

/// Renders with `Debug` (second choice).
pub trait RenderDebug {
    /// Appends the argument.
    fn render_arg(&self, out: &mut KeyWriter<'_>);
}

/// Renders as a hash (last choice).
pub trait RenderOpaque {
    /// Appends the argument.
    fn render_arg(&self, out: &mut KeyWriter<'_>);
}

/// The fallback of a key argument that has none of `Display`, `Debug` and `Hash`: never runs,
/// since a key without `Hash` does not compile (that error is the one reported).
pub trait RenderUnkeyed {
    /// Appends nothing.
    fn render_arg(&self, out: &mut KeyWriter<'_>);
}

/// The fallback of a pattern's value that has none of `Display`, `Debug` and `Hash`: calling
/// it is the error, which says so.
pub trait RenderRequired<T: ?Sized> {
    /// Does not compile: `T` cannot be rendered.
    fn render_arg(&self, out: &mut KeyWriter<'_>)
    where
        T: Renderable;
}

/// Implemented by no type: the bound that makes [`RenderRequired`] an error at the pattern.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be rendered into a key pattern",
    label = "a value in a pattern needs `Display`, `Debug` or `Hash`",
    note = "values fill a pattern as `#[cached]` renders arguments: with `Display`, else `Debug`, else a hash"
)]
pub trait Renderable {}

impl<T: ?Sized + fmt::Display> RenderDisplay for &&&Render<'_, T> {
    fn render_arg(&self, out: &mut KeyWriter<'_>) {
        out.display(self.0);
    }
}

impl<T: ?Sized + fmt::Debug> RenderDebug for &&Render<'_, T> {
    fn render_arg(&self, out: &mut KeyWriter<'_>) {
        out.debug(self.0);
    }
}

impl<T: ?Sized + Hash> RenderOpaque for &Render<'_, T> {
    fn render_arg(&self, out: &mut KeyWriter<'_>) {
        out.opaque(self.0);
    }
}

impl<T: ?Sized> RenderUnkeyed for Render<'_, T> {
    fn render_arg(&self, _: &mut KeyWriter<'_>) {}
}

impl<T: ?Sized> RenderRequired<T> for Render<'_, T> {
    fn render_arg(&self, _: &mut KeyWriter<'_>)
    where
        T: Renderable,
    {
    }
}

/// Chooses the key part of a `self` field named in `key = "..."`, whose type the macro does
/// not see.
///
/// Used by generated code as `(&&FieldKey(&self.field)).field_part()`: method resolution picks
/// [`FieldRef`] for a field that is itself a reference `&'a T` (`&'a str`, `&'a [u8]`), whose
/// part is that reference, so that the entry owns a `T::Owned` (a `String`, a `Vec<u8>`) rather
/// than a borrow that cannot outlive the call; else [`FieldOwned`], a reference to the field.
#[derive(Debug)]
pub struct FieldKey<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> Clone for FieldKey<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for FieldKey<'_, T> {}

/// The key part of a field that is a reference (first choice).
pub trait FieldRef<'a, T: ?Sized> {
    /// The reference the field holds.
    fn field_part(self) -> &'a T;
}

/// The key part of any other field (second choice).
pub trait FieldOwned<'a, T: ?Sized> {
    /// A reference to the field.
    fn field_part(self) -> &'a T;
}

// Bounded as the key part it gives: a field whose reference is no key argument (`&'a Mutex`)
// falls back to `FieldOwned`, as before.
impl<'a, 'b: 'a, T: ?Sized> FieldRef<'a, T> for &FieldKey<'a, &'b T>
where
    &'a T: ArgKey,
{
    #[inline]
    fn field_part(self) -> &'a T {
        self.0
    }
}

impl<'a, T: ?Sized> FieldOwned<'a, T> for FieldKey<'a, T> {
    #[inline]
    fn field_part(self) -> &'a T {
        self.0
    }
}

/// How a store turns its owned keys into text.
pub(crate) type RenderFn<K> = fn(&K, &mut KeyWriter<'_>);

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut KeyWriter<'_>)) -> String {
        let mut s = String::from("p");
        f(&mut KeyWriter::new(&mut s));
        s
    }

    #[test]
    fn borrowed_and_owned_keys_hash_and_compare_alike() {
        let state = ahash::RandomState::new();
        let name = String::from("ada");
        let borrowed = ("ada", &7_u32);
        let owned: (String, u32) = borrowed.to_owned_key();
        assert_eq!(owned, (name.clone(), 7));
        assert!(borrowed.eq_key(&owned));
        assert!(!("bob", &7_u32).eq_key(&owned));
        assert_eq!(
            hash_key(&state, &borrowed),
            hash_key(&state, &(name.as_str(), &7_u32))
        );
    }

    #[test]
    fn slices_become_vectors() {
        let data = [1_u8, 2, 3];
        let key = (&data[..],);
        let owned = key.to_owned_key();
        assert_eq!(owned.0, vec![1, 2, 3]);
        assert!(key.eq_key(&owned));
    }

    #[test]
    #[allow(clippy::needless_borrow)] // autoref selection: the extra references are the point
    fn render_prefers_display_then_debug_then_hash() {
        #[derive(Debug, Hash)]
        struct OnlyDebug(u8);
        #[derive(Hash)]
        struct Neither(u8);
        let s = render(|w| {
            (&&&&Render(&42_u64)).render_arg(w);
            (&&&&Render(&OnlyDebug(1))).render_arg(w);
            (&&&&Render(&Neither(1))).render_arg(w);
        });
        assert!(s.starts_with("p:42:OnlyDebug(1):#"), "{s}");
        assert_eq!(s.len(), "p:42:OnlyDebug(1):#".len() + 16);
    }

    #[test]
    fn colons_and_backslashes_in_arguments_are_escaped() {
        let a = render(|w| {
            w.display("a:b");
            w.display("c");
        });
        let b = render(|w| {
            w.display("a");
            w.display("b:c");
        });
        assert_eq!(a, "p:a\\:b:c");
        assert_eq!(b, "p:a:b\\:c");
        assert_ne!(a, b);
        assert_eq!(render(|w| w.display("x\\")), "p:x\\\\");
    }

    #[test]
    fn opaque_rendering_is_stable() {
        let a = render(|w| w.opaque(&5_u64));
        let b = render(|w| w.opaque(&5_u64));
        assert_eq!(a, b);
    }
}
