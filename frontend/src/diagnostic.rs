//! A finding about a Dockerfile with the span it points at: what checks and
//! typed-instruction parsing report. Rendering (file:line:col, the source
//! line, a caret) is the CLI's job; this is plain data.

use crate::source::Span;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The build would fail or do something the author cannot mean.
    Error,
    /// Legal, but probably a mistake.
    Warning,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, lower-case, naming the offending text.
    pub message: String,
    /// The text it is about.
    pub span: Span,
    /// A short label for the caret, if it says more than the message
    /// (boxed: the type stays small enough to be every `Err`).
    pub label: Option<Box<str>>,
    /// A hint such as "did you mean `COPY`?".
    pub help: Option<String>,
    /// The BuildKit build check this finding is (`FromAsCasing`), when it
    /// is one (see [`crate::check::lint`]).
    pub rule: Option<&'static crate::check::lint::Rule>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            help: None,
            rule: None,
        }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(span, message)
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Marks the finding as the build check `rule`.
    #[must_use]
    pub fn with_rule(mut self, rule: &'static crate::check::lint::Rule) -> Self {
        self.rule = Some(rule);
        self
    }

    /// Adds a hint when there is one.
    #[must_use]
    pub fn with_optional_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// Adds a caret label.
    #[must_use]
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into().into_boxed_str());
        self
    }
}

/// "did you mean `X`?" for the candidate closest to `input`, if any is
/// close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let input_lower = input.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&input_lower, &c.to_lowercase()), c))
        .filter(|&(score, _)| score >= 0.8)
        // Ties go to the alphabetically first name, so hints never depend
        // on the order candidates come in.
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let names = ["COPY", "CMD", "RUN", "FROM"];
        assert_eq!(
            did_you_mean("COPPY", names).as_deref(),
            Some("did you mean `COPY`?")
        );
        assert_eq!(
            did_you_mean("form", names).as_deref(),
            Some("did you mean `FROM`?")
        );
        assert_eq!(did_you_mean("XYZZY", names), None);
    }
}
