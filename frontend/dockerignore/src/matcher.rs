//! A list of patterns evaluated together: last match wins, and a pattern that matches a
//! directory also matches everything below it.
//!
//! Follows moby/patternmatcher's `MatchesOrParentMatches` and, for walkers,
//! `MatchesUsingParentResults`, where the walker hands each directory's per-pattern
//! results to its children so ancestors are never matched twice.

use crate::error::ParseError;
use crate::pattern::Pattern;
use crate::read::read_all;
use kiln_rootpath::dir;

/// Compiled ignore patterns, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    has_exceptions: bool,
}

/// What a walker keeps for one directory it entered: for every pattern, whether it
/// matched this directory or one of its ancestors. Children inherit those matches.
///
/// [`Matcher::root`] gives the state of the context root. A `DirState::default()` (or
/// one from another matcher with a different number of patterns) carries no
/// information, and the ancestors are then matched from the path itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirState {
    matched: Vec<bool>,
}

/// The verdict on a directory reached by a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirVerdict {
    /// The directory itself is excluded from the context.
    pub excluded: bool,
    /// Nothing below the directory can be included either: it is excluded and no
    /// exception could match a path under it, so the walker need not read it.
    /// When `excluded` is set but this is not, children must still be checked.
    pub skip: bool,
    /// The state to pass when checking the directory's children.
    pub state: DirState,
}

impl Matcher {
    /// Compiles patterns given one per item, each read like a line of an ignore file
    /// (trimmed, `!` for an exception, cleaned, leading `/` dropped) except that `#`
    /// starts no comment. Blank items are skipped, as upstream's `New` does. In errors,
    /// `line` is the 1-based position of the item.
    pub fn new<I, S>(patterns: I) -> Result<Matcher, ParseError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut matcher = Matcher::default();
        for (index, raw) in patterns.into_iter().enumerate() {
            let raw = raw.as_ref();
            if raw.trim().is_empty() {
                continue;
            }
            matcher.push(index + 1, raw)?;
        }
        Ok(matcher)
    }

    /// Reads the bytes of an ignore file ([`read_all`]) and compiles every pattern;
    /// errors name the line.
    pub fn parse(content: &[u8]) -> Result<Matcher, ParseError> {
        let mut matcher = Matcher::default();
        for line in read_all(content)? {
            matcher.push(line.number, &line.pattern)?;
        }
        Ok(matcher)
    }

    fn push(&mut self, line: usize, text: &str) -> Result<(), ParseError> {
        let pattern = Pattern::new(text).map_err(|source| ParseError::InvalidPattern {
            line,
            pattern: text.trim().to_owned(),
            source,
        })?;
        self.has_exceptions |= pattern.is_exception();
        self.patterns.push(pattern);
        Ok(())
    }

    /// The compiled patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether there are no patterns at all (nothing is ever excluded).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern is an exception (`!`); upstream's `Exclusions()`. Without
    /// one, an excluded directory can always be skipped whole.
    pub fn has_exceptions(&self) -> bool {
        self.has_exceptions
    }

    /// Whether `path` is excluded: the last pattern matching it, or matching one of its
    /// parent directories, is not an exception. Upstream's `MatchesOrParentMatches`.
    ///
    /// `path` is a clean `/`-separated path relative to the context root. The root
    /// itself (`""` or `.`) is never excluded. A walker should prefer
    /// [`enter_dir`](Self::enter_dir) and [`is_excluded`](Self::is_excluded).
    pub fn matches(&self, path: &str) -> bool {
        self.is_excluded(path, &DirState::default())
    }

    /// Whether `path` is excluded looking at `path` alone, not at its parents.
    /// Upstream's `MatchesExact`.
    pub fn matches_exact(&self, path: &str) -> bool {
        !is_root(path)
            && self
                .patterns
                .iter()
                .rev()
                .find(|p| p.matches(path))
                .is_some_and(|p| !p.is_exception())
    }

    /// The state of the context root, to pass for its direct children.
    pub fn root(&self) -> DirState {
        DirState {
            matched: vec![false; self.patterns.len()],
        }
    }

    /// Whether the entry at `path` is excluded, given the state of its parent directory
    /// (from [`root`](Self::root) or [`enter_dir`](Self::enter_dir)).
    pub fn is_excluded(&self, path: &str, parent: &DirState) -> bool {
        if is_root(path) {
            return false;
        }
        let ancestors = self.ancestors(path, parent);
        // Last match wins. Upstream walks forward and skips patterns that cannot change
        // the answer; the result is the same as taking the last pattern that matches.
        self.patterns
            .iter()
            .enumerate()
            .rev()
            .find(|(i, p)| ancestors.matched(*i, p) || p.matches(path))
            .is_some_and(|(_, p)| !p.is_exception())
    }

    /// Checks directory `path`, given the state of its parent, and returns whether it
    /// is excluded, whether its whole subtree can be skipped, and the state its
    /// children need.
    pub fn enter_dir(&self, path: &str, parent: &DirState) -> DirVerdict {
        if is_root(path) {
            return DirVerdict {
                excluded: false,
                skip: false,
                state: self.root(),
            };
        }
        let ancestors = self.ancestors(path, parent);
        // Unlike upstream's MatchInfo, record every pattern, even one that could not
        // change this directory's verdict: a child may need it once an exception has
        // flipped the answer. With `d`, `!d/f`, `d`, upstream's
        // MatchesUsingParentResults leaves the second `d` unrecorded at `d` and so
        // includes `d/f`, while MatchesOrParentMatches (and the documented "last
        // matching line wins") excludes it; we give the latter answer on both paths.
        let matched: Vec<bool> = self
            .patterns
            .iter()
            .enumerate()
            .map(|(i, p)| ancestors.matched(i, p) || p.matches(path))
            .collect();
        let excluded = self
            .patterns
            .iter()
            .zip(&matched)
            .rev()
            .find(|(_, m)| **m)
            .is_some_and(|(p, _)| !p.is_exception());
        // Below an excluded directory every pattern that matched it still matches, so
        // only an exception matching something further down can re-include a path
        // (this is what moby's archive and fsutil approximate by prefix comparison).
        let skip = excluded
            && !self
                .patterns
                .iter()
                .any(|p| p.is_exception() && p.could_match_below(path));
        DirVerdict {
            excluded,
            skip,
            state: DirState { matched },
        }
    }

    /// How to learn whether pattern `i` matched an ancestor of `path`: from the parent's
    /// state when it fits this matcher, otherwise by matching every ancestor.
    fn ancestors<'a>(&self, path: &str, parent: &'a DirState) -> Ancestors<'a> {
        if parent.matched.len() == self.patterns.len() {
            return Ancestors::Known(&parent.matched);
        }
        let parent_dir = dir(path);
        if parent_dir == "." {
            return Ancestors::Known(&[]);
        }
        // Every prefix of the parent ending before a `/`, then the parent itself; the
        // same list upstream builds with strings.Split and Join.
        let mut prefixes: Vec<String> = parent_dir
            .match_indices('/')
            .filter_map(|(i, _)| parent_dir.get(..i))
            .map(str::to_owned)
            .collect();
        prefixes.push(parent_dir);
        Ancestors::Paths(prefixes)
    }
}

enum Ancestors<'a> {
    Known(&'a [bool]),
    Paths(Vec<String>),
}

impl Ancestors<'_> {
    fn matched(&self, i: usize, pattern: &Pattern) -> bool {
        match self {
            Ancestors::Known(matched) => matched.get(i).copied().unwrap_or(false),
            Ancestors::Paths(paths) => paths.iter().any(|a| pattern.matches(a)),
        }
    }
}

/// The context root can't be excluded; upstream refuses too ("Don't let them exclude
/// everything, kind of silly").
fn is_root(path: &str) -> bool {
    path.is_empty() || path == "."
}
