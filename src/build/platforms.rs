//! A build for several platforms (`--platform linux/amd64,linux/arm64`):
//! the Dockerfile lowered once per target platform, the graphs appended
//! into one. Nothing is shared by hand: a vertex that is the same for two
//! platforms (the context, a stage `FROM --platform=$BUILDPLATFORM`, a
//! COPY onto scratch) has one digest, and the scheduler solves equal
//! digests once; a RUN names its platform (`Exec::platform`), so a step
//! that differs only by the CPU it runs on is two steps. Stages of
//! different platforms are independent vertices and run in parallel.
//!
//! This follows what BuildKit's Dockerfile frontend does for a list of
//! platforms (one solve per platform, `TARGETPLATFORM` and friends set per
//! platform, the results put in one index by the exporter), with the
//! difference that kiln's platforms share one solve and one progress
//! display.

use kiln_frontend::ast::Dockerfile;
use kiln_frontend::diagnostic::Diagnostic;
use kiln_frontend::lower::{ImageResolver, LowerOptions, lower};
use kiln_oci::{ImageConfig, Platform};
use kiln_solver::{Graph, VertexId};

/// One platform's image in the build.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The platform it is built for (normalized).
    pub platform: Platform,
    /// The vertex whose output is its root file system.
    pub vertex: VertexId,
    /// Its image config (see [`kiln_frontend::lower::Lowered::config`]).
    pub config: ImageConfig,
}

/// Every platform's graph in one.
#[derive(Debug)]
pub(crate) struct Planned {
    /// The graph holding every platform's vertices.
    pub graph: Graph,
    /// One target per platform, in the order asked.
    pub targets: Vec<Target>,
    /// Lowering's warnings, each once.
    pub warnings: Vec<Diagnostic>,
    /// The stage of each vertex (indexed by vertex id).
    pub stage_of: Vec<Option<String>>,
}

/// Lowers `dockerfile` for each of `platforms` (none: `options.platform`
/// alone). A platform named twice is built once. Steps are named with
/// their stage's platform when there are several.
pub(crate) fn lower_all(
    dockerfile: &Dockerfile,
    options: &LowerOptions,
    platforms: &[Platform],
    resolver: &dyn ImageResolver,
) -> Result<Planned, Diagnostic> {
    let mut wanted: Vec<Platform> = Vec::new();
    for platform in platforms {
        let platform = platform.normalize();
        if !wanted.contains(&platform) {
            wanted.push(platform);
        }
    }
    if wanted.is_empty() {
        wanted.push(options.platform.clone());
    }
    let several = wanted.len() > 1;
    let mut planned = Planned {
        graph: Graph::new(),
        targets: Vec::new(),
        warnings: Vec::new(),
        stage_of: Vec::new(),
    };
    for platform in wanted {
        let options = LowerOptions {
            platform: platform.clone(),
            platform_in_names: several,
            ..options.clone()
        };
        let lowered = lower(dockerfile, &options, resolver).map_err(|mut d| {
            if several {
                d.message = format!("{} (for {platform})", d.message);
            }
            d
        })?;
        let shift = planned.graph.append(lowered.graph);
        planned.stage_of.extend(lowered.stage_of);
        for warning in lowered.warnings {
            if !planned.warnings.contains(&warning) {
                planned.warnings.push(warning);
            }
        }
        planned.targets.push(Target {
            platform,
            vertex: VertexId(lowered.target.0 + shift),
            config: lowered.config,
        });
    }
    Ok(planned)
}
