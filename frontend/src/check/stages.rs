//! Whole-file stage rules, as BuildKit applies them when it converts a
//! Dockerfile (its `dockerfile2llb`): only ARG before the first FROM; at
//! least one stage; valid names (a repeated name is a warning, and the
//! latest definition wins, as in BuildKit); FROM may only build on an
//! earlier stage (BuildKit would silently pull an image of that name, never
//! what the author meant); `COPY --from` and `RUN --mount=from=` may only
//! use earlier stages ("it needs to be defined before current stage") and
//! never their own stage (a cycle).

use super::reference::is_image_reference;
use crate::ast::{Dockerfile, Word};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::instructions::{Command, Keyword};
use crate::source::Span;
use std::collections::HashMap;

pub(super) fn check(dockerfile: &Dockerfile, commands: &[(usize, Command)]) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    if !leading_instructions(dockerfile, &mut findings) {
        return findings;
    }
    // Stage names as they are defined, in order: name → latest stage index.
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut all_names: HashMap<&str, usize> = HashMap::new();
    let froms: Vec<&crate::instructions::From> = commands
        .iter()
        .filter_map(|(_, c)| match c {
            Command::From(from) => Some(from),
            _ => None,
        })
        .collect();
    for (index, from) in froms.iter().enumerate() {
        if let Some(name) = &from.name {
            all_names.insert(&name.value, index);
        }
    }
    let stage_label = |index: usize| {
        froms
            .get(index)
            .and_then(|f| f.name.as_ref())
            .map_or_else(|| format!("stage-{index}"), |n| n.value.clone())
    };

    let mut current: Option<usize> = None;
    for (_, command) in commands {
        let references: Vec<(Word, &str)> = match command {
            Command::From(from) => {
                let index = current.map_or(0, |c| c + 1);
                current = Some(index);
                check_base(from, index, &names, &all_names, &mut findings);
                if let Some(name) = &from.name {
                    if let Some(&first) = names.get(name.value.as_str()) {
                        findings.push(
                            Diagnostic::warning(
                                name.span,
                                format!(
                                    "Duplicate stage name {:?}, stage names should be unique",
                                    name.value
                                ),
                            )
                            .with_help(format!(
                                "stage {first} has the same name; later references use this one"
                            ))
                            .with_rule(&super::lint::DUPLICATE_STAGE_NAME),
                        );
                    }
                    names.insert(&name.value, index);
                }
                continue;
            }
            Command::Copy(copy) => copy.from.iter().map(|w| (w.clone(), "copy")).collect(),
            Command::Run(run) => run
                .mounts
                .iter()
                .filter_map(|(m, span)| {
                    let value = m.from.clone()?;
                    Some((Word { value, span: *span }, "mount"))
                })
                .collect(),
            _ => continue,
        };
        let Some(stage) = current else { continue };
        for (reference, verb) in references {
            let Some(target) = resolve(&reference, froms.len(), &all_names, &mut findings) else {
                continue;
            };
            if target == stage {
                findings.push(
                    Diagnostic::error(
                        reference.span,
                        format!(
                            "circular dependency detected on stage: {}",
                            stage_label(stage)
                        ),
                    )
                    .with_help("a stage cannot use its own files; copy from an earlier stage"),
                );
            } else if target > stage {
                findings.push(
                    Diagnostic::error(
                        reference.span,
                        format!(
                            "cannot {verb} from stage \"{}\", it needs to be defined before current stage \"{}\"",
                            stage_label(target),
                            stage_label(stage)
                        ),
                    )
                    .with_help("move that stage above this one"),
                );
            }
        }
    }
    findings
}

/// Only ARG may come before the first FROM, and there must be a FROM.
/// Returns whether there is one.
fn leading_instructions(dockerfile: &Dockerfile, findings: &mut Vec<Diagnostic>) -> bool {
    for instruction in &dockerfile.instructions {
        match Keyword::parse(&instruction.keyword.value) {
            Some(Keyword::From) => return true,
            Some(Keyword::Arg) | None => {}
            Some(other) => findings.push(
                Diagnostic::error(
                    instruction.keyword.span,
                    format!("{other} before the first FROM: no build stage in current context"),
                )
                .with_help("only ARG may come before the first FROM"),
            ),
        }
    }
    let span = dockerfile
        .instructions
        .first()
        .map_or_else(Span::default, |i| i.keyword.span);
    findings.push(
        Diagnostic::error(span, "dockerfile has no build stage")
            .with_help("add a FROM instruction, e.g. `FROM busybox` or `FROM scratch`"),
    );
    false
}

/// A FROM naming a stage that is only defined later.
fn check_base(
    from: &crate::instructions::From,
    index: usize,
    earlier: &HashMap<&str, usize>,
    all: &HashMap<&str, usize>,
    findings: &mut Vec<Diagnostic>,
) {
    let base = from.image.value.to_lowercase();
    if earlier.contains_key(base.as_str()) {
        return;
    }
    if let Some(&later) = all.get(base.as_str())
        && later > index
    {
        findings.push(
            Diagnostic::error(
                from.image.span,
                format!("stage \"{base}\" is used before it is defined"),
            )
            .with_help("a FROM can only build on an earlier stage; move that stage above this one"),
        );
    }
}

/// The stage a `--from` value names, if it names one. Reports indexes out
/// of range and values that are neither a stage nor an image reference.
fn resolve(
    reference: &Word,
    stage_count: usize,
    names: &HashMap<&str, usize>,
    findings: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let value = reference.value.as_str();
    if value.contains('$') {
        // Reported by the instruction check.
        return None;
    }
    if let Ok(index) = value.parse::<i64>() {
        if index < 0 || index as usize >= stage_count {
            findings.push(
                Diagnostic::error(reference.span, format!("invalid stage index {index}"))
                    .with_help(format!(
                        "stages are numbered from 0; this Dockerfile has {stage_count} (0..={})",
                        stage_count.saturating_sub(1)
                    )),
            );
            return None;
        }
        return Some(index as usize);
    }
    if let Some(&index) = names.get(value.to_lowercase().as_str()) {
        return Some(index);
    }
    let hint = did_you_mean(value, names.keys().copied());
    if !is_image_reference(value) {
        findings.push(
            Diagnostic::error(
                reference.span,
                format!("no stage named \"{value}\", and it is not a valid image reference"),
            )
            .with_optional_help(hint),
        );
    } else if let Some(hint) = hint {
        findings.push(
            Diagnostic::warning(
                reference.span,
                format!("no stage named \"{value}\": it will be pulled as an image"),
            )
            .with_help(hint),
        );
    }
    None
}
