//! Builder flags checked against what an instruction accepts, the way
//! BuildKit's `BFlags` checks them: unknown flags, repeats of single flags,
//! missing values and non-boolean values are errors.

use super::keyword::{FlagKind, Keyword};
use crate::ast::Flag;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::source::Span;

/// One accepted flag occurrence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagValue {
    /// Name without `--`.
    pub name: &'static str,
    /// The value; `"true"` for a bare boolean flag.
    pub value: String,
    /// The flag in the source.
    pub span: Span,
}

/// The accepted flags of one instruction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    values: Vec<FlagValue>,
}

impl Flags {
    /// Checks `flags` against `keyword`'s list, keeping the valid ones and
    /// pushing a diagnostic for each invalid one.
    pub fn parse(keyword: Keyword, flags: &[Flag], errors: &mut Vec<Diagnostic>) -> Flags {
        let specs = keyword.flags();
        let mut values: Vec<FlagValue> = Vec::new();
        for flag in flags {
            let name = flag.name();
            let Some(spec) = specs.iter().find(|s| s.name == name) else {
                let message = if specs.is_empty() {
                    format!("unknown flag: --{name} ({keyword} takes no flags)")
                } else {
                    format!("unknown flag: --{name}")
                };
                let flag_names: Vec<String> =
                    specs.iter().map(|s| format!("--{}", s.name)).collect();
                let help =
                    did_you_mean(&format!("--{name}"), flag_names.iter().map(String::as_str))
                        .or_else(|| {
                            (!specs.is_empty())
                                .then(|| format!("{keyword} accepts {}", flag_names.join(", ")))
                        });
                errors.push(Diagnostic::error(flag.span, message).with_optional_help(help));
                continue;
            };
            if spec.kind != FlagKind::Repeated && values.iter().any(|v| v.name == spec.name) {
                errors.push(Diagnostic::error(
                    flag.span,
                    format!("duplicate flag specified: --{name}"),
                ));
                continue;
            }
            let value = match (spec.kind, flag.value()) {
                (FlagKind::Bool, None) => "true".to_string(),
                (FlagKind::Bool, Some(v)) => {
                    if !matches!(v.to_ascii_lowercase().as_str(), "true" | "false") {
                        errors.push(Diagnostic::error(
                            flag.span,
                            format!("expecting boolean value for flag --{name}, not: {v}"),
                        ));
                        continue;
                    }
                    v.to_ascii_lowercase()
                }
                (_, None) => {
                    errors.push(Diagnostic::error(
                        flag.span,
                        format!("missing a value on flag: --{name}"),
                    ));
                    continue;
                }
                (_, Some(v)) => v.to_string(),
            };
            values.push(FlagValue {
                name: spec.name,
                value,
                span: flag.span,
            });
        }
        Flags { values }
    }

    /// The single value of `name`.
    pub fn get(&self, name: &str) -> Option<&FlagValue> {
        self.values.iter().find(|v| v.name == name)
    }

    /// Whether boolean flag `name` is set to true.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| v.value == "true")
    }

    /// Every value of repeated flag `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a FlagValue> + 'a {
        self.values.iter().filter(move |v| v.name == name)
    }
}
