//! The build as a library call: validated [`Options`] in, the built image
//! (tagged in the store) and its layers out, the build cache's records and
//! trail written on the way.
//!
//! Two steps, so that a caller can show the plan before it runs:
//! [`prepare`] lowers the Dockerfile to a graph (base images resolved,
//! pulled through the caller's [`Puller`]) and sets up the backend;
//! [`Prepared::run`] solves the graph, saves what the next build needs
//! (stat cache, trail, `--explain`'s comparison), writes the image and
//! tags it. A failed or canceled build changes no tag.
//!
//! Boundary: no flag parsing, no terminal. Progress goes to the caller's
//! [`kiln_solver::Reporter`], problems come back as values (diagnostics
//! with their Dockerfile spans, the solver's error, notes to show). The
//! backend today is the local worker (`crate::worker`); another backend
//! (BuildKit over LLB) takes the same `Prepared` graph and hands back
//! [`Layer`]s, and the exporters (`crate::export`) take a store and layers
//! from either. Remote cache import and export plug in around `run`'s
//! solve; a multi-platform build prepares one graph holding every
//! platform's vertices. See docs/architecture.md.

mod explain;
mod platforms;
pub(crate) mod remote;
mod resolver;

pub use crate::worker::BuildNetwork;
pub(crate) use resolver::{PullPolicy, Puller};

use crate::export::Layer;
use crate::worker::previous::PreviousTrail;
use crate::worker::{
    BuildCache, CachePolicy, Networks, Output as VertexOutput, Secrets, SshAgents, Worker,
    WorkerError,
};
use kiln_cache::{Lease, Store, StoreError};
use kiln_frontend::ast::Dockerfile;
use kiln_frontend::diagnostic::Diagnostic;
use kiln_frontend::lower::LowerOptions;
use kiln_oci::{Platform, Reference};
use kiln_solver::{CancelToken, Graph, Reporter, SolveError, SolveOptions, VertexId, solve};
use platforms::{Planned, Target};
use std::path::PathBuf;
use std::sync::Mutex;

/// What to build, validated: every path exists, every name parses.
pub(crate) struct Options {
    /// The build context: a directory, canonical.
    pub context: PathBuf,
    /// The Dockerfile, parsed and checked without errors.
    pub dockerfile: Dockerfile,
    /// How the Dockerfile is named in messages and in the trail's name.
    pub dockerfile_name: String,
    /// Build arguments, target, platforms, labels, `.dockerignore`
    /// patterns, the creation time, entitlements.
    pub lower: LowerOptions,
    /// `--platform`: the platforms to build for (none: `lower.platform`
    /// alone). Several give an image index.
    pub platforms: Vec<Platform>,
    /// The names the image gets (none: it is stored untagged, or not
    /// kept at all without `keep_untagged`).
    pub tags: Vec<Reference>,
    /// Keep an image without tags in the store (untagged): what a plain
    /// `kiln build` does; a build exported elsewhere (`-o type=oci`…)
    /// leaves none, as buildx leaves none in docker's store.
    pub keep_untagged: bool,
    /// `--secret`s.
    pub secrets: Secrets,
    /// `--ssh` agents.
    pub ssh: SshAgents,
    /// The network of RUN steps that do not choose one.
    pub network: BuildNetwork,
    /// `--no-cache`: no step uses a cached result (all still record).
    pub no_cache: bool,
    /// `--no-cache-filter`: the stages whose steps use no cached result.
    pub no_cache_filter: Vec<String>,
    /// `--explain`: compare every step that ran with the last build.
    pub explain: bool,
    /// When base images are pulled.
    pub pull: PullPolicy,
    /// `--cache-from`: caches to take step results from, in order.
    pub cache_from: Vec<crate::remotecache::CacheFrom>,
    /// `--cache-to`: where the build's cache records go when it succeeds.
    pub cache_to: Vec<crate::remotecache::CacheTo>,
    /// How registries are reached (`--tls-verify`), for registry caches.
    pub registry: crate::registry::RegistryOptions,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildError {
    /// Lowering found a problem in the Dockerfile (at its span).
    #[error("{}", .0.message)]
    Lower(Box<Diagnostic>),
    /// A step failed, or the build was canceled.
    #[error(transparent)]
    Solve(Box<SolveError<WorkerError>>),
    /// The target did not produce a file system.
    #[error("the target did not produce a file system")]
    NoFileSystem,
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The BuildKit a build was sent to (`--builder`) could not run it.
    #[error("{0}")]
    Remote(String),
}

/// A build ready to run: its graph and the backend that runs it.
pub(crate) struct Prepared {
    planned: Planned,
    worker: Worker,
    options: Rest,
    /// Held for the whole build: `kiln prune` waits for it.
    _lease: Lease,
    notes: Vec<String>,
}

/// The options `run` still needs after `prepare`.
struct Rest {
    tags: Vec<Reference>,
    cache_to: Vec<crate::remotecache::CacheTo>,
    registry: crate::registry::RegistryOptions,
    keep_untagged: bool,
    trail_name: String,
    explain: Option<String>,
    created: String,
}

/// A finished build (its image is in the store, tagged with every
/// requested name).
pub(crate) struct Built {
    /// The image: its manifest and ID, or for several platforms the
    /// index (whose digest is then the ID shown).
    pub image: crate::export::Built,
    /// Each platform's image and layers, base first (what the exporters
    /// take), in the order asked.
    pub platforms: Vec<PlatformImage>,
}

/// One platform's image of a build.
pub(crate) struct PlatformImage {
    /// The platform.
    pub platform: Platform,
    /// Its manifest and config.
    pub image: crate::export::Built,
    /// Its layers, base first.
    pub layers: Vec<Layer>,
}

/// What a build run leaves besides its result: `--explain`'s lines and
/// notes that are not errors (a cache that could not be saved).
#[derive(Default)]
pub(crate) struct Report {
    /// `--cache-to ...,ignore-error=false` failed: the build fails with
    /// this.
    pub cache_error: Option<String>,
    /// What each `--cache-to` wrote.
    pub exported: Vec<String>,
    /// One line per step that ran, saying why it missed the cache (with
    /// `--explain`).
    pub explain: Option<Vec<String>>,
    /// Things to tell the user.
    pub notes: Vec<String>,
}

/// Lowers the Dockerfile and sets up the local worker over `store`.
pub(crate) fn prepare(
    mut store: Store,
    options: Options,
    puller: &dyn Puller,
) -> Result<Prepared, BuildError> {
    // Remote blobs (layers of an imported cache) come with the build's
    // registry settings.
    crate::registry::lazy::install(&mut store, &options.registry);
    let lease = store.lease()?;
    let mut notes = Vec::new();
    let sandboxes = store.sandboxes_dir();
    if let Err(e) = kiln_runtime::remove_stale(&sandboxes) {
        notes.push(format!("cannot clean up stale sandboxes: {e}"));
    }
    let resolver = resolver::StoreResolver {
        store: &store,
        pull: options.pull,
        puller,
    };
    let planned = platforms::lower_all(
        &options.dockerfile,
        &options.lower,
        &options.platforms,
        &resolver,
    )
    .map_err(|d| BuildError::Lower(Box::new(d)))?;
    let trail_name = trail_name(&options);
    let stat_cache = Mutex::new(store.stat_cache(&options.context));
    // A cache that cannot be read is a note and a colder build.
    let mut imported = Vec::new();
    for source in &options.cache_from {
        match crate::remotecache::Imported::open(source, &options.registry, &store) {
            Ok(cache) => imported.push(cache),
            Err(e) => notes.push(format!("--cache-from {source}: not used: {e}")),
        }
    }
    let worker = Worker {
        store,
        context: options.context,
        secrets: options.secrets,
        ssh: options.ssh,
        networks: Networks::new(options.network),
        sandboxes,
        cache: BuildCache {
            policy: CachePolicy {
                disabled: options.no_cache,
                no_cache_stages: options.no_cache_filter.iter().cloned().collect(),
                stage_of: planned.stage_of.clone(),
            },
            stat_cache,
            trail: Mutex::default(),
            previous: PreviousTrail::of(Some(trail_name.clone())),
            imported,
            imported_hits: Mutex::default(),
            selections: Mutex::default(),
        },
    };
    let explain = options
        .explain
        .then(|| bypass(options.no_cache, &options.no_cache_filter));
    Ok(Prepared {
        planned,
        worker,
        options: Rest {
            tags: options.tags,
            cache_to: options.cache_to,
            registry: options.registry,
            keep_untagged: options.keep_untagged,
            trail_name,
            explain,
            created: options.lower.created,
        },
        _lease: lease,
        notes,
    })
}

/// A build ready to run on its backend: this machine's worker, or a
/// BuildKit (`--builder`).
pub(crate) enum Ready {
    /// The local worker.
    Local(Box<Prepared>),
    /// A BuildKit.
    Remote(Box<remote::RemotePrepared>),
}

/// Prepares the build for the local worker, or for the BuildKit at
/// `builder`.
pub(crate) fn prepare_on(
    store: Store,
    options: Options,
    puller: &dyn Puller,
    builder: Option<&kiln_buildkit::Address>,
) -> Result<Ready, BuildError> {
    Ok(match builder {
        None => Ready::Local(Box::new(prepare(store, options, puller)?)),
        Some(address) => Ready::Remote(Box::new(remote::prepare(store, options, address)?)),
    })
}

impl Ready {
    /// The graph to be solved (for progress).
    pub(crate) fn graph(&self) -> &Graph {
        match self {
            Ready::Local(p) => p.graph(),
            Ready::Remote(p) => p.graph(),
        }
    }

    /// Lowering's warnings.
    pub(crate) fn warnings(&self) -> &[Diagnostic] {
        match self {
            Ready::Local(p) => p.warnings(),
            Ready::Remote(p) => p.warnings(),
        }
    }

    /// Things to tell the user before the build runs.
    pub(crate) fn notes(&self) -> &[String] {
        match self {
            Ready::Local(p) => p.notes(),
            Ready::Remote(_) => &[],
        }
    }

    /// The store the image lands in.
    pub(crate) fn store(&self) -> &Store {
        match self {
            Ready::Local(p) => p.store(),
            Ready::Remote(p) => p.store(),
        }
    }

    /// Runs the build (see [`Prepared::run`]).
    pub(crate) fn run(
        &self,
        reporter: &dyn Reporter,
        cancel: CancelToken,
    ) -> (Result<Built, BuildError>, Report) {
        match self {
            Ready::Local(p) => p.run(reporter, cancel),
            Ready::Remote(p) => (p.run(reporter, cancel), Report::default()),
        }
    }
}

/// The trail's name: the tags (or the Dockerfile) and the target, so that
/// `--explain` compares with the last build of the same thing.
fn trail_name(options: &Options) -> String {
    let what = match options.tags.is_empty() {
        true => format!("dockerfile={}", options.dockerfile_name),
        false => options
            .tags
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(","),
    };
    let target = options.lower.target.as_deref().unwrap_or("");
    format!("{what} target={target}")
}

/// The cache bypass flags in force, as `--explain` names them.
fn bypass(no_cache: bool, no_cache_filter: &[String]) -> String {
    let mut flags = Vec::new();
    if no_cache {
        flags.push("--no-cache".to_string());
    }
    if !no_cache_filter.is_empty() {
        flags.push(format!("--no-cache-filter {}", no_cache_filter.join(",")));
    }
    flags.join(" ")
}

impl Prepared {
    /// The graph to be solved (for progress).
    pub(crate) fn graph(&self) -> &Graph {
        &self.planned.graph
    }

    /// Lowering's warnings (unused build args, …).
    pub(crate) fn warnings(&self) -> &[Diagnostic] {
        &self.planned.warnings
    }

    /// Things to tell the user before the build runs (a leftover of a
    /// killed process that could not be removed).
    pub(crate) fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The store the build reads and writes (held under a lease while
    /// this lives).
    pub(crate) fn store(&self) -> &Store {
        &self.worker.store
    }

    /// Solves the graph, reporting to `reporter` and stopping when `cancel`
    /// fires, then writes and tags the image. The report comes back either
    /// way.
    pub(crate) fn run(
        &self,
        reporter: &dyn Reporter,
        cancel: CancelToken,
    ) -> (Result<Built, BuildError>, Report) {
        let Prepared {
            planned,
            worker,
            options,
            ..
        } = self;
        let solve_options = SolveOptions {
            cancel,
            ..SolveOptions::default()
        };
        let targets: Vec<VertexId> = planned.targets.iter().map(|t| t.vertex).collect();
        let result = solve(&planned.graph, &targets, worker, reporter, &solve_options);
        let mut report = Report::default();
        // Before `after_solve`, which hands the trail over to the store.
        let inline = match result.is_ok() {
            true => export_cache(worker, planned, options, &mut report),
            false => None,
        };
        after_solve(worker, &planned.graph, options, result.is_ok(), &mut report);
        let built = result
            .map_err(|e| BuildError::Solve(Box::new(e)))
            .and_then(|outputs| {
                outputs
                    .into_iter()
                    .map(|output| match output {
                        VertexOutput::Layers(layers) => Ok(layers.to_vec()),
                        _ => Err(BuildError::NoFileSystem),
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .and_then(|layers| export(&worker.store, &planned.targets, options, layers, inline));
        (built, report)
    }
}

/// Writes each platform's image, and for several an index of them, and
/// tags the result.
fn export(
    store: &Store,
    targets: &[Target],
    options: &Rest,
    layers: Vec<Vec<Layer>>,
    inline: Option<Vec<(kiln_oci::Digest, kiln_cache::CacheRecord)>>,
) -> Result<Built, BuildError> {
    let mut platforms = Vec::new();
    for (target, layers) in targets.iter().zip(layers) {
        let image = write_platform_image(store, target, options, &layers, inline.as_deref())?;
        platforms.push(PlatformImage {
            platform: target.platform.clone(),
            image,
            layers,
        });
    }
    Ok(tagged(
        store,
        platforms,
        &options.tags,
        options.keep_untagged,
    )?)
}

/// The build of `platforms` (for several, an index of them is written),
/// named `tags`; without any, it is kept untagged when asked, else its
/// blobs stay while the build holds its lease (the exporters read them),
/// then are a prune's to free.
fn tagged(
    store: &Store,
    platforms: Vec<PlatformImage>,
    tags: &[Reference],
    keep_untagged: bool,
) -> Result<Built, kiln_cache::StoreError> {
    let image = match &platforms[..] {
        [one] => one.image.clone(),
        several => {
            let manifests: Vec<_> = several
                .iter()
                .map(|p| (p.platform.clone(), p.image.manifest.clone()))
                .collect();
            crate::export::write_index(store, &manifests)?
        }
    };
    if tags.is_empty() {
        if keep_untagged {
            store.add_untagged(&image.manifest)?;
        }
    } else {
        let pairs: Vec<_> = tags
            .iter()
            .map(|t| (t.clone(), image.manifest.clone()))
            .collect();
        store.set_tags(&pairs)?;
    }
    Ok(Built { image, platforms })
}

/// Writes the image of one platform's `layers` (untagged); with `inline`
/// (`--cache-to type=inline`), the records of its layers go into its
/// config.
fn write_platform_image(
    store: &Store,
    target: &Target,
    options: &Rest,
    layers: &[Layer],
    inline: Option<&[(kiln_oci::Digest, kiln_cache::CacheRecord)]>,
) -> Result<crate::export::Built, BuildError> {
    let mut config = target.config.clone();
    // A base image's inline cache is not this image's.
    config.extra.remove(crate::remotecache::format::INLINE_KEY);
    if let Some(records) = inline {
        let diff_ids: Vec<_> = layers
            .iter()
            .filter(|l| !l.empty)
            .map(|l| l.diff_id.clone())
            .collect();
        let cache = crate::remotecache::format::inline_config(records.to_vec(), &diff_ids);
        if let Ok(value) = serde_json::to_value(&cache) {
            config
                .extra
                .insert(crate::remotecache::format::INLINE_KEY.to_string(), value);
        }
    }
    // SOURCE_DATE_EPOCH fixes every date; otherwise steps are dated as
    // their layers were first made.
    let redate = std::env::var_os("SOURCE_DATE_EPOCH")
        .is_none()
        .then_some(options.created.as_str());
    Ok(crate::export::write_image(store, config, layers, redate)?)
}

/// `--cache-to`: writes the records of this build's steps (`mode=max`:
/// every keyed step; `mode=min`: those the target's file system is made
/// of) to each destination. A failure is a note, or the build's error
/// under `ignore-error=false`. The records `type=inline` asks the image
/// to carry come back.
fn export_cache(
    worker: &Worker,
    planned: &Planned,
    options: &Rest,
    report: &mut Report,
) -> Option<Vec<(kiln_oci::Digest, kiln_cache::CacheRecord)>> {
    if options.cache_to.is_empty() {
        return None;
    }
    let Ok(trail) = worker.cache.trail.lock() else {
        return None;
    };
    let mut inline = None;
    let lineage: std::collections::BTreeSet<usize> = planned
        .targets
        .iter()
        .flat_map(|t| lineage(&planned.graph, t.vertex))
        .collect();
    // Archived once, for every destination that asks for them.
    let archived = match options.cache_to.iter().any(|t| t.mounts().export) {
        true => archive_cache_mounts(worker, &planned.graph),
        false => Vec::new(),
    };
    for target in &options.cache_to {
        let (mode, ignore_error) = target.mode_and_ignore_error();
        let records: Vec<(kiln_oci::Digest, kiln_cache::CacheRecord)> = trail
            .iter()
            .filter(|(id, _)| mode == crate::remotecache::Mode::Max || lineage.contains(id))
            .filter_map(|(_, (step, _))| step.key.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|key| worker.store.peek_record(&key).map(|r| (key, r)))
            .collect();
        let steps = records.len();
        let mounts = mounts_for(&archived, target.mounts(), &mut report.notes);
        let cache_mounts = mounts.len();
        let contents = crate::remotecache::format::Contents {
            records,
            mounts,
            selections: worker
                .cache
                .selections
                .lock()
                .map(|s| s.iter().map(|(k, d)| (k.clone(), d.clone())).collect())
                .unwrap_or_default(),
        };
        let done = match target {
            crate::remotecache::CacheTo::Inline => {
                report.exported.push(format!(
                    "exported the build cache inline in the image: {steps} steps"
                ));
                inline = Some(contents.records);
                continue;
            }
            crate::remotecache::CacheTo::Local { dest, .. } => {
                crate::remotecache::local::export(&worker.store, contents, dest)
                    .map(|d| format!("{} layers ({} copied)", d.blobs, d.copied))
                    .map_err(|e| format!("{e:#}"))
            }
            crate::remotecache::CacheTo::Registry {
                reference,
                compression,
                ..
            } => crate::remotecache::registry::export(
                &worker.store,
                contents,
                reference,
                &options.registry,
                *compression,
            )
            .map(|layers| format!("{layers} layers")),
        };
        match done {
            Ok(what) => report.exported.push(format!(
                "exported the build cache to {target}: {steps} steps, {cache_mounts} cache mounts, {what}"
            )),
            Err(e) if ignore_error => report.notes.push(format!(
                "cannot export the build cache to {target} (ignore-error=true): {e}"
            )),
            Err(e) => {
                report.cache_error =
                    Some(format!("cannot export the build cache to {target}: {e}"));
            }
        }
    }
    inline
}

/// Each cache mount the build's RUN steps name, by id, archived as a
/// layer in the store (or why it could not be).
fn archive_cache_mounts(
    worker: &Worker,
    graph: &Graph,
) -> Vec<(
    String,
    Result<crate::remotecache::format::MountLayer, String>,
)> {
    let mut keys = std::collections::BTreeSet::new();
    for i in 0..graph.len() {
        let kiln_solver::Op::Exec(exec) = &graph.vertex(VertexId(i)).op else {
            continue;
        };
        for mount in &exec.mounts {
            if let kiln_solver::ExecMount::Cache {
                id, uid, gid, mode, ..
            } = mount
            {
                keys.insert((
                    id.clone(),
                    crate::worker::cache_mount_key(id, *uid, *gid, *mode),
                ));
            }
        }
    }
    let parent = worker.store.root().join(kiln_cache::CACHE_MOUNTS_DIR);
    keys.into_iter()
        .filter(|(_, key)| parent.join(key).is_dir())
        .map(|(id, key)| {
            let layer = crate::remotecache::mount_layer(&worker.store, &parent.join(&key))
                .map(|(descriptor, diff_id)| (key, descriptor, diff_id));
            (id, layer)
        })
        .collect()
}

/// The archived cache mounts one destination exports (`mounts=true`),
/// with a note for each one past its size bound or not archived.
fn mounts_for(
    archived: &[(
        String,
        Result<crate::remotecache::format::MountLayer, String>,
    )],
    mounts: crate::remotecache::spec::Mounts,
    notes: &mut Vec<String>,
) -> Vec<crate::remotecache::format::MountLayer> {
    if !mounts.export {
        return Vec::new();
    }
    let mut layers = Vec::new();
    for (id, layer) in archived {
        match layer {
            Ok((_, descriptor, _)) if descriptor.size > mounts.max_size => notes.push(format!(
                "cache mount {id:?} not exported: {} bytes, more than mounts-max-size ({} bytes)",
                descriptor.size, mounts.max_size
            )),
            Ok(layer) => layers.push(layer.clone()),
            Err(e) => notes.push(format!("cache mount {id:?} not exported: {e}")),
        }
    }
    layers
}

/// The vertices the file system of `target` is made of: it, the vertex
/// each one runs on (input 0), and every input of a merge.
fn lineage(graph: &Graph, target: VertexId) -> std::collections::BTreeSet<usize> {
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![target];
    while let Some(id) = todo.pop() {
        if !seen.insert(id.0) {
            continue;
        }
        let vertex = graph.vertex(id);
        match vertex.op {
            kiln_solver::Op::Merge => todo.extend(vertex.inputs.iter().copied()),
            _ => todo.extend(vertex.inputs.first().copied()),
        }
    }
    seen
}

/// Saves what the next build needs (the stat cache; the trail, when the
/// build succeeded) and makes `--explain`'s lines.
fn after_solve(worker: &Worker, graph: &Graph, options: &Rest, ok: bool, report: &mut Report) {
    if let Ok(mut stat_cache) = worker.cache.stat_cache.lock()
        && let Err(e) = worker.store.save_stat_cache(&mut stat_cache)
    {
        report
            .notes
            .push(format!("cannot save the stat cache: {e}"));
    }
    let Ok(mut trail) = worker.cache.trail.lock() else {
        return;
    };
    if let Some(bypass) = &options.explain {
        let previous = worker.cache.previous.get(&worker.store);
        let steps: Vec<explain::RanStep<'_>> = trail
            .iter()
            .map(|(id, (step, ran))| explain::RanStep {
                id: *id,
                step,
                ran: *ran,
                bypassed: !worker.cache.reuse(*id),
            })
            .collect();
        let imported = worker
            .cache
            .imported_hits
            .lock()
            .map(|hits| hits.clone())
            .unwrap_or_default();
        report.explain = Some(explain::explain(graph, &steps, previous, bypass, &imported));
    }
    if ok {
        let saved = worker.store.save_trail(&mut kiln_cache::Trail {
            name: options.trail_name.clone(),
            steps: std::mem::take(&mut *trail)
                .into_values()
                .map(|(step, _)| step)
                .collect(),
        });
        if let Err(e) = saved {
            report
                .notes
                .push(format!("cannot save the build trail: {e}"));
        }
    }
}

/// The time written into new history entries: now in RFC 3339 with
/// nanoseconds, as BuildKit writes it, or `SOURCE_DATE_EPOCH` when set
/// (reproducible builds).
pub(crate) fn creation_time() -> String {
    if let Some(epoch) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
        && let Some(text) = kiln_oci::format_rfc3339_nano(epoch, 0)
    {
        return text;
    }
    kiln_oci::now_rfc3339_nano()
}
