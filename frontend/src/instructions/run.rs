//! `RUN`, and the command lines of `CMD`, `ENTRYPOINT` and `SHELL`.

use super::Ctx;
use super::mount::{Mount, parse_mount};
use crate::ast::{Args, Heredoc, Word};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::source::Span;

/// A command as written: exec form (JSON) or shell form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandLine {
    /// `["prog", "arg"]`: run directly.
    Exec(Vec<String>),
    /// `prog arg`: run through the stage's SHELL.
    Shell(String),
    /// Nothing given (`CMD []` or a bare `CMD`).
    Empty,
}

/// The command line of CMD/ENTRYPOINT/RUN arguments.
pub(super) fn command_line(args: &Args) -> CommandLine {
    match args {
        Args::Json(words) if words.is_empty() => CommandLine::Empty,
        Args::Json(words) => CommandLine::Exec(words.iter().map(|w| w.value.clone()).collect()),
        Args::Text(word) => CommandLine::Shell(word.value.clone()),
        _ => CommandLine::Empty,
    }
}

/// A RUN step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// What to run.
    pub command: CommandLine,
    /// `--mount` specs, parsed, each with the span of its flag.
    pub mounts: Vec<(Mount, Span)>,
    /// `--network`: `default`, `none` or `host`.
    pub network: Option<String>,
    /// `--security`: `sandbox` or `insecure`.
    pub security: Option<String>,
    /// Heredoc bodies (for `RUN <<EOF` the first one is the script).
    pub heredocs: Vec<Heredoc>,
}

pub(super) fn parse_run(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Run> {
    let instruction = ctx.instruction;
    let command = command_line(&instruction.args);
    if command == CommandLine::Empty && instruction.heredocs.is_empty() {
        // BuildKit runs it (`sh -c ""`), so this is only a warning.
        errors.push(Diagnostic::warning(
            ctx.instruction.span_of_text(),
            "RUN has no command",
        ));
    }
    // The stable Dockerfile 1.26 frontend refuses it too (its
    // `convert_norundevice.go`): CDI devices are labs-only there.
    for device in ctx.flags.all("device") {
        errors.push(
            Diagnostic::error(
                device.span,
                "RUN --device is only supported in Dockerfile frontend 1.14.0-labs or later (stable from 1.27.0); kiln does not support it",
            )
            .with_help("CDI devices are not available in kiln builds; remove the flag"),
        );
    }
    let mut mounts = Vec::new();
    for flag in ctx.flags.all("mount") {
        match parse_mount(&flag.value) {
            Ok(mount) => mounts.push((mount, flag.span)),
            Err(e) => errors.push(
                Diagnostic::error(flag.span, format!("invalid --mount: {}", e.message))
                    .with_optional_help(e.help),
            ),
        }
    }
    let network = one_of(ctx, "network", &["default", "none", "host"], errors);
    let security = one_of(ctx, "security", &["sandbox", "insecure"], errors);
    Some(Run {
        command,
        mounts,
        network,
        security,
        heredocs: instruction.heredocs.clone(),
    })
}

/// The value of flag `name`, which must be one of `allowed` (unless it
/// holds a variable, which only lowering can expand).
fn one_of(
    ctx: &Ctx<'_>,
    name: &str,
    allowed: &[&str],
    errors: &mut Vec<Diagnostic>,
) -> Option<String> {
    let flag = ctx.flags.get(name)?;
    if !flag.value.contains('$') && !allowed.contains(&flag.value.as_str()) {
        errors.push(
            Diagnostic::error(
                flag.span,
                format!("unsupported value for --{name}: {}", flag.value),
            )
            .with_help(
                did_you_mean(&flag.value, allowed.iter().copied())
                    .unwrap_or_else(|| format!("use one of: {}", allowed.join(", "))),
            ),
        );
    }
    Some(flag.value.clone())
}

/// SHELL takes only the JSON form.
pub(super) fn parse_shell(ctx: &Ctx<'_>, errors: &mut Vec<Diagnostic>) -> Option<Vec<String>> {
    match &ctx.instruction.args {
        Args::Json(words) if !words.is_empty() => {
            Some(words.iter().map(|w: &Word| w.value.clone()).collect())
        }
        Args::Json(_) => {
            errors.push(ctx.error("SHELL requires at least one argument"));
            None
        }
        _ => {
            errors.push(
                ctx.error("SHELL requires the arguments to be in JSON form")
                    .with_help("write e.g. SHELL [\"/bin/sh\", \"-c\"]"),
            );
            None
        }
    }
}
