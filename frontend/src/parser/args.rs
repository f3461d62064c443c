//! Shaping an instruction's argument text by its keyword, as BuildKit's
//! line parsers do (see `FORMAT.md` §1.5 in the shared conformance data).

use super::error::{ParseError, ParseErrorKind};
use super::json::{JsonForm, parse_json_array};
use super::lines::{is_blank, is_space};
use super::logical::{Locator, offset_in};
use super::split::split_command;
use super::words::split_words;
use crate::ast::{Args, Flag, Instruction, Pair, Word};

/// How many ONBUILD levels may nest. Only one is valid in a build
/// (BuildKit rejects `ONBUILD ONBUILD`), but the parse itself accepts a few
/// so the dump matches BuildKit's; the cap keeps the recursion bounded.
const MAX_ONBUILD_NESTING: usize = 8;

/// Builds the instruction of one logical line (or ONBUILD's trigger, which
/// is a slice of one, at `depth` > 0). Heredocs are attached later by the
/// caller.
pub(crate) fn instruction(
    loc: &Locator<'_>,
    line: &str,
    escape: char,
    depth: usize,
) -> Result<Instruction, ParseError> {
    let split = split_command(line);
    let base = offset_in(loc.text(), line);
    let flags = split
        .flags
        .into_iter()
        .map(|f| Flag {
            span: loc.span(base + f.start, base + f.end),
            text: f.text,
        })
        .collect();
    let keyword = Word {
        value: split.keyword.to_string(),
        span: loc.span_of(split.keyword),
    };
    let args = arguments(
        loc,
        &keyword.value.to_lowercase(),
        split.args,
        escape,
        depth,
    )?;
    Ok(Instruction {
        keyword,
        flags,
        args,
        heredocs: Vec::new(),
        original: line.to_string(),
        span: loc.span_of(line.trim_matches(is_space)),
    })
}

fn arguments(
    loc: &Locator<'_>,
    keyword: &str,
    rest: &str,
    escape: char,
    depth: usize,
) -> Result<Args, ParseError> {
    match keyword {
        "run" | "cmd" | "entrypoint" | "shell" => maybe_json(loc, rest),
        "add" | "copy" | "volume" => maybe_json_list(loc, rest),
        "from" | "expose" => Ok(blank_separated(loc, rest)),
        "maintainer" | "user" | "workdir" | "stopsignal" => Ok(text(loc, rest)),
        "arg" => Ok(arg_words(loc, rest, escape)),
        "env" => pairs(loc, rest, escape, "ENV"),
        "label" => pairs(loc, rest, escape, "LABEL"),
        "healthcheck" => healthcheck(loc, rest),
        "onbuild" if rest.is_empty() => Ok(Args::None),
        "onbuild" if depth >= MAX_ONBUILD_NESTING => Err(ParseError {
            kind: ParseErrorKind::OnbuildTooDeep,
            span: loc.span_of(rest),
        }),
        "onbuild" => Ok(Args::Nested(Box::new(instruction(
            loc,
            rest,
            escape,
            depth + 1,
        )?))),
        _ => Ok(Args::Ignored),
    }
}

fn word(loc: &Locator<'_>, sub: &str) -> Word {
    Word {
        value: sub.to_string(),
        span: loc.span_of(sub),
    }
}

/// The whole text as one argument; no argument when it is empty.
fn text(loc: &Locator<'_>, rest: &str) -> Args {
    if rest.is_empty() {
        Args::None
    } else {
        Args::Text(word(loc, rest))
    }
}

/// Words split on runs of blanks, no quote handling.
fn blank_separated(loc: &Locator<'_>, rest: &str) -> Args {
    if rest.is_empty() {
        return Args::None;
    }
    Args::List(
        rest.split(is_blank)
            .filter(|w| !w.is_empty())
            .map(|w| word(loc, w))
            .collect(),
    )
}

/// JSON elements, or `None` when the text is not a JSON string array.
fn json(loc: &Locator<'_>, rest: &str) -> Result<Option<Args>, ParseError> {
    match parse_json_array(rest) {
        JsonForm::NotJson => Ok(None),
        JsonForm::NotStrings => Err(ParseError {
            kind: ParseErrorKind::JsonNotStrings,
            span: loc.span_of(rest),
        }),
        JsonForm::Strings(items) => {
            let span = loc.span_of(rest);
            Ok(Some(Args::Json(
                items
                    .into_iter()
                    .map(|value| Word { value, span })
                    .collect(),
            )))
        }
    }
}

/// RUN, CMD, ENTRYPOINT, SHELL: JSON, else the text verbatim.
fn maybe_json(loc: &Locator<'_>, rest: &str) -> Result<Args, ParseError> {
    if rest.is_empty() {
        return Ok(Args::None);
    }
    Ok(json(loc, rest)?.unwrap_or_else(|| text(loc, rest)))
}

/// ADD, COPY, VOLUME: JSON, else blank-separated words.
fn maybe_json_list(loc: &Locator<'_>, rest: &str) -> Result<Args, ParseError> {
    Ok(json(loc, rest)?.unwrap_or_else(|| blank_separated(loc, rest)))
}

/// ARG: quote-aware words, not split at `=`.
fn arg_words(loc: &Locator<'_>, rest: &str, escape: char) -> Args {
    let base = offset_in(loc.text(), rest);
    let words: Vec<Word> = split_words(rest, escape)
        .into_iter()
        .map(|w| Word {
            value: w.text,
            span: loc.span(base + w.start, base + w.end),
        })
        .collect();
    if words.is_empty() {
        Args::None
    } else {
        Args::List(words)
    }
}

/// ENV and LABEL: `KEY value` (legacy) or `KEY=value ...`.
fn pairs(
    loc: &Locator<'_>,
    rest: &str,
    escape: char,
    keyword: &'static str,
) -> Result<Args, ParseError> {
    let words = split_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Args::None);
    };
    if !first.text.contains('=') {
        // Legacy form: the key is the first blank-separated piece and the
        // value is everything after it, verbatim.
        let Some(cut) = rest.find(is_blank) else {
            return Err(ParseError {
                kind: ParseErrorKind::MissingValue(keyword),
                span: loc.span_of(rest),
            });
        };
        let key = &rest[..cut];
        let value = rest[cut..].trim_start_matches(is_blank);
        return Ok(Args::Pairs {
            legacy: true,
            pairs: vec![Pair {
                key: word(loc, key),
                value: word(loc, value),
            }],
        });
    }
    let base = offset_in(loc.text(), rest);
    let mut pairs = Vec::with_capacity(words.len());
    for w in words {
        let Some((key, value)) = w.text.split_once('=') else {
            return Err(ParseError {
                kind: ParseErrorKind::MissingEquals { word: w.text },
                span: loc.span(base + w.start, base + w.end),
            });
        };
        // The word may hold escapes, so its text and source differ in
        // length; the key starts the word and the value ends it.
        let key_end = base + w.start + key.len();
        pairs.push(Pair {
            key: Word {
                value: key.to_string(),
                span: loc.span(base + w.start, key_end.min(base + w.end)),
            },
            value: Word {
                value: value.to_string(),
                span: loc.span((key_end + 1).min(base + w.end), base + w.end),
            },
        });
    }
    Ok(Args::Pairs {
        legacy: false,
        pairs,
    })
}

/// HEALTHCHECK: the first word as written, then a command parsed like CMD.
fn healthcheck(loc: &Locator<'_>, rest: &str) -> Result<Args, ParseError> {
    let cut = rest.find(is_space).unwrap_or(rest.len());
    if cut == 0 {
        return Ok(Args::None);
    }
    let kind = word(loc, &rest[..cut]);
    let command = rest[cut..].trim_start_matches(is_space);
    Ok(Args::Healthcheck {
        kind,
        command: Box::new(maybe_json(loc, command)?),
    })
}
