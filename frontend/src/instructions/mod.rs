//! Typed instructions: each AST instruction checked against its own rules
//! (argument counts, forms, flags, mount specs, modes) and turned into a
//! [`Command`] that lowering can use without re-parsing text.
//!
//! Values stay unexpanded here: variables are expanded during lowering,
//! where the ARG/ENV scope is known. Whole-file rules (stages, cycles) are
//! in [`crate::check`].

mod chmod;
mod copy;
mod flags;
mod from;
mod healthcheck;
mod keyword;
mod meta;
pub(crate) mod mount;
mod run;

pub use chmod::{Chmod, SymbolicMode};
pub use copy::Copy;
pub use flags::{FlagValue, Flags};
pub use from::From;
pub use healthcheck::{Healthcheck, HealthcheckOptions, parse_duration};
pub use keyword::{FlagKind, FlagSpec, Keyword};
pub use meta::{ArgDecl, KeyValue};
pub use mount::{Mount, MountError, MountType, Sharing, parse_mount};
pub use run::{CommandLine, Device, Run};

use crate::ast::{Args, Instruction, Word};
use crate::diagnostic::{Diagnostic, Severity, did_you_mean};

/// A typed instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `FROM`
    From(From),
    /// `RUN`
    Run(Run),
    /// `CMD`
    Cmd(CommandLine),
    /// `ENTRYPOINT`
    Entrypoint(CommandLine),
    /// `SHELL` (always JSON form)
    Shell(Vec<String>),
    /// `COPY`
    Copy(Copy),
    /// `ADD`
    Add(Copy),
    /// `ENV`
    Env(Vec<KeyValue>),
    /// `LABEL`
    Label(Vec<KeyValue>),
    /// `ARG`
    Arg(Vec<ArgDecl>),
    /// `EXPOSE`
    Expose(Vec<Word>),
    /// `VOLUME`
    Volume(Vec<Word>),
    /// `USER`
    User(Word),
    /// `WORKDIR`
    Workdir(Word),
    /// `STOPSIGNAL`
    Stopsignal(Word),
    /// `MAINTAINER`
    Maintainer(Word),
    /// `HEALTHCHECK`
    Healthcheck(Healthcheck),
    /// `ONBUILD`: the trigger as written, for the image config. It runs
    /// only when a later build uses this image as a base.
    Onbuild(String),
}

/// Types one instruction. Returns the command when it is valid, and every
/// problem found (several at once where possible).
pub fn typed(instruction: &Instruction) -> (Option<Command>, Vec<Diagnostic>) {
    let mut findings = Vec::new();
    let command = typed_into(instruction, &mut findings);
    let valid = findings.iter().all(|d| d.severity != Severity::Error);
    (command.filter(|_| valid), findings)
}

fn typed_into(instruction: &Instruction, errors: &mut Vec<Diagnostic>) -> Option<Command> {
    let Some(keyword) = Keyword::parse(&instruction.keyword.value) else {
        let word = &instruction.keyword.value;
        errors.push(
            Diagnostic::error(
                instruction.keyword.span,
                format!("unknown instruction: {word}"),
            )
            .with_optional_help(did_you_mean(word, Keyword::ALL.map(Keyword::name))),
        );
        return None;
    };
    let flags = if keyword.ignores_flags() {
        // BuildKit never parses flags of these instructions: they are
        // dropped without a word. Say so, since it is surely a mistake.
        for flag in &instruction.flags {
            errors.push(Diagnostic::warning(
                flag.span,
                format!("{keyword} ignores flags: --{} has no effect", flag.name()),
            ));
        }
        Flags::default()
    } else {
        Flags::parse(keyword, &instruction.flags, errors)
    };
    let ctx = Ctx {
        instruction,
        keyword,
        flags,
    };
    match keyword {
        Keyword::From => from::parse(&ctx, errors).map(Command::From),
        Keyword::Run => run::parse_run(&ctx, errors).map(Command::Run),
        Keyword::Cmd => Some(Command::Cmd(run::command_line(&instruction.args))),
        Keyword::Entrypoint => Some(Command::Entrypoint(run::command_line(&instruction.args))),
        Keyword::Shell => run::parse_shell(&ctx, errors).map(Command::Shell),
        Keyword::Copy => copy::parse(&ctx, errors).map(Command::Copy),
        Keyword::Add => copy::parse(&ctx, errors).map(Command::Add),
        Keyword::Env => meta::pairs(&ctx, errors).map(Command::Env),
        Keyword::Label => meta::pairs(&ctx, errors).map(Command::Label),
        Keyword::Arg => meta::args(&ctx, errors).map(Command::Arg),
        Keyword::Expose => meta::list(&ctx, errors).map(Command::Expose),
        Keyword::Volume => meta::volumes(&ctx, errors).map(Command::Volume),
        Keyword::User => meta::one(&ctx, errors).map(Command::User),
        Keyword::Workdir => meta::one(&ctx, errors).map(Command::Workdir),
        Keyword::Stopsignal => meta::one(&ctx, errors).map(Command::Stopsignal),
        Keyword::Maintainer => meta::one(&ctx, errors).map(Command::Maintainer),
        Keyword::Healthcheck => healthcheck::parse(&ctx, errors).map(Command::Healthcheck),
        Keyword::Onbuild => onbuild(&ctx, errors),
    }
}

/// What the per-instruction parsers get.
pub(crate) struct Ctx<'a> {
    pub instruction: &'a Instruction,
    pub keyword: Keyword,
    pub flags: Flags,
}

impl Ctx<'_> {
    /// An error about the whole instruction, pointing at its keyword line.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.instruction.span_of_text(), message)
    }
}

impl Instruction {
    /// The instruction's own text (not its heredoc bodies), for errors
    /// about the instruction as a whole.
    pub fn span_of_text(&self) -> crate::source::Span {
        let mut span = self.keyword.span;
        if let Some(end) = self.last_text_end() {
            span.end = end.max(span.end);
        }
        span
    }

    fn last_text_end(&self) -> Option<usize> {
        let mut end = self.flags.iter().map(|f| f.span.end).max();
        let mut bump = |s: crate::source::Span| end = Some(end.map_or(s.end, |e| e.max(s.end)));
        match &self.args {
            Args::None | Args::Ignored => {}
            Args::Text(w) => bump(w.span),
            Args::Json(ws) | Args::List(ws) => ws.iter().for_each(|w| bump(w.span)),
            Args::Pairs { pairs, .. } => pairs.iter().for_each(|p| bump(p.value.span)),
            Args::Healthcheck { kind, .. } => bump(kind.span),
            Args::Nested(inner) => bump(inner.span_of_text()),
        }
        end
    }
}

/// ONBUILD: the trigger may not be ONBUILD, FROM or MAINTAINER (BuildKit's
/// rule). Anything else is stored as text and only parsed when a child
/// build uses the image, so problems in it are warnings here.
fn onbuild(ctx: &Ctx<'_>, findings: &mut Vec<Diagnostic>) -> Option<Command> {
    let Args::Nested(trigger) = &ctx.instruction.args else {
        findings.push(ctx.error("ONBUILD requires at least one argument"));
        return None;
    };
    if let Some(k @ (Keyword::Onbuild | Keyword::From | Keyword::Maintainer)) =
        Keyword::parse(&trigger.keyword.value)
    {
        findings.push(Diagnostic::error(
            trigger.keyword.span,
            format!("{k} isn't allowed as an ONBUILD trigger"),
        ));
        return None;
    }
    let mut trigger_findings = Vec::new();
    typed_into(trigger, &mut trigger_findings);
    findings.extend(trigger_findings.into_iter().map(|mut d| {
        d.severity = Severity::Warning;
        d.message = format!(
            "in ONBUILD trigger (fails when the image is used as a base): {}",
            d.message
        );
        d
    }));
    Some(Command::Onbuild(trigger.original.trim().to_string()))
}
