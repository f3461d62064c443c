//! Rendering for people: diagnostics as `file:line:col` + source line +
//! caret (miette's graphical report), and top-level errors. Everything goes
//! to standard error; standard output is kept for data.

use kiln_frontend::ParseError;
use kiln_frontend::diagnostic::{Diagnostic, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;

/// One finding joined with its source, in the shape miette renders.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Report {
    message: String,
    severity: miette::Severity,
    help: Option<String>,
    code: NamedSource<Arc<str>>,
    label: LabeledSpan,
}

impl miette::Diagnostic for Report {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.code)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(self.label.clone())))
    }
}

fn handler() -> GraphicalReportHandler {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme).with_context_lines(1)
}

fn render(report: &Report) {
    let mut text = String::new();
    if handler().render_report(&mut text, report).is_err() {
        text = format!("{}\n", report.message);
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Prints each finding with its place in `source`.
pub(crate) fn diagnostics(name: &str, source: &str, findings: &[Diagnostic]) {
    // One shared copy of the source, however many findings there are.
    let shared: Arc<str> = Arc::from(source);
    for finding in findings {
        let position = format!("{name}:{}:{}", finding.span.line, finding.span.column);
        let (message, help) = match finding.rule {
            // A build check: its name first, its reason and page as help.
            Some(rule) => (
                format!("{position}: {}: {}", rule.name, finding.message),
                Some(
                    [
                        finding.help.clone(),
                        Some(match rule.url() {
                            Some(url) => format!("{} ({url})", rule.description),
                            None => rule.description.to_string(),
                        }),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; "),
                ),
            ),
            None => (
                format!("{position}: {}", finding.message),
                finding.help.clone(),
            ),
        };
        render(&Report {
            message,
            severity: match finding.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help,
            code: NamedSource::new(name, Arc::clone(&shared)),
            label: LabeledSpan::new_with_span(
                finding.label.as_deref().map(String::from),
                finding.span.range(),
            ),
        });
    }
}

/// The warnings of a build, after it, in docker's short form: `N warnings
/// found` and one ` - Rule: message (line N)` each.
pub(crate) fn warning_list(warnings: &[Diagnostic]) {
    if warnings.is_empty() {
        return;
    }
    let mut text = format!(
        "\n{} warning{} found:\n",
        warnings.len(),
        if warnings.len() == 1 { "" } else { "s" }
    );
    for warning in warnings {
        let rule = warning
            .rule
            .map(|r| format!("{}: ", r.name))
            .unwrap_or_default();
        let line = match warning.span.line {
            0 => String::new(),
            n => format!(" (line {n})"),
        };
        text.push_str(&format!(" - {rule}{}{line}\n", warning.message));
    }
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Prints a parse error with its place in `source`.
pub(crate) fn parse_error(name: &str, source: &str, error: &ParseError) {
    let finding = Diagnostic::error(error.span, format!("dockerfile parse error: {error}"));
    diagnostics(name, source, std::slice::from_ref(&finding));
}

/// The closing line of `kiln check`.
pub(crate) fn summary(name: &str, errors: usize, warnings: usize) {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let line = if errors + warnings == 0 {
        format!("{name}: no problems found")
    } else {
        format!(
            "{name}: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    };
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Prints a top-level error with its chain of causes.
pub(crate) fn error(error: &anyhow::Error) {
    let _ = writeln!(std::io::stderr().lock(), "error: {}", chain_text(error));
}

/// An error and its causes, `: `-separated; a cause whose text the line
/// already ends with (an error that shows its source in its own message)
/// is not said twice.
fn chain_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// Prints a warning line.
pub(crate) fn warning(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {message}");
}

/// Prints an error line that has no cause chain.
pub(crate) fn error_message(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "error: {message}");
}

#[cfg(test)]
mod tests {
    use super::chain_text;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot unshare the mount namespace: {0}")]
    struct ShowsItsSource(#[source] std::io::Error);

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::from_raw_os_error(1);
        let shown = io.to_string();
        let error = anyhow::Error::new(ShowsItsSource(io)).context("cannot build");
        assert_eq!(
            chain_text(&error),
            format!("cannot build: cannot unshare the mount namespace: {shown}")
        );
    }
}
