//! `HEALTHCHECK [options] CMD command` and `HEALTHCHECK NONE`.

use super::Ctx;
use super::run::{CommandLine, command_line};
use crate::ast::Args;
use crate::diagnostic::Diagnostic;
use std::time::Duration;

/// The durations and retry count of a health check; zero means unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HealthcheckOptions {
    /// `--interval`.
    pub interval: Duration,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--start-period`.
    pub start_period: Duration,
    /// `--start-interval`.
    pub start_interval: Duration,
    /// `--retries`.
    pub retries: u32,
}

/// A HEALTHCHECK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable any inherited check.
    None,
    /// `HEALTHCHECK CMD ...`.
    Cmd {
        /// The test command.
        command: CommandLine,
        /// The options.
        options: HealthcheckOptions,
    },
}

pub(super) fn parse(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Healthcheck> {
    let Args::Healthcheck { kind, command } = &ctx.instruction.args else {
        errors.push(ctx.error("HEALTHCHECK requires at least one argument"));
        return None;
    };
    match kind.value.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !matches!(**command, Args::None) {
                errors.push(ctx.error("HEALTHCHECK NONE takes no arguments"));
                return None;
            }
            // BuildKit's NONE branch never looks at the flags.
            for flag in &ctx.instruction.flags {
                errors.push(Diagnostic::warning(
                    flag.span,
                    format!("HEALTHCHECK NONE ignores --{}", flag.name()),
                ));
            }
            Some(Healthcheck::None)
        }
        "CMD" => {
            let command = command_line(command);
            if command == CommandLine::Empty {
                errors.push(ctx.error("missing command after HEALTHCHECK CMD"));
                return None;
            }
            let options = options(ctx, errors)?;
            Some(Healthcheck::Cmd { command, options })
        }
        other => {
            errors.push(
                Diagnostic::error(kind.span, format!("unknown type for healthcheck: {other}"))
                    .with_help("use HEALTHCHECK CMD <command> or HEALTHCHECK NONE"),
            );
            None
        }
    }
}

fn options(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<HealthcheckOptions> {
    let before = errors.len();
    let mut duration = |name: &str| {
        let flag = ctx.flags.get(name)?;
        match parse_duration(&flag.value) {
            Some(d) if d.is_zero() || d >= Duration::from_millis(1) => Some(d),
            Some(_) => {
                errors.push(Diagnostic::error(
                    flag.span,
                    format!("--{name} cannot be less than 1ms"),
                ));
                None
            }
            None => {
                errors.push(
                    Diagnostic::error(
                        flag.span,
                        format!("invalid duration for --{name}: {}", flag.value),
                    )
                    .with_help("use a duration such as 30s, 1m30s or 500ms"),
                );
                None
            }
        }
    };
    let options = HealthcheckOptions {
        interval: duration("interval").unwrap_or_default(),
        timeout: duration("timeout").unwrap_or_default(),
        start_period: duration("start-period").unwrap_or_default(),
        start_interval: duration("start-interval").unwrap_or_default(),
        retries: match ctx.flags.get("retries") {
            None => 0,
            Some(flag) => flag.value.parse().unwrap_or_else(|_| {
                errors.push(Diagnostic::error(
                    flag.span,
                    format!(
                        "invalid --retries value: {} (expected a whole number ≥ 0)",
                        flag.value
                    ),
                ));
                0
            }),
        },
    };
    (errors.len() == before).then_some(options)
}

/// Parses a Go duration (`300ms`, `1.5h`, `2h45m`); negative values and
/// overflow are rejected.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.strip_prefix('+').unwrap_or(text);
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in ["", "30", "1x", "-1s", "s", "1..2s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
