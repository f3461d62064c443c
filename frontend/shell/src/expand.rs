//! The scanner: quotes, escapes and the main loop over one word.
//!
//! This follows `shellWord.processStopOn`, `processSingleQuote` and
//! `processDoubleQuote` of BuildKit's `frontend/dockerfile/shell/lex.go`.
//! `$` is handed to [`param`](crate::param). The input is scanned as `char`s,
//! so multi-byte UTF-8 is never cut, and every read is bounds-checked.

use std::collections::BTreeSet;

use crate::env::Env;
use crate::error::ExpandError;
use crate::lexer::Lexer;
use crate::words::WordSplitter;

/// What one scan produced: the text as one string, and the same text split
/// into words.
pub(crate) struct Output {
    pub(crate) text: String,
    pub(crate) words: WordSplitter,
}

/// The state of expanding one word.
pub(crate) struct Expander<'a, E: Env + ?Sized> {
    pub(crate) lexer: &'a Lexer,
    env: &'a E,
    input: Vec<char>,
    pub(crate) pos: usize,
    /// Names that were looked up and found (BuildKit's "matches").
    pub(crate) used: BTreeSet<String>,
    /// Names that were looked up and not found (BuildKit's "nonmatches").
    pub(crate) unset: BTreeSet<String>,
    /// How many `$…` substitutions enclose the current position.
    pub(crate) depth: usize,
}

impl<'a, E: Env + ?Sized> Expander<'a, E> {
    pub(crate) fn new(lexer: &'a Lexer, env: &'a E, word: &str) -> Self {
        Self {
            lexer,
            env,
            input: word.chars().collect(),
            pos: 0,
            used: BTreeSet::new(),
            unset: BTreeSet::new(),
            depth: 0,
        }
    }

    pub(crate) fn peek(&self) -> Option<char> {
        self.input.get(self.pos).copied()
    }

    pub(crate) fn next_char(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// The input between two positions, for error messages.
    pub(crate) fn text(&self, from: usize, to: usize) -> String {
        self.input
            .get(from..to)
            .unwrap_or_default()
            .iter()
            .collect()
    }

    /// The input from `from` to its end.
    pub(crate) fn text_to_end(&self, from: usize) -> String {
        self.text(from, self.input.len())
    }

    /// The input from `from` through the next `}` at or after the current
    /// position (or to the end if there is none): the rest of a substitution
    /// that failed before its end was reached.
    pub(crate) fn text_through_brace(&self, from: usize) -> String {
        let end = self
            .input
            .get(self.pos..)
            .unwrap_or_default()
            .iter()
            .position(|&c| c == '}')
            .map_or(self.input.len(), |offset| self.pos + offset + 1);
        self.text(from, end)
    }

    /// Looks a name up and records whether it was set.
    pub(crate) fn lookup(&mut self, name: &str) -> Option<&'a str> {
        let env: &'a E = self.env;
        let value = env.lookup(name);
        let seen = if value.is_some() {
            &mut self.used
        } else {
            &mut self.unset
        };
        if !seen.contains(name) {
            seen.insert(name.to_owned());
        }
        value
    }

    /// An error when an expansion of `len` bytes is past [`crate::MAX_WORD`].
    pub(crate) fn bounded(&self, len: usize) -> Result<(), ExpandError> {
        match len <= crate::MAX_WORD {
            true => Ok(()),
            false => Err(self.too_long()),
        }
    }

    /// The error for an expansion past [`crate::MAX_WORD`].
    pub(crate) fn too_long(&self) -> ExpandError {
        let shown: String = self.input.iter().take(40).collect();
        ExpandError::TooLong {
            text: match self.input.len() > 40 {
                true => format!("{shown}…"),
                false => shown,
            },
            limit: crate::MAX_WORD,
        }
    }

    /// Scans the whole input.
    pub(crate) fn process_all(&mut self, raw_escapes: bool) -> Result<Output, ExpandError> {
        let (output, _) = self.scan(None, raw_escapes)?;
        Ok(output)
    }

    /// Scans up to and including `stop`. `Ok(None)` means the input ended
    /// first.
    pub(crate) fn process_until(
        &mut self,
        stop: char,
        raw_escapes: bool,
    ) -> Result<Option<Output>, ExpandError> {
        let (output, found) = self.scan(Some(stop), raw_escapes)?;
        Ok(found.then_some(output))
    }

    /// The main loop (`processStopOn`). `raw_escapes` keeps each escape
    /// character in the output next to the character it escapes; BuildKit
    /// turns it on for the words of `#`, `%` and `/`, whose patterns give
    /// `\` a meaning of their own. The bool is whether `stop` was found.
    fn scan(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(Output, bool), ExpandError> {
        let escape = self.lexer.escape();
        let quotes = !self.lexer.skip_process_quotes();
        let mut text = String::new();
        let mut words = WordSplitter::default();

        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok((Output { text, words }, true));
            }
            match c {
                '$' => {
                    let value = self.dollar()?;
                    self.bounded(text.len() + value.len())?;
                    text.push_str(&value);
                    // An unquoted expansion is split into words like
                    // literal text is.
                    words.push_str(&value);
                }
                '\'' if quotes => {
                    let value = self.single_quote()?;
                    text.push_str(&value);
                    words.push_raw_str(&value);
                }
                '"' if quotes => {
                    let value = self.double_quote(raw_escapes)?;
                    self.bounded(text.len() + value.len())?;
                    text.push_str(&value);
                    words.push_raw_str(&value);
                }
                _ => {
                    self.pos += 1;
                    if c != escape {
                        text.push(c);
                        words.push_char(c);
                        continue;
                    }
                    if raw_escapes {
                        text.push(c);
                        words.push_raw_char(c);
                    }
                    // An escape at the very end is dropped (unless kept raw
                    // just above).
                    let Some(escaped) = self.next_char() else {
                        break;
                    };
                    text.push(escaped);
                    words.push_raw_char(escaped);
                }
            }
        }
        Ok((Output { text, words }, stop.is_none()))
    }

    /// `'…'`: everything up to the next `'` is literal; there is no way to
    /// escape a `'` inside.
    fn single_quote(&mut self) -> Result<String, ExpandError> {
        let start = self.pos;
        let raw = self.lexer.raw_quotes();
        let mut out = String::new();
        // The opening quote.
        self.pos += 1;
        if raw {
            out.push('\'');
        }
        loop {
            match self.next_char() {
                None => {
                    return Err(ExpandError::UnterminatedSingleQuote {
                        text: self.text_to_end(start),
                    });
                }
                Some('\'') => {
                    if raw {
                        out.push('\'');
                    }
                    return Ok(out);
                }
                Some(c) => out.push(c),
            }
        }
    }

    /// `"…"`: `$` expands, and the escape character escapes only `"`, `$`
    /// and itself; before anything else it is an ordinary character, as in
    /// POSIX sh. An escape right at the end of the input is dropped (and the
    /// quote is then unterminated anyway).
    fn double_quote(&mut self, raw_escapes: bool) -> Result<String, ExpandError> {
        let start = self.pos;
        let raw = self.lexer.raw_quotes();
        let escape = self.lexer.escape();
        let mut out = String::new();
        // The opening quote.
        self.pos += 1;
        if raw {
            out.push('"');
        }
        loop {
            let Some(mut c) = self.peek() else {
                return Err(ExpandError::UnterminatedDoubleQuote {
                    text: self.text_to_end(start),
                });
            };
            match c {
                '"' => {
                    self.pos += 1;
                    if raw {
                        out.push('"');
                    }
                    return Ok(out);
                }
                '$' => {
                    let value = self.dollar()?;
                    self.bounded(out.len() + value.len())?;
                    out.push_str(&value);
                }
                _ => {
                    self.pos += 1;
                    if c == escape {
                        if raw_escapes {
                            out.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == escape => {
                                c = next;
                                self.pos += 1;
                            }
                            // BuildKit keeps the escape character here, and
                            // with raw escapes keeps it twice: in a pattern,
                            // `"\x"` must match a literal `\` followed by
                            // `x`, which the pattern syntax spells `\\x`.
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }
}
