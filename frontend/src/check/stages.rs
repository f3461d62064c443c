//! Whole-file stage rules, as BuildKit applies them when it converts a
//! Dockerfile (its `dockerfile2llb`): only ARG before the first FROM; at
//! least one stage; unique, valid names; FROM may only build on an earlier
//! stage (a later name is silently pulled as an image by BuildKit, which is
//! never what the author meant); `--from` indexes in range; no cycles
//! through `COPY --from` / `RUN --mount=from=`.

use super::reference::is_image_reference;
use crate::ast::{Dockerfile, Word};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::instructions::{Command, Keyword};
use crate::source::Span;

struct Stage<'a> {
    name: Option<&'a Word>,
    line: usize,
    /// Stages this one needs: (stage index, the reference that needs it).
    deps: Vec<(usize, Span)>,
}

pub(super) fn check(dockerfile: &Dockerfile, commands: &[(usize, Command)]) -> Vec<Diagnostic> {
    let mut findings = Vec::new();
    let froms: Vec<&crate::instructions::From> = commands
        .iter()
        .filter_map(|(_, c)| match c {
            Command::From(from) => Some(from),
            _ => None,
        })
        .collect();

    for instruction in &dockerfile.instructions {
        match Keyword::parse(&instruction.keyword.value) {
            Some(Keyword::From) => break,
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
    let has_from = dockerfile
        .instructions
        .iter()
        .any(|i| Keyword::parse(&i.keyword.value) == Some(Keyword::From));
    if !has_from {
        let span = dockerfile
            .instructions
            .first()
            .map_or_else(Span::default, |i| i.keyword.span);
        findings.push(
            Diagnostic::error(span, "dockerfile has no build stage")
                .with_help("add a FROM instruction, e.g. `FROM busybox` or `FROM scratch`"),
        );
        return findings;
    }

    let mut stages: Vec<Stage<'_>> = Vec::new();
    for (index, from) in froms.iter().enumerate() {
        if let Some(name) = &from.name
            && let Some(first) = stages
                .iter()
                .find(|s| s.name.is_some_and(|n| n.value == name.value))
        {
            findings.push(
                Diagnostic::error(
                    name.span,
                    format!("duplicate stage name \"{}\"", name.value),
                )
                .with_help(format!("the name is first used on line {}", first.line)),
            );
        }
        let base = from.image.value.to_lowercase();
        let mut deps = Vec::new();
        if let Some(earlier) = stages
            .iter()
            .position(|s| s.name.is_some_and(|n| n.value == base))
        {
            deps.push((earlier, from.image.span));
        } else if let Some(later) = froms[index + 1..]
            .iter()
            .find(|f| f.name.as_ref().is_some_and(|n| n.value == base))
            .and_then(|f| f.name.as_ref())
        {
            findings.push(
                Diagnostic::error(
                    from.image.span,
                    format!("stage \"{base}\" is used before it is defined"),
                )
                .with_help(format!(
                    "a FROM can only build on an earlier stage; move the stage from line {} above this one",
                    later.span.line
                )),
            );
        }
        stages.push(Stage {
            name: from.name.as_ref(),
            line: from.image.span.line,
            deps,
        });
    }

    // References through COPY --from and RUN --mount=from=, per stage.
    let mut current: Option<usize> = None;
    for (_, command) in commands {
        let references: Vec<Word> = match command {
            Command::From(_) => {
                current = Some(current.map_or(0, |c| c + 1));
                continue;
            }
            Command::Copy(copy) => copy.from.iter().cloned().collect(),
            Command::Run(run) => run
                .mounts
                .iter()
                .filter_map(|(m, span)| {
                    m.from.as_ref().map(|f| Word {
                        value: f.clone(),
                        span: *span,
                    })
                })
                .collect(),
            _ => continue,
        };
        let Some(stage) = current else { continue };
        for reference in references {
            match resolve(&reference, &stages, &mut findings) {
                Some(target) => stages[stage].deps.push((target, reference.span)),
                None => continue,
            }
        }
    }

    if let Some(cycle) = find_cycle(&stages) {
        let (stage, span) = cycle;
        let name = stages[stage]
            .name
            .map_or_else(|| format!("stage-{stage}"), |n| n.value.clone());
        findings.push(
            Diagnostic::error(
                span,
                format!("circular dependency detected on stage: {name}"),
            )
            .with_help("a stage cannot copy from itself or from a stage that depends on it"),
        );
    }
    findings
}

/// The stage a `--from` value names, if it names one. Reports indexes out
/// of range and values that are neither a stage nor an image reference.
fn resolve(
    reference: &Word,
    stages: &[Stage<'_>],
    findings: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let value = reference.value.as_str();
    if value.contains('$') {
        // Reported by the instruction check.
        return None;
    }
    if let Ok(index) = value.parse::<i64>() {
        if index < 0 || index as usize >= stages.len() {
            findings.push(
                Diagnostic::error(reference.span, format!("invalid stage index {index}"))
                    .with_help(format!(
                        "stages are numbered from 0; this Dockerfile has {} (0..={})",
                        stages.len(),
                        stages.len() - 1
                    )),
            );
            return None;
        }
        return Some(index as usize);
    }
    let lower = value.to_lowercase();
    if let Some(i) = stages
        .iter()
        .position(|s| s.name.is_some_and(|n| n.value == lower))
    {
        return Some(i);
    }
    let names = stages
        .iter()
        .filter_map(|s| s.name.map(|n| n.value.as_str()));
    let hint = did_you_mean(value, names);
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

/// A stage on a dependency cycle and the reference that closes it. An
/// iterative depth-first search, so a long chain of stages cannot
/// overflow the stack.
fn find_cycle(stages: &[Stage<'_>]) -> Option<(usize, Span)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; stages.len()];
    for root in 0..stages.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // (stage, index of the next dependency to look at)
        let mut path = vec![(root, 0)];
        marks[root] = Mark::OnPath;
        while let Some((at, next)) = path.last_mut() {
            let at = *at;
            let Some(&(dep, span)) = stages[at].deps.get(*next) else {
                marks[at] = Mark::Done;
                path.pop();
                continue;
            };
            *next += 1;
            match marks[dep] {
                Mark::OnPath => return Some((dep, span)),
                Mark::New => {
                    marks[dep] = Mark::OnPath;
                    path.push((dep, 0));
                }
                Mark::Done => {}
            }
        }
    }
    None
}
