//! A logical line: the pieces of one or more physical lines joined after
//! continuation escapes are removed, with a map back to source offsets so
//! every word cut out of it can still point at its place in the file.

use crate::source::{LineIndex, Span};

/// Joined text plus, for each piece, where it came from.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogicalLine {
    pub text: String,
    /// `(offset in text, offset in source)` of each piece, in order.
    pieces: Vec<(usize, usize)>,
    /// Where the line starts in the source, even when every piece is empty
    /// (a lone continuation escape), so spans still point at it.
    anchor: Option<usize>,
}

impl LogicalLine {
    /// Appends `piece`, which starts at byte `source_offset` of the source.
    pub fn push(&mut self, piece: &str, source_offset: usize) {
        self.anchor.get_or_insert(source_offset);
        if piece.is_empty() {
            return;
        }
        self.pieces.push((self.text.len(), source_offset));
        self.text.push_str(piece);
    }

    /// The source offset of text offset `at` (which must be inside a piece,
    /// or the end of the text).
    fn source_offset(&self, at: usize) -> usize {
        let i = self.pieces.partition_point(|&(t, _)| t <= at);
        match i.checked_sub(1).and_then(|i| self.pieces.get(i)) {
            Some(&(t, s)) => s + (at - t),
            None => 0,
        }
    }

    /// The source byte range of text bytes `start..end`.
    pub fn source_range(&self, start: usize, end: usize) -> (usize, usize) {
        if self.pieces.is_empty() {
            let at = self.anchor.unwrap_or(0);
            return (at, at);
        }
        let from = self.source_offset(start.min(self.text.len().saturating_sub(1)));
        if end <= start {
            return (from, from);
        }
        // Map the last byte, not `end`: `end` may be where the next piece
        // starts, which can be far away in the source.
        let to = self.source_offset(end - 1) + 1;
        (from, to.max(from))
    }
}

impl LogicalLine {
    /// The source byte ranges the text was taken from.
    pub fn source_ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.pieces
            .iter()
            .enumerate()
            .map(|(i, &(text_at, source_at))| {
                let text_end = self.pieces.get(i + 1).map_or(self.text.len(), |p| p.0);
                (source_at, source_at + (text_end - text_at))
            })
    }
}

/// Turns positions in one logical line into source spans.
pub(crate) struct Locator<'a> {
    pub logical: &'a LogicalLine,
    pub source: &'a str,
    pub index: &'a LineIndex,
}

impl Locator<'_> {
    /// The text being located.
    pub fn text(&self) -> &str {
        &self.logical.text
    }

    /// The span of text bytes `start..end`.
    pub fn span(&self, start: usize, end: usize) -> Span {
        let (from, to) = self.logical.source_range(start, end);
        self.index.span(self.source, from, to)
    }

    /// The span of `sub`, which must be a slice of [`Locator::text`].
    pub fn span_of(&self, sub: &str) -> Span {
        let start = offset_in(self.text(), sub);
        self.span(start, start + sub.len())
    }
}

/// Byte offset of `inner` within `outer`, when `inner` is a slice of it.
pub(crate) fn offset_in(outer: &str, inner: &str) -> usize {
    let base = outer.as_ptr() as usize;
    let at = inner.as_ptr() as usize;
    at.saturating_sub(base).min(outer.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_map_across_pieces() {
        let source = "RUN a \\\n  b\n";
        let mut line = LogicalLine::default();
        line.push("RUN a ", 0);
        line.push("  b", 8);
        assert_eq!(line.text, "RUN a   b");
        assert_eq!(line.source_range(4, 5), (4, 5));
        assert_eq!(line.source_range(8, 9), (10, 11));
        // A range spanning the join ends at the last byte's source place.
        assert_eq!(line.source_range(4, 9), (4, 11));
        assert_eq!(&source[10..11], "b");
    }
}
