//! The metadata instructions: ENV, LABEL, ARG, EXPOSE, VOLUME, USER,
//! WORKDIR, STOPSIGNAL, MAINTAINER.

use super::Ctx;
use crate::ast::{Args, Word};
use crate::diagnostic::Diagnostic;

/// One `KEY=value` of ENV or LABEL, both unexpanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: Word,
    /// The value, with its quotes and escapes (expansion removes them).
    pub value: Word,
}

/// One `NAME[=default]` of ARG.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgDecl {
    /// The name.
    pub name: Word,
    /// The default value, unexpanded; `None` for a bare `ARG NAME`.
    pub default: Option<Word>,
}

pub(super) fn pairs(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Vec<KeyValue>> {
    let Args::Pairs { pairs, .. } = &ctx.instruction.args else {
        errors.push(ctx.error(format!("{} requires at least one argument", ctx.keyword)));
        return None;
    };
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        if pair.key.value.is_empty() {
            errors.push(Diagnostic::error(
                pair.key.span,
                format!("{} names cannot be empty", ctx.keyword),
            ));
            continue;
        }
        out.push(KeyValue {
            key: pair.key.clone(),
            value: pair.value.clone(),
        });
    }
    Some(out)
}

pub(super) fn args(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Vec<ArgDecl>> {
    let Args::List(words) = &ctx.instruction.args else {
        errors.push(ctx.error("ARG requires at least one argument"));
        return None;
    };
    let mut out = Vec::with_capacity(words.len());
    for word in words {
        let (name, default) = match word.value.split_once('=') {
            Some((name, default)) => (name, Some(default)),
            None => (word.value.as_str(), None),
        };
        if name.is_empty() {
            errors.push(Diagnostic::error(word.span, "ARG names cannot be empty"));
            continue;
        }
        out.push(ArgDecl {
            name: Word {
                value: name.to_string(),
                span: word.span,
            },
            default: default.map(|d| Word {
                value: d.to_string(),
                span: word.span,
            }),
        });
    }
    Some(out)
}

pub(super) fn list(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Vec<Word>> {
    match &ctx.instruction.args {
        Args::List(words) | Args::Json(words) if !words.is_empty() => Some(words.clone()),
        _ => {
            errors.push(ctx.error(format!("{} requires at least one argument", ctx.keyword)));
            None
        }
    }
}

pub(super) fn volumes(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Vec<Word>> {
    let words = list(ctx, errors)?;
    if let Some(empty) = words.iter().find(|w| w.value.trim().is_empty()) {
        errors.push(Diagnostic::error(
            empty.span,
            "VOLUME specified can not be an empty string",
        ));
        return None;
    }
    Some(words)
}

pub(super) fn one(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Word> {
    match &ctx.instruction.args {
        Args::Text(word) => Some(word.clone()),
        _ => {
            errors.push(ctx.error(format!("{} requires exactly one argument", ctx.keyword)));
            None
        }
    }
}
