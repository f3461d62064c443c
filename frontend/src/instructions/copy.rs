//! `COPY` and `ADD`: sources, destination and their flags.

use super::Ctx;
use super::chmod::Chmod;
use super::keyword::Keyword;
use crate::ast::{Args, Heredoc, Word};
use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// A COPY or ADD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    /// Source words, unexpanded; `<<EOF` words name heredocs.
    pub sources: Vec<Word>,
    /// The destination, unexpanded.
    pub dest: Word,
    /// Heredoc bodies named by `<<` sources.
    pub heredocs: Vec<Heredoc>,
    /// `--from` (COPY only): a stage name, index or image.
    pub from: Option<Word>,
    /// `--chown`, unexpanded.
    pub chown: Option<Word>,
    /// `--chmod`.
    pub chmod: Option<(Chmod, Span)>,
    /// `--link`.
    pub link: bool,
    /// `--parents` (COPY).
    pub parents: bool,
    /// `--exclude` patterns.
    pub exclude: Vec<Word>,
    /// `--checksum` (ADD).
    pub checksum: Option<Word>,
    /// `--keep-git-dir` (ADD).
    pub keep_git_dir: bool,
    /// `--unpack` (ADD): `None` leaves BuildKit's default.
    pub unpack: Option<bool>,
}

pub(super) fn parse(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Copy> {
    let words: &[Word] = match &ctx.instruction.args {
        Args::Json(words) | Args::List(words) => words,
        _ => &[],
    };
    let word = |name: &str| {
        ctx.flags.get(name).map(|f| Word {
            value: f.value.clone(),
            span: f.span,
        })
    };
    let from = word("from");
    if let Some(from) = &from {
        check_from(from, errors);
    }
    // An empty `--chmod=` is skipped, as BuildKit's dispatchCopy does.
    let chmod = ctx
        .flags
        .get("chmod")
        .filter(|f| !f.value.is_empty())
        .and_then(|f| match Chmod::parse(&f.value) {
            Some(mode) => Some((mode, f.span)),
            None => {
                errors.push(
                    Diagnostic::error(f.span, format!("invalid --chmod value: {}", f.value))
                        .with_help("use an octal mode (0755) or a symbolic one (u=rwX,go=rX)"),
                );
                None
            }
        });
    let keyword = ctx.keyword;
    let Some((dest, sources)) = words.split_last().filter(|(_, s)| !s.is_empty()) else {
        let found = match words.len() {
            0 => "none was",
            _ => "only one was",
        };
        errors.push(
            ctx.error(format!(
                "{keyword} requires at least two arguments, but {found} provided; destination could not be determined"
            ))
            .with_help(format!("write `{keyword} <source>... <destination>`")),
        );
        return None;
    };
    if ctx
        .instruction
        .heredocs
        .iter()
        .any(|h| h.is_named_by(&dest.value))
    {
        errors.push(Diagnostic::error(
            dest.span,
            format!("{keyword} cannot accept a heredoc as a destination"),
        ));
        return None;
    }
    Some(Copy {
        sources: sources.to_vec(),
        dest: dest.clone(),
        heredocs: ctx.instruction.heredocs.clone(),
        from,
        chown: word("chown"),
        chmod,
        link: ctx.flags.is_set("link"),
        parents: keyword == Keyword::Copy && ctx.flags.is_set("parents"),
        exclude: ctx
            .flags
            .all("exclude")
            .map(|f| Word {
                value: f.value.clone(),
                span: f.span,
            })
            .collect(),
        checksum: word("checksum"),
        keep_git_dir: ctx.flags.is_set("keep-git-dir"),
        unpack: ctx
            .flags
            .get("unpack")
            .map(|f| f.value.eq_ignore_ascii_case("true")),
    })
}

/// `--from` cannot use variables: stages are wired before any ARG is known.
/// BuildKit rejects it the same way (its error since dockerfile 1.18).
fn check_from(from: &Word, errors: &mut Vec<Diagnostic>) {
    let no_variables: [(&str, &str); 0] = [];
    let expanded = kiln_shell::Lexer::default().process_word(&from.value, &no_variables[..]);
    if expanded
        .as_ref()
        .map(|e| e.value != from.value)
        .unwrap_or(true)
    {
        errors.push(
            Diagnostic::error(
                from.span,
                format!("variable expansion is not supported for --from: {}", from.value),
            )
            .with_help("define a stage with `ARG` in the global scope and `FROM ${VAR} AS name`, then use --from=name"),
        );
    }
}
