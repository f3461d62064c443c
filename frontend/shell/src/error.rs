//! Errors of word expansion.
//!
//! Every variant names the piece of the input that failed (the substitution
//! from its `$`, or the quoted run from its opening quote), so the caller only
//! has to add which instruction the word came from.

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${}`, `${{…}` or `${:…}`: the braces hold no parameter name.
    #[error("bad substitution: {text}")]
    BadSubstitution {
        /// The substitution as written, from `$` up to the next `}`.
        text: String,
    },

    /// Substitutions nested more deeply than kiln allows (64 levels).
    #[error("substitutions nested too deeply in {text}")]
    TooDeep {
        /// The input from the substitution that went too deep.
        text: String,
    },

    /// The expanded word grew past [`crate::MAX_WORD`] bytes (a variable
    /// pasted into itself line after line doubles each time).
    #[error("the expansion of {text} is longer than {limit} bytes")]
    TooLong {
        /// The word as written (its start).
        text: String,
        /// The limit.
        limit: usize,
    },

    /// The input ended inside `${…`.
    #[error("missing '}}' in {text}")]
    MissingBrace {
        /// The substitution as written, from `$` to the end of the input.
        text: String,
    },

    /// The input ended inside the pattern of `${VAR/pattern/replacement}`.
    #[error("missing '/' in {text}")]
    MissingSlash {
        /// The substitution as written, from `$` to the end of the input.
        text: String,
    },

    /// A single-quoted run has no closing `'`.
    #[error("unterminated single quote in {text}")]
    UnterminatedSingleQuote {
        /// The run from its opening quote to the end of the input.
        text: String,
    },

    /// A double-quoted run has no closing `"`.
    #[error("unterminated double quote in {text}")]
    UnterminatedDoubleQuote {
        /// The run from its opening quote to the end of the input.
        text: String,
    },

    /// `${VAR=…}`, `${VAR:=…}`, `${.}` and every other operator that BuildKit
    /// does not implement.
    #[error("unsupported modifier '{modifier}' in {text}")]
    UnsupportedModifier {
        /// The operator as written, for example `:=`.
        modifier: String,
        /// The substitution as written.
        text: String,
    },

    /// `${VAR?message}` with `VAR` unset, or `${VAR:?message}` with `VAR`
    /// unset or empty. The message is the user's, or BuildKit's default
    /// (`is not allowed to be unset` / `is not allowed to be empty`).
    #[error("{name}: {message}")]
    Required {
        /// The variable that had no value.
        name: String,
        /// The expanded message word, or the default text.
        message: String,
    },

    /// The pattern of `#`, `##`, `%`, `%%`, `/` or `//` is not valid.
    #[error("invalid pattern '{pattern}' in {text}: {reason}")]
    InvalidPattern {
        /// The pattern after expansion.
        pattern: String,
        /// The substitution as written.
        text: String,
        /// What is wrong with the pattern.
        reason: PatternError,
    },
}

/// What is wrong with a glob pattern of a `${VAR#pattern}`-style substitution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A `\` before a character that cannot be escaped in a pattern (only
    /// `*`, `?`, `\`, `}` and `/` can).
    #[error("invalid escape '\\{0}'")]
    InvalidEscape(char),
    /// A `\` at the very end of the pattern.
    #[error("trailing '\\'")]
    TrailingEscape,
}
