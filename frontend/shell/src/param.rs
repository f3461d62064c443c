//! Parameter expansion: `$NAME`, `${NAME}` and `${NAME<op>word}`.
//!
//! This follows `shellWord.processDollar` and `processName` of BuildKit's
//! `frontend/dockerfile/shell/lex.go`. The operators are the POSIX ones
//! BuildKit implements:
//!
//! | form | result |
//! |---|---|
//! | `${V-w}` / `${V:-w}` | `w` if `V` is unset (`:`: or empty), else `$V` |
//! | `${V+w}` / `${V:+w}` | `w` if `V` is set (`:`: and not empty), else nothing |
//! | `${V?w}` / `${V:?w}` | error `V: w` if `V` is unset (`:`: or empty), else `$V` |
//! | `${V#p}` / `${V##p}` | `$V` without its shortest / longest prefix matching `p` |
//! | `${V%p}` / `${V%%p}` | `$V` without its shortest / longest suffix matching `p` |
//! | `${V/p/r}` / `${V//p/r}` | `$V` with the first / every match of `p` replaced by `r` |
//!
//! Assignment (`=`, `:=`), length (`${#V}`) and substrings are not supported
//! and are errors, as in BuildKit. Words of `-`, `+` and `?` are expanded
//! like any other text (nested `${…}` included); words of `#`, `%` and `/`
//! keep their escapes, which the glob pattern then interprets.
//!
//! Positional (`$1`, `${10}`) and special (`$@ $* $# $? $- $$ $! $0`)
//! parameters are parsed as names like any other. A Dockerfile never sets
//! them, so they expand to nothing, but they are still looked up.

use unicode_general_category::{GeneralCategory, get_general_category};

use crate::env::Env;
use crate::error::ExpandError;
use crate::expand::Expander;
use crate::pattern::Pattern;

/// Go's `unicode.IsDigit`: a decimal digit of any script (category Nd).
fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
        || (!c.is_ascii() && get_general_category(c) == GeneralCategory::DecimalNumber)
}

/// Go's `unicode.IsLetter`: categories Lu, Ll, Lt, Lm and Lo. Rust's
/// `char::is_alphabetic` also accepts some marks and letter-like numbers,
/// which would make names longer than BuildKit's.
fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (!c.is_ascii()
            && matches!(
                get_general_category(c),
                GeneralCategory::UppercaseLetter
                    | GeneralCategory::LowercaseLetter
                    | GeneralCategory::TitlecaseLetter
                    | GeneralCategory::ModifierLetter
                    | GeneralCategory::OtherLetter
            ))
}

/// The one-character special parameters of POSIX sh (XCU 2.5.2).
/// How deeply substitutions may nest inside each other's words.
const MAX_NESTING: usize = 64;

fn is_special(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

impl<E: Env + ?Sized> Expander<'_, E> {
    /// Expands the `$…` at the current position. Substitutions nest
    /// (`${A:-${B:-…}}`) through recursion, so the depth is capped: a
    /// hostile word must fail with an error, not overflow the stack.
    pub(crate) fn dollar(&mut self) -> Result<String, ExpandError> {
        if self.depth >= MAX_NESTING {
            return Err(ExpandError::TooDeep {
                text: self.text_to_end(self.pos),
            });
        }
        self.depth += 1;
        let result = self.dollar_here();
        self.depth -= 1;
        result
    }

    fn dollar_here(&mut self) -> Result<String, ExpandError> {
        let start = self.pos;
        // The `$`.
        self.pos += 1;

        if self.peek() != Some('{') {
            let name = self.name();
            // `$` before anything that cannot start a name is literal.
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(match self.lookup(&name) {
                Some(value) => value.to_owned(),
                None if self.lexer.skip_unset_env() => format!("${name}"),
                None => String::new(),
            });
        }

        // The `{`.
        self.pos += 1;
        match self.peek() {
            None => {
                return Err(ExpandError::MissingBrace {
                    text: self.text_to_end(start),
                });
            }
            Some('{' | '}' | ':') => {
                return Err(ExpandError::BadSubstitution {
                    text: self.text_through_brace(start),
                });
            }
            Some(_) => {}
        }

        let name = self.name();
        match self.next_char() {
            None => Err(ExpandError::MissingBrace {
                text: self.text_to_end(start),
            }),
            Some('}') => Ok(match self.lookup(&name) {
                Some(value) => value.to_owned(),
                None if self.lexer.skip_unset_env() => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':') => match self.next_char() {
                None => Err(ExpandError::MissingBrace {
                    text: self.text_to_end(start),
                }),
                Some(op) => self.modifier(start, &name, op, true),
            },
            Some(op @ ('-' | '+' | '?' | '#' | '%')) => self.modifier(start, &name, op, false),
            Some('/') => self.replace(start, &name),
            Some(op) => Err(ExpandError::UnsupportedModifier {
                modifier: op.to_string(),
                text: self.text_through_brace(start),
            }),
        }
    }

    /// Reads a parameter name: a run of digits (positional), one special
    /// character, or letters, digits and `_` not starting with a digit. An
    /// empty name means there was none.
    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            // Checked before the specials so that `$0` and `$01` are read as
            // digit runs, as BuildKit does.
            Some(c) if is_digit(c) => {
                while let Some(c) = self.peek().filter(|&c| is_digit(c)) {
                    name.push(c);
                    self.pos += 1;
                }
                return name;
            }
            Some(c) if is_special(c) => {
                self.pos += 1;
                name.push(c);
                return name;
            }
            _ => {}
        }
        while let Some(c) = self
            .peek()
            .filter(|&c| is_letter(c) || is_digit(c) || c == '_')
        {
            name.push(c);
            self.pos += 1;
        }
        name
    }

    /// The word of an operator, up to the closing `}`.
    fn word_until_brace(&mut self, start: usize, raw_escapes: bool) -> Result<String, ExpandError> {
        match self.process_until('}', raw_escapes) {
            Ok(Some(output)) => Ok(output.text),
            // BuildKit reports any failure that ran into the end of the input
            // as the missing `}`: the unclosed `${` is the first thing wrong.
            Ok(None) => Err(self.missing_brace(start)),
            Err(_) if self.at_end() => Err(self.missing_brace(start)),
            Err(err) => Err(err),
        }
    }

    fn missing_brace(&self, start: usize) -> ExpandError {
        ExpandError::MissingBrace {
            text: self.text_to_end(start),
        }
    }

    /// `${name<op>word}` for the operators `-`, `+`, `?`, `#` and `%`, with
    /// or without a leading `:` (`colon`). `op` is whatever followed the name
    /// (or the `:`); anything else is an unsupported modifier once its word
    /// has been read, as in BuildKit.
    fn modifier(
        &mut self,
        start: usize,
        name: &str,
        op: char,
        colon: bool,
    ) -> Result<String, ExpandError> {
        let word = self.word_until_brace(start, op == '#' || op == '%')?;
        let value = self.lookup(name);
        let op_text = if colon {
            format!(":{op}")
        } else {
            op.to_string()
        };

        if value.is_none() && self.lexer.skip_unset_env() {
            // Leave the whole substitution for a later pass, with its word
            // expanded as far as it could be.
            return Ok(format!("${{{name}{op_text}{word}}}"));
        }
        // `:` makes an empty value count as unset.
        let unset_or_null = match value {
            None => true,
            Some(value) => colon && value.is_empty(),
        };

        match op {
            '-' if unset_or_null => Ok(word),
            '-' => Ok(value.unwrap_or_default().to_owned()),
            '+' if unset_or_null => Ok(String::new()),
            '+' => Ok(word),
            '?' => match value {
                Some(value) if !unset_or_null => Ok(value.to_owned()),
                _ => {
                    let message = if !word.is_empty() {
                        word
                    } else if value.is_none() {
                        "is not allowed to be unset".to_owned()
                    } else {
                        "is not allowed to be empty".to_owned()
                    };
                    Err(ExpandError::Required {
                        name: name.to_owned(),
                        message,
                    })
                }
            },
            // BuildKit also reaches here for `${V:#p}` and `${V:%p}`, where
            // the `:` changes nothing.
            '#' | '%' => {
                // A doubled operator asks for the longest match. BuildKit
                // checks the expanded word, so this follows it.
                let (longest, pattern_text) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let pattern =
                    Pattern::parse(pattern_text).map_err(|reason| ExpandError::InvalidPattern {
                        pattern: pattern_text.to_owned(),
                        text: self.text(start, self.pos),
                        reason,
                    })?;
                let value = value.unwrap_or_default();
                Ok(if op == '#' {
                    pattern.trim_prefix(value, longest)
                } else {
                    pattern.trim_suffix(value, longest)
                })
            }
            _ => Err(ExpandError::UnsupportedModifier {
                modifier: op_text,
                text: self.text(start, self.pos),
            }),
        }
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`.
    /// The `/` after the name has been read.
    fn replace(&mut self, start: usize, name: &str) -> Result<String, ExpandError> {
        let all = self.peek() == Some('/');
        if all {
            self.pos += 1;
        }

        let pattern_text = match self.process_until('/', true) {
            Ok(Some(output)) => output.text,
            Ok(None) => return Err(self.missing_slash(start)),
            Err(_) if self.at_end() => return Err(self.missing_slash(start)),
            Err(err) => return Err(err),
        };
        // BuildKit keeps the escapes of the replacement too, so `\/` comes
        // out as `\/` (its tests rely on this).
        let replacement = self.word_until_brace(start, true)?;

        let value = self.lookup(name);
        if value.is_none() && self.lexer.skip_unset_env() {
            // BuildKit writes a single `/` back here even for `//`, which
            // turns replace-all into replace-first on the later pass; kiln
            // keeps the operator as written.
            let op = if all { "//" } else { "/" };
            return Ok(format!("${{{name}{op}{pattern_text}/{replacement}}}"));
        }

        let pattern =
            Pattern::parse(&pattern_text).map_err(|reason| ExpandError::InvalidPattern {
                pattern: pattern_text.clone(),
                text: self.text(start, self.pos),
                reason,
            })?;
        pattern
            .replace(
                value.unwrap_or_default(),
                &replacement,
                all,
                crate::MAX_WORD,
            )
            .ok_or_else(|| self.too_long())
    }

    fn missing_slash(&self, start: usize) -> ExpandError {
        ExpandError::MissingSlash {
            text: self.text_to_end(start),
        }
    }
}
