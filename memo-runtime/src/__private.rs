//! Items used by the code that `#[cached]` and `#[invalidates]` generate. Not a public API:
//! reached as `::memo::__private`, and free to change in any release.

pub use crate::function::{Entry, Guard, Instance, Missed, Owner, Site, SiteMeta, instance_of_val};
pub use crate::key::{
    ArgKey, FieldKey, FieldOwned, FieldRef, KeyArgs, KeyGroup, KeyWriter, Render, RenderDebug,
    RenderDisplay, RenderOpaque, RenderRequired, RenderUnkeyed, Renderable, StrArg,
};
pub use crate::outcome::{
    Kind, KindTag, OptionKind, PlainKind, ResultKind, SelectOption, SelectPlain, SelectResult,
    Succeeded, SucceededAny, SucceededResult,
};
pub use crate::pattern::Pattern;

use crate::pattern::escape;

/// Whether a cache type name is valid (checked by the macros at compile time).
#[must_use]
pub fn is_valid_cache_type_name(name: &str) -> bool {
    crate::config::check_name(name).is_ok()
}

/// Appends to `pattern` the rendered text of one argument, escaped so that it matches itself
/// only (for `{arg}` placeholders in `#[invalidates]`). `render` writes the argument as a key
/// part, exactly as `#[cached]` renders it:
/// `push_arg(&mut p, |w| (&&&&Render(&id)).render_arg(w))`.
pub fn push_arg(pattern: &mut String, render: impl FnOnce(&mut KeyWriter<'_>)) {
    let mut text = String::new();
    render(&mut KeyWriter::new(&mut text));
    // The writer starts every part with its `:` separator.
    escape(text.strip_prefix(':').unwrap_or(&text), pattern);
}

/// Invalidates a pattern built by `#[invalidates]` after its body succeeded.
///
/// Literal patterns are checked at compile time and placeholders are escaped, so this cannot
/// fail; should it, nothing is invalidated rather than panicking in the caller.
pub fn invalidate_built(pattern: &str) -> usize {
    // No length limit here: the pattern is as long as the arguments rendered into it, and a
    // long key must be invalidated like a short one.
    crate::Pattern::new_unbounded(pattern).map_or(0, |p| crate::invalidate_pattern(&p))
}

/// Runs the miss path of a synchronous cached function out of the function's own frame, so
/// that the hit path, which returns early, keeps nothing in that frame for it.
#[cold]
#[inline(never)]
pub fn miss<R>(path: impl FnOnce() -> R) -> R {
    path()
}

/// [`Guard::run`] as a function: a key that is not `Send + Sync` fails this function's bounds
/// (an error in rustc's words at the key's type, where the macro spans the call) rather than
/// a method's (an E0599 naming memo's `Guard`).
#[inline]
pub fn run<K, Kd>(guard: Guard<K, Kd>, body: impl FnOnce() -> Kd::Output) -> Kd::Output
where
    K: Send + Sync + 'static,
    Kd: Kind,
{
    guard.run(body)
}

/// [`Guard::run_async`] as a function (see [`run`]).
#[inline]
pub fn run_async<K, Kd, F>(guard: Guard<K, Kd>, body: F) -> impl Future<Output = Kd::Output>
where
    K: Send + Sync + 'static,
    Kd: Kind,
    F: Future<Output = Kd::Output>,
{
    guard.run_async(body)
}
