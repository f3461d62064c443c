//! Source text and positions: byte ranges into the Dockerfile as read, and
//! the 1-based line and column a person sees in an editor.
//!
//! Every node of the AST carries a [`Span`], so any later stage (checks,
//! lowering, build errors) can point at the exact text it is complaining
//! about without re-reading the file.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A region of the source: a byte range plus the 1-based line and column of
/// its start and the line of its end. Columns count characters, not bytes,
/// so a caret lines up under non-ASCII text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// 1-based column (in characters) of `start`.
    pub column: usize,
    /// 1-based line of the last byte (equal to `line` for a one-line span).
    pub end_line: usize,
}

impl Span {
    /// The byte range, for slicing the source or building a diagnostic label.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start..self.end
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True when the span covers no bytes (a position, e.g. end of input).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Start offsets of every line, to turn byte offsets into line and column.
#[derive(Debug)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    /// The line of the last lookup: the parser asks about offsets in file
    /// order, so the answer is usually on the same or the next line and a
    /// binary search over the whole file can be skipped.
    last_line: AtomicUsize,
}

impl Clone for LineIndex {
    fn clone(&self) -> Self {
        Self {
            line_starts: self.line_starts.clone(),
            last_line: AtomicUsize::new(self.last_line.load(Ordering::Relaxed)),
        }
    }
}

impl LineIndex {
    /// Index the lines of `text` (a line ends after each `\n`).
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            line_starts,
            last_line: AtomicUsize::new(0),
        }
    }

    /// Whether 0-based `line` holds byte `offset`.
    fn holds(&self, line: usize, offset: usize) -> bool {
        self.line_starts.get(line).is_some_and(|&s| s <= offset)
            && self
                .line_starts
                .get(line + 1)
                .is_none_or(|&next| offset < next)
    }

    /// 0-based line number holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        let hint = self.last_line.load(Ordering::Relaxed);
        let line = if let Some(near) = (hint..hint + 3).find(|&l| self.holds(l, offset)) {
            near
        } else {
            match self.line_starts.binary_search(&offset) {
                Ok(line) => line,
                Err(next) => next.saturating_sub(1),
            }
        };
        self.last_line.store(line, Ordering::Relaxed);
        line
    }

    /// Byte offset where the 1-based `line` starts, if there is such a line.
    pub fn line_start(&self, line: usize) -> Option<usize> {
        self.line_starts.get(line.checked_sub(1)?).copied()
    }

    /// The span of bytes `start..end` of `text` (the text this index was
    /// built from). Offsets past the end are clamped.
    pub fn span(&self, text: &str, start: usize, end: usize) -> Span {
        let start = floor_char_boundary(text, start.min(text.len()));
        let end = floor_char_boundary(text, end.clamp(start, text.len()));
        let line = self.line_of(start);
        let line_start = self.line_starts[line];
        let column = text[line_start..start].chars().count() + 1;
        // The last byte of a non-empty span decides its end line; a span that
        // ends right after a newline still ends on the newline's line.
        let mut end_line = line;
        while end > start && !self.holds(end_line, end - 1) {
            end_line += 1;
        }
        Span {
            start,
            end,
            line: line + 1,
            column,
            end_line: end_line + 1,
        }
    }
}

/// The largest char boundary at or below `i` (std's is unstable).
fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_lines_and_character_columns() {
        let text = "FROM a\nRUN ☃ x\n\nCMD b";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap();
        let span = index.span(text, x, x + 1);
        assert_eq!((span.line, span.column, span.end_line), (2, 7, 2));
        let cmd = text.find("CMD").unwrap();
        let span = index.span(text, 0, cmd + 3);
        assert_eq!((span.line, span.column, span.end_line), (1, 1, 4));
        assert_eq!(index.line_start(4), Some(cmd));
        assert_eq!(index.line_start(5), None);
    }

    #[test]
    fn out_of_range_offsets_are_clamped() {
        let text = "é";
        let index = LineIndex::new(text);
        let span = index.span(text, 1, 99);
        assert_eq!((span.start, span.end), (0, 2));
    }
}
