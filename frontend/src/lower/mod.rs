//! Lowering: a checked Dockerfile becomes a [`kiln_solver::Graph`] plus the
//! image config of the target stage, following BuildKit's
//! `dockerfile2llb`: stages, `FROM` over global ARGs, `--target` (only the
//! stages the target needs are lowered, so an unused stage's base is never
//! resolved), ARG/ENV scoping, metadata instructions into the config,
//! ONBUILD triggers, history entries as BuildKit writes them.
//!
//! Base images arrive through an [`ImageResolver`] the caller injects; the
//! frontend itself does no I/O. Variables are expanded here, with the scope
//! of the instruction; paths inside the image are made absolute against
//! WORKDIR and cleaned.

mod build;
mod copy;
mod gofmt;
mod meta;
mod path;
mod platform;
mod remote;
mod run;
mod scope;
pub(crate) mod stages;

#[cfg(test)]
mod tests;

use crate::ast::Dockerfile;
use crate::diagnostic::Diagnostic;
use kiln_oci::{ImageConfig, Platform};
use kiln_solver::{Graph, VertexId};
use std::collections::BTreeMap;

/// What a build asks for besides the Dockerfile.
#[derive(Clone, Debug, Default)]
pub struct LowerOptions {
    /// `--build-arg NAME=value`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to build (default: the last).
    pub target: Option<String>,
    /// The platform images are built for.
    pub platform: Platform,
    /// The platform the build runs on.
    pub build_platform: Platform,
    /// Name each step with its stage's platform (`[linux/arm64 build
    /// 2/5]`), as BuildKit does when a build has several platforms.
    pub platform_in_names: bool,
    /// `platform` was asked for (`--platform`), not implied by the host:
    /// the image's config then says `platform` whatever its last stage's
    /// base said (BuildKit's `platformOpt.implicitTarget` false).
    pub explicit_platform: bool,
    /// `--label NAME=value`, added to the final image.
    pub labels: BTreeMap<String, String>,
    /// The context's `.dockerignore` patterns: context files they exclude
    /// are invisible to COPY, ADD and bind mounts.
    pub ignore_patterns: Vec<String>,
    /// The time written into new history entries (RFC 3339).
    pub created: String,
    /// `--allow security.insecure`: `RUN --security=insecure` may run.
    pub allow_insecure: bool,
    /// `--allow network.host`: `RUN --network=host` may run.
    pub allow_network_host: bool,
    /// `--allow device[=PATH]`: which `RUN --device` may run.
    pub allow_device: DeviceGrant,
}

/// The `device` entitlement as granted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DeviceGrant {
    /// Not granted: no `RUN --device` runs.
    #[default]
    None,
    /// `--allow device`: any host device a step names (as `--allow
    /// security.insecure`, this trusts the Dockerfile with the host).
    All,
    /// `--allow device=PATH`: only these devices.
    Only(Vec<String>),
}

impl DeviceGrant {
    /// Whether `RUN --device=path` may run.
    pub fn allows(&self, path: &str) -> bool {
        match self {
            DeviceGrant::None => false,
            DeviceGrant::All => true,
            DeviceGrant::Only(paths) => paths.iter().any(|p| p == path),
        }
    }
}

/// The help of an error that is one of kiln's size bounds on expansions
/// (a word of more than 1 MiB, a stage's variables of more than 16 MiB).
pub const BOUNDS_HELP: &str =
    "kiln bounds expansions (1 MiB a word, 16 MiB of variables a stage); see docs/differences.md";

/// A base image as the resolver found it.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// The normalized reference (`docker.io/library/busybox:latest`).
    pub reference: String,
    /// The manifest digest it resolved to.
    pub digest: kiln_oci::Digest,
    /// Its config.
    pub config: ImageConfig,
}

/// Finds base images (and `COPY --from` images). Injected by the caller.
pub trait ImageResolver {
    /// Resolves `reference` for `platform`; the error is shown to the user
    /// next to the instruction that named the image.
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ResolvedImage, String>;
}

/// A lowered build.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The graph.
    pub graph: Graph,
    /// The vertex whose output is the target stage's root file system.
    pub target: VertexId,
    /// The target stage's image config. `rootfs.diff_ids` is left to the
    /// caller, which knows the layers; `history` has one entry per step,
    /// and those not marked `empty_layer` correspond, in order, to the
    /// layers of the target's output (the caller marks empty diffs).
    pub config: ImageConfig,
    /// Things worth telling the user (unused build args, …).
    pub warnings: Vec<Diagnostic>,
    /// The stage each vertex belongs to (indexed by vertex id): its name,
    /// or its index when unnamed, as `--no-cache-filter` matches them.
    pub stage_of: Vec<Option<String>>,
}

/// Lowers `dockerfile` (which must have passed [`crate::check::check`]
/// without errors). An error points at the instruction it is about.
pub fn lower(
    dockerfile: &Dockerfile,
    options: &LowerOptions,
    resolver: &dyn ImageResolver,
) -> Result<Lowered, Diagnostic> {
    build::Builder::new(dockerfile, options, resolver)?.lower_all()
}
