//! `COPY` and `ADD`: sources, destination and their flags.

use super::Ctx;
use super::keyword::Keyword;
use crate::ast::{Args, Heredoc, Word};
use crate::diagnostic::Diagnostic;
use crate::source::Span;

/// A `--chmod` mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Chmod {
    /// An octal mode, e.g. `0755`.
    Octal(u32),
    /// A value holding a variable, checked after expansion.
    Deferred(String),
}

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
    let chmod = ctx
        .flags
        .get("chmod")
        .and_then(|f| match parse_chmod(&f.value) {
            Some(mode) => Some((mode, f.span)),
            None => {
                errors.push(
                    Diagnostic::error(f.span, format!("invalid --chmod value: {}", f.value))
                        .with_help("use an octal mode such as 0755 or 644"),
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
        unpack: ctx.flags.get("unpack").map(|f| f.value == "true"),
    })
}

/// `--chmod`: octal digits, at most 07777; a variable is checked later.
fn parse_chmod(value: &str) -> Option<Chmod> {
    if value.contains('$') {
        return Some(Chmod::Deferred(value.to_string()));
    }
    if value.is_empty() || value.len() > 5 {
        return None;
    }
    u32::from_str_radix(value, 8)
        .ok()
        .filter(|&mode| mode <= 0o7777)
        .map(Chmod::Octal)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chmod_values() {
        assert_eq!(parse_chmod("755"), Some(Chmod::Octal(0o755)));
        assert_eq!(parse_chmod("0644"), Some(Chmod::Octal(0o644)));
        assert_eq!(parse_chmod("4755"), Some(Chmod::Octal(0o4755)));
        assert_eq!(parse_chmod("$MODE"), Some(Chmod::Deferred("$MODE".into())));
        for bad in ["", "8", "0o755", "rwx", "77777", "-1", "u+x"] {
            assert_eq!(parse_chmod(bad), None, "{bad}");
        }
    }
}
