//! The `#[cached]` and `#[invalidates]` attributes of memo. Use them through the `memo` crate.

use proc_macro::TokenStream;

/// Caches a function's results (filled in by the macros issue).
#[proc_macro_attribute]
pub fn cached(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Invalidates cached entries after a function succeeds (filled in by the macros issue).
#[proc_macro_attribute]
pub fn invalidates(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}
