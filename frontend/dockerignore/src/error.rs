//! Error types: one for a single bad pattern, one for a bad ignore file, one for loading it.

use std::path::PathBuf;

/// Why one pattern cannot be compiled.
///
/// Upstream (moby/patternmatcher `New`) rejects these through Go's `filepath.Match`
/// syntax check, or later, when the translated regexp fails to compile; we reject all
/// of them up front so a build never fails halfway through walking its context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern is empty after trimming.
    #[error("pattern is empty")]
    Empty,
    /// A `!` with nothing after it (also `!/`, which cleans to the same thing upstream).
    #[error("exception `!` has no pattern after it")]
    EmptyException,
    /// A `\` at the very end escapes nothing.
    #[error("trailing backslash escapes nothing")]
    TrailingBackslash,
    /// A `[` without its closing `]`.
    #[error("unterminated character class")]
    UnclosedClass,
    /// `[]`, `[^]` or a class whose first member is an unescaped `]`.
    #[error("character class is empty or starts with an unescaped `]`")]
    EmptyClass,
    /// A `-` that is neither escaped nor between the two ends of a range.
    #[error("unescaped `-` in character class")]
    UnescapedDash,
    /// A range with a start and a `-` but no end, such as `[a-]`.
    #[error("character range `{lo}-` has no end")]
    UnfinishedRange {
        /// Start of the range.
        lo: char,
    },
    /// A range whose start comes after its end, such as `[z-a]`.
    #[error("character range `{lo}-{hi}` is out of order")]
    ReversedRange {
        /// Start of the range.
        lo: char,
        /// End of the range.
        hi: char,
    },
}

/// Why the text of an ignore file (or a list of patterns) cannot be turned into a matcher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A pattern line is not valid UTF-8 (comment lines may be anything).
    #[error("line {line}: pattern is not valid utf-8")]
    NotUtf8 {
        /// 1-based line number in the file.
        line: usize,
    },
    /// A pattern that does not compile.
    #[error("line {line}: invalid pattern `{pattern}`: {source}")]
    InvalidPattern {
        /// 1-based line number in the file (or position in the list given to
        /// [`Matcher::new`](crate::Matcher::new)).
        line: usize,
        /// The pattern as read, after trimming and cleaning.
        pattern: String,
        /// What is wrong with it.
        source: PatternError,
    },
}

/// Why the ignore file that applies to a build could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file exists (or might) but could not be inspected or read.
    #[error("read {}: {source}", path.display())]
    Io {
        /// The ignore file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read but one of its lines is invalid.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The ignore file.
        path: PathBuf,
        /// The offending line.
        source: ParseError,
    },
}
