//! The two pipelines (options -> function -> checks -> code, or the item with its errors) and
//! the generation itself, which is pure: a plan from `valid.rs` in, tokens out.
//!
//! Generated code names the runtime only as `::memo::__private::...` and std only as
//! `::core::...`/`::std::...`. Its locals are `Span::mixed_site()` identifiers, which the
//! user's code (the body, the arguments) can neither see nor shadow; its static lives in a
//! block of its own. Nothing new becomes visible in the user's namespace.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, Ident, Index, Type};

use crate::attr::{self, CachedArgs};
use crate::ctxt::Errors;
use crate::fallback;
use crate::model::{Body, Function};
use crate::valid::{self, Cached, Hold, Invalidates, Part, Source, StoreAll, Wrapper};

/// `#[cached(args)] item`.
pub(crate) fn cached(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let options = CachedArgs::parse(args, &mut errors);
    let plan = errors
        .take(Function::parse(item.clone(), "cached"))
        .and_then(|function| valid::cached(function, &options, &mut errors));
    match (errors.finish(()), plan) {
        (Ok(()), Some(plan)) => cached_fn(&plan),
        (Err(e), _) => fallback::emit(&item, e),
        (Ok(()), None) => item,
    }
}

/// `#[invalidates(patterns)] item`.
pub(crate) fn invalidates(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let patterns = attr::invalidates_patterns(args, &mut errors);
    let plan = errors
        .take(Function::parse(item.clone(), "invalidates"))
        .map(|function| valid::invalidates(function, &patterns, &mut errors));
    match (errors.finish(()), plan) {
        (Ok(()), Some(plan)) => invalidates_fn(&plan),
        (Err(e), _) => fallback::emit(&item, e),
        (Ok(()), None) => item,
    }
}

/// A generated local: invisible to the user's code, which cannot shadow it either.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// A generated local whose errors are shown at `span`.
fn local_at(name: &str, span: Span) -> Ident {
    Ident::new(name, Span::mixed_site().located_at(span))
}

/// The function's attributes: its own, then the inner attributes of its body made outer
/// (the body moves into a closure or an async block, where `#![...]` cannot stay).
fn attributes(function: &Function) -> TokenStream {
    let inner = match &function.body {
        Body::Block { inner, .. } => inner.as_slice(),
        Body::Missing(_) => &[],
    };
    let inner = inner.iter().map(|a| Attribute {
        style: AttrStyle::Outer,
        ..a.clone()
    });
    let outer = &function.attrs;
    quote!(#(#outer)* #(#inner)*)
}

/// `let __memo_fake: R = loop {}; return __memo_fake;` behind `if false`, spanned at the
/// return type: it fixes the type of the closure or async block holding the body, so `?` and
/// `return` in the body type-check, and type errors stay on the user's code.
fn fake_return(ret: &Type) -> TokenStream {
    let span = ret.span();
    let fake = local_at("__memo_fake", span);
    quote_spanned! {span=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::needless_return
        )]
        if false {
            let #fake: #ret = loop {};
            return #fake;
        }
    }
}

/// `#[allow(clippy::used_underscore_binding)]` when the key (or a pattern) reads an argument
/// named `_x`: the generated code uses it, which `clippy::pedantic` would otherwise report in
/// the user's crate as the user's own use of an underscore-prefixed binding.
fn underscore_allowance<'a>(parts: impl IntoIterator<Item = &'a Source>) -> TokenStream {
    let underscored = (parts.into_iter())
        .any(|p| matches!(p, Source::Arg { ident, .. } if ident.to_string().starts_with('_')));
    if underscored {
        quote!(#[allow(clippy::used_underscore_binding)])
    } else {
        TokenStream::new()
    }
}

/// `#[allow(unused_braces)]` when the body holds a fragment a `macro_rules!` macro passed in
/// (`$body:block`): rustc does not lint a block fragment in a function's tail, but the
/// attribute sees it as plain tokens, and in the closure or async block that the body moves
/// into it would be linted as braces around the block's value.
fn fragment_allowance(body: &Body) -> TokenStream {
    match body {
        Body::Block { stmts, .. } if has_invisible_group(stmts.clone()) => {
            quote!(#[allow(unused_braces)])
        }
        _ => TokenStream::new(),
    }
}

/// Whether tokens hold a group without delimiters (a macro fragment).
fn has_invisible_group(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Group(group) => {
            group.delimiter() == proc_macro2::Delimiter::None || has_invisible_group(group.stream())
        }
        _ => false,
    })
}

/// `run(wrapped)`, where `wrapped` is the body in a closure or an async block; when the body
/// holds a macro fragment ([`fragment_allowance`]), `wrapped` is bound first, in a statement
/// that allows `unused_braces`.
fn from_fragment(
    function_body: &Body,
    wrapped: TokenStream,
    run: impl FnOnce(TokenStream) -> TokenStream,
) -> TokenStream {
    let allow = fragment_allowance(function_body);
    if allow.is_empty() {
        return run(wrapped);
    }
    let bound = local("__memo_body");
    let call = run(bound.to_token_stream());
    quote!({
        #allow
        let #bound = #wrapped;
        #call
    })
}

/// The body in its own braces, with `first` before its statements.
fn body_after(body: &Body, first: TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    match body {
        Body::Block { brace, stmts, .. } => brace.surround(&mut out, |t| {
            t.extend(first);
            t.extend(stmts.clone());
        }),
        Body::Missing(semi) => semi.to_tokens(&mut out),
    }
    out
}

fn cached_fn(plan: &Cached) -> TokenStream {
    let Function { vis, sig, body, .. } = &plan.function;
    let mut attrs = attributes(&plan.function);
    attrs.extend(underscore_allowance(&plan.key));
    let site = local("__memo_site");
    let kind = local("__memo_kind");
    let entry = local("__memo_entry");
    let value = local("__memo_value");
    // At the key part, where the body's run takes it: see `run_path` below.
    let guard = local_at("__memo_guard", plan.blame);
    let missed = local("__memo_missed");
    let instance = local("__memo_instance");
    let instance_expr = instance_expr(sig, body);
    let ret = &plan.ret;
    let site_expr = site_static(plan);
    let kind_expr = kind_expr(ret, plan.store_all.as_ref());
    let key = key_expr(&plan.key);
    let render = render_fn(plan.key.len());
    // Methods name their impl's type for stats (`module::Type::method`).
    let owner = if sig.receiver().is_some() {
        quote!(::core::option::Option::Some(::core::any::type_name::<Self>))
    } else {
        quote!(::core::option::Option::None)
    };
    // Errors about the key's types (a part that is not `Hash + Eq`) are reported at the calls
    // that need them; both are spanned at the key part most likely to be the culprit.
    let call = if sig.asyncness.is_some() {
        let (hit, enter, run_async) = (
            Ident::new("hit_async", plan.blame),
            Ident::new("enter_async", plan.blame),
            Ident::new("run_async", plan.blame),
        );
        let blame = plan.blame;
        let typed_body = body_after(body, fake_return(ret));
        let run_body = from_fragment(
            body,
            quote!(async move #typed_body),
            |b| quote_spanned!(blame=> ::memo::__private::#run_async(#guard, #b).await),
        );
        // A hit returns before the future of the miss path is made or polled. The miss path
        // (looking again, waiting for another caller's computation, the body) is boxed: the
        // function's own future then holds the arguments and a pointer, not the body's future,
        // so that a hit does not move a large future around (one allocation per miss).
        //
        // The hit is an `if let` that returns, not a `match` around the miss path's `.await`:
        // a `match` would keep its `Option<return type>` alive across that `.await`, and the
        // function's future would not be `Send` when the return type is not (`Result<T,
        // Box<dyn Error>>`) even though the body's future is.
        // Every token of the async path is shown at the key part too (the locals keep their
        // hygiene): the future of `enter_async` and its `.await` bring the key's bounds again,
        // and errors spanned at the attribute would repeat the ones at the key part.
        let (site, value) = (
            local_at("__memo_site", blame),
            local_at("__memo_value", blame),
        );
        quote_spanned! {blame=>
            if let ::core::option::Option::Some(#value) =
                #site.#hit(&#key, #kind, #render, #owner, #instance)
            {
                return #value;
            }
            ::std::boxed::Box::pin(async move {
                // The guard is bound in a statement of its own, so that the borrow of the
                // arguments ends before the body takes them, and no `Entry` (which may hold a
                // value that is not `Send`) lives across the body's `.await`.
                let #guard = match #site.#enter(&#key, #kind, #render, #owner, #instance).await {
                    ::memo::__private::Entry::Hit(#value) => return #value,
                    ::memo::__private::Entry::Miss(#guard) => #guard,
                };
                #run_body
            })
            .await
        }
    } else {
        let (enter, run) = (
            Ident::new("enter", plan.blame),
            Ident::new("run", plan.blame),
        );
        let hit = Ident::new("hit", plan.blame);
        // `run` (a function, not `Guard`'s method) and the guard it takes are shown at the key
        // part, as the hit: a key that is not `Send + Sync` fails `run`'s bounds too, and that
        // error then says so at the key's type, in rustc's words, rather than as an E0599
        // about memo's `Guard` at the attribute.
        let blame = plan.blame;
        let run_path = quote_spanned!(blame=> ::memo::__private::#run);
        let run_body = from_fragment(
            body,
            quote!(move || -> #ret #body),
            |b| quote!(#run_path(#guard, #b)),
        );
        // The hit path is inlined and returns the value alone; the miss path looks again out
        // of line (`enter`), then runs the body.
        quote! {
            match #site.#hit(&#key, #kind, #instance) {
                ::core::result::Result::Ok(#value) => #value,
                // The miss path runs in a frame of its own (`miss`): the hit path's frame then
                // saves and spills less (a `u64` hit 8.26 -> 8.06 ns, min of 15 runs).
                ::core::result::Result::Err(#missed) => ::memo::__private::miss(move || {
                    // Bound before the `match`, so the borrow of the arguments ends before the
                    // body takes them.
                    let #entry =
                        #site.#enter(#missed, &#key, #kind, #render, #owner, #instance);
                    match #entry {
                        ::memo::__private::Entry::Hit(#value) => #value,
                        ::memo::__private::Entry::Miss(#guard) => #run_body,
                    }
                }),
            }
        }
    };
    let block = in_body_braces(
        body,
        quote! {
            let #site: &'static ::memo::__private::Site = #site_expr;
            let #kind = #kind_expr;
            let #instance: ::memo::__private::Instance = #instance_expr;
            #call
        },
    );
    quote!(#attrs #vis #sig #block)
}

/// `inner` in braces spanned as the body's: the item then spans the user's code only, so that
/// lints reported at it (`dead_code`) are not taken for a macro's and silenced.
fn in_body_braces(body: &Body, inner: TokenStream) -> TokenStream {
    let mut out = TokenStream::new();
    match body {
        Body::Block { brace, .. } => brace.surround(&mut out, |t| t.extend(inner)),
        Body::Missing(_) => out.extend(quote!({ #inner })),
    }
    out
}

/// The instantiation a call runs in (`memo::__private::Instance`), so that each instantiation
/// of a generic function, and each type a method runs for (its impl may be generic, or it is a
/// trait's default method), has a store of its own: the lifetime-erased `TypeId` of a closure
/// made in the body. A closure's type is generic over every parameter in scope: the function's
/// own (`impl Trait` arguments too), and those of its impl or trait and `Self`, which the
/// attribute cannot see (`impl<T> Named<T> for S` is one method per `T`). It is unique to its
/// function and, unlike a `type_name`, tells apart two closures or two local types of one name.
/// `None` for a function that has no receiver or generics and names no `Self`: a free function
/// (or an associated function the attribute cannot tell from one), one instantiation, nothing
/// to compare on the hit path.
fn instance_expr(sig: &syn::Signature, body: &Body) -> TokenStream {
    let generic = sig.receiver().is_some()
        || sig
            .generics
            .params
            .iter()
            .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
        || (sig.inputs.iter())
            .any(|arg| matches!(arg, syn::FnArg::Typed(t) if mentions_impl_trait(&t.ty)))
        || mentions_self(sig.to_token_stream())
        || matches!(body, Body::Block { stmts, .. } if mentions_self(stmts.clone()));
    if !generic {
        return quote!(::core::option::Option::None);
    }
    quote!(::memo::__private::instance_of_val(&|| {}))
}

/// Whether a type has an `impl Trait` (an anonymous type parameter of the function).
fn mentions_impl_trait(ty: &syn::Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut finder = Finder(false);
    syn::visit::Visit::visit_type(&mut finder, ty);
    finder.0
}

/// Whether tokens name `Self` (so the function is in an impl or a trait, maybe a generic one).
fn mentions_self(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => ident == "Self",
        proc_macro2::TokenTree::Group(group) => mentions_self(group.stream()),
        _ => false,
    })
}

/// `&'static Site`: a static in a block of its own.
fn site_static(plan: &Cached) -> TokenStream {
    let name = plan.function.name();
    let prefix = &plan.prefix;
    let cache_type = &plan.cache_type;
    let ttl = plan.ttl_nanos.map_or_else(
        || quote!(::core::option::Option::None),
        |nanos| quote!(::core::option::Option::Some(::core::time::Duration::from_nanos(#nanos))),
    );
    let site = local("__MEMO_SITE");
    quote! {{
        static #site: ::memo::__private::Site =
            ::memo::__private::Site::new(::memo::__private::SiteMeta {
                name: ::core::concat!(::core::module_path!(), "::", #name),
                prefix: #prefix,
                cache_type: #cache_type,
                ttl: #ttl,
            });
        &#site
    }}
}

/// The kind of the return type, selected by type (so aliases work): `Ok` of a `Result`, `Some`
/// of an `Option`, else the whole value; or the whole value for `cache_err`/`cache_none`, which
/// check that the return type is a `Result`/`Option`. Errors (a value that is not `Clone`) are
/// shown at the return type.
fn kind_expr(ret: &Type, store_all: Option<&StoreAll>) -> TokenStream {
    let select = Ident::new("cached_value_must_be_clone_send_and_sync", ret.span());
    let Some(all) = store_all else {
        return quote! {{
            #[allow(unused_imports)]
            use ::memo::__private::{SelectResult as _, SelectOption as _, SelectPlain as _};
            (&&&::memo::__private::KindTag::<#ret>::new()).#select()
        }};
    };
    let flag = &all.flag;
    let (wrapper, impl_for, other) = match all.wrapper {
        Wrapper::Result => (
            "a `Result`",
            quote!(<T, E> MemoReturnsWrapper for ::core::result::Result<T, E>),
            "for an `Option`, `cache_none` stores `None`",
        ),
        Wrapper::Option => (
            "an `Option`",
            quote!(<T> MemoReturnsWrapper for ::core::option::Option<T>),
            "for a `Result`, `cache_err` stores `Err`",
        ),
    };
    let message = format!("`{flag}` needs a function returning {wrapper}, not `{{Self}}`");
    let label = format!("remove `{flag}` ({other})");
    let check = local_at("__memo_returns", flag.span());
    // The whole value is stored, whatever its type: `SelectPlain` alone, through a method no
    // other selector has (a value that is not `Clone` would otherwise get rustc's advice to
    // import `SelectResult`, which has a method of the same name).
    let whole = Ident::new("whole_cached_value_must_be_clone_send_and_sync", ret.span());
    quote! {{
        #[diagnostic::on_unimplemented(message = #message, label = #label)]
        trait MemoReturnsWrapper {}
        impl #impl_for {}
        fn #check<R: MemoReturnsWrapper>() {}
        #check::<#ret>();
        #[allow(unused_imports)]
        use ::memo::__private::SelectPlain as _;
        (&&&::memo::__private::KindTag::<#ret>::new()).#whole()
    }}
}

/// The borrowed key: a tuple of `&T` (groups of eight past eight parts), or `()`.
fn key_expr(parts: &[Source]) -> TokenStream {
    let parts: Vec<TokenStream> = parts.iter().map(key_part).collect();
    if parts.len() <= 8 {
        return quote!((#(#parts,)*));
    }
    let groups = parts
        .chunks(8)
        .map(|chunk| quote!(::memo::__private::KeyGroup((#(#chunk,)*))));
    quote!((#(#groups,)*))
}

/// One key part as `&T`: `&id` for an owned argument, the reference itself for `point: &Point`,
/// `StrArg(name)` for `name: &str` or `&String` and `StrArg(&name)` for `name: String` (stored
/// as a compact string), and for a `self` field what `memo::__private::FieldKey`
/// picks by its type.
fn key_part(source: &Source) -> TokenStream {
    match source {
        Source::Arg {
            ident,
            hold: Hold::Owned,
        } => quote!(&#ident),
        Source::Arg {
            ident,
            hold: Hold::Str,
        } => quote!(::memo::__private::StrArg(#ident)),
        Source::Arg {
            ident,
            hold: Hold::OwnedStr,
        } => quote!(::memo::__private::StrArg(&#ident)),
        Source::Arg {
            ident,
            hold: Hold::Shared,
        } => ident.to_token_stream(),
        Source::Receiver {
            self_token,
            hold: Hold::Shared,
        } => self_token.to_token_stream(),
        // The field's type is unknown here: method resolution picks its part (see `FieldKey`).
        Source::Field { .. } => {
            let field = borrow(source);
            quote!({
                #[allow(unused_imports)]
                use ::memo::__private::{FieldOwned as _, FieldRef as _};
                (&&::memo::__private::FieldKey(#field)).field_part()
            })
        }
        other => borrow(other),
    }
}

/// A value as `&T` for rendering: `&id`, `&*name`, `&*self`, `&self.region`.
fn borrow(source: &Source) -> TokenStream {
    match source {
        Source::Arg {
            ident,
            hold: Hold::Owned | Hold::OwnedStr,
        } => quote!(&#ident),
        Source::Arg { ident, .. } => quote!(&*#ident),
        Source::Receiver {
            self_token,
            hold: Hold::Owned,
        } => quote!(&#self_token),
        Source::Receiver { self_token, .. } => quote!(&*#self_token),
        Source::Field {
            self_token,
            members,
        } => quote!(&#self_token #(.#members)*),
    }
}

/// The fn that renders an owned key: `Display`, else `Debug`, else a hash, per part.
fn render_fn(parts: usize) -> TokenStream {
    if parts == 0 {
        return quote!(|_, _| {});
    }
    let k = local("__memo_k");
    let w = local("__memo_w");
    let paths = (0..parts).map(|i| {
        if parts <= 8 {
            let i = Index::from(i);
            quote!(#k.#i)
        } else {
            let (group, i) = (Index::from(i / 8), Index::from(i % 8));
            quote!(#k.#group.#i)
        }
    });
    quote! {
        |#k, #w| {
            #[allow(unused_imports)]
            use ::memo::__private::{
                RenderDisplay as _, RenderDebug as _, RenderOpaque as _, RenderUnkeyed as _,
            };
            #((&&&&::memo::__private::Render(&#paths)).render_arg(#w);)*
        }
    }
}

fn invalidates_fn(plan: &Invalidates) -> TokenStream {
    let Function { vis, sig, body, .. } = &plan.function;
    let mut attrs = attributes(&plan.function);
    let read = (plan.patterns.iter().flatten()).filter_map(|part| match part {
        Part::Value { source, .. } => Some(source),
        Part::Text(_) => None,
    });
    attrs.extend(underscore_allowance(read));
    let out = local("__memo_out");
    let mut build = Vec::new();
    let mut invalidate = Vec::new();
    for (i, parts) in plan.patterns.iter().enumerate() {
        match parts.as_slice() {
            [] => {}
            [Part::Text(text)] => {
                invalidate.push(quote!(let _ = ::memo::__private::invalidate_built(#text);));
            }
            parts => {
                let pattern = format_ident!("__memo_pattern{}", i, span = Span::mixed_site());
                let steps = parts.iter().map(|p| pattern_step(&pattern, p));
                build.push(quote! {
                    let #pattern = {
                        let mut #pattern = ::std::string::String::new();
                        #(#steps)*
                        #pattern
                    };
                });
                invalidate.push(quote!(let _ = ::memo::__private::invalidate_built(&#pattern);));
            }
        }
    }
    let fake = match plan.function.return_type() {
        Some(ret) if plan.nameable_return => fake_return(ret),
        _ => TokenStream::new(),
    };
    let body = body_after(body, fake);
    let run = if sig.asyncness.is_some() {
        quote!(async move #body.await)
    } else {
        quote!((move || #body)())
    };
    let allow_braces = fragment_allowance(&plan.function.body);
    let block = in_body_braces(
        &plan.function.body,
        quote! {
            // The patterns are filled before the body runs, which may consume the arguments.
            #(#build)*
            #[allow(clippy::redundant_closure_call)]
            #allow_braces
            let #out = #run;
            if {
                #[allow(unused_imports)]
                use ::memo::__private::{SucceededResult as _, SucceededAny as _};
                (&&::memo::__private::Succeeded(&#out)).memo_succeeded()
            } {
                #(#invalidate)*
            }
            #out
        },
    );
    quote!(#attrs #vis #sig #block)
}

/// Appends one piece to a pattern being built: text as is, a value rendered as `#[cached]`
/// renders it and escaped. A value with neither `Display`, `Debug` nor `Hash` is an error at
/// the pattern.
fn pattern_step(pattern: &Ident, part: &Part) -> TokenStream {
    match part {
        Part::Text(text) => quote!(#pattern.push_str(#text);),
        Part::Value { source, span } => {
            let w = local("__memo_w");
            let value = borrow(source);
            let render_arg = Ident::new("render_arg", *span);
            quote! {
                ::memo::__private::push_arg(&mut #pattern, |#w| {
                    #[allow(unused_imports)]
                    use ::memo::__private::{
                        RenderDisplay as _, RenderDebug as _, RenderOpaque as _, RenderRequired as _,
                    };
                    (&&&&::memo::__private::Render(#value)).#render_arg(#w);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_cached(args: TokenStream, item: TokenStream) -> String {
        cached(args, item).to_string()
    }

    #[test]
    fn a_sync_function_looks_up_then_runs_its_body_in_a_closure() {
        let out = expand_cached(
            quote!(ttl = 60, prefix = "user"),
            quote!(
                pub fn load(id: u64, name: &str) -> Option<String> {
                    None
                }
            ),
        );
        assert!(
            out.contains("name : \"load\"") || out.contains(", \"load\""),
            "{out}"
        );
        assert!(out.contains("prefix : \"user\""), "{out}");
        assert!(out.contains("from_nanos (60000000000u64)"), "{out}");
        let key = "& (& id , :: memo :: __private :: StrArg (name) ,) ,";
        assert!(out.contains(&format!(". hit ({key}")), "{out}");
        assert!(
            out.contains(&format!(". enter (__memo_missed , {key}")),
            "{out}"
        );
        assert!(
            out.contains(
                ":: memo :: __private :: run (__memo_guard , move || -> Option < String > { None })"
            ),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn only_strings_are_keyed_as_compact_strings() {
        let out = expand_cached(
            quote!(),
            quote!(
                fn f<'a>(
                    a: &'a str,
                    b: &String,
                    c: &&'static str,
                    d: &Point,
                    e: String,
                    f: Vec<u8>,
                ) -> u8 {
                    0
                }
            ),
        );
        assert!(
            out.contains(
                ". hit (& (:: memo :: __private :: StrArg (a) , :: memo :: __private :: StrArg (b) , c , d , :: memo :: __private :: StrArg (& e) , & f ,) ,"
            ),
            "{out}"
        );
    }

    #[test]
    fn an_async_function_awaits_and_fixes_its_block_type() {
        let out = expand_cached(
            quote!(),
            quote!(
                async fn f(&self) -> u8 {
                    1
                }
            ),
        );
        assert!(out.contains(". hit_async (& () ,"), "{out}");
        assert!(out.contains(". enter_async (& () ,"), "{out}");
        assert!(
            out.contains(":: memo :: __private :: run_async (__memo_guard , async move { # [allow"),
            "{out}"
        );
        assert!(out.contains("let __memo_fake : u8 = loop { } ;"), "{out}");
    }

    #[test]
    fn long_keys_are_grouped_by_eight() {
        let args: Vec<Ident> = (0..10_u8).map(|i| format_ident!("a{}", i)).collect();
        let out = expand_cached(quote!(), quote!(fn f(#(#args: u8),*) -> u8 { 0 }));
        assert!(out.contains("KeyGroup ((& a0 ,"), "{out}");
        assert!(out.contains("KeyGroup ((& a8 , & a9 ,))"), "{out}");
        assert!(out.contains("__memo_k . 1 . 1"), "{out}");
    }

    #[test]
    fn inner_attributes_move_to_the_function() {
        let out = expand_cached(
            quote!(),
            quote!(
                fn f() -> u8 {
                    #![allow(unused)]
                    1
                }
            ),
        );
        assert!(out.starts_with("# [allow (unused)] fn f"), "{out}");
    }

    #[test]
    fn errors_keep_the_item_as_written() {
        let item = quote!(
            fn f(x: &mut u8) -> u8 {
                *x
            }
        );
        let out = expand_cached(quote!(tll = 1), item.clone());
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
    }

    #[test]
    fn invalidation_fills_placeholders_before_the_body() {
        let out = invalidates(
            quote!("user:{id}", "team:*"),
            quote!(
                fn rename(id: u64, name: String) -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .to_string();
        let fill = out.find("push_arg").unwrap();
        let body = out.find("Ok (())").unwrap();
        assert!(fill < body, "{out}");
        assert!(out.contains("invalidate_built (\"team:*\")"), "{out}");
        assert!(out.contains("Render (& id)"), "{out}");
    }
}
