//! The options of `#[cached(...)]` and the patterns of `#[invalidates(...)]`, read with the
//! span of each option so that every later error points at what the user wrote.
//!
//! Checks that need only the option itself (a `ttl` out of range, a malformed cache type name)
//! happen here; checks against the function (names in the key template) happen in `valid.rs`.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitInt, LitStr, Token, UnOp};

use crate::ctxt::Errors;
use crate::suggest::{did_you_mean, list};

/// The options `#[cached]` accepts, in the order the manual presents them.
pub(crate) const CACHED_OPTIONS: [&str; 6] = [
    "ttl",
    "prefix",
    "cache_type",
    "key",
    "cache_err",
    "cache_none",
];

/// An option as given: its value and where the user wrote it.
pub(crate) struct Given<T> {
    /// The option's name, as written.
    pub(crate) name: Ident,
    pub(crate) value: T,
}

/// An option that may be given at most once; a second occurrence is an error at its name.
pub(crate) struct Once<T> {
    given: Option<Given<T>>,
}

impl<T> Once<T> {
    const fn new() -> Self {
        Self { given: None }
    }

    fn set(&mut self, errors: &mut Errors, given: Given<T>) {
        if self.given.is_some() {
            errors.at(
                given.name.span(),
                format!(
                    "duplicate option `{}`: it is already set, keep only one",
                    given.name
                ),
            );
        } else {
            self.given = Some(given);
        }
    }

    pub(crate) fn get(&self) -> Option<&Given<T>> {
        self.given.as_ref()
    }
}

impl Once<bool> {
    /// The flag, if it was given and not turned off (`cache_err = false`).
    pub(crate) fn on(&self) -> Option<&Given<bool>> {
        self.get().filter(|g| g.value)
    }
}

/// The options of one `#[cached(...)]`.
pub(crate) struct CachedArgs {
    /// `ttl = 300` or `ttl = "5m"`.
    pub(crate) ttl: Once<Duration>,
    /// `prefix = "user"`.
    pub(crate) prefix: Once<String>,
    /// `cache_type = "user"`.
    pub(crate) cache_type: Once<String>,
    /// `key = "{id}:{self.region}"`, read by `template.rs`.
    pub(crate) key: Once<LitStr>,
    /// `cache_err`: store `Err` values too (`cache_err = false` is kept, so that a repeated
    /// flag is an error whatever its values).
    pub(crate) cache_err: Once<bool>,
    /// `cache_none`: store `None` values too.
    pub(crate) cache_none: Once<bool>,
}

impl CachedArgs {
    /// Reads the options, recording every mistake in `errors`.
    pub(crate) fn parse(args: TokenStream, errors: &mut Errors) -> Self {
        let mut out = Self {
            ttl: Once::new(),
            prefix: Once::new(),
            cache_type: Once::new(),
            key: Once::new(),
            cache_err: Once::new(),
            cache_none: Once::new(),
        };
        if let Some(proc_macro2::TokenTree::Literal(lit)) = args.clone().into_iter().next() {
            errors.at(lit.span(), unnamed_option(&lit));
            return out;
        }
        let parser = syn::meta::parser(|meta| out.option(&meta, errors));
        if let Err(e) = parser.parse2(args) {
            errors.push(e);
        }
        out
    }

    /// Reads one option. Errors about its value are recorded and parsing goes on; only tokens
    /// that cannot be skipped end it.
    fn option(&mut self, meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
        let Some(name) = meta.path.get_ident().cloned() else {
            errors.spanned(&meta.path, unknown_option(&path_text(&meta.path)));
            return skip_value(meta);
        };
        match name.to_string().as_str() {
            "ttl" => {
                if let Some(expr) = value(meta, &name, errors, "ttl = 300` or `ttl = \"5m\"")? {
                    if let Some(ttl) = errors.take(ttl(&expr)) {
                        self.ttl.set(errors, Given { name, value: ttl });
                    }
                }
            }
            "prefix" => {
                if let Some(lit) = string(meta, &name, errors, "prefix = \"user\"")? {
                    if let Some(prefix) = errors.take(prefix(&lit)) {
                        self.prefix.set(
                            errors,
                            Given {
                                name,
                                value: prefix,
                            },
                        );
                    }
                }
            }
            "cache_type" => {
                if let Some(lit) = string(meta, &name, errors, "cache_type = \"user\"")? {
                    if let Some(ty) = errors.take(cache_type(&lit)) {
                        self.cache_type.set(errors, Given { name, value: ty });
                    }
                }
            }
            "key" => {
                if let Some(lit) = string(meta, &name, errors, "key = \"{id}\"")? {
                    self.key.set(errors, Given { name, value: lit });
                }
            }
            "cache_err" | "cache_none" => {
                if let Some(on) = flag(meta, &name, errors)? {
                    let given = Given { name, value: on };
                    if given.name == "cache_err" {
                        self.cache_err.set(errors, given);
                    } else {
                        self.cache_none.set(errors, given);
                    }
                }
            }
            other => {
                errors.at(name.span(), unknown_option(other));
                skip_value(meta)?;
            }
        }
        Ok(())
    }
}

/// The error for a literal given without an option name: the option it most likely meant
/// (`ttl` for a number or a duration string such as `"10m"`, else `prefix` or `cache_type`).
fn unnamed_option(lit: &proc_macro2::Literal) -> String {
    let is_ttl = match syn::Lit::new(lit.clone()) {
        syn::Lit::Int(_) => true,
        syn::Lit::Str(text) => memo_runtime::parse_duration(&text.value()).is_ok(),
        _ => false,
    };
    if is_ttl {
        format!("options are named: write `ttl = {lit}` for the time entries live")
    } else {
        format!(
            "options are named: write `prefix = {lit}` for the keys' prefix, or `cache_type = {lit}` for the cache type"
        )
    }
}

fn unknown_option(name: &str) -> String {
    format!(
        "unknown option `{name}`{} (expected one of {})",
        did_you_mean(name, CACHED_OPTIONS),
        list(CACHED_OPTIONS)
    )
}

fn path_text(path: &syn::Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// The expression after `name =`, or an error at the name when there is no `=`.
fn value(
    meta: &ParseNestedMeta<'_>,
    name: &Ident,
    errors: &mut Errors,
    example: &str,
) -> syn::Result<Option<Expr>> {
    if !meta.input.peek(Token![=]) {
        errors.at(
            name.span(),
            format!("option `{name}` needs a value: write `{example}`"),
        );
        skip_value(meta)?;
        return Ok(None);
    }
    Ok(Some(ungrouped(meta.value()?.parse()?)))
}

/// The expression inside the invisible group that `macro_rules!` puts around a fragment it
/// passes on (`$ttl:literal`, `$p:expr`), so that a literal given that way reads as written.
fn ungrouped(expr: Expr) -> Expr {
    match expr {
        Expr::Group(group) => ungrouped(*group.expr),
        other => other,
    }
}

/// The string literal after `name =`.
fn string(
    meta: &ParseNestedMeta<'_>,
    name: &Ident,
    errors: &mut Errors,
    example: &str,
) -> syn::Result<Option<LitStr>> {
    Ok(
        value(meta, name, errors, example)?.and_then(|expr| match expr {
            Expr::Lit(ExprLit {
                lit: Lit::Str(lit), ..
            }) => Some(lit),
            other => {
                errors.spanned(
                    other,
                    format!("option `{name}` takes a string literal: write `{example}`"),
                );
                None
            }
        }),
    )
}

/// A flag: `cache_err`, or `cache_err = true` / `cache_err = false`. Returns whether it is on.
fn flag(
    meta: &ParseNestedMeta<'_>,
    name: &Ident,
    errors: &mut Errors,
) -> syn::Result<Option<bool>> {
    if !meta.input.peek(Token![=]) {
        if meta.input.peek(syn::token::Paren) {
            errors.at(
                name.span(),
                format!("`{name}` is a flag: write `{name}` alone"),
            );
            skip_value(meta)?;
            return Ok(None);
        }
        return Ok(Some(true));
    }
    match ungrouped(meta.value()?.parse::<Expr>()?) {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(Some(b.value)),
        other => {
            errors.spanned(
                other,
                format!(
                    "`{name}` is a flag: write `{name}` alone (or `{name} = false` to turn it off)"
                ),
            );
            Ok(None)
        }
    }
}

/// Skips the value of an option that was rejected: `= expr` or `(...)`.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        meta.input.parse::<proc_macro2::Group>()?;
    }
    Ok(())
}

fn expr_span(expr: &Expr) -> Span {
    match expr {
        Expr::Lit(lit) => lit.lit.span(),
        other => syn::spanned::Spanned::span(other),
    }
}

/// The longest TTL: what fits in a `u64` count of nanoseconds.
const MAX_TTL_SECS: u64 = u64::MAX / 1_000_000_000;

/// Reads `ttl = 300` (whole seconds) or `ttl = "5m"`.
fn ttl(expr: &Expr) -> syn::Result<Duration> {
    let ttl = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => seconds(int)?,
        Expr::Lit(ExprLit {
            lit: Lit::Str(text),
            ..
        }) => memo_runtime::parse_duration(&text.value()).map_err(|e| {
            syn::Error::new(
                text.span(),
                format!("invalid `ttl` {:?}: {e}", text.value()),
            )
        })?,
        Expr::Lit(ExprLit {
            lit: Lit::Float(float),
            ..
        }) => {
            return Err(syn::Error::new(
                float.span(),
                "`ttl` takes whole seconds or a duration string: write `ttl = \"1500ms\"` rather than `ttl = 1.5`",
            ));
        }
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => {
            return Err(syn::Error::new_spanned(
                expr,
                "`ttl` cannot be negative: write a number of seconds such as `ttl = 300`, or a duration string such as `ttl = \"5m\"`",
            ));
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "`ttl` takes whole seconds or a duration string: write `ttl = 300` or `ttl = \"5m\"`",
            ));
        }
    };
    if ttl.is_zero() {
        return Err(syn::Error::new(
            expr_span(expr),
            "`ttl` must be longer than zero: remove it to keep entries until they are evicted or invalidated (or until the cache type's default ttl)",
        ));
    }
    Ok(ttl)
}

fn seconds(int: &LitInt) -> syn::Result<Duration> {
    let suffix = int.suffix();
    if !suffix.is_empty() && !suffix.starts_with('u') && !suffix.starts_with('i') {
        return Err(syn::Error::new(
            int.span(),
            format!(
                "a number with a unit is a duration string: write `ttl = \"{}{suffix}\"`",
                int.base10_digits()
            ),
        ));
    }
    let out_of_range = || {
        syn::Error::new(
            int.span(),
            format!("`ttl` is out of range: at most {MAX_TTL_SECS} seconds (about 584 years)"),
        )
    };
    let secs: u64 = int.base10_parse().map_err(|_| out_of_range())?;
    if secs > MAX_TTL_SECS {
        return Err(out_of_range());
    }
    Ok(Duration::from_secs(secs))
}

/// Pattern characters, which a prefix may not contain: every invalidation pattern would have
/// to escape them.
const PATTERN_CHARS: [char; 5] = ['*', '?', '[', ']', '\\'];

fn prefix(lit: &LitStr) -> syn::Result<String> {
    let prefix = lit.value();
    if prefix.is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "empty `prefix`: give the first segment of the keys, such as `prefix = \"user\"`, or remove it to use the function's name",
        ));
    }
    if let Some(c) = prefix
        .chars()
        .find(|c| PATTERN_CHARS.contains(c) || c.is_whitespace())
    {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`prefix` may not contain {c:?}: use letters, digits and punctuation other than the pattern characters `*`, `?`, `[`, `]`, `\\` (patterns would have to escape them)"
            ),
        ));
    }
    Ok(prefix)
}

fn cache_type(lit: &LitStr) -> syn::Result<String> {
    let name = lit.value();
    if memo_runtime::__private::is_valid_cache_type_name(&name) {
        Ok(name)
    } else {
        Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid cache type name {name:?}: use 1 to 128 ASCII letters, digits, `_`, `-`, `.` or `:`, such as `cache_type = \"user\"`"
            ),
        ))
    }
}

/// The patterns of one `#[invalidates(...)]`: string literals, at least one.
pub(crate) fn invalidates_patterns(args: TokenStream, errors: &mut Errors) -> Vec<LitStr> {
    let parsed = Punctuated::<Expr, Token![,]>::parse_terminated.parse2(args);
    let Some(exprs) = errors.take(parsed) else {
        return Vec::new();
    };
    if exprs.is_empty() {
        errors.at(
            Span::call_site(),
            "`#[invalidates]` needs at least one pattern: write `#[invalidates(\"user:{id}\")]`",
        );
    }
    exprs
        .into_iter()
        .filter_map(|expr| match ungrouped(expr) {
            Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => Some(lit),
            other => {
                errors.spanned(
                    other,
                    "patterns are string literals: write `\"user:{id}\"` (`{id}` is replaced by the argument `id`) or `\"user:*\"`",
                );
                None
            }
        })
        .collect()
}

/// The options and their errors, for tests.
#[cfg(test)]
struct Args(CachedArgs, Option<syn::Error>);

#[cfg(test)]
impl syn::parse::Parse for Args {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let args = CachedArgs::parse(input.parse()?, &mut errors);
        Ok(Args(args, errors.finish(()).err()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: &str) -> Args {
        syn::parse_str(tokens).unwrap()
    }

    fn messages(tokens: &str) -> Vec<String> {
        parse(tokens)
            .1
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn an_unnamed_literal_is_taken_for_the_option_it_looks_like() {
        for (tokens, meant) in [
            (r#""10m""#, r#"`ttl = "10m"`"#),
            ("300", "`ttl = 300`"),
            (r#""1h30m""#, r#"`ttl = "1h30m"`"#),
            (r#""user""#, r#"`prefix = "user"`"#),
            (r#""10 minutes""#, r#"`prefix = "10 minutes"`"#),
        ] {
            let m = messages(tokens);
            assert_eq!(m.len(), 1, "{tokens}: {m:?}");
            assert!(m[0].contains(meant), "{tokens}: {m:?}");
        }
        assert!(!messages(r#""10m""#)[0].contains("prefix"));
    }

    #[test]
    fn every_option_is_read() {
        let Args(a, err) =
            parse(r#"ttl = "1h30m", prefix = "u", cache_type = "user", key = "{id}", cache_err"#);
        assert!(err.is_none());
        assert_eq!(a.ttl.get().unwrap().value, Duration::from_secs(5400));
        assert_eq!(a.prefix.get().unwrap().value, "u");
        assert_eq!(a.cache_type.get().unwrap().value, "user");
        assert_eq!(a.key.get().unwrap().value.value(), "{id}");
        assert!(a.cache_err.on().is_some());
        assert!(a.cache_none.on().is_none());
    }

    #[test]
    fn ttl_in_seconds() {
        let Args(a, _) = parse("ttl = 300");
        assert_eq!(a.ttl.get().unwrap().value, Duration::from_secs(300));
    }

    #[test]
    fn all_mistakes_are_reported_together() {
        let m = messages(r#"tll = 5, ttl = 0, prefix = 3, cache_type = "a b", ttl = -1"#);
        assert_eq!(m.len(), 5, "{m:?}");
        assert_eq!(
            m[0],
            "unknown option `tll`; did you mean `ttl`? (expected one of `ttl`, `prefix`, `cache_type`, `key`, `cache_err`, `cache_none`)"
        );
        assert!(m[1].contains("longer than zero"), "{m:?}");
        assert!(m[2].contains("takes a string literal"), "{m:?}");
        assert!(m[3].contains("invalid cache type name"), "{m:?}");
        assert!(m[4].contains("cannot be negative"), "{m:?}");
    }

    #[test]
    fn duplicates_are_reported() {
        let m = messages(r#"prefix = "a", prefix = "b""#);
        assert_eq!(
            m,
            ["duplicate option `prefix`: it is already set, keep only one"]
        );
    }

    #[test]
    fn ttl_limits() {
        assert!(messages("ttl = 18446744073").is_empty());
        assert!(messages("ttl = 18446744074")[0].contains("out of range"));
        assert!(messages("ttl = 99999999999999999999999")[0].contains("out of range"));
        assert!(messages("ttl = 5m")[0].contains("write `ttl = \"5m\"`"));
        assert!(messages("ttl = 1.5")[0].contains("whole seconds"));
        assert!(
            messages(r#"ttl = "5 min""#)[0].starts_with("invalid `ttl` \"5 min\": missing unit")
        );
        assert!(messages(r#"ttl = "0s""#)[0].contains("longer than zero"));
        assert!(messages("ttl")[0].contains("needs a value"));
    }

    #[test]
    fn flags_take_no_value_but_a_bool() {
        let Args(a, err) = parse("cache_none = false, cache_err = true");
        assert!(err.is_none());
        assert!(a.cache_none.on().is_none());
        assert!(a.cache_err.on().is_some());
        assert!(messages(r#"cache_err = "yes""#)[0].contains("is a flag"));
        // A repeated flag is an error whatever its values: which one should win?
        for twice in [
            "cache_err, cache_err = false",
            "cache_err = false, cache_err",
            "cache_none = false, cache_none = false",
        ] {
            let m = messages(twice);
            assert_eq!(m.len(), 1, "{twice}: {m:?}");
            assert!(
                m[0].starts_with("duplicate option `cache_"),
                "{twice}: {m:?}"
            );
        }
    }

    #[test]
    fn prefixes_without_pattern_characters() {
        assert!(messages(r#"prefix = "user:v2""#).is_empty());
        assert!(messages(r#"prefix = "us*r""#)[0].contains("may not contain '*'"));
        assert!(messages(r#"prefix = """#)[0].starts_with("empty `prefix`"));
    }
}
