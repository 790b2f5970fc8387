//! Test-only package of the memo workspace: it holds the behaviour tests in `tests/`, the
//! runnable programs in `examples/`, and compiles the README's code as a doctest.

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
