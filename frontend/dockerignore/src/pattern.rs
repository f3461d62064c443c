//! One `.dockerignore` pattern: syntax check, classification, and matching a single path.
//!
//! Follows moby/patternmatcher (`New`, `Pattern.compile`, `Pattern.match`). Upstream
//! sorts each pattern into one of four kinds and the kind changes behaviour at the
//! edges (`**file` compares a plain suffix, so it matches `myfile`, while `**fil?`
//! goes through the regexp and does not), so the same sorting is reproduced here.

use std::fmt;
use std::iter::Peekable;
use std::str::Chars;

use crate::error::PatternError;
use crate::glob::{Class, Glob, Token};
use crate::read::normalize;

/// A compiled pattern: exclusion, or exception (`!`) to earlier exclusions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    exception: bool,
    kind: Kind,
}

/// How upstream decided to compare a pattern with a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// No wildcard: the path must equal the text.
    Exact(String),
    /// Plain text then a final `**` (`dir/**`): the path must start with the text.
    Prefix(String),
    /// A leading `**` then plain text (`**/foo`, `**.txt`): the path must end with the
    /// text, or equal it without its leading `/`.
    Suffix(String),
    /// Anything else.
    Glob(Glob),
}

impl Pattern {
    /// Compiles one pattern written as in an ignore file: a leading `!` makes it an
    /// exception; surrounding whitespace, `.`/`..` elements, doubled `/` and a leading
    /// `/` are normalised away as [`read_all`](crate::read_all) does.
    pub fn new(line: &str) -> Result<Pattern, PatternError> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return Err(PatternError::Empty);
        }
        let normalized = normalize(trimmed);
        let (exception, body) = match normalized.strip_prefix('!') {
            Some(body) => (true, body),
            None => (false, normalized.as_str()),
        };
        // Upstream cleans `!/` to `!` and rejects it with the bare `!`.
        if exception && (body.is_empty() || body == "/") {
            return Err(PatternError::EmptyException);
        }
        let kind = compile(body)?;
        Ok(Pattern {
            text: body.to_owned(),
            exception,
            kind,
        })
    }

    /// The cleaned pattern, without the `!` of an exception.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is an exception (`!pattern`), re-including what it matches.
    pub fn is_exception(&self) -> bool {
        self.exception
    }

    /// Whether `path` itself matches, without looking at its parent directories.
    /// `path` is a clean, `/`-separated path relative to the context root.
    pub fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact(text) => path == text,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    // `**/foo` also matches `foo` at the root.
                    || suffix.strip_prefix('/') == Some(path)
            }
            Kind::Glob(glob) => glob.matches(path),
        }
    }

    /// Whether some path strictly below directory `dir` (`dir/...`) could match.
    /// May answer yes when no real path matches; never answers no when one does.
    pub fn could_match_below(&self, dir: &str) -> bool {
        match &self.kind {
            Kind::Exact(text) => text
                .strip_prefix(dir)
                .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/')),
            Kind::Prefix(prefix) => {
                // Some `dir/...` starts with `prefix` iff one of the two extends the other.
                let below = format!("{dir}/");
                prefix.starts_with(below.as_str()) || below.starts_with(prefix.as_str())
            }
            // A suffix can always be appended below any directory.
            Kind::Suffix(_) => true,
            Kind::Glob(glob) => glob.could_match_below(dir),
        }
    }

    #[cfg(test)]
    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exception {
            f.write_str("!")?;
        }
        f.write_str(&self.text)
    }
}

/// Which kind the pattern is heading for while it is being read; mirrors upstream's
/// `detectedType`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detected {
    Exact,
    Prefix,
    Suffix,
    Glob,
}

/// Compiles a cleaned pattern body (no `!`). Checks the syntax Go's `filepath.Match`
/// checks, plus reversed ranges, which upstream only finds when its regexp fails to
/// compile during the walk.
fn compile(body: &str) -> Result<Kind, PatternError> {
    let mut chars = body.chars().peekable();
    let mut tokens = Vec::new();
    // The plain text read so far; it is all there is while the kind is Exact or Prefix.
    let mut literal = String::new();
    let mut detected = Detected::Exact;
    let mut at_start = true;
    while let Some(ch) = chars.next() {
        let first = std::mem::replace(&mut at_start, false);
        match ch {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                // `**/` is read as `**`: the slash belongs to it.
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        tokens.push(Token::AnyRest);
                        detected = Detected::Glob;
                    }
                } else {
                    tokens.push(Token::AnyDirs);
                    detected = Detected::Glob;
                }
                // Upstream checks this last, so a leading `**` wins over the above;
                // anything wild later in the pattern turns it back into a Glob.
                if first {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                tokens.push(Token::Star);
                detected = Detected::Glob;
            }
            '?' => {
                tokens.push(Token::One);
                detected = Detected::Glob;
            }
            '\\' => {
                let escaped = chars.next().ok_or(PatternError::TrailingBackslash)?;
                tokens.push(Token::Lit(escaped));
                detected = Detected::Glob;
            }
            '[' => {
                tokens.push(Token::Class(parse_class(&mut chars)?));
                detected = Detected::Glob;
            }
            ']' => {
                // A stray `]` is a literal, but upstream hands it to its regexp, which
                // makes the pattern a Glob; keep that so `**` handling stays identical.
                tokens.push(Token::Lit(']'));
                detected = Detected::Glob;
            }
            c => {
                tokens.push(Token::Lit(c));
                literal.push(c);
            }
        }
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact(literal),
        Detected::Prefix => Kind::Prefix(literal),
        // Plain text after the leading `**` (its `/` included, as upstream slices it).
        Detected::Suffix => Kind::Suffix(body.get(2..).unwrap_or_default().to_owned()),
        Detected::Glob => Kind::Glob(Glob::new(tokens)),
    })
}

/// Reads a class after its `[`, with Go's `filepath.Match` grammar:
/// `[` [`^`] { char | char `-` char } `]`, where a char is anything but `\`, `-` and
/// `]`, or `\` followed by any character. Inside a class `*`, `?` and `[` are plain.
fn parse_class(chars: &mut Peekable<Chars<'_>>) -> Result<Class, PatternError> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
            return Ok(Class { negated, ranges });
        }
        let lo = class_char(chars)?;
        let hi = if chars.next_if_eq(&'-').is_some() {
            if chars.peek() == Some(&']') {
                return Err(PatternError::UnfinishedRange { lo });
            }
            class_char(chars)?
        } else {
            lo
        };
        if lo > hi {
            return Err(PatternError::ReversedRange { lo, hi });
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &mut Peekable<Chars<'_>>) -> Result<char, PatternError> {
    match chars.next() {
        None => Err(PatternError::UnclosedClass),
        Some(']') => Err(PatternError::EmptyClass),
        Some('-') => Err(PatternError::UnescapedDash),
        Some('\\') => chars.next().ok_or(PatternError::UnclosedClass),
        Some(c) => Ok(c),
    }
}

#[cfg(test)]
mod tests {
    use super::{Kind, Pattern};
    use crate::error::PatternError;

    fn kind_name(pattern: &str) -> &'static str {
        match Pattern::new(pattern).map(|p| p.kind().clone()) {
            Ok(Kind::Exact(_)) => "exact",
            Ok(Kind::Prefix(_)) => "prefix",
            Ok(Kind::Suffix(_)) => "suffix",
            Ok(Kind::Glob(_)) => "glob",
            Err(_) => "error",
        }
    }

    /// The match kinds upstream's TestCompile expects.
    #[test]
    fn classification_follows_upstream() {
        let cases = [
            ("*", "glob"),
            ("file*", "glob"),
            ("*file", "glob"),
            ("a*/b", "glob"),
            ("**", "suffix"),
            ("**/**", "glob"),
            ("dir/**", "prefix"),
            ("**/dir", "suffix"),
            ("**/dir2/*", "glob"),
            ("**/dir2/**", "glob"),
            ("**file", "suffix"),
            ("**/file*txt", "glob"),
            ("**/**/*.txt", "glob"),
            ("a[b-d]e", "glob"),
            (".*", "glob"),
            ("abc.def", "exact"),
            ("abc?def", "glob"),
            ("**/foo/bar", "suffix"),
            ("a(b)c/def", "exact"),
            ("a.|)$(}+{bc", "exact"),
            (
                "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
                "exact",
            ),
            ("a]b", "glob"),
            ("a\\b", "glob"),
        ];
        for (pattern, want) in cases {
            assert_eq!(kind_name(pattern), want, "kind of {pattern:?}");
        }
    }

    #[test]
    fn syntax_errors() {
        let cases = [
            ("[]a]", PatternError::EmptyClass),
            ("[-]", PatternError::UnescapedDash),
            ("[x-]", PatternError::UnfinishedRange { lo: 'x' }),
            ("[-x]", PatternError::UnescapedDash),
            ("\\", PatternError::TrailingBackslash),
            ("[a-b-c]", PatternError::UnescapedDash),
            ("[", PatternError::UnclosedClass),
            ("[^", PatternError::UnclosedClass),
            ("[^bc", PatternError::UnclosedClass),
            ("a[", PatternError::UnclosedClass),
            ("[\\", PatternError::UnclosedClass),
            ("[a\\", PatternError::UnclosedClass),
            ("[^]", PatternError::EmptyClass),
            ("[z-a]", PatternError::ReversedRange { lo: 'z', hi: 'a' }),
            (
                "[Local-Only]/",
                PatternError::ReversedRange { lo: 'l', hi: 'O' },
            ),
            ("!", PatternError::EmptyException),
            ("! ", PatternError::EmptyException),
            ("!/", PatternError::EmptyException),
            ("!//", PatternError::EmptyException),
            ("  ", PatternError::Empty),
        ];
        for (pattern, want) in cases {
            assert_eq!(Pattern::new(pattern), Err(want), "error for {pattern:?}");
        }
    }

    #[test]
    fn display_keeps_the_exception_marker() {
        let p = Pattern::new("  ! /foo/./bar/ ").ok();
        assert_eq!(p.map(|p| p.to_string()), Some("!foo/bar".to_owned()));
    }

    #[test]
    fn could_match_below() {
        let cases = [
            ("foo/bar", "foo", true),
            ("foo/bar", "foo/bar", false),
            ("foo/bar", "fo", false),
            ("foo", "foo", false),
            ("foo/**", "foo", true),
            ("foo/**", "foo/x", true),
            ("foo/b**", "foo", true),
            ("foo/b**", "foo/a", false),
            ("fo**", "foo/x", true),
            ("**/keep", "any/dir", true),
            ("*/keep", "dir", true),
            ("*/keep", "dir/sub", false),
            ("dir/*.go", "dir", true),
            ("dir/*.go", "other", false),
            ("a/**/b", "a/x/y", true),
        ];
        for (pattern, dir, want) in cases {
            let p = Pattern::new(pattern).ok();
            assert_eq!(
                p.map(|p| p.could_match_below(dir)),
                Some(want),
                "{pattern:?} below {dir:?}"
            );
        }
    }
}
