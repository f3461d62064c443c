//! The build's Dockerfile checks, before anything runs: kiln's own rules
//! and BuildKit's build checks (configured by the `# check=` directive or
//! the `BUILDKIT_DOCKERFILE_CHECK` build argument, which replaces it).
//! Errors stop the build; so does any build check under `error=true`
//! ("lint violation found for rules: …", as BuildKit says it); `--check`
//! stops after the checks, as `docker build --check` does. The warnings
//! are listed after the build, in docker's short form.

use super::super::{Outcome, report};
use kiln_frontend::ast::Dockerfile;
use kiln_frontend::check::{check_with, lint};
use kiln_frontend::diagnostic::{Diagnostic, Severity};
use std::collections::BTreeSet;

/// The build argument that configures the build checks.
pub(super) const CHECK_ARG: &str = "BUILDKIT_DOCKERFILE_CHECK";

/// What the checks decided.
pub(super) enum Next {
    /// Build; list these warnings afterwards.
    Build(Vec<Diagnostic>),
    /// Stop here with this outcome (what to say has been said).
    Stop(Outcome),
}

/// Checks `parsed` (named `name` in messages). `check_arg` is the value of
/// [`CHECK_ARG`]; `check_only` is `--check`.
pub(super) fn before_build(
    name: &str,
    parsed: &Dockerfile,
    check_arg: Option<&str>,
    check_only: bool,
) -> Next {
    let findings = check_with(parsed, check_arg);
    let errors = findings
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if check_only {
        report::diagnostics(name, &parsed.source, &findings);
        report::summary(name, errors, findings.len() - errors);
        return Next::Stop(match findings.is_empty() {
            true => Outcome::Success,
            false => Outcome::Failed,
        });
    }
    if errors > 0 {
        report::diagnostics(name, &parsed.source, &findings);
        return Next::Stop(Outcome::Failed);
    }
    match violations(name, parsed, check_arg, &findings) {
        Next::Build(_) => Next::Build(findings),
        stop => stop,
    }
}

/// The findings lowering added (`warnings`), without the build checks the
/// configuration skips.
pub(super) fn configured(
    parsed: &Dockerfile,
    check_arg: Option<&str>,
    warnings: &[Diagnostic],
) -> Vec<Diagnostic> {
    let config = lint::config(parsed, check_arg).unwrap_or_default();
    warnings
        .iter()
        .filter(|d| d.rule.is_none_or(|r| config.enabled(r.name)))
        .cloned()
        .collect()
}

/// Under `error=true`, any build check among `findings` stops the build
/// ("lint violation found for rules: …", as BuildKit says it).
pub(super) fn violations(
    name: &str,
    parsed: &Dockerfile,
    check_arg: Option<&str>,
    findings: &[Diagnostic],
) -> Next {
    let error_on_findings = lint::config(parsed, check_arg).is_ok_and(|c| c.error);
    let violated: BTreeSet<&str> = findings
        .iter()
        .filter_map(|d| d.rule.map(|r| r.name))
        .collect();
    if error_on_findings && !violated.is_empty() {
        report::diagnostics(name, &parsed.source, findings);
        let rules: Vec<&str> = violated.into_iter().collect();
        report::error_message(&format!(
            "lint violation found for rules: {}",
            rules.join(", ")
        ));
        return Next::Stop(Outcome::Failed);
    }
    Next::Build(Vec::new())
}
