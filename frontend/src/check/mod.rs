//! `kiln check`: every rule that can be checked without building. Each
//! instruction is typed ([`crate::instructions::typed`]), then whole-file
//! rules run over the stages ([`stages`]): instructions before the first
//! FROM, stage names, references to stages by name or index, and cycles.
//! All findings are returned together, errors and warnings, in file order.

mod reference;
mod stages;

pub use reference::is_image_reference;

use crate::ast::Dockerfile;
use crate::diagnostic::Diagnostic;
use crate::instructions::{Command, typed};

/// Checks a parsed Dockerfile. An empty result means it is clean.
pub fn check(dockerfile: &Dockerfile) -> Vec<Diagnostic> {
    let mut findings: Vec<Diagnostic> = dockerfile
        .warnings
        .iter()
        .map(|w| Diagnostic::warning(w.span, w.message.clone()))
        .collect();
    let mut commands: Vec<(usize, Command)> = Vec::new();
    for (i, instruction) in dockerfile.instructions.iter().enumerate() {
        let (command, errors) = typed(instruction);
        findings.extend(errors);
        if let Some(command) = command {
            commands.push((i, command));
        }
    }
    findings.extend(stages::check(dockerfile, &commands));
    findings.sort_by_key(|d| (d.span.start, d.severity));
    findings
}
