//! Checks the function against what each attribute needs, collecting every error, and turns it
//! into the plan that `expand.rs` generates code from.

use proc_macro2::Span;
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, Ident, Index, LitStr, Member, Pat, ReceiverKind, Token, Type};

use crate::attr::CachedArgs;
use crate::ctxt::Errors;
use crate::model::{Body, Function};
use crate::suggest::{did_you_mean, list};
use crate::template::{self, Piece, Placeholder, Target};

/// How an argument or the receiver holds its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    /// By value: `id: u64`, `self`, `self: Arc<Self>`.
    Owned,
    /// By value, a `String`: `name: String` (stored as a compact string).
    OwnedStr,
    /// By shared reference: `point: &Point`, `&self`.
    Shared,
    /// By shared reference to `str` or `String`: `name: &str` (stored as a compact string).
    Str,
    /// By exclusive reference: `buf: &mut Vec<u8>`, `&mut self`.
    Mut,
}

/// Where a key part or a pattern's value comes from.
pub(crate) enum Source {
    /// An argument.
    Arg { ident: Ident, hold: Hold },
    /// The receiver: `{self}`.
    Receiver {
        self_token: Token![self],
        hold: Hold,
    },
    /// A field of the receiver: `{self.region}` (spanned at the template).
    Field {
        self_token: Token![self],
        members: Vec<Member>,
    },
}

/// `#[cached]` store-everything opt-ins: the flag, and what the return type must be.
pub(crate) struct StoreAll {
    pub(crate) flag: Ident,
    /// `Result` for `cache_err`, `Option` for `cache_none`.
    pub(crate) wrapper: Wrapper,
}

#[derive(Clone, Copy)]
pub(crate) enum Wrapper {
    Result,
    Option,
}

/// What `#[cached]` generates from.
pub(crate) struct Cached {
    pub(crate) function: Function,
    /// The key's parts, in order.
    pub(crate) key: Vec<Source>,
    pub(crate) ret: Type,
    pub(crate) store_all: Option<StoreAll>,
    pub(crate) prefix: String,
    /// Empty for the default cache type.
    pub(crate) cache_type: String,
    pub(crate) ttl_nanos: Option<u64>,
    /// Where errors about the key's types are shown: the key part most likely to lack
    /// `Hash`/`Eq` (the first whose type is not a well-known key type).
    pub(crate) blame: Span,
}

/// What `#[invalidates]` generates from.
pub(crate) struct Invalidates {
    pub(crate) function: Function,
    pub(crate) patterns: Vec<Vec<Part>>,
    /// Whether the return type can be written as a `let` type (it has no `impl Trait`).
    pub(crate) nameable_return: bool,
}

/// A piece of an invalidation pattern, resolved.
pub(crate) enum Part {
    Text(String),
    Value { source: Source, span: Span },
}

/// The receiver and the arguments of a function.
struct Params<'a> {
    receiver: Option<(&'a syn::Receiver, Hold)>,
    args: Vec<Param<'a>>,
}

struct Param<'a> {
    /// `None` for `_`.
    name: Option<&'a Ident>,
    ty: &'a Type,
    hold: Hold,
    pat: &'a Pat,
    /// A pattern other than a name or `_`.
    destructured: bool,
}

impl<'a> Params<'a> {
    fn of(function: &'a Function) -> Self {
        let mut receiver = None;
        let mut args = Vec::new();
        for input in &function.sig.inputs {
            match input {
                FnArg::Receiver(r) => receiver = Some((r, receiver_hold(r))),
                FnArg::Typed(t) => {
                    let (name, destructured) = match &*t.pat {
                        Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => {
                            (Some(&p.ident), false)
                        }
                        Pat::Wild(_) => (None, false),
                        _ => (None, true),
                    };
                    args.push(Param {
                        name,
                        ty: &t.ty,
                        hold: type_hold(&t.ty),
                        pat: &t.pat,
                        destructured,
                    });
                }
            }
        }
        Self { receiver, args }
    }

    fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.args
            .iter()
            .filter_map(|a| a.name.map(Ident::to_string))
    }

    /// Resolves a placeholder, or records why it names nothing.
    fn resolve(
        &self,
        placeholder: &Placeholder,
        lit: &LitStr,
        function: &Function,
        errors: &mut Errors,
    ) -> Option<(Source, Option<&Param<'a>>)> {
        let span = lit.span();
        match &placeholder.target {
            Target::Arg(name) => {
                // `{type}` names `r#type` too, as in a format string.
                let is_it = |n: &Ident| n == name || n.unraw() == name;
                if let Some(param) = self.args.iter().find(|a| a.name.is_some_and(is_it)) {
                    let ident = param.name?.clone();
                    return Some((
                        Source::Arg {
                            ident,
                            hold: param.hold,
                        },
                        Some(param),
                    ));
                }
                let names: Vec<String> = self.names().collect();
                let known = if names.is_empty() {
                    "it has no named arguments".to_owned()
                } else {
                    format!(
                        "its arguments are {}",
                        list(names.iter().map(String::as_str))
                    )
                };
                errors.at(
                    span,
                    format!(
                        "`{{{name}}}` names no argument of `{}` ({known}){}",
                        function.name(),
                        did_you_mean(name, names.iter().map(String::as_str))
                    ),
                );
                None
            }
            Target::Receiver | Target::Field(_) => {
                let Some((receiver, hold)) = self.receiver else {
                    errors.at(
                        span,
                        format!(
                            "`{{{}}}` needs a method: `{}` takes no `self`",
                            placeholder.text,
                            function.name()
                        ),
                    );
                    return None;
                };
                let self_token = receiver.self_token;
                Some(match &placeholder.target {
                    Target::Field(path) => (
                        Source::Field {
                            self_token,
                            members: path.iter().map(|m| member(m, span)).collect(),
                        },
                        None,
                    ),
                    _ => (Source::Receiver { self_token, hold }, None),
                })
            }
        }
    }
}

/// A field of the receiver named in a template. Its span is located at the template but
/// belongs to the expansion, so that rustc's "a field with a similar name exists" fix-it does not
/// offer to replace the whole template string with a field name.
fn member(text: &str, at: Span) -> Member {
    let span = Span::mixed_site().located_at(at);
    match text.parse::<u32>() {
        Ok(index) => Member::Unnamed(Index { index, span }),
        Err(_) => Member::Named(Ident::new(text, span)),
    }
}

fn receiver_hold(r: &syn::Receiver) -> Hold {
    match &r.kind {
        ReceiverKind::Reference(_, _, None) => Hold::Shared,
        ReceiverKind::Reference(_, _, Some(_)) => Hold::Mut,
        ReceiverKind::Typed(_, ty) => match type_hold(ty) {
            // `self: &Self` is `&self`, and `self: &Arc<Self>` (or any `&P` with `P: Deref<Target
            // = Self>`) borrows as it does; `self: Box<Self>` and the like own the receiver.
            Hold::Shared => Hold::Shared,
            Hold::Mut => Hold::Mut,
            _ => Hold::Owned,
        },
        _ => Hold::Owned,
    }
}

fn strip(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => strip(&g.elem),
        Type::Paren(p) => strip(&p.elem),
        other => other,
    }
}

fn type_hold(ty: &Type) -> Hold {
    match strip(ty) {
        Type::Reference(r) if r.mutability.is_some() => Hold::Mut,
        Type::Reference(r) if is_str(&r.elem) || is_string(&r.elem) => Hold::Str,
        Type::Reference(_) => Hold::Shared,
        ty if is_string(ty) => Hold::OwnedStr,
        _ => Hold::Owned,
    }
}

/// Whether a type is written `str`.
fn is_str(ty: &Type) -> bool {
    matches!(strip(ty), Type::Path(p) if p.qself.is_none() && p.path.is_ident("str"))
}

/// Whether a type is written `String`.
fn is_string(ty: &Type) -> bool {
    matches!(strip(ty), Type::Path(p) if p.qself.is_none() && p.path.is_ident("String"))
}

/// Checks shared by both attributes: a body to wrap, and not `const`.
fn check_function(function: &Function, attribute: &str, errors: &mut Errors) {
    for attr in &function.attrs {
        if attr.path().is_ident("track_caller") {
            errors.spanned(
                attr,
                format!(
                    "`#[track_caller]` would have no effect under `#[{attribute}]`: the body runs in a closure, so `Location::caller()` and panics would report a line inside the function; remove `#[track_caller]`"
                ),
            );
        }
    }
    if let Some(constness) = &function.sig.constness {
        errors.at(
            constness.span,
            format!(
                "`#[{attribute}]` cannot be used on a `const fn`: it runs at run time; remove `const`"
            ),
        );
    }
    if let Some(variadic) = &function.sig.variadic {
        errors.spanned(
            variadic,
            format!("`#[{attribute}]` cannot be used on a variadic function"),
        );
    }
    if let Body::Missing(semi) = &function.body {
        errors.at(
            semi.span,
            format!(
                "`#[{attribute}]` needs the function's body here: put it on the method of the `impl`, or give this trait method a default body"
            ),
        );
    }
}

/// Whether `#[async_trait]` has already rewritten the function (an `async fn` of a trait or
/// its impl, now a function returning a boxed future): an error if so. The attributes would
/// see a synchronous function whose "value" is a future, which cannot be cached, and
/// `#[invalidates]` would invalidate when the future is made, before its body runs.
fn check_not_async_trait(function: &Function, attribute: &str, errors: &mut Errors) -> bool {
    let rewritten = (function.sig.generics.lifetimes()).any(|l| l.lifetime.ident == "async_trait");
    if rewritten {
        errors.at(
            function.sig.ident.span(),
            format!(
                "`#[{attribute}]` cannot be used inside `#[async_trait]`: that attribute has already turned this `async fn` into a function returning a boxed future; put `#[{attribute}]` on an inherent `async fn` and call it from the trait method, or use a native `async fn` in the trait"
            ),
        );
    }
    rewritten
}

/// Checks a `#[cached]` function and its options.
pub(crate) fn cached(function: Function, args: &CachedArgs, errors: &mut Errors) -> Option<Cached> {
    if check_not_async_trait(&function, "cached", errors) {
        return None;
    }
    check_function(&function, "cached", errors);
    check_cached_once(&function, errors);
    let params = Params::of(&function);
    check_receiver(&params, errors);
    let ret = check_return(&function, errors);
    let key = cached_key(&function, &params, args, errors);
    let store_all = store_all(args, errors);
    let blame = blame(&key, &params);
    let key: Vec<Source> = key.into_iter().map(|(source, _)| source).collect();
    let prefix = args
        .prefix
        .get()
        .map_or_else(|| function.name(), |p| p.value.clone());
    let cache_type = args
        .cache_type
        .get()
        .map_or_else(String::new, |t| t.value.clone());
    let ttl_nanos = args
        .ttl
        .get()
        .map(|t| u64::try_from(t.value.as_nanos()).unwrap_or(u64::MAX));
    let ret = ret?;
    Some(Cached {
        function,
        key,
        ret,
        store_all,
        prefix,
        cache_type,
        ttl_nanos,
        blame,
    })
}

/// A second `#[cached]` below the first would put a cache in front of a cache.
fn check_cached_once(function: &Function, errors: &mut Errors) {
    for attr in &function.attrs {
        let path = attr.path();
        let last_is_cached = path.segments.last().is_some_and(|s| s.ident == "cached");
        let is_memo = path.segments.len() == 1
            || (path.segments.len() == 2 && path.segments[0].ident == "memo");
        if last_is_cached && is_memo {
            errors.spanned(
                attr,
                "`#[cached]` is given twice: a function has one cache; remove this one (and merge its options into the first)",
            );
        }
    }
}

fn check_receiver(params: &Params<'_>, errors: &mut Errors) {
    let Some((receiver, hold)) = params.receiver else {
        return;
    };
    match hold {
        Hold::Shared | Hold::Str => {}
        Hold::Mut => errors.spanned(
            receiver,
            "`#[cached]` methods take `&self`: a method that changes its receiver would skip the change on a hit; write `&self` (with interior mutability if needed), or remove `#[cached]`",
        ),
        Hold::Owned | Hold::OwnedStr => errors.spanned(
            receiver,
            "`#[cached]` methods borrow their receiver (`&self`, or `self: &Arc<Self>` and the like), not take it by value: write `&self`",
        ),
    }
}

/// The return type, if it can be cached.
fn check_return(function: &Function, errors: &mut Errors) -> Option<Type> {
    let Some(ty) = function.return_type() else {
        errors.at(
            function.sig.ident.span(),
            format!(
                "`{}` returns nothing, so there is nothing to cache: return the value to cache, or remove `#[cached]`",
                function.name()
            ),
        );
        return None;
    };
    match strip(ty) {
        Type::Tuple(t) if t.elems.is_empty() => {
            errors.spanned(
                ty,
                "a function returning `()` has nothing to cache: return the value to cache, or remove `#[cached]`",
            );
            return None;
        }
        Type::Never(_) => {
            errors.spanned(
                ty,
                "a function that never returns has nothing to cache: remove `#[cached]`",
            );
            return None;
        }
        _ => {}
    }
    let mut finder = Finder::default();
    finder.visit_type(ty);
    let ok = finder.found.is_empty();
    for (tokens, what) in finder.found {
        match what {
            Found::Borrow => errors.spanned(
                tokens,
                "a cached value must be owned: the cache keeps it after this call returns; return an owned type (`String` rather than `&str`, `Vec<T>` rather than `&[T]`) or an `Arc`",
            ),
            Found::Opaque => errors.spanned(
                tokens,
                "`impl Trait` cannot be cached: the cache stores and clones the value, so it needs its type; return a concrete type that is `Clone`",
            ),
        }
    }
    ok.then(|| ty.clone())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    Borrow,
    Opaque,
}

/// Finds borrows (references and lifetimes other than `'static`) and `impl Trait` in a type.
#[derive(Default)]
struct Finder {
    found: Vec<(proc_macro2::TokenStream, Found)>,
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        match &r.lifetime {
            Some(l) if l.ident == "static" => self.visit_type(&r.elem),
            lifetime => {
                let and = r.and_token;
                self.found.push((quote!(#and #lifetime), Found::Borrow));
            }
        }
    }

    fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
        if l.ident != "static" {
            self.found.push((l.to_token_stream(), Found::Borrow));
        }
    }

    fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
        self.found.push((t.to_token_stream(), Found::Opaque));
    }

    // `fn(&str) -> u8`, `dyn Fn(&str)` and `for<'a>` name lifetimes of their own.
    fn visit_type_fn_ptr(&mut self, _: &'ast syn::TypeFnPtr) {}
    fn visit_parenthesized_generic_arguments(
        &mut self,
        _: &'ast syn::ParenthesizedGenericArguments,
    ) {
    }
    fn visit_bound_lifetimes(&mut self, _: &'ast syn::BoundLifetimes) {}
}

/// The tokens of the first `what` (a borrow, an `impl Trait`) in `ty`.
fn first_found(ty: &Type, what: Found) -> Option<proc_macro2::TokenStream> {
    let mut finder = Finder::default();
    finder.visit_type(ty);
    finder
        .found
        .into_iter()
        .find_map(|(tokens, found)| (found == what).then_some(tokens))
}

/// The key's parts, each with the argument it comes from (if any).
fn cached_key<'p>(
    function: &Function,
    params: &'p Params<'p>,
    args: &CachedArgs,
    errors: &mut Errors,
) -> Vec<(Source, Option<&'p Param<'p>>)> {
    for param in &params.args {
        if param.destructured {
            let ty = param.ty;
            let ty = quote!(#ty).to_string();
            errors.spanned(
                param.pat,
                format!(
                    "`#[cached]` arguments are bound to a name: write `arg: {ty}` and destructure `arg` in the body (or bind it to `_` to leave it out of the key)"
                ),
            );
        }
    }
    let key: Vec<_> = match args.key.get() {
        None => params
            .args
            .iter()
            .filter_map(|p| {
                let ident = p.name?.clone();
                Some((
                    Source::Arg {
                        ident,
                        hold: p.hold,
                    },
                    Some(p),
                ))
            })
            .collect(),
        Some(given) => {
            let lit = &given.value;
            let Some(template) = errors.take(template::key_template(lit)) else {
                return Vec::new();
            };
            let mut seen: Vec<&str> = Vec::new();
            let mut key = Vec::new();
            for placeholder in &template {
                if seen.contains(&placeholder.text.as_str()) {
                    errors.at(
                        lit.span(),
                        format!(
                            "`{{{}}}` appears twice in the key template: name each value once",
                            placeholder.text
                        ),
                    );
                    continue;
                }
                seen.push(&placeholder.text);
                key.extend(params.resolve(placeholder, lit, function, errors));
            }
            key
        }
    };
    for (_, param) in &key {
        if let Some(param) = param {
            check_key_arg(param, params, errors);
        }
    }
    if key.len() > 64 {
        errors.at(
            function.sig.ident.span(),
            "a key has at most 64 parts: choose the arguments that identify a result with a `key` template",
        );
    }
    key
}

/// An argument in the key must be owned or a shared reference, of a nameable type.
fn check_key_arg(param: &Param<'_>, params: &Params<'_>, errors: &mut Errors) {
    let name = param.name.map_or_else(String::new, Ident::to_string);
    let others: Vec<String> = params.names().filter(|n| *n != name).collect();
    let leave_out = if others.is_empty() {
        format!("or bind `{name}` to `_` to leave it out of the key")
    } else {
        format!(
            "or leave `{name}` out of the key with a `key` template such as `key = \"{}\"`",
            others
                .iter()
                .map(|o| format!("{{{o}}}"))
                .collect::<Vec<_>>()
                .join(":")
        )
    };
    if let Type::Reference(r) = strip(param.ty) {
        if let Some(m) = r.mutability {
            let and = r.and_token;
            errors.spanned(
                quote!(#and #m),
                format!(
                    "`&mut` argument `{name}` cannot be part of the key: take `&` or an owned value, {leave_out}"
                ),
            );
            return;
        }
    }
    if let Some(tokens) = first_found(param.ty, Found::Opaque) {
        errors.spanned(
            tokens,
            format!(
                "`impl Trait` argument `{name}` cannot be part of the key, whose type must be named: use a generic parameter (`T: Hash + Eq + Clone`) or a concrete type, {leave_out}"
            ),
        );
        return;
    }
    // Only the outer `&` is turned into an owned key on a miss: a borrow inside the type
    // (`Option<&str>`, `(&str, u32)`, `&&str`, `Cow<'a, str>`) would have to outlive the call.
    let owned_part = match strip(param.ty) {
        Type::Reference(r) => &*r.elem,
        other => other,
    };
    if let Some(tokens) = first_found(owned_part, Found::Borrow) {
        errors.spanned(
            tokens,
            format!(
                "argument `{name}` borrows inside its type, and a key must own its data (only an outer `&` is turned into an owned key on a miss): write an owned type here, such as `String` for `&str` or `Vec<T>` for `&[T]`, {leave_out}"
            ),
        );
    }
}

fn store_all(args: &CachedArgs, errors: &mut Errors) -> Option<StoreAll> {
    let err = args.cache_err.on().map(|g| StoreAll {
        flag: g.name.clone(),
        wrapper: Wrapper::Result,
    });
    let none = args.cache_none.on().map(|g| StoreAll {
        flag: g.name.clone(),
        wrapper: Wrapper::Option,
    });
    match (err, none) {
        (Some(_), Some(none)) => {
            errors.at(
                none.flag.span(),
                "`cache_err` and `cache_none` cannot both be set: a function returns a `Result` or an `Option`; keep the one that matches",
            );
            None
        }
        (err, none) => err.or(none),
    }
}

/// Where to show errors about the key's types (see [`Cached::blame`]).
fn blame(key: &[(Source, Option<&Param<'_>>)], params: &Params<'_>) -> Span {
    let spans = key.iter().map(|(source, param)| match (source, param) {
        (_, Some(p)) => (innermost(p.ty).span(), is_well_known(p.ty)),
        (Source::Receiver { self_token, .. }, _) => (self_token.span, false),
        (Source::Field { members, .. }, _) => (members[0].span(), false),
        (Source::Arg { ident, .. }, None) => (ident.span(), false),
    });
    let spans: Vec<(Span, bool)> = spans.collect();
    spans
        .iter()
        .find(|(_, known)| !known)
        .or(spans.first())
        .map_or_else(
            || {
                params
                    .receiver
                    .map_or_else(Span::call_site, |(r, _)| r.self_token.span)
            },
            |(span, _)| *span,
        )
}

fn innermost(ty: &Type) -> &Type {
    match strip(ty) {
        Type::Reference(r) => innermost(&r.elem),
        other => other,
    }
}

/// Types that are keys already (`u64`, `String`, `&str`, `Vec<u8>`...): an error about the
/// key is unlikely to be theirs.
fn is_well_known(ty: &Type) -> bool {
    const KNOWN: [&str; 18] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "bool", "char", "str", "String", "Vec", "Option",
    ];
    match innermost(ty) {
        Type::Slice(s) => is_well_known(&s.elem),
        Type::Array(a) => is_well_known(&a.elem),
        Type::Tuple(t) => t.elems.iter().all(is_well_known),
        Type::Path(p) if p.qself.is_none() => p.path.segments.last().is_some_and(|s| {
            KNOWN.contains(&s.ident.to_string().as_str())
                && match &s.arguments {
                    syn::PathArguments::None => true,
                    syn::PathArguments::AngleBracketed(a) => a.args.iter().all(|arg| match arg {
                        syn::GenericArgument::Type(t) => is_well_known(t),
                        _ => false,
                    }),
                    syn::PathArguments::Parenthesized(_) => false,
                }
        }),
        _ => false,
    }
}

/// Checks an `#[invalidates]` function and its patterns.
pub(crate) fn invalidates(
    function: Function,
    patterns: &[LitStr],
    errors: &mut Errors,
) -> Invalidates {
    check_not_async_trait(&function, "invalidates", errors);
    check_function(&function, "invalidates", errors);
    if let Some(ty) = function
        .return_type()
        .filter(|ty| matches!(strip(ty), Type::Never(_)))
    {
        errors.spanned(
            ty,
            "a function that never returns never succeeds, so it would never invalidate: remove `#[invalidates]`",
        );
    }
    let params = Params::of(&function);
    let mut resolved = Vec::new();
    for lit in patterns {
        let Some(pieces) = errors.take(template::pattern(lit)) else {
            continue;
        };
        let mut parts = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(text) => parts.push(Part::Text(text)),
                Piece::Value(placeholder) => {
                    if let Some((source, _)) = params.resolve(&placeholder, lit, &function, errors)
                    {
                        parts.push(Part::Value {
                            source,
                            span: lit.span(),
                        });
                    }
                }
            }
        }
        resolved.push(parts);
    }
    let nameable_return = function.return_type().is_none_or(|ty| {
        let mut finder = Finder::default();
        finder.visit_type(ty);
        !finder.found.iter().any(|(_, f)| matches!(f, Found::Opaque))
    });
    Invalidates {
        function,
        patterns: resolved,
        nameable_return,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::CachedArgs;
    use quote::quote;

    fn check(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> Vec<String> {
        let mut errors = Errors::default();
        let args = CachedArgs::parse(args, &mut errors);
        let function = Function::parse(item, "cached").unwrap();
        let _ = cached(function, &args, &mut errors);
        errors
            .finish(())
            .err()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_plain_function_is_fine() {
        assert!(
            check(
                quote!(),
                quote!(
                    fn f(id: u64, name: &str, _: u8) -> u64 {
                        id
                    }
                )
            )
            .is_empty()
        );
    }

    #[test]
    fn every_signature_problem_is_reported() {
        let m = check(
            quote!(),
            quote!(
                const fn f(&mut self, a: &mut u8, b: impl Copy, (c, d): (u8, u8)) -> &str {
                    ""
                }
            ),
        );
        assert_eq!(m.len(), 6, "{m:?}");
        assert!(m[0].contains("`const fn`"));
        assert!(m[1].contains("methods take `&self`"));
        assert!(m[2].contains("must be owned"));
        assert!(m[3].contains("arguments are bound to a name"));
        assert!(m[4].contains("`&mut` argument `a`"));
        assert!(m[5].contains("`impl Trait` argument `b`"));
    }

    #[test]
    fn arguments_left_out_of_the_key_may_be_anything() {
        let m = check(
            quote!(key = "{id}"),
            quote!(
                fn f(id: u64, db: &mut Db, log: impl Fn()) -> u64 {
                    id
                }
            ),
        );
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn template_names_are_checked() {
        let m = check(
            quote!(key = "{idd}:{self.x}"),
            quote!(
                fn f(id: u64) -> u64 {
                    id
                }
            ),
        );
        assert_eq!(
            m,
            [
                "`{idd}` names no argument of `f` (its arguments are `id`); did you mean `id`?",
                "`{self.x}` needs a method: `f` takes no `self`"
            ]
        );
        let m = check(
            quote!(key = "{id}:{id}"),
            quote!(
                fn f(id: u64) -> u64 {
                    id
                }
            ),
        );
        assert!(m[0].contains("appears twice"));
    }

    #[test]
    fn static_borrows_and_fn_pointers_are_owned() {
        assert!(
            check(
                quote!(),
                quote!(
                    fn f() -> &'static str {
                        ""
                    }
                )
            )
            .is_empty()
        );
        assert!(
            check(
                quote!(),
                quote!(
                    fn f() -> Arc<dyn Fn(&str) -> u8> {
                        x
                    }
                )
            )
            .is_empty()
        );
        assert!(
            !check(
                quote!(),
                quote!(
                    fn f() -> Cow<'_, str> {
                        x
                    }
                )
            )
            .is_empty()
        );
    }

    #[test]
    fn blame_falls_on_the_unusual_type() {
        assert!(is_well_known(&syn::parse_quote!(&[u8])));
        assert!(is_well_known(&syn::parse_quote!(Vec<String>)));
        assert!(!is_well_known(&syn::parse_quote!(Point)));
        assert!(!is_well_known(&syn::parse_quote!(Vec<Point>)));
    }
}
