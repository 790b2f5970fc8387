//! What an attribute emits when it finds mistakes: the user's item exactly as written, followed
//! by the errors. Keeping the item means code that uses it still compiles, so the user sees the
//! attribute's errors and no cascade of secondary ones.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn emit(item: &TokenStream, error: syn::Error) -> TokenStream {
    let errors = error.into_compile_error();
    quote! {
        #item
        #errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_item_comes_first_then_the_errors() {
        let item = quote!(
            struct S;
        );
        let out = emit(
            &item,
            syn::Error::new(proc_macro2::Span::call_site(), "nope"),
        )
        .to_string();
        assert!(out.starts_with("struct S ;"), "{out}");
        assert!(out.contains("compile_error ! { \"nope\" }"), "{out}");
    }
}
