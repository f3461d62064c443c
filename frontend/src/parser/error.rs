//! Errors that stop a parse. Each carries the span it is about, so the CLI
//! can print `file:line:col` with the source line and a caret.

use crate::source::Span;

/// A parse failure and where it happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where: the offending directive, instruction or heredoc.
    pub span: Span,
}

/// What stopped a parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The file holds no instruction (empty, or only comments).
    #[error("file with no instructions")]
    NoInstructions,
    /// `# escape=` with something other than `\` or `` ` ``.
    #[error("invalid escape token '{0}' does not match ` or \\")]
    InvalidEscape(String),
    /// A parser directive given twice.
    #[error("only one {0} parser directive can be used")]
    RepeatedDirective(String),
    /// `ENV KEY` / `LABEL KEY` with no value.
    #[error("{0} must have two arguments")]
    MissingValue(&'static str),
    /// A word without `=` in the `KEY=value` form of ENV or LABEL.
    #[error("syntax error - can't find = in \"{word}\"; must be of the form: name=value")]
    MissingEquals {
        /// The offending word.
        word: String,
    },
    /// A JSON array with an element that is not a string.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    JsonNotStrings,
    /// A heredoc whose terminator never came.
    #[error("unterminated heredoc {0}")]
    UnterminatedHeredoc(String),
    /// A heredoc delimiter the shell lexer cannot read.
    #[error("invalid heredoc delimiter {word}: {reason}")]
    InvalidHeredoc {
        /// The marker word.
        word: String,
        /// The lexer's complaint.
        reason: String,
    },
    /// ONBUILD inside ONBUILD more than a few levels deep.
    #[error("ONBUILD nested too deeply")]
    OnbuildTooDeep,
    /// Bytes that are not UTF-8 inside an instruction.
    #[error("instruction is not valid utf-8")]
    InvalidUtf8,
}
