//! The Dockerfile parser: bytes → [`Dockerfile`] AST with spans, following
//! BuildKit's parser rule for rule (`frontend/dockerfile/parser` at the
//! commit named in `../shared/conformance/buildkit/FORMAT.md`).
//!
//! The parse is line-driven: directives in the leading comment block, then
//! one logical line per instruction (continuations joined, comment and
//! blank lines inside them skipped), keyword and flags split off, arguments
//! shaped by keyword, and heredoc bodies read raw after the instruction.
//! Nothing here expands variables or validates instruction semantics; see
//! [`crate::instructions`] and [`crate::check`].
//!
//! Where kiln deliberately differs: bytes that are not UTF-8 inside an
//! instruction are an error (BuildKit passes them through), and lines are not
//! limited to 64 KiB.

mod args;
mod directives;
mod error;
mod heredoc;
mod json;
mod lines;
mod logical;
mod split;
mod words;

pub use error::{ParseError, ParseErrorKind};

use crate::ast::{Args, Dockerfile, Instruction, Warning};
use crate::source::LineIndex;
use directives::DirectiveScanner;
use lines::{Lines, PhysicalLine, is_comment, is_space, trim_continuation};
use logical::{Locator, LogicalLine};

/// Parses a Dockerfile from its bytes.
pub fn parse(input: &[u8]) -> Result<Dockerfile, ParseError> {
    let (source, invalid) = decode(input);
    let index = LineIndex::new(&source);
    let mut parser = Parser {
        source: &source,
        index: &index,
        invalid: &invalid,
        lines: Lines::new(&source),
        directives: DirectiveScanner::new(),
        instructions: Vec::new(),
        warnings: Vec::new(),
    };
    parser.run()?;
    let Parser {
        directives,
        instructions,
        warnings,
        ..
    } = parser;
    if instructions.is_empty() {
        let end = source.len();
        return Err(ParseError {
            kind: ParseErrorKind::NoInstructions,
            span: index.span(&source, end, end),
        });
    }
    Ok(Dockerfile {
        escape: directives.escape,
        directives: directives.found,
        instructions,
        warnings,
        lines: index,
        source,
    })
}

/// The text spans point into: `input` without a leading UTF-8 byte-order
/// mark, decoded as UTF-8 with invalid bytes replaced by U+FFFD.
pub fn source_text(input: &[u8]) -> String {
    decode(input).0
}

/// Decodes `input` (BOM dropped) as UTF-8, replacing invalid bytes with
/// U+FFFD, and returns where replacements were made, in order.
fn decode(input: &[u8]) -> (String, Vec<usize>) {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut text = String::with_capacity(input.len());
    let mut invalid = Vec::new();
    for chunk in input.utf8_chunks() {
        text.push_str(chunk.valid());
        if !chunk.invalid().is_empty() {
            invalid.push(text.len());
            text.push(char::REPLACEMENT_CHARACTER);
        }
    }
    (text, invalid)
}

struct Parser<'a> {
    source: &'a str,
    index: &'a LineIndex,
    /// Offsets of replaced invalid bytes, ascending.
    invalid: &'a [usize],
    lines: Lines<'a>,
    directives: DirectiveScanner,
    instructions: Vec<Instruction>,
    warnings: Vec<Warning>,
}

impl<'a> Parser<'a> {
    /// The text of a physical line, line ending removed.
    fn text(&self, line: PhysicalLine) -> &'a str {
        &self.source[line.start..line.content_end]
    }

    fn run(&mut self) -> Result<(), ParseError> {
        while let Some(first) = self.lines.next() {
            let raw = self.text(first);
            let trimmed = raw.trim_start_matches(is_space);
            let line_span = self.index.span(self.source, first.start, first.content_end);
            self.directives.observe(trimmed, line_span)?;
            // Comment lines (directives included) are dropped here.
            let content = if trimmed.starts_with('#') {
                ""
            } else {
                trimmed
            };
            let escape = self.directives.escape;
            let (piece, mut continues) = trim_continuation(content, escape);
            if !continues && piece.is_empty() {
                continue;
            }
            let mut logical = LogicalLine::default();
            logical.push(piece, first.start + (raw.len() - trimmed.len()));
            let mut last = first;
            let mut empty_continuation = None;
            while continues {
                let Some(next) = self.lines.next() else { break };
                last = next;
                let raw = self.text(next);
                if is_comment(raw) {
                    continue;
                }
                if raw.trim_start_matches(is_space).is_empty() {
                    empty_continuation.get_or_insert(next);
                    continue;
                }
                let (piece, more) = trim_continuation(raw, escape);
                logical.push(piece, next.start);
                continues = more;
            }
            if let Some(blank) = empty_continuation {
                self.warnings.push(Warning {
                    message: "Empty continuation line".to_string(),
                    rule: Some(&crate::check::lint::NO_EMPTY_CONTINUATION),
                    span: self.index.span(self.source, blank.start, blank.start),
                });
            }
            let instruction = self.instruction(&logical, first, last, escape)?;
            self.instructions.push(instruction);
        }
        Ok(())
    }

    /// Builds one instruction from its logical line and reads its heredocs.
    fn instruction(
        &mut self,
        logical: &LogicalLine,
        first: PhysicalLine,
        mut last: PhysicalLine,
        escape: char,
    ) -> Result<Instruction, ParseError> {
        let (source, index) = (self.source, self.index);
        let loc = Locator {
            logical,
            source,
            index,
        };
        let first_text = self.text(first);
        let start =
            first.start + (first_text.len() - first_text.trim_start_matches(is_space).len());
        let whole = |last: PhysicalLine| index.span(source, start, last.content_end);
        let mut instruction = args::instruction(&loc, &logical.text, escape, 0)?;
        if let Some(target) = heredoc_target(&mut instruction) {
            let markers = heredoc::markers(&logical.text).map_err(|kind| ParseError {
                kind,
                span: whole(last),
            })?;
            for marker in markers {
                let (doc, end) = heredoc::read_body(&mut self.lines, source, index, marker)
                    .map_err(|kind| ParseError {
                        kind,
                        span: whole(last),
                    })?;
                last = end;
                target.push(doc);
            }
        }
        instruction.span = whole(last);
        let heredoc_bodies = heredoc_target(&mut instruction)
            .map(|docs| {
                docs.iter()
                    .map(|d| (d.span.start, d.span.end))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let mut used = logical.source_ranges().chain(heredoc_bodies);
        if used.any(|(start, end)| self.has_invalid(start, end)) {
            return Err(ParseError {
                kind: ParseErrorKind::InvalidUtf8,
                span: instruction.span,
            });
        }
        Ok(instruction)
    }

    /// Whether a replaced invalid byte lies in `start..end`. Only text an
    /// instruction uses counts: comments, even inside a continuation, may
    /// hold any bytes.
    fn has_invalid(&self, start: usize, end: usize) -> bool {
        let first = self.invalid.partition_point(|&at| at < start);
        self.invalid.get(first).is_some_and(|&at| at < end)
    }
}

/// The delimiter a word names when it is a heredoc marker (`<<"EOF"` →
/// `EOF`), as the parser reads markers.
pub(crate) fn heredoc_name(word: &str) -> Option<String> {
    heredoc::marker(word).ok().flatten().map(|m| m.name)
}

/// Where heredocs of this instruction go: RUN, COPY and ADD in shell form,
/// also as ONBUILD's trigger.
fn heredoc_target(instruction: &mut Instruction) -> Option<&mut Vec<crate::ast::Heredoc>> {
    let instruction = if instruction.keyword_lower() == "onbuild" {
        match &mut instruction.args {
            Args::Nested(inner) => &mut **inner,
            _ => return None,
        }
    } else {
        instruction
    };
    let kind = instruction.keyword_lower();
    let allowed = matches!(kind.as_str(), "run" | "copy" | "add") && !instruction.is_json();
    allowed.then_some(&mut instruction.heredocs)
}
