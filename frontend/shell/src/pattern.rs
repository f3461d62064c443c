//! Glob patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/rep}`.
//!
//! BuildKit turns the pattern into a Go regular expression
//! (`convertShellPatternToRegex` in `frontend/dockerfile/shell/lex.go`) and lets
//! Go's leftmost-first regexp engine find the match. kiln matches the glob
//! directly, with the same semantics, so the results agree:
//!
//! - `*` is any run of characters and `?` is one character. Neither matches a
//!   newline, because Go's `.` does not.
//! - `\*`, `\?` and `\\` are the literal characters. `\}` and `\/` are how the
//!   closing brace and the separator get into a pattern; the backslash is
//!   dropped. Any other escape is an error. The escape here is always `\`, even
//!   when the Dockerfile's escape character is `` ` `` (BuildKit hard-codes
//!   it too).
//! - There are no bracket expressions: `[` is an ordinary character.
//! - Among matches that start at the same place, the preferred one is the one
//!   a backtracking engine finds first: every `*` takes as much as it can
//!   (`##`, `%%`, `/`, `//`) or as little as it can (`#`, `%`), in order from
//!   left to right.
//! - `%` and `%%` reverse both the pattern and the value and then trim a
//!   prefix, which is how BuildKit finds the rightmost match.
//!
//! The matcher backtracks with an explicit stack (no recursion, so a long
//! pattern cannot overflow the stack) and remembers the states it has shown
//! to fail, so its cost is bounded by pattern length × value length² rather
//! than growing exponentially with the number of `*`.

use std::collections::HashSet;

use crate::error::PatternError;

/// One element of a parsed pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// Exactly this character.
    Literal(char),
    /// `?`: any one character except newline.
    AnyChar,
    /// `*`: any run of characters without a newline.
    AnyRun,
}

/// A parsed glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
}

impl Pattern {
    /// Parses the pattern text that remains after the word was expanded (with
    /// its escapes kept raw).
    pub(crate) fn parse(text: &str) -> Result<Self, PatternError> {
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            let token = match c {
                '*' => Token::AnyRun,
                '?' => Token::AnyChar,
                // `\}` and `\/` were escaped only to get past the `${…}`
                // syntax; the backslash is not part of the pattern and the
                // character after it is read as an ordinary one.
                '\\' if matches!(chars.peek(), Some('}' | '/')) => continue,
                '\\' => match chars.next() {
                    Some(escaped @ ('*' | '?' | '\\')) => Token::Literal(escaped),
                    Some(other) => return Err(PatternError::InvalidEscape(other)),
                    None => return Err(PatternError::TrailingEscape),
                },
                other => Token::Literal(other),
            };
            // `**` matches exactly what `*` matches, in the same preference
            // order; folding them keeps the search small.
            if token == Token::AnyRun && tokens.last() == Some(&Token::AnyRun) {
                continue;
            }
            tokens.push(token);
        }
        Ok(Self { tokens })
    }

    /// `${VAR#pat}` (`longest == false`) and `${VAR##pat}` (`longest ==
    /// true`): removes the matching prefix, if any.
    pub(crate) fn trim_prefix(&self, value: &str, longest: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let mut matcher = Matcher::new(&self.tokens, &chars, longest);
        match matcher.match_at(0) {
            Some(end) => chars.get(end..).unwrap_or_default().iter().collect(),
            None => value.to_owned(),
        }
    }

    /// `${VAR%pat}` and `${VAR%%pat}`: removes the matching suffix, if any.
    ///
    /// Like BuildKit's `trimSuffix`, this matches the reversed pattern
    /// against the start of the reversed value.
    pub(crate) fn trim_suffix(&self, value: &str, longest: bool) -> String {
        let reversed_tokens: Vec<Token> = self.tokens.iter().rev().copied().collect();
        let reversed: Vec<char> = value.chars().rev().collect();
        let mut matcher = Matcher::new(&reversed_tokens, &reversed, longest);
        match matcher.match_at(0) {
            Some(end) => {
                let keep = reversed.len().saturating_sub(end);
                value.chars().take(keep).collect()
            }
            None => value.to_owned(),
        }
    }

    /// `${VAR/pat/rep}` (`all == false`) and `${VAR//pat/rep}` (`all ==
    /// true`). Stars are greedy, and `replacement` is inserted literally.
    ///
    /// Replacing all follows Go's `Regexp.ReplaceAllString`: after each match
    /// the search resumes at its end (one character further for an empty
    /// match), and an empty match right after a previous match is not
    /// replaced.
    /// `None` when the result would be longer than `limit` bytes.
    pub(crate) fn replace(
        &self,
        value: &str,
        replacement: &str,
        all: bool,
        limit: usize,
    ) -> Option<String> {
        let chars: Vec<char> = value.chars().collect();
        let mut matcher = Matcher::new(&self.tokens, &chars, true);
        let slice = |from: usize, to: usize| chars.get(from..to).unwrap_or_default().iter();

        let mut out = String::with_capacity(value.len());
        let mut last_end = 0;
        let mut search = 0;
        while search <= chars.len() {
            let Some((start, end)) = matcher.find_from(search) else {
                break;
            };
            out.extend(slice(last_end, start));
            if end > last_end || start == 0 {
                out.push_str(replacement);
            }
            if out.len() > limit {
                return None;
            }
            last_end = end;
            if !all {
                break;
            }
            search = if end > search { end } else { search + 1 };
        }
        out.extend(slice(last_end, chars.len()));
        (out.len() <= limit).then_some(out)
    }
}

/// A choice point of the backtracking search: the `*` at `token`, which
/// started at `from`, may end anywhere in `from..=to`; `tried` is the end
/// being explored now.
struct Choice {
    token: usize,
    from: usize,
    to: usize,
    tried: usize,
}

/// Matches one token list against one text, remembering failed states across
/// calls (they do not depend on where a match started).
struct Matcher<'a> {
    tokens: &'a [Token],
    text: &'a [char],
    longest: bool,
    /// `(token index, text position)` pairs from which no match exists.
    failed: FailedStates,
}

/// A set of `(token, position)` pairs: a bitmap when the state space is small
/// (the usual case, and much faster), a hash set otherwise so that memory
/// stays proportional to the states actually visited.
enum FailedStates {
    Dense { bits: Vec<u64>, width: usize },
    Sparse(HashSet<(usize, usize)>),
}

impl FailedStates {
    /// Up to this many states (2 MiB of bits) use the bitmap.
    const DENSE_LIMIT: usize = 1 << 24;

    fn new(tokens: usize, positions: usize) -> Self {
        match (tokens + 1).checked_mul(positions + 1) {
            Some(states) if states <= Self::DENSE_LIMIT => Self::Dense {
                bits: vec![0; states.div_ceil(64)],
                width: positions + 1,
            },
            _ => Self::Sparse(HashSet::new()),
        }
    }

    fn contains(&self, token: usize, pos: usize) -> bool {
        match self {
            Self::Dense { bits, width } => {
                let index = token * width + pos;
                bits.get(index / 64)
                    .is_some_and(|word| word & (1 << (index % 64)) != 0)
            }
            Self::Sparse(set) => set.contains(&(token, pos)),
        }
    }

    fn insert(&mut self, token: usize, pos: usize) {
        match self {
            Self::Dense { bits, width } => {
                let index = token * *width + pos;
                if let Some(word) = bits.get_mut(index / 64) {
                    *word |= 1 << (index % 64);
                }
            }
            Self::Sparse(set) => {
                set.insert((token, pos));
            }
        }
    }
}

impl<'a> Matcher<'a> {
    fn new(tokens: &'a [Token], text: &'a [char], longest: bool) -> Self {
        Self {
            tokens,
            text,
            longest,
            failed: FailedStates::new(tokens.len(), text.len()),
        }
    }

    /// The leftmost match starting at or after `from`, as `(start, end)`.
    fn find_from(&mut self, from: usize) -> Option<(usize, usize)> {
        (from..=self.text.len()).find_map(|start| self.match_at(start).map(|end| (start, end)))
    }

    /// The end of the preferred match that starts exactly at `start`. The
    /// pattern need not reach the end of the text.
    fn match_at(&mut self, start: usize) -> Option<usize> {
        let mut stack: Vec<Choice> = Vec::new();
        let (mut token, mut pos) = (0, start);
        loop {
            // Walk forward until the pattern is used up (a match) or the
            // current path fails.
            loop {
                let Some(&current) = self.tokens.get(token) else {
                    return Some(pos);
                };
                if self.failed.contains(token, pos) {
                    break;
                }
                let next = self.text.get(pos).copied();
                match current {
                    Token::Literal(want) if next == Some(want) => {}
                    Token::AnyChar if next.is_some_and(|c| c != '\n') => {}
                    Token::Literal(_) | Token::AnyChar => break,
                    Token::AnyRun => {
                        let run = self
                            .text
                            .get(pos..)
                            .unwrap_or_default()
                            .iter()
                            .take_while(|&&c| c != '\n')
                            .count();
                        let to = pos + run;
                        let first = if self.longest { to } else { pos };
                        stack.push(Choice {
                            token,
                            from: pos,
                            to,
                            tried: first,
                        });
                        token += 1;
                        pos = first;
                        continue;
                    }
                }
                token += 1;
                pos += 1;
            }

            // Backtrack to the most recent `*` that has another length to
            // try. Everything explored below a choice has failed by now.
            loop {
                let choice = stack.last_mut()?;
                self.failed.insert(choice.token + 1, choice.tried);
                let next = if self.longest {
                    (choice.tried > choice.from).then(|| choice.tried - 1)
                } else {
                    (choice.tried < choice.to).then(|| choice.tried + 1)
                };
                if let Some(next) = next {
                    choice.tried = next;
                    token = choice.token + 1;
                    pos = next;
                    break;
                }
                self.failed.insert(choice.token, choice.from);
                stack.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text).expect("valid pattern")
    }

    #[test]
    fn parses_escapes_like_buildkit() {
        assert_eq!(
            pattern(r"a\*\?\\\}\/").tokens,
            "a*?\\}/".chars().map(Token::Literal).collect::<Vec<_>>()
        );
        assert_eq!(
            pattern("*?**").tokens,
            vec![Token::AnyRun, Token::AnyChar, Token::AnyRun]
        );
        // Regex metacharacters are plain characters.
        assert_eq!(pattern("()[]{}^$.+|").tokens.len(), 11);
        // BuildKit's invalid cases: `\`, `\x`, `\\\`.
        assert_eq!(Pattern::parse("\\"), Err(PatternError::TrailingEscape));
        assert_eq!(Pattern::parse("\\x"), Err(PatternError::InvalidEscape('x')));
        assert_eq!(Pattern::parse("\\\\\\"), Err(PatternError::TrailingEscape));
    }

    #[test]
    fn trims_prefixes() {
        assert_eq!(pattern("*x*y").trim_prefix("xxyy", false), "y");
        assert_eq!(pattern("*").trim_prefix("xxyy", false), "xxyy");
        assert_eq!(pattern("*").trim_prefix("xxyy", true), "");
        assert_eq!(pattern("*x").trim_prefix("xxyy", true), "yy");
        assert_eq!(pattern("").trim_prefix("xxyy", true), "xxyy");
        assert_eq!(pattern("?\\?").trim_prefix("???y", false), "?y");
        assert_eq!(pattern("z").trim_prefix("xxyy", false), "xxyy");
    }

    #[test]
    fn trims_suffixes() {
        assert_eq!(pattern("x").trim_suffix("xxyy", false), "xxyy");
        assert_eq!(pattern("y").trim_suffix("xxyy", false), "xxy");
        assert_eq!(pattern("\\**").trim_suffix("xx**", true), "xx");
        assert_eq!(pattern("\\**\\*").trim_suffix("a***yy*", true), "a");
        assert_eq!(pattern("*x").trim_suffix("axbx", false), "axb");
        assert_eq!(pattern("x*").trim_suffix("axbx", true), "a");
        assert_eq!(pattern("x*").trim_suffix("axbx", false), "axb");
    }

    #[test]
    fn stars_stop_at_newlines() {
        assert_eq!(pattern("*").trim_prefix("ab\ncd", true), "\ncd");
        assert_eq!(
            pattern("a?c")
                .replace("a\nc abc", "X", true, usize::MAX)
                .unwrap(),
            "a\nc X"
        );
    }

    #[test]
    fn replaces_first_or_all() {
        let value = "/foo*/*/*.txt";
        assert_eq!(
            pattern("\\*/")
                .replace(value, ".", false, usize::MAX)
                .unwrap(),
            "/foo.*/*.txt"
        );
        assert_eq!(
            pattern("\\*/")
                .replace(value, ".", true, usize::MAX)
                .unwrap(),
            "/foo..*.txt"
        );
        assert_eq!(
            pattern("/?/")
                .replace("/a/foo/b/c.txt", "/", true, usize::MAX)
                .unwrap(),
            "/foo/c.txt"
        );
        assert_eq!(
            pattern("/")
                .replace("/tmp/foo.txt", "\\/", true, usize::MAX)
                .unwrap(),
            "\\/tmp\\/foo.txt"
        );
        // Greedy: `o*` takes the whole run.
        assert_eq!(
            pattern("o*")
                .replace("foo bar", "0", false, usize::MAX)
                .unwrap(),
            "f0"
        );
        // Empty matches, as Go's ReplaceAllString handles them.
        assert_eq!(
            pattern("")
                .replace("xxyy", "ww", false, usize::MAX)
                .unwrap(),
            "wwxxyy"
        );
        assert_eq!(
            pattern("").replace("ab", "-", true, usize::MAX).unwrap(),
            "-a-b-"
        );
        assert_eq!(pattern("").replace("", "-", true, usize::MAX).unwrap(), "-");
        assert_eq!(
            pattern("x*").replace("axb", "-", true, usize::MAX).unwrap(),
            "a-"
        );
        // Go, unlike Perl, does not replace the empty match at the end.
        assert_eq!(
            pattern("*").replace("ab", "-", true, usize::MAX).unwrap(),
            "-"
        );
    }

    #[test]
    fn works_on_characters_not_bytes() {
        assert_eq!(pattern("?").trim_prefix("한국어", false), "국어");
        assert_eq!(pattern("?").trim_suffix("한국어", false), "한국");
        assert_eq!(
            pattern("국")
                .replace("한국어", "-", true, usize::MAX)
                .unwrap(),
            "한-어"
        );
    }

    #[test]
    fn many_stars_stay_fast() {
        let pat = pattern(&"*a".repeat(200));
        let value = "a".repeat(150);
        assert_eq!(pat.trim_prefix(&value, false), value);
        assert_eq!(
            pat.replace(&value, "", true, usize::MAX),
            Some(value.clone())
        );
    }
}
