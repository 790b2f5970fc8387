//! The typed view of the item an attribute is placed on: a function (free, associated or a
//! method; sync or async), with its body kept as tokens.
//!
//! The body is not parsed: it is moved into the generated code as written, so syntax that this
//! crate does not know still works, and expanding stays cheap.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{ParseStream, Parser};
use syn::{Attribute, Signature, Token, Type, Visibility, braced, token};

/// A function with its attributes and body.
pub(crate) struct Function {
    /// Outer attributes (`#[inline]`, doc comments, other attributes after ours).
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: Body,
}

/// The body of a function, or its absence (a trait method declaration).
pub(crate) enum Body {
    Block {
        brace: token::Brace,
        /// `#![...]` attributes at the top of the body; they move to the function.
        inner: Vec<Attribute>,
        /// The statements, untouched.
        stmts: TokenStream,
    },
    Missing(Token![;]),
}

impl Function {
    /// Reads the item under `#[attribute]`; an item that is not a function is an error at its
    /// first token (`struct`, `impl`, ...).
    pub(crate) fn parse(item: TokenStream, attribute: &str) -> syn::Result<Self> {
        (|input: ParseStream<'_>| parse_function(input, attribute)).parse2(item)
    }

    /// The function's name as written, without `r#`.
    pub(crate) fn name(&self) -> String {
        let name = self.sig.ident.to_string();
        name.strip_prefix("r#").map_or(name.clone(), str::to_owned)
    }

    /// The return type, if one is written.
    pub(crate) fn return_type(&self) -> Option<&Type> {
        match &self.sig.output {
            syn::ReturnType::Default => None,
            syn::ReturnType::Type(_, ty) => Some(ty),
        }
    }
}

fn parse_function(input: ParseStream<'_>, attribute: &str) -> syn::Result<Function> {
    let attrs = input.call(Attribute::parse_outer)?;
    let vis: Visibility = input.parse()?;
    if input.fork().parse::<Signature>().is_err() {
        return Err(not_a_function(input, attribute));
    }
    let sig: Signature = input.parse()?;
    let body = if input.peek(Token![;]) {
        Body::Missing(input.parse()?)
    } else {
        let content;
        let brace = braced!(content in input);
        let inner = content.call(Attribute::parse_inner)?;
        let stmts: TokenStream = content.parse()?;
        Body::Block {
            brace,
            inner,
            stmts,
        }
    };
    Ok(Function {
        attrs,
        vis,
        sig,
        body,
    })
}

fn not_a_function(input: ParseStream<'_>, attribute: &str) -> syn::Error {
    let (span, what) = match input.cursor().token_tree() {
        Some((tt, _)) => {
            let what = match &tt {
                proc_macro2::TokenTree::Ident(i) => format!(", not to `{i}` items"),
                _ => String::new(),
            };
            (tt.span(), what)
        }
        None => (Span::call_site(), String::new()),
    };
    syn::Error::new(
        span,
        format!("`#[{attribute}]` applies to functions and methods{what}: put it on a `fn`"),
    )
}

impl ToTokens for Body {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Body::Block { brace, stmts, .. } => brace.surround(tokens, |t| t.extend(stmts.clone())),
            Body::Missing(semi) => semi.to_tokens(tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn inner_attributes_are_separated_from_the_statements() {
        let f = Function::parse(
            quote! { #[inline] pub async fn f(&self) -> u8 { #![allow(unused)] 1 } },
            "cached",
        )
        .unwrap();
        assert_eq!(f.attrs.len(), 1);
        assert_eq!(f.name(), "f");
        let Body::Block { inner, stmts, .. } = &f.body else {
            panic!("body expected");
        };
        assert_eq!(inner.len(), 1);
        assert_eq!(stmts.to_string(), "1");
    }

    #[test]
    fn declarations_have_no_body() {
        let f = Function::parse(quote! { fn f(&self) -> u8; }, "cached").unwrap();
        assert!(matches!(f.body, Body::Missing(_)));
    }

    #[test]
    fn other_items_are_rejected_at_their_keyword() {
        let err = Function::parse(quote! { pub struct S; }, "cached")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "`#[cached]` applies to functions and methods, not to `struct` items: put it on a `fn`"
        );
    }

    #[test]
    fn raw_names_are_unraw() {
        let f = Function::parse(quote! { fn r#type() -> u8 { 1 } }, "cached").unwrap();
        assert_eq!(f.name(), "type");
    }
}
