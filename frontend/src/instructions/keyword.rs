//! The 18 Dockerfile instructions and the builder flags each accepts
//! (BuildKit's Dockerfile reference; flag lists from its `instructions`
//! package).

/// A Dockerfile instruction keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Keyword {
    /// `ADD`
    Add,
    /// `ARG`
    Arg,
    /// `CMD`
    Cmd,
    /// `COPY`
    Copy,
    /// `ENTRYPOINT`
    Entrypoint,
    /// `ENV`
    Env,
    /// `EXPOSE`
    Expose,
    /// `FROM`
    From,
    /// `HEALTHCHECK`
    Healthcheck,
    /// `LABEL`
    Label,
    /// `MAINTAINER` (deprecated, still accepted)
    Maintainer,
    /// `ONBUILD`
    Onbuild,
    /// `RUN`
    Run,
    /// `SHELL`
    Shell,
    /// `STOPSIGNAL`
    Stopsignal,
    /// `USER`
    User,
    /// `VOLUME`
    Volume,
    /// `WORKDIR`
    Workdir,
}

/// How a flag takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagKind {
    /// `--name=value`, once.
    Value,
    /// `--name`, `--name=true` or `--name=false`, once.
    Bool,
    /// `--name=value`, any number of times.
    Repeated,
}

/// A flag an instruction accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagSpec {
    /// Name without the leading `--`.
    pub name: &'static str,
    /// How it takes a value.
    pub kind: FlagKind,
}

const fn flag(name: &'static str, kind: FlagKind) -> FlagSpec {
    FlagSpec { name, kind }
}

use FlagKind::{Bool, Repeated, Value};

const FROM_FLAGS: &[FlagSpec] = &[flag("platform", Value)];
const RUN_FLAGS: &[FlagSpec] = &[
    flag("mount", Repeated),
    flag("network", Value),
    flag("security", Value),
    flag("device", Repeated),
];
const COPY_FLAGS: &[FlagSpec] = &[
    flag("from", Value),
    flag("chown", Value),
    flag("chmod", Value),
    flag("link", Bool),
    flag("parents", Bool),
    flag("exclude", Repeated),
];
const ADD_FLAGS: &[FlagSpec] = &[
    flag("chown", Value),
    flag("chmod", Value),
    flag("link", Bool),
    flag("checksum", Value),
    flag("keep-git-dir", Bool),
    flag("unpack", Bool),
    flag("exclude", Repeated),
];
const HEALTHCHECK_FLAGS: &[FlagSpec] = &[
    flag("interval", Value),
    flag("timeout", Value),
    flag("start-period", Value),
    flag("start-interval", Value),
    flag("retries", Value),
];

impl Keyword {
    /// Every keyword, in alphabetical order.
    pub const ALL: [Keyword; 18] = [
        Keyword::Add,
        Keyword::Arg,
        Keyword::Cmd,
        Keyword::Copy,
        Keyword::Entrypoint,
        Keyword::Env,
        Keyword::Expose,
        Keyword::From,
        Keyword::Healthcheck,
        Keyword::Label,
        Keyword::Maintainer,
        Keyword::Onbuild,
        Keyword::Run,
        Keyword::Shell,
        Keyword::Stopsignal,
        Keyword::User,
        Keyword::Volume,
        Keyword::Workdir,
    ];

    /// The keyword for `word`, ignoring case.
    pub fn parse(word: &str) -> Option<Keyword> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(word))
    }

    /// The upper-case name.
    pub fn name(self) -> &'static str {
        match self {
            Keyword::Add => "ADD",
            Keyword::Arg => "ARG",
            Keyword::Cmd => "CMD",
            Keyword::Copy => "COPY",
            Keyword::Entrypoint => "ENTRYPOINT",
            Keyword::Env => "ENV",
            Keyword::Expose => "EXPOSE",
            Keyword::From => "FROM",
            Keyword::Healthcheck => "HEALTHCHECK",
            Keyword::Label => "LABEL",
            Keyword::Maintainer => "MAINTAINER",
            Keyword::Onbuild => "ONBUILD",
            Keyword::Run => "RUN",
            Keyword::Shell => "SHELL",
            Keyword::Stopsignal => "STOPSIGNAL",
            Keyword::User => "USER",
            Keyword::Volume => "VOLUME",
            Keyword::Workdir => "WORKDIR",
        }
    }

    /// Instructions whose flags BuildKit never parses (so never rejects):
    /// its `parseArg`, `parseStopSignal` and `parseOnBuild` skip them.
    pub fn ignores_flags(self) -> bool {
        matches!(self, Keyword::Arg | Keyword::Stopsignal | Keyword::Onbuild)
    }

    /// The flags this instruction accepts.
    pub fn flags(self) -> &'static [FlagSpec] {
        match self {
            Keyword::From => FROM_FLAGS,
            Keyword::Run => RUN_FLAGS,
            Keyword::Copy => COPY_FLAGS,
            Keyword::Add => ADD_FLAGS,
            Keyword::Healthcheck => HEALTHCHECK_FLAGS,
            _ => &[],
        }
    }
}

impl std::fmt::Display for Keyword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
