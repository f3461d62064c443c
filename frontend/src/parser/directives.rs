//! Parser directives (`# syntax=`, `# escape=`, `# check=`): recognised only
//! in the comment block at the very top of the file, as BuildKit does.

use super::error::{ParseError, ParseErrorKind};
use crate::ast::Directive;
use crate::source::Span;

/// Directive names BuildKit's parser knows.
const KNOWN: [&str; 3] = ["syntax", "escape", "check"];

/// Watches leading lines for directives until the first line that is not one.
#[derive(Debug)]
pub(crate) struct DirectiveScanner {
    done: bool,
    pub escape: char,
    pub found: Vec<Directive>,
}

impl DirectiveScanner {
    pub fn new() -> Self {
        Self {
            done: false,
            escape: '\\',
            found: Vec::new(),
        }
    }

    /// Looks at the first line of what may be an instruction, leading
    /// whitespace already removed. Any line that is not a known directive
    /// ends directive scanning for good.
    pub fn observe(&mut self, line: &str, span: Span) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = split_directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        if !KNOWN.contains(&name.as_str()) {
            self.done = true;
            return Ok(());
        }
        let fail = |kind| ParseError { kind, span };
        if self.found.iter().any(|d| d.name == name) {
            return Err(fail(ParseErrorKind::RepeatedDirective(name)));
        }
        if name == "escape" {
            self.escape = match value {
                "\\" => '\\',
                "`" => '`',
                other => return Err(fail(ParseErrorKind::InvalidEscape(other.to_string()))),
            };
        }
        self.found.push(Directive {
            name,
            value: value.to_string(),
            span,
        });
        Ok(())
    }
}

/// Go's `\s` in BuildKit's directive pattern: ASCII blanks, no vertical tab.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{c}' | '\r')
}

/// Splits `#name=value` (blanks allowed around each part) into name and
/// value, following BuildKit's `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn split_directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start_matches(is_re_space);
    let name_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = rest.split_at(name_len);
    let rest = rest.trim_start_matches(is_re_space).strip_prefix('=')?;
    if rest.is_empty() {
        return None;
    }
    let value = rest.trim_matches(is_re_space);
    if value.is_empty() {
        // The pattern's lazy value still takes one blank when only blanks
        // follow `=`: the value is that last blank.
        return Some((name, &rest[rest.len() - 1..]));
    }
    Some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_shapes() {
        assert_eq!(split_directive("# escape=`"), Some(("escape", "`")));
        assert_eq!(split_directive("#escape = ` "), Some(("escape", "`")));
        assert_eq!(
            split_directive("# syntax = docker/dockerfile:1"),
            Some(("syntax", "docker/dockerfile:1"))
        );
        assert_eq!(split_directive("# ESCAPE=\\"), Some(("ESCAPE", "\\")));
        assert_eq!(split_directive("# escape="), None);
        assert_eq!(split_directive("# escape=  "), Some(("escape", " ")));
        assert_eq!(split_directive("# hello world"), None);
        assert_eq!(split_directive("# 1a=b"), None);
        assert_eq!(split_directive("FROM x"), None);
    }

    #[test]
    fn unknown_or_non_directive_lines_end_scanning() {
        let mut scanner = DirectiveScanner::new();
        scanner.observe("# foo=bar", Span::default()).unwrap();
        scanner.observe("# escape=`", Span::default()).unwrap();
        assert_eq!(scanner.escape, '\\');
        assert!(scanner.found.is_empty());
    }

    #[test]
    fn repeated_and_invalid_directives_fail() {
        let mut scanner = DirectiveScanner::new();
        scanner.observe("# escape=`", Span::default()).unwrap();
        let err = scanner.observe("# Escape=\\", Span::default()).unwrap_err();
        assert_eq!(
            err.kind,
            ParseErrorKind::RepeatedDirective("escape".to_string())
        );
        let err = DirectiveScanner::new()
            .observe("# escape=x", Span::default())
            .unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::InvalidEscape("x".to_string()));
    }
}
