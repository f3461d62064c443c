//! The lowering driver: the global scope, the stages the target needs,
//! and each needed stage's instructions in order.

use super::scope::{Args, BuildArgs, StageEnv, has_env};
use super::stages::{Stages, split};
use super::{ImageResolver, LowerOptions, Lowered, platform};
use crate::ast::{Dockerfile, Heredoc, Instruction, Word};
use crate::diagnostic::Diagnostic;
use crate::instructions::Command;
use crate::source::Span;
use kiln_oci::{History, ImageConfig, Platform};
use kiln_shell::{Env, Lexer};
use kiln_solver::{FileAction, FileOp, ImageSource, LocalSource, Op, Vertex, VertexId};
use std::collections::HashMap;

/// The PATH BuildKit gives an image whose config has none (moby's
/// `system.DefaultPathEnv` for Linux).
pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a lowered stage leaves for later stages.
#[derive(Clone)]
pub(crate) struct StageResult {
    pub vertex: VertexId,
    pub platform: Platform,
    pub config: ImageConfig,
    pub run_env: Vec<String>,
    /// The ARGs declared in the stage and in the stages it is built on.
    pub args_in_scope: Vec<String>,
}

/// The stage being lowered.
pub(crate) struct Stage {
    /// How progress names it when there are several stages.
    pub label: Option<String>,
    /// The vertex whose output is the stage's file system so far.
    pub vertex: VertexId,
    /// The image config so far.
    pub config: ImageConfig,
    /// The platform its steps run as: `FROM --platform`'s, a base
    /// stage's, or the build's target.
    pub platform: Platform,
    /// The variables steps see: ENV and ARG values in the order they were
    /// set, the later winning (BuildKit keeps both in its LLB state's env,
    /// so an ARG after an ENV of the same name wins for RUN and expansion,
    /// while the image config only ever gets ENV).
    pub run_env: Vec<String>,
    /// The stage's ARGs.
    pub args: Args,
    /// Every ARG declaration of the stage by name, repeats included (what
    /// a RUN's history lists, as BuildKit's `buildArgs`).
    pub declared_args: Vec<String>,
    /// The ARGs declared in the stages this one is built on (`FROM
    /// stage`): defined for UndefinedVar, as BuildKit ≥ 0.15 carries a
    /// base stage's `buildArgs` into its children (`dispatchState.init`).
    pub inherited_args: Vec<String>,
    /// A CMD was set in this stage (ENTRYPOINT then keeps it).
    pub cmd_set: bool,
    /// Steps so far and in all, for progress names.
    pub step: usize,
    pub total: usize,
}

impl Stage {
    /// The working directory, `/` when unset.
    pub fn workdir(&self) -> &str {
        match self.config.config.working_dir.as_str() {
            "" => "/",
            dir => dir,
        }
    }

    /// Where the stage's variables come from.
    pub fn env(&self) -> StageEnv<'_> {
        StageEnv { env: &self.run_env }
    }
}

/// The context's `.dockerignore` for BuildKit's CopyIgnoredFile, which
/// looks only at a file without `!` exceptions.
pub(crate) struct IgnoredSources {
    pub matcher: kiln_dockerignore::Matcher,
    /// A pattern (`*`, `**`, `**/*`) excludes the whole context.
    pub whole: bool,
}

impl IgnoredSources {
    fn of(patterns: &[String]) -> Option<IgnoredSources> {
        if patterns.is_empty() || patterns.iter().any(|p| p.starts_with('!')) {
            return None;
        }
        Some(IgnoredSources {
            matcher: kiln_dockerignore::Matcher::new(patterns).ok()?,
            whole: patterns
                .iter()
                .any(|p| matches!(p.as_str(), "*" | "**" | "**/*")),
        })
    }
}

pub(crate) struct Builder<'a> {
    pub options: &'a LowerOptions,
    resolver: &'a dyn ImageResolver,
    pub stages: Stages<'a>,
    pub build_args: BuildArgs,
    pub globals: Args,
    pub graph: kiln_solver::Graph,
    pub lowered: Vec<Option<StageResult>>,
    images: HashMap<(String, String), (VertexId, ImageConfig)>,
    contexts: HashMap<Vec<String>, VertexId>,
    pub warnings: Vec<Diagnostic>,
    /// UndefinedVar findings, noted while expanding (see `expand`).
    undefined: std::cell::RefCell<Vec<Diagnostic>>,
    /// `.dockerignore` as CopyIgnoredFile sees it, parsed once.
    pub ignored: Option<IgnoredSources>,
    pub lexer: Lexer,
    target: usize,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(
        dockerfile: &'a Dockerfile,
        options: &'a LowerOptions,
        resolver: &'a dyn ImageResolver,
    ) -> Result<Builder<'a>, Diagnostic> {
        let stages = split(dockerfile)?;
        let target = match &options.target {
            None => stages.defs.len() - 1,
            Some(name) => {
                let lower = name.to_lowercase();
                stages
                    .defs
                    .iter()
                    .rposition(|d| d.name.as_deref() == Some(lower.as_str()))
                    .ok_or_else(|| {
                        Diagnostic::error(
                            crate::source::Span::default(),
                            format!("target stage \"{name}\" could not be found"),
                        )
                        .with_optional_help(
                            crate::diagnostic::did_you_mean(
                                name,
                                stages.defs.iter().filter_map(|d| d.name.as_deref()),
                            ),
                        )
                    })?
            }
        };
        let count = stages.defs.len();
        Ok(Builder {
            options,
            resolver,
            stages,
            build_args: BuildArgs::new(options.build_args.clone()),
            globals: Args::default(),
            graph: kiln_solver::Graph::new(),
            lowered: vec![None; count],
            images: HashMap::new(),
            contexts: HashMap::new(),
            warnings: Vec::new(),
            undefined: std::cell::RefCell::default(),
            ignored: IgnoredSources::of(&options.ignore_patterns),
            lexer: Lexer::new(dockerfile.escape),
            target,
        })
    }

    pub(crate) fn lower_all(mut self) -> Result<Lowered, Diagnostic> {
        let target_name = self.stages.defs[self.target]
            .name
            .clone()
            .unwrap_or_else(|| self.target.to_string());
        let mut globals = Args::default();
        platform::declare(
            &mut globals,
            &self.options.platform,
            &self.options.build_platform,
            &target_name,
        );
        for (_, decls) in &self.stages.globals {
            for decl in decls {
                let default = match &decl.default {
                    Some(word) => Some(expand_word(&self.lexer, word, &globals)?),
                    None => None,
                };
                // BuildKit's `buildMetaArgs`: a global ARG without a value
                // (and no --build-arg) leaves an earlier value alone, so an
                // automatic platform ARG keeps its value (docker 20.10's
                // BuildKit emptied it).
                match self.build_args.take(&decl.name.value).or(default) {
                    Some(value) => globals.declare(decl.name.value.clone(), Some(value)),
                    None if globals.get(&decl.name.value).is_none() => {
                        globals.declare(decl.name.value.clone(), None)
                    }
                    None => {}
                }
            }
        }
        self.globals = globals;

        let needed = self.needed()?;
        let mut stage_of = Vec::new();
        for (index, needed) in needed.into_iter().enumerate() {
            if needed {
                let result = self.lower_stage(index)?;
                self.lowered[index] = Some(result);
                // Every vertex added while lowering the stage is one of its
                // steps (or a source only it reads).
                let name = self.stages.defs[index]
                    .name
                    .clone()
                    .unwrap_or_else(|| index.to_string());
                stage_of.resize(self.graph.len(), Some(name));
            }
        }
        stage_of.resize(self.graph.len(), None);
        let Some(result) = self.lowered[self.target].take() else {
            unreachable!("the target stage is always needed")
        };
        let mut config = result.config;
        if self.options.explicit_platform {
            // BuildKit (dockerfile2llb `Dockerfile2LLB`): os and
            // architecture always; variant and OS version when the target
            // has one or the os/architecture changed.
            let target = &self.options.platform;
            let same = config.os == target.os && config.architecture == target.architecture;
            config.os = target.os.clone();
            config.architecture = target.architecture.clone();
            if !target.variant.is_empty() || !same {
                config.variant = target.variant.clone();
            }
            if !target.os_version.is_empty() || !same {
                config.os_version = target.os_version.clone();
            }
            if !target.os_features.is_empty() {
                config.os_features = target.os_features.clone();
            }
        }
        for (key, value) in &self.options.labels {
            config.config.labels.insert(key.clone(), value.clone());
        }
        let unused = self.build_args.unused();
        if !unused.is_empty() {
            self.warnings.push(Diagnostic::warning(
                crate::source::Span::default(),
                format!(
                    "one or more build args were not consumed: {}",
                    unused.join(", ")
                ),
            ));
        }
        let mut warnings = self.warnings;
        warnings.extend(self.undefined.into_inner());
        Ok(Lowered {
            graph: self.graph,
            target: result.vertex,
            config,
            warnings,
            stage_of,
        })
    }

    /// Which stages the target needs: its base stages, `COPY --from` and
    /// `RUN --mount=from=` stages, transitively. Other stages are never
    /// lowered, so their images are never resolved (as in BuildKit).
    fn needed(&self) -> Result<Vec<bool>, Diagnostic> {
        let mut needed = vec![false; self.stages.defs.len()];
        let mut todo = vec![self.target];
        while let Some(index) = todo.pop() {
            if std::mem::replace(&mut needed[index], true) {
                continue;
            }
            let def = &self.stages.defs[index];
            let base = expand_word(&self.lexer, &def.from.image, &self.globals)?;
            let mut references = vec![base];
            for (_, command) in &def.commands {
                match command {
                    Command::Copy(copy) | Command::Add(copy) => {
                        references.extend(copy.from.iter().map(|w| w.value.clone()));
                    }
                    Command::Run(run) => {
                        references.extend(run.mounts.iter().filter_map(|(m, _)| m.from.clone()));
                    }
                    _ => {}
                }
            }
            todo.extend(references.iter().filter_map(|r| self.stages.find(r, index)));
        }
        Ok(needed)
    }

    fn lower_stage(&mut self, index: usize) -> Result<StageResult, Diagnostic> {
        let def = &self.stages.defs[index];
        let from_instruction = def.from_instruction;
        let image = expand_word(&self.lexer, &def.from.image, &self.globals)?;
        let platform = match &def.from.platform {
            Some(word) => {
                let text = expand_word(&self.lexer, word, &self.globals)?;
                Platform::parse(&text).map_err(|e| {
                    Diagnostic::error(word.span, format!("invalid platform {text:?}: {e}"))
                })?
            }
            None => self.options.platform.clone(),
        };
        let stage_name = (self.stages.defs.len() > 1)
            .then(|| def.name.clone().unwrap_or_else(|| format!("stage-{index}")));
        let platform_in_names = self.options.platform_in_names;
        let label_for = |platform: &Platform| match (platform_in_names, &stage_name) {
            (true, Some(name)) => Some(format!("{} {name}", platform.normalize())),
            (true, None) => Some(platform.normalize().to_string()),
            (false, name) => name.clone(),
        };
        let label = label_for(&platform);
        let total = 1 + def
            .commands
            .iter()
            .filter(|(_, c)| {
                matches!(
                    c,
                    Command::Run(_) | Command::Copy(_) | Command::Add(_) | Command::Workdir(_)
                )
            })
            .count();
        let from_name = |label: &Option<String>| match label {
            Some(l) => format!("[{l} 1/{total}] FROM {image}"),
            None => format!("[1/{total}] FROM {image}"),
        };
        let (vertex, mut config, run_env, inherited_args, platform) =
            if image.eq_ignore_ascii_case("scratch") {
                let vertex = self.graph.add(Vertex {
                    op: Op::Scratch,
                    inputs: Vec::new(),
                    name: from_name(&label),
                    line: Some(from_instruction.span.line),
                });
                let mut config = ImageConfig::new(&platform);
                // BuildKit's empty image: a PATH, and `/` as the working
                // directory.
                config.config.env = vec![DEFAULT_PATH.to_string()];
                config.config.working_dir = "/".to_string();
                let run_env = config.config.env.clone();
                (vertex, config, run_env, Vec::new(), platform)
            } else if let Some(base) = self.stages.find(&image, index) {
                let Some(result) = self.lowered[base].clone() else {
                    unreachable!("a needed stage's bases are lowered before it")
                };
                // A stage built on another runs as that one unless its own
                // FROM names a platform.
                let platform = match def.from.platform {
                    Some(_) => platform,
                    None => result.platform,
                };
                (
                    result.vertex,
                    result.config,
                    result.run_env,
                    result.args_in_scope,
                    platform,
                )
            } else {
                let (vertex, mut config) = self.image(
                    &image,
                    &platform,
                    def.from.image.span,
                    Some(from_name(&label)),
                )?;
                self.check_base_platform(&image, &platform, &config, from_instruction.span);
                if !has_env(&config.config.env, "PATH") {
                    config.config.env.insert(0, DEFAULT_PATH.to_string());
                }
                let run_env = config.config.env.clone();
                (vertex, config, run_env, Vec::new(), platform)
            };
        config.created = Some(self.options.created.clone());
        let mut stage = Stage {
            label: label_for(&platform),
            vertex,
            config,
            platform,
            run_env,
            args: Args::default(),
            declared_args: Vec::new(),
            inherited_args,
            cmd_set: false,
            step: 1,
            total,
        };
        self.fire_onbuild(&mut stage, from_instruction)?;
        let commands = std::mem::take(&mut self.stages.defs[index].commands);
        let mut result = Ok(());
        for (instruction, command) in &commands {
            result = self.dispatch(&mut stage, index, instruction, command);
            if result.is_err() {
                break;
            }
        }
        self.stages.defs[index].commands = commands;
        result?;
        let mut args_in_scope = stage.inherited_args;
        args_in_scope.extend(stage.declared_args);
        Ok(StageResult {
            vertex: stage.vertex,
            platform: stage.platform,
            config: stage.config,
            run_env: stage.run_env,
            args_in_scope,
        })
    }

    /// Runs the base's ONBUILD triggers right after FROM, then clears them
    /// (Dockerfile reference, "ONBUILD": triggers are not inherited by
    /// grandchildren).
    fn fire_onbuild(&mut self, stage: &mut Stage, from: &Instruction) -> Result<(), Diagnostic> {
        let triggers = std::mem::take(&mut stage.config.config.on_build);
        for trigger in triggers {
            let in_trigger = |message: String| {
                Diagnostic::error(
                    from.span_of_text(),
                    format!("in ONBUILD trigger {trigger:?} of the base image: {message}"),
                )
            };
            let parsed = crate::parse(trigger.as_bytes()).map_err(|e| in_trigger(e.to_string()))?;
            for instruction in &parsed.instructions {
                let (command, findings) = crate::instructions::typed(instruction);
                if let Some(error) = findings
                    .into_iter()
                    .find(|d| d.severity == crate::diagnostic::Severity::Error)
                {
                    return Err(in_trigger(error.message));
                }
                let Some(command) = command else { continue };
                if matches!(command, Command::From(_) | Command::Onbuild(_)) {
                    return Err(in_trigger(
                        "FROM and ONBUILD are not allowed in triggers".into(),
                    ));
                }
                // Spans point into the trigger text, not the Dockerfile:
                // errors name the trigger instead, and its steps fail at
                // the FROM line.
                let first = self.graph.len();
                self.dispatch_trigger(stage, instruction, &command)
                    .map_err(|e| in_trigger(e.message))?;
                self.graph.attribute_to_line(first, from.span.line);
            }
        }
        Ok(())
    }

    fn dispatch_trigger(
        &mut self,
        stage: &mut Stage,
        instruction: &Instruction,
        command: &Command,
    ) -> Result<(), Diagnostic> {
        // Triggers run in the stage that uses the base; `--from` in them can
        // only name images (the child's stages are unknown to the parent).
        let index = self.stages.defs.len();
        self.dispatch(stage, index, instruction, command)
    }

    /// Lowers one instruction of `stage` (stage number `index`).
    fn dispatch(
        &mut self,
        stage: &mut Stage,
        index: usize,
        instruction: &Instruction,
        command: &Command,
    ) -> Result<(), Diagnostic> {
        match command {
            Command::Run(run) => self.run(stage, index, instruction, run),
            Command::Copy(copy) => self.copy(stage, index, instruction, copy, false),
            Command::Add(copy) => self.copy(stage, index, instruction, copy, true),
            Command::Workdir(word) => self.workdir(stage, instruction, word),
            other => self.meta(stage, other),
        }
    }

    /// The vertex for image `reference` (resolved once per build).
    pub(crate) fn image(
        &mut self,
        reference: &str,
        platform: &Platform,
        span: crate::source::Span,
        name: Option<String>,
    ) -> Result<(VertexId, ImageConfig), Diagnostic> {
        let key = (reference.to_string(), platform.to_string());
        if let Some(found) = self.images.get(&key) {
            return Ok(found.clone());
        }
        let resolved = self
            .resolver
            .resolve(reference, platform)
            .map_err(|message| Diagnostic::error(span, message))?;
        let vertex = self.graph.add(Vertex {
            op: Op::Image(ImageSource {
                reference: resolved.reference.clone(),
                digest: resolved.digest.clone(),
                platform: platform.to_string(),
            }),
            inputs: Vec::new(),
            name: name.unwrap_or_else(|| format!("FROM {}", resolved.reference)),
            line: Some(span.line),
        });
        let found = (vertex, resolved.config);
        self.images.insert(key, found.clone());
        Ok(found)
    }

    /// BuildKit's InvalidBaseImagePlatform (`validateBaseImagePlatform`):
    /// a base image whose config names another OS or architecture than
    /// the stage is built for (the variant is not compared) is used, with
    /// this warning. An image whose config names no platform is not judged.
    fn check_base_platform(
        &mut self,
        image: &str,
        expected: &Platform,
        config: &ImageConfig,
        span: crate::source::Span,
    ) {
        let actual = config.platform();
        if actual.os.is_empty() || actual.architecture.is_empty() {
            return;
        }
        let (expected, actual) = (expected.normalize(), actual.normalize());
        if expected.os == actual.os && expected.architecture == actual.architecture {
            return;
        }
        self.warnings.push(
            Diagnostic::warning(
                span,
                format!(
                    "Base image {image} was pulled with platform {:?}, expected {:?} for current build",
                    actual.to_string(),
                    expected.to_string()
                ),
            )
            .with_rule(&crate::check::lint::INVALID_BASE_IMAGE_PLATFORM),
        );
    }

    /// The build context, showing only `include` (all when empty) minus
    /// the `.dockerignore` patterns.
    pub(crate) fn context(&mut self, include: Vec<String>) -> VertexId {
        if let Some(&vertex) = self.contexts.get(&include) {
            return vertex;
        }
        let vertex = self.graph.add(Vertex {
            op: Op::Local(LocalSource {
                name: "context".to_string(),
                include: include.clone(),
                exclude: self.options.ignore_patterns.clone(),
            }),
            inputs: Vec::new(),
            name: "[internal] load build context".to_string(),
            line: None,
        });
        self.contexts.insert(include, vertex);
        vertex
    }

    /// The source of a `--from=`: a stage before `index`, or an image.
    pub(crate) fn source_of(
        &mut self,
        reference: &Word,
        index: usize,
    ) -> Result<VertexId, Diagnostic> {
        if let Some(stage) = self
            .stages
            .find(&reference.value, index.min(self.stages.defs.len()))
            && let Some(result) = &self.lowered[stage]
        {
            return Ok(result.vertex);
        }
        let platform = self.options.platform.clone();
        let (vertex, _) = self.image(&reference.value, &platform, reference.span, None)?;
        Ok(vertex)
    }

    /// The next step's progress name.
    pub(crate) fn step_name(stage: &mut Stage, instruction: &Instruction) -> String {
        stage.step += 1;
        let text: String = instruction
            .original
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match &stage.label {
            Some(label) => format!("[{label} {}/{}] {text}", stage.step, stage.total),
            None => format!("[{}/{}] {text}", stage.step, stage.total),
        }
    }

    /// An empty file system, for work made apart from any stage.
    pub(crate) fn scratch(&mut self) -> VertexId {
        self.graph.add(Vertex {
            op: Op::Scratch,
            inputs: Vec::new(),
            name: "scratch".to_string(),
            line: None,
        })
    }

    /// A heredoc's document as a file `/NAME` (mode `mode`) on an empty
    /// file system: what a RUN mounts as its script and a COPY copies.
    pub(crate) fn heredoc_file(&mut self, heredoc: &Heredoc, data: Vec<u8>, mode: u32) -> VertexId {
        let scratch = self.scratch();
        self.graph.add(Vertex {
            op: Op::File(FileOp {
                actions: vec![FileAction::Mkfile {
                    path: format!("/{}", heredoc.name),
                    data,
                    mode,
                    owner: None,
                }],
            }),
            inputs: vec![scratch],
            name: format!("heredoc {}", heredoc.name),
            line: Some(heredoc.span.line),
        })
    }

    /// Adds a history entry for the step (`layer`: it made a layer).
    pub(crate) fn history(&self, stage: &mut Stage, created_by: String, layer: bool) {
        stage.config.history.push(History {
            created: Some(self.options.created.clone()),
            created_by,
            comment: "buildkit.dockerfile.v0".to_string(),
            empty_layer: !layer,
            ..History::default()
        });
    }

    /// Expands one word with the stage's variables.
    /// Expands `word` with the stage's variables, noting each variable it
    /// uses that the stage does not define (BuildKit's UndefinedVar, which
    /// checks the words of ENV, LABEL, ADD/COPY, WORKDIR, USER, VOLUME,
    /// STOPSIGNAL, RUN's mount options and stage ARG defaults).
    pub(crate) fn expand(&self, stage: &Stage, word: &Word) -> Result<String, Diagnostic> {
        let expansion = expansion_of(&self.lexer, word, &stage.env())?;
        self.note_undefined(stage, word.span, &expansion.unset);
        Ok(expansion.value)
    }

    /// [`Builder::expand`] for the words UndefinedVar does not check.
    pub(crate) fn expand_unchecked(
        &self,
        stage: &Stage,
        word: &Word,
    ) -> Result<String, Diagnostic> {
        expand_word(&self.lexer, word, &stage.env())
    }

    fn note_undefined(
        &self,
        stage: &Stage,
        span: Span,
        unset: &std::collections::BTreeSet<String>,
    ) {
        // Every expansion comes here: nothing to do is the common case.
        if unset.is_empty() {
            return;
        }
        // PATH is always defined for a Linux stage; BuildKit never reports
        // its SBOM scan arguments.
        const NEVER: &[&str] = &[
            "PATH",
            "BUILDKIT_SBOM_SCAN_CONTEXT",
            "BUILDKIT_SBOM_SCAN_STAGE",
        ];
        let keys: Vec<&str> = stage
            .run_env
            .iter()
            .filter_map(|e| e.split_once('=').map(|(k, _)| k))
            .collect();
        let mut undefined = self.undefined.borrow_mut();
        // An ARG the stage (or a stage it is built on) declared counts as
        // defined, value or not.
        let defined = |n: &String| {
            NEVER.contains(&n.as_str())
                || stage.declared_args.contains(n)
                || stage.inherited_args.contains(n)
        };
        for name in unset.iter().filter(|n| !defined(n)) {
            let message = match crate::check::lint::closest(name, &keys) {
                Some(near) => {
                    format!("Usage of undefined variable '${name}' (did you mean ${near}?)")
                }
                None => format!("Usage of undefined variable '${name}'"),
            };
            undefined.push(
                Diagnostic::warning(span, message).with_rule(&crate::check::lint::UNDEFINED_VAR),
            );
        }
    }
}

/// Expands `word` without splitting it.
pub(crate) fn expand_word(
    lexer: &Lexer,
    word: &Word,
    env: &(impl Env + ?Sized),
) -> Result<String, Diagnostic> {
    expansion_of(lexer, word, env).map(|e| e.value)
}

/// [`expand_word`], with the variables the expansion used and missed.
fn expansion_of(
    lexer: &Lexer,
    word: &Word,
    env: &(impl Env + ?Sized),
) -> Result<kiln_shell::Expansion<String>, Diagnostic> {
    lexer.process_word(&word.value, env).map_err(|e| {
        let bound = matches!(e, kiln_shell::ExpandError::TooLong { .. });
        let diagnostic = Diagnostic::error(word.span, e.to_string());
        match bound {
            true => diagnostic.with_help(super::BOUNDS_HELP),
            false => diagnostic,
        }
    })
}
