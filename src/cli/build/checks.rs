//! The build's Dockerfile checks, before anything runs: kiln's own rules
//! and BuildKit's build checks (configured by the `# check=` directive or
//! the `BUILDKIT_DOCKERFILE_CHECK` build argument, which replaces it).
//! Errors stop the build; so does any build check under `error=true`
//! ("lint violation found for rules: …", as BuildKit says it); `--check`
//! stops after the checks, as `docker build --check` does (after lowering,
//! whose findings need the base images, as BuildKit's need them). The
//! warnings are listed after the build, in docker's short form.

use super::super::{Outcome, report};
use kiln_frontend::ast::Dockerfile;
use kiln_frontend::check::{check_with, lint};
use kiln_frontend::diagnostic::{Diagnostic, Severity};
use std::collections::BTreeSet;

/// The build argument that configures the build checks.
pub(super) const CHECK_ARG: &str = "BUILDKIT_DOCKERFILE_CHECK";

/// What the checks decided.
pub(super) enum Next {
    /// Build; list these warnings afterwards, and judge lowering's own
    /// findings by this configuration.
    Build {
        warnings: Vec<Diagnostic>,
        config: lint::Config,
    },
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
    if errors > 0 {
        report::diagnostics(name, &parsed.source, &findings);
        if check_only {
            report::summary(name, errors, findings.len() - errors);
        }
        return Next::Stop(Outcome::Failed);
    }
    // A configuration that does not parse was an error finding above.
    let config = lint::config(parsed, check_arg).unwrap_or_default();
    if !check_only && stopped_by(name, parsed, &config, &findings) {
        return Next::Stop(Outcome::Failed);
    }
    Next::Build {
        warnings: findings,
        config,
    }
}

/// `--check`: shows every finding, the checks' and lowering's; a finding
/// fails the command, as in `docker build --check`.
pub(super) fn check_only(name: &str, parsed: &Dockerfile, findings: &[Diagnostic]) -> Outcome {
    report::diagnostics(name, &parsed.source, findings);
    report::summary(name, 0, findings.len());
    match findings.is_empty() {
        true => Outcome::Success,
        false => Outcome::Failed,
    }
}

/// The findings lowering added (`warnings`), without the build checks
/// `config` skips.
pub(super) fn configured(config: &lint::Config, warnings: &[Diagnostic]) -> Vec<Diagnostic> {
    warnings
        .iter()
        .filter(|d| d.rule.is_none_or(|r| config.enabled(r.name)))
        .cloned()
        .collect()
}

/// Whether `findings` stop the build: under `error=true`, any build check
/// among them does ("lint violation found for rules: …", as BuildKit says
/// it), after they are shown.
pub(super) fn stopped_by(
    name: &str,
    parsed: &Dockerfile,
    config: &lint::Config,
    findings: &[Diagnostic],
) -> bool {
    let violated: BTreeSet<&str> = findings
        .iter()
        .filter_map(|d| d.rule.map(|r| r.name))
        .collect();
    if !config.error || violated.is_empty() {
        return false;
    }
    report::diagnostics(name, &parsed.source, findings);
    let rules: Vec<&str> = violated.into_iter().collect();
    report::error_message(&format!(
        "lint violation found for rules: {}",
        rules.join(", ")
    ));
    true
}
