//! The wildcard engine: a compiled pattern as a token sequence, run as an NFA.
//!
//! Upstream (moby/patternmatcher `compile`) translates each pattern into a Go regexp;
//! this is the same language without a regexp engine. Simulating every live position
//! at once keeps matching linear in path length × pattern length, so no pattern, however
//! many `*` and `**` it has, can make matching blow up.

/// One element of a compiled pattern. `/` is the only separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// One exact character (plain, or escaped with `\`).
    Lit(char),
    /// `?`: one character other than `/` (regexp `[^/]`).
    One,
    /// `*`: any run of characters other than `/` (regexp `[^/]*`).
    Star,
    /// `**` (with its `/`, if any) before more pattern: regexp `(.*/)?`, that is nothing
    /// or anything ending in `/`. It is not tied to whole path elements: `x**/y` also
    /// matches `xabc/y`, as upstream's regexp does.
    AnyDirs,
    /// `**` ending a pattern that is not a plain prefix: regexp `.*`.
    AnyRest,
    /// `[...]`, as Go's `filepath.Match` defines it.
    Class(Class),
}

/// A character class: ranges (single characters are `c-c`), possibly negated with `^`.
///
/// Only `^` negates, as in Go (`filepath.Match` and RE2); `[!a]` is the class of `!` and
/// `a`. A negated class matches `/` too, as upstream's regexp does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Class {
    pub(crate) negated: bool,
    pub(crate) ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        let inside = self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        inside != self.negated
    }
}

impl Token {
    /// Whether the token can match the empty string (an epsilon move in the NFA).
    fn nullable(&self) -> bool {
        matches!(self, Token::Star | Token::AnyDirs | Token::AnyRest)
    }
}

/// A compiled wildcard pattern: matches a whole path, anchored at both ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

impl Glob {
    pub(crate) fn new(tokens: Vec<Token>) -> Glob {
        Glob { tokens }
    }

    /// Whether the whole of `path` matches.
    pub(crate) fn matches(&self, path: &str) -> bool {
        let states = self.run(path.chars());
        states.last().is_some_and(|s| s & AT != 0)
    }

    /// Whether some path of the form `dir/...` could match: after reading `dir/` there
    /// is still a live state. Every token can match some character or none, so a live
    /// state can nearly always reach the end; answering yes on the rare class that
    /// matches nothing only costs the caller a directory walk, never a wrong result.
    pub(crate) fn could_match_below(&self, dir: &str) -> bool {
        let states = self.run(dir.chars().chain(std::iter::once('/')));
        states.iter().any(|&s| s != 0)
    }

    /// Runs the NFA over `input` and returns the final state set: for each position,
    /// the `AT`/`INSIDE` flags. Position `tokens.len()` with `AT` is the accepting state.
    fn run(&self, input: impl Iterator<Item = char>) -> Vec<u8> {
        let mut current = vec![0u8; self.tokens.len() + 1];
        if let Some(first) = current.first_mut() {
            *first = AT;
        }
        self.close(&mut current);
        let mut next = vec![0u8; current.len()];
        for c in input {
            next.fill(0);
            let mut live = false;
            for (pos, token) in self.tokens.iter().enumerate() {
                if current.get(pos).copied().unwrap_or(0) == 0 {
                    continue;
                }
                // AT and INSIDE read characters the same way; they differ only in
                // whether the token may still be skipped (see `close`).
                let (stay, advance) = step(token, c);
                if let Some(flag) = stay {
                    set(&mut next, pos, flag);
                }
                if advance {
                    set(&mut next, pos + 1, AT);
                }
                live |= stay.is_some() || advance;
            }
            if !live {
                // Nothing is live: no further input can revive a match.
                return next;
            }
            self.close(&mut next);
            std::mem::swap(&mut current, &mut next);
        }
        current
    }

    /// Follows empty moves: a nullable token reached at its start also makes the next
    /// position live. Moves only go forward by one, so one ascending pass is enough.
    fn close(&self, states: &mut [u8]) {
        for (pos, token) in self.tokens.iter().enumerate() {
            if token.nullable() && states.get(pos).is_some_and(|s| s & AT != 0) {
                set(states, pos + 1, AT);
            }
        }
    }
}

/// At this position with the token free to be left out, or ended: nothing of it read
/// yet, or (for `*` and a trailing `**`) any amount of it.
const AT: u8 = 1;
/// Inside an `AnyDirs` after reading part of it: it must now end with a `/`, so it can
/// no longer be skipped. (`*` and a trailing `**` are plain repetitions and never need
/// this: after reading some of them, ending them is still fine.)
const INSIDE: u8 = 2;

fn set(states: &mut [u8], pos: usize, flag: u8) {
    if let Some(slot) = states.get_mut(pos) {
        *slot |= flag;
    }
}

/// What reading `c` at a token does: stay on it (with the flag to stay in) and/or
/// move to the start of the next token.
fn step(token: &Token, c: char) -> (Option<u8>, bool) {
    let stay = |ok: bool, flag: u8| ok.then_some(flag);
    match token {
        Token::Lit(l) => (None, *l == c),
        Token::One => (None, c != '/'),
        Token::Star => (stay(c != '/', AT), false),
        // `(.*/)?`: upstream's `.` is RE2's default dot, which does not match `\n`.
        Token::AnyDirs => (stay(c != '\n', INSIDE), c == '/'),
        Token::AnyRest => (stay(c != '\n', AT), false),
        Token::Class(class) => (None, class.matches(c)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Class, Glob, Token};

    fn lits(s: &str) -> Vec<Token> {
        s.chars().map(Token::Lit).collect()
    }

    #[test]
    fn any_dirs_is_optional_and_ends_with_slash() {
        // `(.*/)?foo`
        let mut tokens = vec![Token::AnyDirs];
        tokens.extend(lits("foo"));
        let glob = Glob::new(tokens);
        assert!(glob.matches("foo"));
        assert!(glob.matches("a/foo"));
        assert!(glob.matches("a/b/foo"));
        assert!(!glob.matches("afoo"));
        assert!(!glob.matches("a\n/foo"));
    }

    #[test]
    fn star_stops_at_slash() {
        let mut tokens = lits("a");
        tokens.push(Token::Star);
        let glob = Glob::new(tokens);
        assert!(glob.matches("a"));
        assert!(glob.matches("abc"));
        assert!(!glob.matches("ab/c"));
    }

    #[test]
    fn negated_class_matches_slash_and_newline() {
        let glob = Glob::new(vec![Token::Class(Class {
            negated: true,
            ranges: vec![('a', 'a')],
        })]);
        assert!(glob.matches("/"));
        assert!(glob.matches("\n"));
        assert!(!glob.matches("a"));
    }

    #[test]
    fn could_match_below() {
        // `a/*/b`
        let mut tokens = lits("a/");
        tokens.push(Token::Star);
        tokens.extend(lits("/b"));
        let glob = Glob::new(tokens);
        assert!(glob.could_match_below("a"));
        assert!(glob.could_match_below("a/x"));
        assert!(!glob.could_match_below("a/x/b"));
        assert!(!glob.could_match_below("b"));
    }

    #[test]
    fn many_stars_stay_fast() {
        // A backtracking matcher would take exponential time here.
        let mut tokens = Vec::new();
        for _ in 0..40 {
            tokens.push(Token::AnyDirs);
            tokens.push(Token::Lit('a'));
        }
        tokens.push(Token::Lit('b'));
        let glob = Glob::new(tokens);
        let path = "a/".repeat(200);
        assert!(!glob.matches(&path));
    }
}
