//! `kiln check`: validate a Dockerfile without building it.

use super::{Outcome, dockerfile, report};
use kiln_frontend::diagnostic::Severity;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The Dockerfile to check (`-` for standard input).
    #[arg(short = 'f', long = "file", default_value = "Dockerfile")]
    file: PathBuf,
}

pub(crate) fn run(args: CheckArgs) -> anyhow::Result<Outcome> {
    let input = dockerfile::read(&args.file, None)?;
    let Some(parsed) = dockerfile::parse(&input) else {
        return Ok(Outcome::Failed);
    };
    let mut findings = kiln_frontend::check::check(&parsed);
    if !findings.iter().any(|d| d.severity == Severity::Error) {
        findings.extend(kiln_frontend::check::bounds(&parsed));
    }
    report::diagnostics(&input.name, &parsed.source, &findings);
    let errors = findings
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    report::summary(&input.name, errors, warnings);
    Ok(if errors > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}
