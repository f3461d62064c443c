//! The rules, over the parsed instructions in order. Each rule's trigger
//! and message follow BuildKit's (`dockerfile2llb/convert.go`,
//! `validations.go`, `convert_expose.go`, `instructions/parse.go`); where
//! BuildKit looks at something kiln does not have here (a base image's
//! config), the comment at the rule says what is left out.

use super::*;
use crate::ast::{Args, Instruction, Word};
use crate::check::reference::is_image_reference;
use kiln_shell::Lexer;
use std::collections::HashMap;

/// The automatic platform ARGs BuildKit defines in the global scope.
const PLATFORM_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
];

/// What the rules remember of a stage.
#[derive(Default, Clone)]
struct Stage {
    /// The name after AS, lower-cased.
    name: Option<String>,
    /// A SHELL ran here or in a parent stage.
    shell_set: bool,
    /// A WORKDIR ran here or in a parent stage.
    workdir_set: bool,
    /// The last CMD, ENTRYPOINT and HEALTHCHECK of this stage.
    last: HashMap<String, crate::source::Span>,
}

struct Lint<'a> {
    lexer: Lexer,
    /// Global ARGs: name → default (unexpanded text), in order.
    globals: Vec<(&'a str, Option<&'a str>)>,
    stages: Vec<Stage>,
    findings: Vec<Diagnostic>,
}

pub(super) fn run(dockerfile: &Dockerfile) -> Vec<Diagnostic> {
    let mut lint = Lint {
        lexer: Lexer::new(dockerfile.escape),
        globals: Vec::new(),
        stages: Vec::new(),
        findings: Vec::new(),
    };
    lint.consistent_casing(dockerfile);
    lint.definition_descriptions(dockerfile);
    for instruction in &dockerfile.instructions {
        if instruction.keyword_lower() == "from" {
            lint.from(instruction);
        } else if lint.stages.is_empty() {
            lint.global(instruction);
        } else {
            lint.instruction(instruction);
        }
    }
    lint.findings
}

impl<'a> Lint<'a> {
    fn warn(&mut self, rule: &'static Rule, instruction: &Instruction, message: String) {
        self.warn_at(rule, instruction.span, message);
    }

    fn warn_at(&mut self, rule: &'static Rule, span: crate::source::Span, message: String) {
        self.findings
            .push(Diagnostic::warning(span, message).with_rule(rule));
    }

    /// ARG before the first FROM.
    fn global(&mut self, instruction: &'a Instruction) {
        if instruction.keyword_lower() != "arg" {
            return;
        }
        if let Args::List(words) = &instruction.args {
            for word in words {
                let (name, default) = match word.value.split_once('=') {
                    Some((name, default)) => (name, Some(default)),
                    None => (word.value.as_str(), None),
                };
                self.globals.push((name, default));
            }
        }
    }

    /// ConsistentInstructionCasing: FROM and every instruction of a stage
    /// (not the global ARGs, not ONBUILD's triggers) are counted when all
    /// lower or all upper case; the majority is lower case only with more
    /// lower than upper; every other instruction is reported.
    fn consistent_casing(&mut self, dockerfile: &Dockerfile) {
        let Some(first) = dockerfile
            .instructions
            .iter()
            .position(|i| i.keyword_lower() == "from")
        else {
            return;
        };
        let counted = &dockerfile.instructions[first..];
        let is_lower = |i: &Instruction| i.keyword.value == i.keyword.value.to_lowercase();
        let is_upper = |i: &Instruction| i.keyword.value == i.keyword.value.to_uppercase();
        let lower = counted.iter().filter(|i| is_lower(i)).count();
        let upper = counted.iter().filter(|i| is_upper(i)).count();
        let (majority, in_case): (&str, &dyn Fn(&Instruction) -> bool) = if lower > upper {
            ("lowercase", &is_lower)
        } else {
            ("uppercase", &is_upper)
        };
        for instruction in counted.iter().filter(|i| !in_case(i)) {
            self.warn(
                &CONSISTENT_INSTRUCTION_CASING,
                instruction,
                format!(
                    "Command '{}' should match the case of the command majority ({majority})",
                    instruction.keyword.value
                ),
            );
        }
    }

    /// InvalidDefinitionDescription (experimental; BuildKit's
    /// `validateDefinitionDescription`): the last comment line right above
    /// a named FROM or an ARG must start with the stage's name (lower
    /// case) or one of the ARG's keys. The comments above an instruction
    /// are BuildKit's parser's: every comment line since the previous
    /// instruction, blank lines passed over, an empty `#` starting afresh,
    /// parser directives left out.
    fn definition_descriptions(&mut self, dockerfile: &Dockerfile) {
        let directive_lines: Vec<usize> =
            dockerfile.directives.iter().map(|d| d.span.line).collect();
        let lines: Vec<&str> = dockerfile.source.lines().collect();
        let mut after = 0;
        for instruction in &dockerfile.instructions {
            let (from, to) = (after, instruction.span.line.saturating_sub(1));
            after = instruction.span.end_line;
            let mut comments: Vec<String> = Vec::new();
            for number in from + 1..=to {
                let line = lines.get(number - 1).copied().unwrap_or_default();
                if directive_lines.contains(&number) || !line.trim_start().starts_with('#') {
                    continue;
                }
                // As BuildKit: the first byte goes, whatever it is, then
                // the blanks around the rest.
                let comment = line.get(1..).unwrap_or_default().trim();
                match comment.is_empty() {
                    true => comments.clear(),
                    false => comments.push(comment.to_string()),
                }
            }
            let Some(last) = comments.last() else {
                continue;
            };
            let (what, keys): (&str, Vec<String>) =
                match (instruction.keyword_lower().as_str(), &instruction.args) {
                    ("from", Args::List(words)) if words.len() == 3 => {
                        ("FROM", vec![words[2].value.to_lowercase()])
                    }
                    ("arg", Args::List(words)) => (
                        "ARG",
                        words
                            .iter()
                            .map(|w| {
                                w.value
                                    .split_once('=')
                                    .map_or(&*w.value, |(k, _)| k)
                                    .to_string()
                            })
                            .collect(),
                    ),
                    _ => continue,
                };
            let first_word = last.split(' ').next().unwrap_or_default();
            if keys.is_empty() || keys.iter().any(|k| k == first_word) {
                continue;
            }
            let example = match keys.as_slice() {
                [one] => one.as_str(),
                _ => "<arg_key>",
            };
            self.warn(
                &INVALID_DEFINITION_DESCRIPTION,
                instruction,
                format!("Comment for {what} should follow the format: `# {example} <description>`"),
            );
        }
    }

    fn from(&mut self, instruction: &Instruction) {
        let words: &[Word] = match &instruction.args {
            Args::List(words) => words,
            _ => &[],
        };
        let keyword = &instruction.keyword.value;
        if let [_, as_word, name, ..] = words {
            if words.len() == 3 && name.value != name.value.to_lowercase() {
                self.warn(
                    &STAGE_NAME_CASING,
                    instruction,
                    format!("Stage name '{}' should be lowercase", name.value),
                );
            }
            let mismatch = (*keyword == keyword.to_lowercase()
                && as_word.value != as_word.value.to_lowercase())
                || (*keyword == keyword.to_uppercase()
                    && as_word.value != as_word.value.to_uppercase());
            if mismatch {
                self.warn(
                    &FROM_AS_CASING,
                    instruction,
                    format!(
                        "'{}' and '{keyword}' keywords' casing do not match",
                        as_word.value
                    ),
                );
            }
        }
        let name = match words {
            [_, _, name] => Some(name.value.to_lowercase()),
            _ => None,
        };
        // DuplicateStageName is checked with the other stage rules
        // (check/stages.rs).
        if let Some(name) = &name
            && (name == "context" || name == "scratch")
        {
            self.warn(
                &RESERVED_STAGE_NAME,
                instruction,
                format!("Stage name should not use the same name as reserved stage {name:?}"),
            );
        }
        let platform = instruction
            .flags
            .iter()
            .find(|f| f.name() == "platform")
            .and_then(|f| f.value());
        if let Some(image) = words.first() {
            self.undefined_args_in_from(instruction, &image.value);
            self.invalid_default_arg(instruction, &image.value);
        }
        if let Some(platform) = platform {
            self.undefined_args_in_from(instruction, platform);
            if platform == "$TARGETPLATFORM" || platform == "${TARGETPLATFORM}" {
                self.warn(
                    &REDUNDANT_TARGET_PLATFORM,
                    instruction,
                    format!(
                        "Setting platform to predefined {platform} in FROM is redundant as this is the default behavior"
                    ),
                );
            }
            if !platform.contains('$') && const_platform_unnamed(platform, name.as_deref()) {
                self.warn(
                    &FROM_PLATFORM_FLAG_CONST_DISALLOWED,
                    instruction,
                    format!("FROM --platform flag should not use constant value {platform:?}"),
                );
            }
        }
        // A stage built on an earlier one inherits what it set.
        let parent = words.first().and_then(|image| {
            let image = image.value.to_lowercase();
            self.stages
                .iter()
                .rev()
                .find(|s| s.name.as_deref() == Some(image.as_str()))
                .cloned()
        });
        self.stages.push(Stage {
            name,
            shell_set: parent.as_ref().is_some_and(|p| p.shell_set),
            workdir_set: parent.as_ref().is_some_and(|p| p.workdir_set),
            last: HashMap::new(),
        });
    }

    /// The global scope FROM expands in: every global ARG (declared without
    /// a value or not) and the automatic platform ARGs.
    fn global_names(&self) -> Vec<&str> {
        self.globals
            .iter()
            .map(|(name, _)| *name)
            .chain(PLATFORM_ARGS.iter().copied())
            .collect()
    }

    /// UndefinedArgInFrom: a variable in FROM's image or `--platform` that
    /// is neither a global ARG nor an automatic one.
    fn undefined_args_in_from(&mut self, instruction: &Instruction, text: &str) {
        if !text.contains('$') {
            return;
        }
        let known = self.global_names();
        let env: HashMap<&str, &str> = known.iter().map(|name| (*name, "")).collect();
        let Ok(expansion) = self.lexer.process_word(text, &env) else {
            return;
        };
        let messages: Vec<String> = expansion
            .unset
            .iter()
            .map(|name| match closest(name, &known) {
                Some(suggestion) => {
                    format!("FROM argument '{name}' is not declared (did you mean {suggestion}?)")
                }
                None => format!("FROM argument '{name}' is not declared"),
            })
            .collect();
        for message in messages {
            self.warn(&UNDEFINED_ARG_IN_FROM, instruction, message);
        }
    }

    /// InvalidDefaultArgInFrom: FROM's image, expanded with the global
    /// ARGs' defaults and the automatic platform ARGs, is no image
    /// reference. An ARG without a default keeps what the name had (an
    /// automatic platform ARG's value), as BuildKit's `buildMetaArgs`
    /// leaves a valueless ARG out of the environment. The platform is linux/amd64 here, as in
    /// `check::lowering`: only whether the result parses matters.
    fn invalid_default_arg(&mut self, instruction: &Instruction, image: &str) {
        if !image.contains('$') {
            return;
        }
        let mut env: HashMap<String, String> = HashMap::new();
        for prefix in ["BUILD", "TARGET"] {
            for (suffix, value) in [
                ("PLATFORM", "linux/amd64"),
                ("OS", "linux"),
                ("ARCH", "amd64"),
            ] {
                env.insert(format!("{prefix}{suffix}"), value.to_string());
            }
        }
        for (name, default) in &self.globals {
            let value = match default {
                Some(text) => match self.lexer.process_word(text, &env) {
                    Ok(expansion) => expansion.value,
                    Err(_) => return,
                },
                None => continue,
            };
            env.insert((*name).to_string(), value);
        }
        let Ok(expansion) = self.lexer.process_word(image, &env) else {
            return;
        };
        if !is_image_reference(&expansion.value) {
            self.warn(
                &INVALID_DEFAULT_ARG_IN_FROM,
                instruction,
                format!(
                    "Default value for ARG {image} results in empty or invalid base image name"
                ),
            );
        }
    }

    fn instruction(&mut self, instruction: &Instruction) {
        let keyword = instruction.keyword_lower();
        let written = instruction.keyword.value.clone();
        match keyword.as_str() {
            "maintainer" => self.warn(
                &MAINTAINER_DEPRECATED,
                instruction,
                "Maintainer instruction is deprecated in favor of using label".to_string(),
            ),
            "env" | "label" => {
                if let Args::Pairs { legacy: true, .. } = &instruction.args {
                    self.warn(
                        &LEGACY_KEY_VALUE_FORMAT,
                        instruction,
                        format!(
                            "\"{written} key=value\" should be used instead of legacy \"{written} key value\" format"
                        ),
                    );
                }
                if keyword == "env"
                    && let Args::Pairs { pairs, .. } = &instruction.args
                {
                    for pair in pairs {
                        self.secret(instruction, "ENV", &pair.key.value);
                    }
                }
            }
            "arg" => {
                if let Args::List(words) = &instruction.args {
                    for word in words {
                        let name = word
                            .value
                            .split_once('=')
                            .map_or(word.value.as_str(), |(n, _)| n);
                        self.secret(instruction, "ARG", name);
                    }
                }
            }
            "shell" => self.stage().shell_set = true,
            "cmd" | "entrypoint" | "healthcheck" => {
                if keyword != "healthcheck"
                    && matches!(instruction.args, Args::Text(_))
                    && !self.stage().shell_set
                {
                    self.warn(
                        &JSON_ARGS_RECOMMENDED,
                        instruction,
                        format!(
                            "JSON arguments recommended for {written} to prevent unintended behavior related to OS signals"
                        ),
                    );
                }
                if let Some(previous) = self.stage().last.insert(keyword, instruction.span) {
                    self.warn_at(
                        &MULTIPLE_INSTRUCTIONS_DISALLOWED,
                        previous,
                        format!(
                            "Multiple {written} instructions should not be used in the same stage because only the last one will be used"
                        ),
                    );
                }
            }
            "workdir" => {
                if !self.stage().workdir_set
                    && let Args::Text(word) = &instruction.args
                    && !word.value.starts_with('/')
                    && !word.value.contains('$')
                {
                    self.warn(
                        &WORKDIR_RELATIVE_PATH,
                        instruction,
                        format!(
                            "Relative workdir {:?} can have unexpected results if the base image changes",
                            word.value
                        ),
                    );
                }
                self.stage().workdir_set = true;
            }
            "expose" => {
                if let Args::List(words) = &instruction.args {
                    for word in words.iter().filter(|w| !w.value.contains('$')) {
                        self.expose(instruction, &word.value);
                    }
                }
            }
            _ => {}
        }
    }

    fn stage(&mut self) -> &mut Stage {
        self.stages
            .last_mut()
            .expect("instructions after FROM have a stage")
    }

    /// SecretsUsedInArgOrEnv: a key one of whose `_`-separated parts names
    /// a secret, and none says it is not one (BuildKit's two patterns).
    fn secret(&mut self, instruction: &Instruction, kind: &str, key: &str) {
        const SECRET: &[&str] = &[
            "apikey",
            "auth",
            "credential",
            "credentials",
            "key",
            "password",
            "pword",
            "passwd",
            "secret",
            "token",
        ];
        const NOT_SECRET: &[&str] = &["public", "file", "version"];
        let parts: Vec<String> = key.split('_').map(str::to_lowercase).collect();
        let has = |words: &[&str]| parts.iter().any(|p| words.contains(&p.as_str()));
        if has(SECRET) && !has(NOT_SECRET) {
            self.warn(
                &SECRETS_USED_IN_ARG_OR_ENV,
                instruction,
                format!("Do not use ARG or ENV instructions for sensitive data ({kind} {key:?})"),
            );
        }
    }

    /// ExposeInvalidFormat and ExposeProtoCasing, for one port spec.
    fn expose(&mut self, instruction: &Instruction, spec: &str) {
        if spec.contains(':') {
            self.warn(
                &EXPOSE_INVALID_FORMAT,
                instruction,
                format!(
                    "EXPOSE instruction should not define an IP address or host-port mapping, found '{spec}'"
                ),
            );
        }
        if let Some((_, proto)) = spec.rsplit_once('/')
            && ["tcp", "udp", "sctp"].contains(&proto.to_lowercase().as_str())
            && proto != proto.to_lowercase()
        {
            self.warn(
                &EXPOSE_PROTO_CASING,
                instruction,
                format!("Defined protocol '{spec}' in EXPOSE instruction should be lowercase"),
            );
        }
    }
}

/// FromPlatformFlagConstDisallowed's test: a constant platform whose OS
/// and architecture the stage's name does not mention (an unnamed stage
/// always warns).
fn const_platform_unnamed(platform: &str, stage: Option<&str>) -> bool {
    let parts: Vec<&str> = platform.split('/').collect();
    let (os, arch) = match parts.as_slice() {
        [os, arch, ..] => (*os, *arch),
        [one] if matches!(*one, "linux" | "windows" | "darwin" | "freebsd") => (*one, ""),
        [one] => ("linux", *one),
        [] => return false,
    };
    if os.is_empty() {
        return false;
    }
    match stage {
        None => true,
        Some(name) => !name.contains(os) && (arch.is_empty() || !name.contains(arch)),
    }
}
