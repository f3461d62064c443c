//! The public entry point: a configured [`Lexer`] and what it returns.

use std::collections::BTreeSet;

use crate::env::Env;
use crate::error::ExpandError;
use crate::expand::Expander;

/// Expands Dockerfile words the way BuildKit's `shell.Lex` does.
///
/// A `Lexer` is only configuration; it is `Copy`, holds no state between
/// calls and can be shared freely.
///
/// ```
/// use std::collections::HashMap;
/// use kiln_shell::Lexer;
///
/// let env = HashMap::from([("NAME".to_owned(), "a b".to_owned())]);
/// let lexer = Lexer::default();
///
/// let word = lexer.process_word("x-${NAME:-none}-$OTHER", &env)?;
/// assert_eq!(word.value, "x-a b-");
/// assert!(word.used.contains("NAME"));
/// assert!(word.unset.contains("OTHER"));
///
/// let words = lexer.process_words(r#"cp "$NAME" $NAME"#, &env)?;
/// assert_eq!(words.value, ["cp", "a b", "a", "b"]);
/// # Ok::<(), kiln_shell::ExpandError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_unset_env: bool,
    skip_process_quotes: bool,
}

impl Default for Lexer {
    /// A lexer with the escape character `\` and every option off.
    fn default() -> Self {
        Self::new(Self::DEFAULT_ESCAPE)
    }
}

impl Lexer {
    /// The escape character of a Dockerfile without an `escape` directive.
    pub const DEFAULT_ESCAPE: char = '\\';

    /// A lexer with the given escape character (`\`, or `` ` `` from the
    /// `escape` parser directive) and every option off: quotes and escapes are removed,
    /// and unset variables expand to nothing.
    pub const fn new(escape: char) -> Self {
        Self {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
            skip_process_quotes: false,
        }
    }

    /// Keep quote characters in the output (BuildKit's `RawQuotes`). Quotes
    /// still group text and still stop expansion inside `'…'`.
    #[must_use]
    pub const fn with_raw_quotes(mut self, on: bool) -> Self {
        self.raw_quotes = on;
        self
    }

    /// Keep escape characters in the output next to the character they
    /// escape (BuildKit's `RawEscapes`).
    #[must_use]
    pub const fn with_raw_escapes(mut self, on: bool) -> Self {
        self.raw_escapes = on;
        self
    }

    /// Leave references to unset variables as written, so a later pass with
    /// more variables can expand them (BuildKit's `SkipUnsetEnv`). A
    /// `${V?msg}` whose `V` is unset is then left as written, not an error.
    #[must_use]
    pub const fn with_skip_unset_env(mut self, on: bool) -> Self {
        self.skip_unset_env = on;
        self
    }

    /// Treat `'` and `"` as ordinary characters (BuildKit's
    /// `SkipProcessQuotes`), as for the body of a heredoc, where quotes are
    /// text for the command to see.
    #[must_use]
    pub const fn with_skip_process_quotes(mut self, on: bool) -> Self {
        self.skip_process_quotes = on;
        self
    }

    /// The escape character.
    pub const fn escape(&self) -> char {
        self.escape
    }

    /// Whether quote characters are kept.
    pub const fn raw_quotes(&self) -> bool {
        self.raw_quotes
    }

    /// Whether escape characters are kept.
    pub const fn raw_escapes(&self) -> bool {
        self.raw_escapes
    }

    /// Whether references to unset variables are left as written.
    pub const fn skip_unset_env(&self) -> bool {
        self.skip_unset_env
    }

    /// Whether quotes are ordinary characters.
    pub const fn skip_process_quotes(&self) -> bool {
        self.skip_process_quotes
    }

    /// Expands `word` into one string, without word splitting (BuildKit's
    /// `ProcessWord`). Used for instructions whose argument is one value:
    /// `WORKDIR`, `USER`, the values of `ENV`, `ARG` and `LABEL`, ….
    pub fn process_word<E: Env + ?Sized>(
        &self,
        word: &str,
        env: &E,
    ) -> Result<Expansion<String>, ExpandError> {
        let mut expander = Expander::new(self, env, word);
        let output = expander.process_all(self.raw_escapes)?;
        Ok(Expansion {
            value: output.text,
            used: expander.used,
            unset: expander.unset,
        })
    }

    /// Expands `word` and splits the result into words (BuildKit's
    /// `ProcessWords`). Unquoted whitespace separates words, including
    /// whitespace that comes out of an unquoted `$VAR`; quoted and escaped
    /// whitespace does not. Empty words are dropped, so `""` gives no word.
    /// Used for `COPY`/`ADD` sources, `EXPOSE`, `VOLUME` and the like.
    pub fn process_words<E: Env + ?Sized>(
        &self,
        word: &str,
        env: &E,
    ) -> Result<Expansion<Vec<String>>, ExpandError> {
        let mut expander = Expander::new(self, env, word);
        let output = expander.process_all(self.raw_escapes)?;
        Ok(Expansion {
            value: output.words.finish(),
            used: expander.used,
            unset: expander.unset,
        })
    }
}

/// The result of an expansion and the variables it depended on.
///
/// The build cache keys a step on the values of exactly the variables in
/// `used`; `unset` lets checks warn about references to undefined build
/// arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion<T> {
    /// The expanded text: one string, or the list of words.
    pub value: T,
    /// Names that were referenced and set (possibly to the empty string),
    /// including names referenced only inside an operator's word. BuildKit
    /// calls these the matches.
    pub used: BTreeSet<String>,
    /// Names that were referenced and not set. Positional and special
    /// parameters (`$1`, `$@`, …) appear here too, since they are looked up
    /// like any name.
    pub unset: BTreeSet<String>,
}
