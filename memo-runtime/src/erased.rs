//! A `&'static` reference whose type is chosen at run time, read back without a virtual call.
//!
//! A cached function's `static` cannot name its store's type (the key and stored types are
//! picked by trait resolution in the generated code), so the store is kept as `dyn Any`.
//! `<dyn Any>::downcast_ref` asks the object for its type through its vtable on every call,
//! and that indirect call was the largest single cost of a hit: 8 ns of 20 on a `u64` hit
//! (measured with `perf`; the bench's W1). [`Erased`] reads the type once, when it is made,
//! and keeps it beside the reference, so a lookup compares two constants.
//!
//! One of the crate's two `unsafe` sites (the other is the shard lock in `sync.rs`): the cast
//! std's `downcast_ref` performs after its own check, with the check done against the type
//! recorded at construction.

use std::any::{Any, TypeId};

/// A shared `'static` value of some `Any` type, with that type recorded.
#[derive(Clone, Copy)]
pub(crate) struct Erased {
    /// The concrete type of `value`, read from `value` itself.
    type_id: TypeId,
    value: &'static (dyn Any + Send + Sync),
}

impl Erased {
    /// Wraps a reference, recording its concrete type.
    pub(crate) fn new(value: &'static (dyn Any + Send + Sync)) -> Self {
        Self {
            // The object's own type (through its vtable), not the type of the reference.
            type_id: Any::type_id(value),
            value,
        }
    }

    /// The value as a `T`, if it is one.
    #[inline]
    pub(crate) fn get<T: Any>(self) -> Option<&'static T> {
        if self.type_id == TypeId::of::<T>() {
            let ptr: *const (dyn Any + Send + Sync) = self.value;
            // SAFETY: `type_id` was read from `value` when `self` was made and neither field
            // changes afterwards, so `value` points to a `T`; dropping the vtable from the
            // pointer leaves its address and provenance, and the `'static` shared borrow it
            // came from is the lifetime returned. This is `<dyn Any>::downcast_ref` with its
            // type check made against the recorded type instead of a virtual call.
            #[allow(unsafe_code)]
            let value = unsafe { &*ptr.cast::<T>() };
            Some(value)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Erased;

    static NUMBER: u64 = 7;
    static TEXT: &str = "seven";

    #[test]
    fn gives_back_the_value_as_its_own_type_only() {
        let n = Erased::new(&NUMBER);
        assert_eq!(n.get::<u64>(), Some(&7));
        assert!(std::ptr::eq(n.get::<u64>().unwrap(), &raw const NUMBER));
        assert_eq!(n.get::<u32>(), None);
        assert_eq!(n.get::<i64>(), None);
        let t = Erased::new(&TEXT);
        assert_eq!(t.get::<&str>(), Some(&"seven"));
        assert_eq!(t.get::<String>(), None);
    }

    #[test]
    fn records_the_type_of_the_object_not_of_the_reference() {
        let leaked: &'static Vec<u8> = Box::leak(Box::new(vec![1, 2, 3]));
        let e = Erased::new(leaked);
        assert_eq!(e.get::<Vec<u8>>().map(Vec::len), Some(3));
        assert!(e.get::<&'static Vec<u8>>().is_none());
    }
}
