//! The `{...}` placeholders of key templates (`key = "{id}:{self.region}"`) and invalidation
//! patterns (`#[invalidates("user:{id}")]`): their syntax, read from a string literal.
//!
//! Whether a placeholder names an argument of the function is checked in `valid.rs`.

use syn::LitStr;

/// What a placeholder names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// An argument of the function: `{id}`.
    Arg(String),
    /// The receiver itself: `{self}`.
    Receiver,
    /// A field of the receiver, possibly nested: `{self.region}`, `{self.config.zone}`, `{self.0}`.
    Field(Vec<String>),
}

/// One placeholder, with its text as written (between the braces) for messages.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Placeholder {
    pub(crate) target: Target,
    pub(crate) text: String,
}

/// A piece of an invalidation pattern.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Pattern text, kept as written (its `*`, `?`, `[...]` and `\` have their pattern meaning).
    Text(String),
    /// A value rendered and escaped at run time, so that it matches only itself.
    Value(Placeholder),
}

/// Reads the inside of `{...}`.
fn placeholder(text: &str, lit: &LitStr) -> syn::Result<Placeholder> {
    let err = |message: String| Err(syn::Error::new(lit.span(), message));
    let target = if text.is_empty() {
        return err(
            "empty placeholder `{}`: name an argument, such as `{id}`, or a field, such as `{self.region}`"
                .to_owned(),
        );
    } else if text == "_" {
        return err(
            "`{_}` names nothing: an argument bound to `_` has no name; give the argument a name to use it here"
                .to_owned(),
        );
    } else if text == "self" {
        Target::Receiver
    } else if let Some(path) = text.strip_prefix("self.") {
        let members: Vec<String> = path.split('.').map(str::to_owned).collect();
        if !members.iter().all(|m| is_ident(m) || is_index(m)) {
            return err(format!(
                "invalid placeholder `{{{text}}}`: write a field of the receiver such as `{{self.region}}`"
            ));
        }
        Target::Field(members)
    } else if is_ident(text) {
        Target::Arg(text.to_owned())
    } else {
        return err(format!(
            "invalid placeholder `{{{text}}}`: write an argument name such as `{{id}}`, or a field such as `{{self.region}}`"
        ));
    };
    Ok(Placeholder {
        target,
        text: text.to_owned(),
    })
}

fn is_ident(s: &str) -> bool {
    let s = s.strip_prefix("r#").unwrap_or(s);
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && s != "_"
}

fn is_index(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// Reads a key template: placeholders separated by `:`, such as `"{id}:{self.region}"`.
pub(crate) fn key_template(lit: &LitStr) -> syn::Result<Vec<Placeholder>> {
    let value = lit.value();
    if value.is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            "empty `key` template: name the arguments that form the key, such as `key = \"{id}\"` (bind an argument to `_` to leave it out)",
        ));
    }
    // A placeholder with a `:` inside (`{x:?}`, a format spec) would be split in two below and
    // reported as unclosed: report the placeholder whole instead.
    if let Some(inner) = braced_with_colon(&value) {
        return placeholder(inner, lit).map(|p| vec![p]);
    }
    value
        .split(':')
        .map(|part| {
            let inner = part
                .strip_prefix('{')
                .and_then(|p| p.strip_suffix('}'))
                .filter(|p| !p.contains(['{', '}']));
            match inner {
                Some(inner) => placeholder(inner, lit),
                None if part.starts_with('{') && !part.contains('}') => Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "unclosed placeholder `{part}` in the key template: close it with `}}`, as in `key = \"{part}}}\"`"
                    ),
                )),
                None if part.contains('{') => Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "key template part `{part}` must be a single placeholder: separate placeholders with `:`, as in `key = \"{{id}}:{{self.region}}\"`"
                    ),
                )),
                None => Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "key template part `{part}` is not a placeholder: the key is the prefix followed by the values named in braces, as in `key = \"{{id}}:{{self.region}}\"`"
                    ),
                )),
            }
        })
        .collect()
}

/// The inside of the first `{...}` in `value` that holds a `:`, if any.
fn braced_with_colon(value: &str) -> Option<&str> {
    let mut rest = value;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find(['{', '}'])?;
        if after[close..].starts_with('}') && after[..close].contains(':') {
            return Some(&after[..close]);
        }
        rest = &after[close..];
    }
    None
}

/// Reads an invalidation pattern: pattern text with `{arg}` placeholders (`{{` and `}}` for
/// literal braces), and checks it with the runtime's pattern grammar.
pub(crate) fn pattern(lit: &LitStr) -> syn::Result<Vec<Piece>> {
    let value = lit.value();
    let mut pieces = Vec::new();
    let mut text = String::new();
    // The pattern with every placeholder replaced by `x`, and for each of its bytes the offset
    // in `value` it comes from, to check the grammar and report positions as written.
    let mut checked = String::new();
    let mut origin = Vec::new();
    let mut push = |checked: &mut String, c: char, at: usize| {
        checked.push(c);
        origin.extend(std::iter::repeat_n(at, c.len_utf8()));
    };
    let mut chars = value.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => {
                text.push('\\');
                push(&mut checked, '\\', at);
                if let Some((next_at, next)) = chars.next() {
                    text.push(next);
                    push(&mut checked, next, next_at);
                }
            }
            '{' if chars.next_if(|&(_, n)| n == '{').is_some() => {
                text.push('{');
                push(&mut checked, '{', at);
            }
            '}' if chars.next_if(|&(_, n)| n == '}').is_some() => {
                text.push('}');
                push(&mut checked, '}', at);
            }
            '{' => {
                let rest = &value[at + 1..];
                let Some(end) = rest
                    .find(['{', '}'])
                    .filter(|&e| rest[e..].starts_with('}'))
                else {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "unclosed placeholder at byte {at}: write `{{id}}` to insert the argument `id`, or `{{{{` for a literal `{{`"
                        ),
                    ));
                };
                let hole = placeholder(&rest[..end], lit)?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Value(hole));
                push(&mut checked, 'x', at);
                // Skip the placeholder's text and its `}`.
                while chars.next_if(|&(i, _)| i <= at + 1 + end).is_some() {}
            }
            '}' => {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("unmatched `}}` at byte {at}: write `}}}}` for a literal `}}`"),
                ));
            }
            c => {
                text.push(c);
                push(&mut checked, c, at);
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    if let Err(e) = memo_runtime::Pattern::new(&checked) {
        let e = at_origin(e, &origin);
        return Err(syn::Error::new(
            lit.span(),
            format!("invalid pattern {value:?}: {e}"),
        ));
    }
    Ok(pieces)
}

/// Moves the position of a pattern error from the checked text to the text as written.
fn at_origin(e: memo_runtime::PatternError, origin: &[usize]) -> memo_runtime::PatternError {
    use memo_runtime::PatternError as E;
    let map = |p: usize| origin.get(p).copied().unwrap_or(p);
    match e {
        E::UnclosedClass { position } => E::UnclosedClass {
            position: map(position),
        },
        E::EmptyClass { position } => E::EmptyClass {
            position: map(position),
        },
        E::TrailingEscape { position } => E::TrailingEscape {
            position: map(position),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn lit(s: &str) -> LitStr {
        LitStr::new(s, Span::call_site())
    }

    fn arg(name: &str) -> Placeholder {
        Placeholder {
            target: Target::Arg(name.to_owned()),
            text: name.to_owned(),
        }
    }

    #[test]
    fn templates_name_arguments_and_fields() {
        let t = key_template(&lit("{id}:{self.region}:{self}:{self.0.name}")).unwrap();
        assert_eq!(t[0], arg("id"));
        assert_eq!(t[1].target, Target::Field(vec!["region".into()]));
        assert_eq!(t[2].target, Target::Receiver);
        assert_eq!(t[3].target, Target::Field(vec!["0".into(), "name".into()]));
    }

    #[test]
    fn templates_are_only_placeholders() {
        let err = |s: &str| key_template(&lit(s)).unwrap_err().to_string();
        assert!(err("").starts_with("empty `key` template"));
        assert!(err("id").contains("`id` is not a placeholder"));
        assert!(err("{id}-{x}").contains("must be a single placeholder"));
        assert!(
            err("{id").starts_with("unclosed placeholder `{id` in the key template"),
            "{}",
            err("{id")
        );
        assert!(err("{}").starts_with("empty placeholder"));
        assert!(err("{_}").contains("bound to `_`"));
        assert!(err("{a b}").starts_with("invalid placeholder `{a b}`"));
        assert!(
            err("{x:?}").starts_with("invalid placeholder `{x:?}`"),
            "{}",
            err("{x:?}")
        );
        assert!(err("{id}:{x:>4}").starts_with("invalid placeholder `{x:>4}`"));
        assert!(err("{self.}").starts_with("invalid placeholder"));
    }

    #[test]
    fn patterns_split_into_text_and_values() {
        let p = pattern(&lit("user:{id}:*")).unwrap();
        assert_eq!(
            p,
            [
                Piece::Text("user:".into()),
                Piece::Value(arg("id")),
                Piece::Text(":*".into())
            ]
        );
        let p = pattern(&lit("{{a}}\\{{id}")).unwrap();
        assert_eq!(p, [Piece::Text("{a}\\{".into()), Piece::Value(arg("id"))]);
    }

    #[test]
    fn malformed_patterns_are_rejected_with_positions_as_written() {
        let err = |s: &str| pattern(&lit(s)).unwrap_err().to_string();
        assert!(err("").contains("empty pattern"));
        assert!(
            err("{id}:[ab").contains("the `[` at byte 5"),
            "{}",
            err("{id}:[ab")
        );
        assert!(err("{id}:[]").contains("empty character class at byte 5"));
        assert!(err("a{id}\\").contains("the `\\` at byte 5"));
        assert!(err("user:{id").starts_with("unclosed placeholder at byte 5"));
        assert!(err("user:id}").starts_with("unmatched `}` at byte 7"));
        assert!(err("user:{}").starts_with("empty placeholder"));
    }
}
