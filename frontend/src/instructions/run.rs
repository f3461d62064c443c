//! `RUN`, and the command lines of `CMD`, `ENTRYPOINT` and `SHELL`.

use super::Ctx;
use super::mount::{Mount, parse_bool, parse_mount, split_csv};
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
    /// `--device` specs, parsed, each with the span of its flag.
    pub devices: Vec<(Device, Span)>,
}

/// A `RUN --device`: BuildKit's `[name=]NAME[,required[=BOOL]]`
/// (frontend/dockerfile/instructions/commands_rundevice.go), where kiln's
/// NAME is the path of a host device node under `/dev/` (BuildKit's is a
/// CDI name, which kiln refuses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The node's path, under `/dev/`.
    pub path: String,
    /// The build fails when the host has no such device; otherwise the
    /// step runs without it.
    pub required: bool,
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
    let mut devices = Vec::new();
    for flag in ctx.flags.all("device") {
        match parse_device(&flag.value) {
            Ok(device) => devices.push((device, flag.span)),
            Err((message, help)) => errors.push(
                Diagnostic::error(flag.span, format!("invalid --device: {message}"))
                    .with_optional_help(help),
            ),
        }
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
        devices,
    })
}

/// One `--device` value: comma-separated fields, the first bare one the
/// name (or `name=`), `required` alone or with a boolean.
fn parse_device(value: &str) -> Result<Device, (String, Option<String>)> {
    let mut name: Option<&str> = None;
    let mut required = false;
    let fields = split_csv(value).map_err(|e| (e.message, None))?;
    for field in &fields {
        let field = field.as_str();
        let (key, val) = match field.split_once('=') {
            Some((key, val)) => (key.to_ascii_lowercase(), Some(val)),
            None => (field.to_ascii_lowercase(), None),
        };
        match (key.as_str(), val) {
            ("required", None) => required = true,
            ("required", Some(val)) => {
                required = parse_bool(val)
                    .ok_or_else(|| (format!("invalid value for required: {val}"), None))?;
            }
            ("name", Some(val)) => match name {
                Some(set) => return Err((format!("device name already set to {set}"), None)),
                None => name = Some(val),
            },
            _ if name.is_none() => name = Some(field),
            _ => {
                return Err((
                    format!("unexpected field '{field}'"),
                    did_you_mean(&key, ["name", "required"]),
                ));
            }
        }
    }
    let name = name.unwrap_or_default();
    if !name.starts_with('/') {
        return Err((
            format!("{name:?} is not a device path"),
            Some(
                "kiln gives RUN steps host device nodes by path (such as /dev/fuse); CDI device names (vendor.com/class=name) are not supported"
                    .into(),
            ),
        ));
    }
    let clean = name.strip_prefix("/dev/").is_some_and(|rest| {
        !rest
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    });
    if !clean {
        return Err((
            format!("{name:?} is not under /dev/"),
            Some("give the clean path of a device node under /dev/, such as /dev/fuse".into()),
        ));
    }
    Ok(Device {
        path: name.to_string(),
        required,
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
