//! `kiln check`: validate a Dockerfile without building it.

use super::{Outcome, dockerfile, report};
use kiln_frontend::diagnostic::{Diagnostic, Severity};
use std::io::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// The Dockerfile to check (`-` for standard input).
    #[arg(short = 'f', long = "file", default_value = "Dockerfile")]
    file: PathBuf,
    /// `text`: findings rendered for people on stderr; `json`: one JSON
    /// array of findings on stdout, for editors and CI annotations.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub(crate) fn run(args: CheckArgs) -> anyhow::Result<Outcome> {
    let input = dockerfile::read(&args.file, None)?;
    let Some(parsed) = dockerfile::parse(&input) else {
        return Ok(Outcome::Failed);
    };
    let mut findings = kiln_frontend::check::check(&parsed);
    if !findings.iter().any(|d| d.severity == Severity::Error) {
        findings.extend(kiln_frontend::check::lowering(&parsed));
    }
    let errors = findings
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    match args.format {
        Format::Text => {
            report::diagnostics(&input.name, &parsed.source, &findings);
            report::summary(&input.name, errors, findings.len() - errors);
        }
        Format::Json => {
            let json: Vec<serde_json::Value> = findings
                .iter()
                .map(|d| finding_json(&input.name, d))
                .collect();
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &json)?;
            writeln!(out)?;
        }
    }
    Ok(if errors > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

/// One finding as JSON: where, how bad, which build check (with its page),
/// what, and the hint.
fn finding_json(file: &str, d: &Diagnostic) -> serde_json::Value {
    let rule = d.rule;
    serde_json::json!({
        "file": file,
        "line": d.span.line,
        "column": d.span.column,
        "severity": match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "rule": rule.map(|r| r.name),
        "url": rule.and_then(|r| r.url()),
        "message": d.message,
        "help": d.help,
    })
}
