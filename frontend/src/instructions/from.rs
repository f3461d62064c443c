//! `FROM [--platform=P] image [AS name]`.

use super::Ctx;
use crate::ast::{Args, Word};
use crate::diagnostic::Diagnostic;

/// A stage's base.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct From {
    /// The image or earlier stage, unexpanded (global ARGs apply).
    pub image: Word,
    /// The stage name after `AS`, lower-cased as BuildKit keeps it.
    pub name: Option<Word>,
    /// `--platform`, unexpanded.
    pub platform: Option<Word>,
}

pub(super) fn parse(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<From> {
    let words: &[Word] = match &ctx.instruction.args {
        Args::List(words) => words,
        _ => &[],
    };
    let (image, name) = match words {
        [image] => (image, None),
        [image, as_word, name] if as_word.value.eq_ignore_ascii_case("as") => (image, Some(name)),
        [_, as_word, _] => {
            errors.push(
                Diagnostic::error(as_word.span, "FROM requires either one or three arguments")
                    .with_help("write `FROM image AS name`"),
            );
            return None;
        }
        _ => {
            errors.push(
                ctx.error("FROM requires either one or three arguments")
                    .with_help("write `FROM image` or `FROM image AS name`"),
            );
            return None;
        }
    };
    let name = match name {
        Some(name) => Some(stage_name(name, errors)?),
        None => None,
    };
    Some(From {
        image: image.clone(),
        name,
        platform: ctx.flags.get("platform").map(|f| Word {
            value: f.value.clone(),
            span: f.span,
        }),
    })
}

/// BuildKit's stage-name rule: a letter, then letters, digits, `-`, `_`
/// and `.`; names compare case-insensitively, so they are lower-cased.
fn stage_name(name: &Word, errors: &mut Vec<Diagnostic>) -> Option<Word> {
    let lower = name.value.to_lowercase();
    let mut chars = lower.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if !valid {
        errors.push(Diagnostic::error(
            name.span,
            format!(
                "invalid name for build stage: \"{}\", name can't start with a number or contain symbols",
                name.value
            ),
        ));
        return None;
    }
    Some(Word {
        value: lower,
        span: name.span,
    })
}
