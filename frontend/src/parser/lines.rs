//! Physical lines of a Dockerfile and the small text predicates BuildKit's
//! line loop applies to them (comments, blank lines, continuations).

/// One physical line: where it starts, where its text ends (line ending
/// removed) and where the next line starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PhysicalLine {
    pub start: usize,
    /// End of the text with every trailing CR and LF removed.
    pub content_end: usize,
    /// Start of the next line (one past the LF, or the end of the input).
    pub end: usize,
}

/// Iterator over the physical lines of a text. A line ends after each LF.
pub(crate) struct Lines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }
}

impl Iterator for Lines<'_> {
    type Item = PhysicalLine;

    fn next(&mut self) -> Option<PhysicalLine> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |i| start + i + 1);
        // BuildKit trims every trailing CR and LF, not just one CRLF.
        let content_end = start + self.text[start..end].trim_end_matches(['\r', '\n']).len();
        self.pos = end;
        Some(PhysicalLine {
            start,
            content_end,
            end,
        })
    }
}

/// Whitespace as Go's `unicode.IsSpace` sees it (the Unicode White_Space
/// property, which is also what Rust's `char::is_whitespace` tests).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// The blanks of BuildKit's `[\t\v\f\r ]` splitting pattern (no LF: a
/// logical line never holds one).
pub(crate) fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{b}' | '\u{c}' | '\r')
}

/// A comment line: `#` is its first non-blank character.
pub(crate) fn is_comment(line: &str) -> bool {
    line.trim_start_matches(is_space).starts_with('#')
}

/// Removes a line-continuation escape from the end of `line`.
///
/// The escape character continues a line when only spaces and tabs follow
/// it and it is either the first character or follows a character that is
/// not itself the escape (so `\\` at the end does not continue; BuildKit's
/// pattern cannot tell `\\\` apart either). Returns the text before the
/// escape and `true`, or the line unchanged and `false`.
pub(crate) fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    let Some(before) = body.strip_suffix(escape) else {
        return (line, false);
    };
    if before.ends_with(escape) {
        return (line, false);
    }
    (before, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_offsets_and_strip_every_trailing_cr_lf() {
        let text = "a\r\n\nb\r\r\nc";
        let lines: Vec<_> = Lines::new(text)
            .map(|l| &text[l.start..l.content_end])
            .collect();
        assert_eq!(lines, ["a", "", "b", "c"]);
    }

    #[test]
    fn continuation_rules() {
        assert_eq!(trim_continuation("a \\", '\\'), ("a ", true));
        assert_eq!(trim_continuation("a\\ \t", '\\'), ("a", true));
        assert_eq!(trim_continuation("\\", '\\'), ("", true));
        assert_eq!(trim_continuation("a\\\\", '\\'), ("a\\\\", false));
        assert_eq!(trim_continuation("a `", '`'), ("a ", true));
        assert_eq!(trim_continuation("a \\", '`'), ("a \\", false));
        assert_eq!(trim_continuation("", '\\'), ("", false));
    }
}
