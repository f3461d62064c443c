//! The Dockerfile as stages: global ARGs, then one [`StageDef`] per FROM
//! with its typed commands; which stage a name or index means; which
//! stages the target needs.

use crate::ast::{Dockerfile, Instruction};
use crate::diagnostic::{Diagnostic, Severity};
use crate::instructions::{ArgDecl, Command, From, typed};

/// One stage as written.
pub(crate) struct StageDef<'a> {
    /// The FROM.
    pub from: From,
    /// The FROM instruction, for errors.
    pub from_instruction: &'a Instruction,
    /// The `AS` name, lower-cased.
    pub name: Option<String>,
    /// The instructions after FROM.
    pub commands: Vec<(&'a Instruction, Command)>,
}

/// Global ARGs and stages.
pub(crate) struct Stages<'a> {
    pub globals: Vec<(&'a Instruction, Vec<ArgDecl>)>,
    pub defs: Vec<StageDef<'a>>,
}

/// Types every instruction and groups them by stage. The first error
/// found is returned (the caller ran the checks already, so this only
/// happens when it did not).
pub(crate) fn split(dockerfile: &Dockerfile) -> Result<Stages<'_>, Diagnostic> {
    let mut stages = Stages {
        globals: Vec::new(),
        defs: Vec::new(),
    };
    for instruction in &dockerfile.instructions {
        let (command, findings) = typed(instruction);
        if let Some(error) = findings.into_iter().find(|d| d.severity == Severity::Error) {
            return Err(error);
        }
        let Some(command) = command else { continue };
        match (command, stages.defs.last_mut()) {
            (Command::From(from), _) => stages.defs.push(StageDef {
                name: from.name.as_ref().map(|n| n.value.to_lowercase()),
                from,
                from_instruction: instruction,
                commands: Vec::new(),
            }),
            (command, Some(stage)) => stage.commands.push((instruction, command)),
            (Command::Arg(decls), None) => stages.globals.push((instruction, decls)),
            (_, None) => {
                return Err(Diagnostic::error(
                    instruction.span_of_text(),
                    "no build stage in current context",
                )
                .with_help("only ARG may come before the first FROM"));
            }
        }
    }
    if stages.defs.is_empty() {
        return Err(Diagnostic::error(
            crate::source::Span::default(),
            "the Dockerfile has no FROM: nothing to build",
        ));
    }
    Ok(stages)
}

impl Stages<'_> {
    /// The stage `reference` names, among the first `before` stages: a name
    /// (case-insensitive, the latest definition wins) or an index.
    pub(crate) fn find(&self, reference: &str, before: usize) -> Option<usize> {
        let lower = reference.to_lowercase();
        if let Some(i) = self.defs[..before]
            .iter()
            .rposition(|d| d.name.as_deref() == Some(lower.as_str()))
        {
            return Some(i);
        }
        reference.parse::<usize>().ok().filter(|&i| i < before)
    }
}
