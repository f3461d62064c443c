//! BuildKit's build checks (`docker build --check`), by their names and
//! with their messages: the rule set of Dockerfile frontend 1.26
//! (`frontend/dockerfile/linter/ruleset.go`; the reference is
//! `frontend/dockerfile/docs/rules/`). A finding is a warning carrying its
//! rule's name ([`Diagnostic::rule`]); `# check=skip=…;error=true` and the
//! `BUILDKIT_DOCKERFILE_CHECK` build argument choose which rules run and
//! whether a finding fails the build ([`Config`]).
//!
//! Boundary: the rules that need nothing but the Dockerfile. Those that
//! need the base image's config, the build arguments or the context
//! (UndefinedVar, InvalidBaseImagePlatform, CopyIgnoredFile) are not
//! checked yet; docs/differences.md lists them.

mod rules;

use crate::ast::Dockerfile;
use crate::diagnostic::Diagnostic;
use std::collections::BTreeSet;

/// One build check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// BuildKit's name (`FromAsCasing`).
    pub name: &'static str,
    /// Its one-line reason, as BuildKit describes it.
    pub description: &'static str,
    /// The last part of its documentation URL; empty for a rule without
    /// a page.
    slug: &'static str,
}

impl Rule {
    /// Its documentation page, if it has one.
    pub fn url(&self) -> Option<String> {
        (!self.slug.is_empty())
            .then(|| format!("https://docs.docker.com/go/dockerfile/rule/{}/", self.slug))
    }
}

macro_rules! rules {
    ($($konst:ident $name:literal $slug:literal $description:literal;)*) => {
        $(
            #[doc = $description]
            pub const $konst: Rule = Rule { name: $name, description: $description, slug: $slug };
        )*
        /// Every rule kiln checks, in BuildKit's order.
        pub const RULES: &[Rule] = &[$($konst),*];
    };
}

rules! {
    STAGE_NAME_CASING "StageNameCasing" "stage-name-casing"
        "Stage names should be lowercase";
    FROM_AS_CASING "FromAsCasing" "from-as-casing"
        "The 'as' keyword should match the case of the 'from' keyword";
    NO_EMPTY_CONTINUATION "NoEmptyContinuation" "no-empty-continuation"
        "Empty continuation lines will become errors in a future release";
    CONSISTENT_INSTRUCTION_CASING "ConsistentInstructionCasing" "consistent-instruction-casing"
        "All commands within the Dockerfile should use the same casing (either upper or lower)";
    DUPLICATE_STAGE_NAME "DuplicateStageName" "duplicate-stage-name"
        "Stage names should be unique";
    RESERVED_STAGE_NAME "ReservedStageName" "reserved-stage-name"
        "Reserved words should not be used as stage names";
    JSON_ARGS_RECOMMENDED "JSONArgsRecommended" "json-args-recommended"
        "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals";
    MAINTAINER_DEPRECATED "MaintainerDeprecated" "maintainer-deprecated"
        "The MAINTAINER instruction is deprecated, use a label instead to define an image author";
    UNDEFINED_ARG_IN_FROM "UndefinedArgInFrom" "undefined-arg-in-from"
        "FROM command must use declared ARGs";
    WORKDIR_RELATIVE_PATH "WorkdirRelativePath" "workdir-relative-path"
        "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes";
    MULTIPLE_INSTRUCTIONS_DISALLOWED "MultipleInstructionsDisallowed" "multiple-instructions-disallowed"
        "Multiple instructions of the same type should not be used in the same stage";
    LEGACY_KEY_VALUE_FORMAT "LegacyKeyValueFormat" "legacy-key-value-format"
        "Legacy key/value format with whitespace separator should not be used";
    REDUNDANT_TARGET_PLATFORM "RedundantTargetPlatform" "redundant-target-platform"
        "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior";
    SECRETS_USED_IN_ARG_OR_ENV "SecretsUsedInArgOrEnv" "secrets-used-in-arg-or-env"
        "Sensitive data should not be used in the ARG or ENV commands";
    INVALID_DEFAULT_ARG_IN_FROM "InvalidDefaultArgInFrom" "invalid-default-arg-in-from"
        "Default value for global ARG results in an empty or invalid base image name";
    FROM_PLATFORM_FLAG_CONST_DISALLOWED "FromPlatformFlagConstDisallowed" "from-platform-flag-const-disallowed"
        "FROM --platform flag should not use a constant value";
    INVALID_DEFINITION_DESCRIPTION "InvalidDefinitionDescription" "invalid-definition-description"
        "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.";
    EXPOSE_PROTO_CASING "ExposeProtoCasing" "expose-proto-casing"
        "Protocol in EXPOSE instruction should be lowercase";
    EXPOSE_INVALID_FORMAT "ExposeInvalidFormat" "expose-invalid-format"
        "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release";
}

/// UndefinedVar: checked while lowering, where the base images'
/// environments are known (`lower::build`), not with the rules above.
pub const UNDEFINED_VAR: Rule = Rule {
    name: "UndefinedVar",
    description: "Variables should be defined before their use",
    slug: "undefined-var",
};

/// CopyIgnoredFile: checked while lowering, which has the context's
/// `.dockerignore` patterns.
pub const COPY_IGNORED_FILE: Rule = Rule {
    name: "CopyIgnoredFile",
    description: "Attempting to Copy file that is excluded by .dockerignore",
    slug: "copy-ignored-file",
};

/// InvalidBaseImagePlatform: checked while lowering, where the base
/// images' configs are known (BuildKit's `validateBaseImagePlatform`).
pub const INVALID_BASE_IMAGE_PLATFORM: Rule = Rule {
    name: "InvalidBaseImagePlatform",
    description: "Base image platform does not match expected target platform",
    // BuildKit gives this rule no documentation page.
    slug: "",
};

/// The nearest of `candidates` by Levenshtein distance below 3, as
/// BuildKit suggests names (the first of the smallest distance wins);
/// `None` when `name` is one of them.
pub(crate) fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = strsim::levenshtein(name, candidate);
        if distance == 0 {
            return None;
        }
        if distance < 3 && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// The rule named `name`.
pub fn rule(name: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .chain([
            &UNDEFINED_VAR,
            &COPY_IGNORED_FILE,
            &INVALID_BASE_IMAGE_PLATFORM,
        ])
        .find(|r| r.name == name)
}

/// Which rules run and what a finding does (BuildKit's
/// `linter.ParseLintOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `skip=all`.
    pub skip_all: bool,
    /// `skip=A,B` (names as given; unknown ones are ignored).
    pub skip: BTreeSet<String>,
    /// `error=true`: a finding fails the build.
    pub error: bool,
    /// `experimental=all`.
    pub experimental_all: bool,
    /// `experimental=A,B`: experimental rules to run.
    pub experimental: BTreeSet<String>,
}

/// The rules that run only when `experimental=` names them (BuildKit's
/// `Experimental: true`), whatever `skip` says.
pub const EXPERIMENTAL: &[&str] = &["InvalidDefinitionDescription"];

impl Config {
    /// Parses `skip=…;experimental=…;error=…` (at most three parts).
    pub fn parse(text: &str) -> Result<Config, String> {
        let mut config = Config::default();
        for part in text.splitn(3, ';') {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            match key.trim() {
                "skip" => rule_list(value, &mut config.skip_all, &mut config.skip),
                "experimental" => rule_list(
                    value,
                    &mut config.experimental_all,
                    &mut config.experimental,
                ),
                "error" => config.error = parse_bool(value.trim())?,
                other => return Err(format!("invalid check option {other:?}")),
            }
        }
        Ok(config)
    }

    /// Whether `rule` runs.
    pub fn enabled(&self, rule: &str) -> bool {
        if EXPERIMENTAL.contains(&rule) {
            return self.experimental_all || self.experimental.contains(rule);
        }
        !self.skip_all && !self.skip.contains(rule)
    }
}

/// A `skip=` or `experimental=` value: `all`, or rule names separated by
/// commas (added to `names`).
fn rule_list(value: &str, all: &mut bool, names: &mut BTreeSet<String>) {
    let value = value.trim();
    if value == "all" {
        *all = true;
    } else {
        names.extend(value.split(',').map(|s| s.trim().to_string()));
    }
}

/// Go's `strconv.ParseBool`, with its error.
fn parse_bool(text: &str) -> Result<bool, String> {
    crate::instructions::mount::parse_bool(text)
        .ok_or_else(|| format!("strconv.ParseBool: parsing {text:?}: invalid syntax"))
}

/// The Dockerfile's `# check=` directive, or `over` (the
/// `BUILDKIT_DOCKERFILE_CHECK` build argument), which replaces it whole.
/// The directive's value ends at its first blank, as BuildKit reads it.
pub fn config(dockerfile: &Dockerfile, over: Option<&str>) -> Result<Config, Diagnostic> {
    if let Some(text) = over {
        return Config::parse(text).map_err(|e| {
            Diagnostic::error(
                crate::source::Span::default(),
                format!("failed to parse build-arg:BUILDKIT_DOCKERFILE_CHECK: {e}"),
            )
        });
    }
    let Some(directive) = dockerfile
        .directives
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case("check"))
    else {
        return Ok(Config::default());
    };
    let value = directive.value.split_whitespace().next().unwrap_or("");
    Config::parse(value).map_err(|e| {
        Diagnostic::error(
            directive.span,
            format!("failed to parse check options: {e}"),
        )
    })
}

/// Runs the rules of this module on `dockerfile` (the parser's
/// NoEmptyContinuation and the stage rules' DuplicateStageName come with
/// their own findings); every finding is a warning naming its rule.
pub fn lint(dockerfile: &Dockerfile) -> Vec<Diagnostic> {
    rules::run(dockerfile)
}

#[cfg(test)]
pub(crate) mod tests;
