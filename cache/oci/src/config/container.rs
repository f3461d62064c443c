//! The `config` object of an image config: how to run a container from the
//! image. image-spec's `ImageConfig` plus the fields docker adds
//! (`Healthcheck`, `OnBuild`, `Shell`), in the order and with the
//! `omitempty` rules of BuildKit's `DockerOCIImageConfig`, so a config kiln
//! writes has the bytes BuildKit would write.
//!
//! Images committed by docker's classic builder carry more fields here
//! (`Hostname`, `AttachStdin`, `Image`, …); they are kept in `extra` and
//! written back, after the known fields.

use crate::json::{null_default, set_as_object, string_or_list};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Execution parameters for containers of an image. Empty means unset: Go
/// omits empty strings, lists and maps here, and so does kiln.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// `user`, `uid`, `user:group` or `uid:gid`.
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// `port/proto` entries, e.g. `80/tcp`; written as `{"80/tcp":{}}`.
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "BTreeSet::is_empty",
        with = "set_as_object"
    )]
    pub exposed_ports: BTreeSet<String>,
    /// `KEY=value` entries, in order.
    #[serde(
        rename = "Env",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub env: Vec<String>,
    /// The entrypoint argv.
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "string_or_list"
    )]
    pub entrypoint: Vec<String>,
    /// The default arguments (or command, without an entrypoint).
    #[serde(
        rename = "Cmd",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "string_or_list"
    )]
    pub cmd: Vec<String>,
    /// Volume mount points; written as `{"/data":{}}`.
    #[serde(
        rename = "Volumes",
        default,
        skip_serializing_if = "BTreeSet::is_empty",
        with = "set_as_object"
    )]
    pub volumes: BTreeSet<String>,
    /// The working directory of the entrypoint.
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// Labels, sorted by key.
    #[serde(
        rename = "Labels",
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_default"
    )]
    pub labels: BTreeMap<String, String>,
    /// The stop signal, e.g. `SIGTERM`.
    #[serde(
        rename = "StopSignal",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
    /// Windows: the command line is already escaped. BuildKit sets it for
    /// shell-form `CMD`/`ENTRYPOINT` on Linux too.
    #[serde(rename = "ArgsEscaped", default, skip_serializing_if = "is_false")]
    pub args_escaped: bool,
    /// docker's `HEALTHCHECK`.
    #[serde(
        rename = "Healthcheck",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub healthcheck: Option<Healthcheck>,
    /// docker's `ONBUILD` triggers, in order.
    #[serde(
        rename = "OnBuild",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub on_build: Vec<String>,
    /// docker's `SHELL` for shell-form instructions.
    #[serde(
        rename = "Shell",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "string_or_list"
    )]
    pub shell: Vec<String>,
    /// Fields this type does not model, kept so re-saving loses nothing.
    /// Do not add entries named like a modelled field: the key would be
    /// written twice.
    #[serde(flatten, serialize_with = "crate::json::sorted_extra")]
    pub extra: BTreeMap<String, Value>,
}

/// docker's `HEALTHCHECK` settings. Durations are integer nanoseconds, as
/// Go's `time.Duration` marshals; zero means "inherit" and is omitted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Healthcheck {
    /// `[]` inherit, `["NONE"]` disable, `["CMD", argv…]`, `["CMD-SHELL", cmd]`.
    #[serde(
        rename = "Test",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_default"
    )]
    pub test: Vec<String>,
    /// Time between checks, ns.
    #[serde(rename = "Interval", default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Time before a check counts as hung, ns.
    #[serde(rename = "Timeout", default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Grace period before failures count, ns.
    #[serde(rename = "StartPeriod", default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Time between checks during the start period, ns.
    #[serde(rename = "StartInterval", default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Consecutive failures before unhealthy.
    #[serde(rename = "Retries", default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}
