//! The Dockerfile AST as the parser produces it: instructions with their
//! flags, arguments and heredoc bodies, every node with a [`Span`].
//!
//! This is the untyped layer, equivalent to BuildKit's `parser.Node`: no
//! variable is expanded and no instruction-specific rule beyond argument
//! shape is checked. [`crate::instructions`] turns it into typed instructions.

use crate::source::{LineIndex, Span};

/// A parsed Dockerfile.
#[derive(Clone, Debug)]
pub struct Dockerfile {
    /// The text the spans point into (the file as read, decoded as UTF-8;
    /// invalid bytes outside instructions are replaced by U+FFFD).
    pub source: String,
    /// Line starts of `source`, for turning offsets into lines and columns.
    pub lines: LineIndex,
    /// Parser directives from the leading comment block, in file order.
    pub directives: Vec<Directive>,
    /// The escape character: `\` unless an `escape` directive chose `` ` ``.
    pub escape: char,
    /// The instructions in file order.
    pub instructions: Vec<Instruction>,
    /// Non-fatal findings of the parse (e.g. empty continuation lines).
    pub warnings: Vec<Warning>,
}

impl Dockerfile {
    /// The directive `name` (lower-case), if the file sets it.
    pub fn directive(&self, name: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| d.name == name)
    }

    /// The source text of 1-based `line`, without its line ending.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        let start = self.lines.line_start(line)?;
        let end = self.lines.line_start(line + 1).unwrap_or(self.source.len());
        Some(self.source[start..end].trim_end_matches(['\r', '\n']))
    }
}

/// A parser directive such as `# escape=\``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// Lower-cased name: `syntax`, `escape` or `check`.
    pub name: String,
    /// The trimmed value.
    pub value: String,
    /// The whole directive line.
    pub span: Span,
}

/// A non-fatal parse finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// What was found, lower-case.
    pub message: String,
    /// Where.
    pub span: Span,
    /// The BuildKit build check it is, when it is one.
    pub rule: Option<&'static crate::check::lint::Rule>,
}

/// A piece of argument text and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    /// The text after the parser's processing (see each [`Args`] variant).
    pub value: String,
    /// The source it was read from.
    pub span: Span,
}

/// A builder flag such as `--from=build` or `--mount=type=cache,target=/x`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    /// The flag as the parser keeps it: leading `--`, quotes removed,
    /// escapes applied (BuildKit's `Node.Flags` entry).
    pub text: String,
    /// The flag word in the source.
    pub span: Span,
}

impl Flag {
    /// The name without the leading `--` and without any `=value`.
    pub fn name(&self) -> &str {
        let body = self.text.strip_prefix("--").unwrap_or(&self.text);
        body.split_once('=').map_or(body, |(name, _)| name)
    }

    /// The value after the first `=`, or `None` for a bare `--flag`.
    pub fn value(&self) -> Option<&str> {
        self.text.split_once('=').map(|(_, value)| value)
    }
}

/// A heredoc body attached to a RUN, COPY or ADD instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter, quotes removed (`EOF` for `<<'EOF'`).
    pub name: String,
    /// The file descriptor written before `<<` (`3<<EOF`), 0 when absent.
    pub fd: u32,
    /// Whether the body is variable-expanded later (no part of the delimiter
    /// was quoted).
    pub expand: bool,
    /// `<<-`: leading tabs are removed from the body when it is used.
    pub chomp: bool,
    /// The body lines, raw, each with its line ending, tabs not yet removed.
    pub content: String,
    /// The body lines and the terminator line.
    pub span: Span,
}

impl Heredoc {
    /// Whether the source word `word` as written (`<<EOF`, `<<-"EOF"`,
    /// `<<'EOF'`) names this heredoc: its delimiter, quotes removed, is
    /// this one's (BuildKit's `ParseHeredoc` on each COPY source).
    pub fn is_named_by(&self, word: &str) -> bool {
        crate::parser::heredoc_name(word).as_deref() == Some(self.name.as_str())
    }

    /// The body as the instruction uses it: with `<<-`, leading tabs removed
    /// from every line.
    pub fn chomped_content(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|line| line.trim_start_matches('\t'))
            .collect()
    }
}

/// An instruction's arguments, shaped by its keyword as BuildKit's parser
/// shapes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Args {
    /// No arguments at all.
    None,
    /// JSON (exec) form: one word per array element, unescaped. The spans of
    /// the elements all cover the whole array.
    Json(Vec<Word>),
    /// One verbatim string: shell forms of RUN/CMD/ENTRYPOINT/SHELL, and
    /// MAINTAINER, USER, WORKDIR, STOPSIGNAL.
    Text(Word),
    /// A list of words: FROM, EXPOSE and the non-JSON forms of ADD, COPY,
    /// VOLUME split on blanks; ARG split with quotes kept.
    List(Vec<Word>),
    /// ENV and LABEL pairs. `legacy` is the `KEY value` form.
    Pairs {
        /// True for `ENV KEY value` (one pair, value verbatim).
        legacy: bool,
        /// The pairs; values keep their quotes and escapes.
        pairs: Vec<Pair>,
    },
    /// HEALTHCHECK: the first word (`CMD`, `NONE`, ...) and the command.
    Healthcheck {
        /// `CMD` or `NONE` as written (not checked here).
        kind: Word,
        /// The command after the kind, parsed like CMD's arguments.
        command: Box<Args>,
    },
    /// ONBUILD's trigger, parsed as an instruction of its own.
    Nested(Box<Instruction>),
    /// An unknown keyword: arguments are not interpreted.
    Ignored,
}

/// One `KEY=value` (or legacy `KEY value`) of ENV or LABEL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// The key as written.
    pub key: Word,
    /// The value, quotes and escapes still in place.
    pub value: Word,
}

/// One instruction: keyword, flags, arguments and heredocs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword as written (`Run`, `FROM`); compare with
    /// [`Instruction::keyword_lower`].
    pub keyword: Word,
    /// Leading `--flags`, in order.
    pub flags: Vec<Flag>,
    /// The arguments.
    pub args: Args,
    /// Heredoc bodies, in the order of their markers.
    pub heredocs: Vec<Heredoc>,
    /// The logical line: continuations joined, before any splitting.
    pub original: String,
    /// Every line the instruction took, heredoc bodies included. For a
    /// nested ONBUILD trigger, the trigger's text.
    pub span: Span,
}

impl Instruction {
    /// The keyword in lower case, as BuildKit dispatches on it.
    pub fn keyword_lower(&self) -> String {
        self.keyword.value.to_lowercase()
    }

    /// True when the arguments were written in JSON (exec) form.
    pub fn is_json(&self) -> bool {
        match &self.args {
            Args::Json(_) => true,
            Args::Healthcheck { command, .. } => matches!(**command, Args::Json(_)),
            _ => false,
        }
    }
}
