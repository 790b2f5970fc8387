//! Which part of a function's result is stored: for `Result<T, E>` only `Ok(T)`, for
//! `Option<T>` only `Some(T)`, for anything else the whole value.
//!
//! The choice is made by type, not by the spelling of the return type, so a type alias such as
//! `type MyResult<T> = Result<T, MyError>` behaves like `Result`. Generated code picks the kind
//! with `(&&&KindTag::<R>::new()).cached_value_must_be_clone_send_and_sync()`: method resolution takes [`SelectResult`] or
//! [`SelectOption`] when `R` is a `Result` or an `Option` with a `Clone` payload, and falls back to
//! [`SelectPlain`] otherwise. In a generic function whose return type is a type parameter, the
//! whole value is stored.

use std::marker::PhantomData;

/// How a result is split into the part to store and put back together from it.
pub trait Kind: Copy {
    /// The function's return type.
    type Output;
    /// What the cache stores.
    type Stored: Clone + Send + Sync + 'static;
    /// Returns the output and, if it is to be stored, a copy of the stored part.
    fn split(self, out: Self::Output) -> (Self::Output, Option<Self::Stored>);
    /// Rebuilds an output from a stored value.
    fn join(self, stored: Self::Stored) -> Self::Output;
}

/// Stores the `Ok` payload of a `Result`.
pub struct ResultKind<T, E>(PhantomData<fn() -> (T, E)>);
/// Stores the `Some` payload of an `Option`.
pub struct OptionKind<T>(PhantomData<fn() -> T>);
/// Stores the whole value (also used when the user opts in to caching `Err` or `None`).
pub struct PlainKind<R>(PhantomData<fn() -> R>);

macro_rules! copy_kind {
    ($name:ident < $($p:ident),+ >) => {
        impl<$($p),+> Clone for $name<$($p),+> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<$($p),+> Copy for $name<$($p),+> {}
        impl<$($p),+> $name<$($p),+> {
            /// The kind (a zero-sized value).
            #[must_use]
            pub const fn new() -> Self {
                Self(PhantomData)
            }
        }
        impl<$($p),+> Default for $name<$($p),+> {
            fn default() -> Self {
                Self::new()
            }
        }
        impl<$($p),+> std::fmt::Debug for $name<$($p),+> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

copy_kind!(ResultKind<T, E>);
copy_kind!(OptionKind<T>);
copy_kind!(PlainKind<R>);
copy_kind!(KindTag<R>);

impl<T: Clone + Send + Sync + 'static, E> Kind for ResultKind<T, E> {
    type Output = Result<T, E>;
    type Stored = T;

    fn split(self, out: Result<T, E>) -> (Result<T, E>, Option<T>) {
        match out {
            Ok(v) => {
                let stored = v.clone();
                (Ok(v), Some(stored))
            }
            Err(e) => (Err(e), None),
        }
    }

    fn join(self, stored: T) -> Result<T, E> {
        Ok(stored)
    }
}

impl<T: Clone + Send + Sync + 'static> Kind for OptionKind<T> {
    type Output = Option<T>;
    type Stored = T;

    fn split(self, out: Option<T>) -> (Option<T>, Option<T>) {
        match out {
            Some(v) => {
                let stored = v.clone();
                (Some(v), Some(stored))
            }
            None => (None, None),
        }
    }

    fn join(self, stored: T) -> Option<T> {
        Some(stored)
    }
}

impl<R: Clone + Send + Sync + 'static> Kind for PlainKind<R> {
    type Output = R;
    type Stored = R;

    fn split(self, out: R) -> (R, Option<R>) {
        let stored = out.clone();
        (out, Some(stored))
    }

    fn join(self, stored: R) -> R {
        stored
    }
}

/// A stand-in for the return type `R`, used to select a [`Kind`] by autoref.
pub struct KindTag<R>(PhantomData<fn() -> R>);

/// Selects [`ResultKind`] for `Result<T, E>` with `T: Clone`.
pub trait SelectResult {
    /// The selected kind.
    type Kind;
    /// Selects it.
    fn cached_value_must_be_clone_send_and_sync(&self) -> Self::Kind;
}

/// Selects [`OptionKind`] for `Option<T>` with `T: Clone`.
pub trait SelectOption {
    /// The selected kind.
    type Kind;
    /// Selects it.
    fn cached_value_must_be_clone_send_and_sync(&self) -> Self::Kind;
}

/// Selects [`PlainKind`] for any other `Clone` return type.
pub trait SelectPlain {
    /// The selected kind.
    type Kind;
    /// Selects it.
    fn cached_value_must_be_clone_send_and_sync(&self) -> Self::Kind;
    /// Selects it for a function that stores its whole value whatever its type (`cache_err`,
    /// `cache_none`), which calls it with this trait alone in scope. A name no other selector
    /// has: a value that is not `Clone` then gets no advice to import the others.
    fn whole_cached_value_must_be_clone_send_and_sync(&self) -> Self::Kind;
}

impl<T: Clone + Send + Sync + 'static, E> SelectResult for &&KindTag<Result<T, E>> {
    type Kind = ResultKind<T, E>;
    fn cached_value_must_be_clone_send_and_sync(&self) -> ResultKind<T, E> {
        ResultKind::new()
    }
}

impl<T: Clone + Send + Sync + 'static> SelectOption for &&KindTag<Option<T>> {
    type Kind = OptionKind<T>;
    fn cached_value_must_be_clone_send_and_sync(&self) -> OptionKind<T> {
        OptionKind::new()
    }
}

impl<R: Clone + Send + Sync + 'static> SelectPlain for &KindTag<R> {
    type Kind = PlainKind<R>;
    fn cached_value_must_be_clone_send_and_sync(&self) -> PlainKind<R> {
        PlainKind::new()
    }
    fn whole_cached_value_must_be_clone_send_and_sync(&self) -> PlainKind<R> {
        PlainKind::new()
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // autoref selection: the extra references are the point
mod tests {
    use super::*;

    type MyResult<T> = Result<T, String>;

    fn stored<K: Kind>(k: K, out: K::Output) -> Option<K::Stored> {
        k.split(out).1
    }

    #[test]
    fn results_store_only_ok_even_through_an_alias() {
        let k = (&&&KindTag::<MyResult<u8>>::new()).cached_value_must_be_clone_send_and_sync();
        assert_eq!(stored(k, Ok(3)), Some(3));
        assert_eq!(stored(k, Err("no".into())), None);
        assert_eq!(k.join(4), Ok(4));
    }

    #[test]
    fn options_store_only_some() {
        let k = (&&&KindTag::<Option<u8>>::new()).cached_value_must_be_clone_send_and_sync();
        assert_eq!(stored(k, Some(1)), Some(1));
        assert_eq!(stored(k, None), None);
    }

    #[test]
    fn other_types_store_the_whole_value() {
        let k = (&&&KindTag::<String>::new()).cached_value_must_be_clone_send_and_sync();
        assert_eq!(stored(k, "x".to_owned()), Some("x".to_owned()));
    }

    #[test]
    fn plain_kind_caches_errors_when_chosen() {
        let k = PlainKind::<Result<u8, u8>>::new();
        assert_eq!(stored(k, Err(1)), Some(Err(1)));
    }
}

/// Whether a function's output counts as success for `#[invalidates]`: `Ok` for a `Result`,
/// any value otherwise. Selected by autoref like [`KindTag`]:
/// `(&&Succeeded(&out)).memo_succeeded()`.
#[derive(Debug)]
pub struct Succeeded<'a, R>(pub &'a R);

/// `Result`: success is `Ok`.
pub trait SucceededResult {
    /// Whether the output is a success.
    fn memo_succeeded(&self) -> bool;
}

/// Anything else: always a success.
pub trait SucceededAny {
    /// Whether the output is a success.
    fn memo_succeeded(&self) -> bool;
}

impl<T, E> SucceededResult for &Succeeded<'_, Result<T, E>> {
    fn memo_succeeded(&self) -> bool {
        self.0.is_ok()
    }
}

impl<R> SucceededAny for Succeeded<'_, R> {
    fn memo_succeeded(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // autoref selection: the extra references are the point
mod succeeded_tests {
    use super::*;

    type Alias = Result<(), u8>;

    #[test]
    fn results_succeed_only_when_ok_and_other_values_always() {
        let ok: Alias = Ok(());
        let err: Alias = Err(1);
        assert!((&&Succeeded(&ok)).memo_succeeded());
        assert!(!(&&Succeeded(&err)).memo_succeeded());
        assert!((&&Succeeded(&None::<u8>)).memo_succeeded());
        assert!((&&Succeeded(&5)).memo_succeeded());
    }
}
