//! Dockerfile shell-word expansion: variables, quotes and escapes, exactly as
//! BuildKit's lexer (`frontend/dockerfile/shell/lex.go` in moby/buildkit)
//! does them.
//!
//! **Boundary.** This crate depends on no other kiln crate (its one outside
//! dependency is a Unicode category table, to tell letters and digits apart
//! as Go does). It is a set of pure functions over a string and an [`Env`]:
//! no I/O, no global state, no logging. The parser hands it words (already split into instructions and
//! arguments), and lowering uses the result and the set of variables the word
//! depended on.
//!
//! **What it does.** Removes quotes (`'…'` literal, `"…"` with `$` expansion)
//! and escape characters (`\` by default, `` ` `` after the `escape` parser
//! directive), expands `$VAR`, `${VAR}` and the operators `-`, `+` and `?`
//! (each with or without `:`) and the glob operators `#`, `##`, `%`, `%%`,
//! `/` and `//`, and optionally splits the result into words on unquoted
//! whitespace. It is not a shell: there is no
//! command substitution, arithmetic, tilde or pathname expansion, and
//! assignment operators (`${V=w}`, `${V:=w}`) are errors.
//!
//! **Conformance.** BuildKit's own tables (`envVarTest`, `wordsTest`, kept in
//! the shared conformance folder) run as this crate's integration tests.
//! Where kiln departs from BuildKit on purpose, the code says so.
//!
//! **Safety on any input.** The input is scanned as `char`s with checked
//! reads, so no input panics or splits a multi-byte character, and glob
//! matching is iterative and memoised, so no pattern overflows the stack or
//! takes exponential time. No expansion grows past [`MAX_WORD`] bytes: a
//! variable pasted into itself line after line (`ENV A2=$A1$A1`, …) would
//! otherwise double until memory runs out.

mod env;
mod error;
mod expand;
mod lexer;
mod param;
mod pattern;
mod words;

#[cfg(test)]
mod tests;

/// The longest expanded word, in bytes (1 MiB; BuildKit has no limit, real
/// Dockerfiles stay below a few KiB).
pub const MAX_WORD: usize = 1 << 20;

pub use env::Env;
pub use error::{ExpandError, PatternError};
pub use lexer::{Expansion, Lexer};
