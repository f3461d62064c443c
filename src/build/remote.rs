//! A build on a BuildKit (`--builder`): kiln's frontend lowers the
//! Dockerfile here — base images resolved through the builder, which
//! pulls them or, for dockerd, finds them in its own image store — the
//! graph goes to the builder as LLB (`kiln-llb`), its progress comes back
//! as kiln's events under the same step names, and the image it made is
//! loaded into kiln's store (dockerd: the `moby` exporter's image, read
//! back with `docker save`; buildkitd: the `docker` exporter's tar stream
//! over the session), where `-o` and `--push` find it as after a local
//! build. What the builder lacks (its LLB capabilities, read before
//! anything runs) is an error naming the feature and the BuildKit release
//! that added it.
//!
//! Boundary: the seam between kiln's build and `kiln-buildkit`'s client;
//! no flags, no terminal.

use super::{BuildError, PullPolicy};
use super::{Built, Options, PlatformImage};
use crate::worker::{Secrets, SshAgents, WorkerError};
use kiln_buildkit::proto::pb;
use kiln_buildkit::{Address, Build, Builder, Exporter};
use kiln_cache::{Lease, Store};
use kiln_frontend::diagnostic::Diagnostic;
use kiln_frontend::lower::{ImageResolver, ResolvedImage};
use kiln_oci::{Digest, ImageConfig, Platform, Reference};
use kiln_solver::{CancelToken, Event, EventKind, Graph, Reporter, SolveError, VertexId};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A build lowered and open on the builder, waiting to run: one build
/// there per platform (dockerd's exporter takes one image, and BuildKit
/// shares the work the platforms have in common), their images made an
/// index in kiln's store as a local build's are.
pub(crate) struct RemotePrepared {
    planned: super::platforms::Planned,
    /// Taken by `run`.
    parts: Mutex<Option<Vec<Part>>>,
    builder: Builder,
    /// Each op digest's vertices (for progress), of every part.
    vertices: HashMap<String, Vec<VertexId>>,
    updates: Mutex<Option<mpsc::Receiver<kiln_buildkit::StatusUpdate>>>,
    store: Store,
    tags: Vec<Reference>,
    keep_untagged: bool,
    _lease: Lease,
}

/// One platform's build, open on the builder.
struct Part {
    build: Build,
    /// Its definition, once lowered.
    definition: Option<pb::Definition>,
    /// dockerd: the name the image has in dockerd's store until it is
    /// loaded.
    temporary: Option<String>,
    /// buildkitd: where the exporter's stream lands.
    output: Option<tempfile::NamedTempFile>,
}

/// Connects to `address`, opens the build (one per platform) and lowers
/// it there.
pub(crate) fn prepare(
    store: Store,
    options: Options,
    address: &Address,
) -> Result<RemotePrepared, BuildError> {
    let remote = |e: kiln_buildkit::Error| BuildError::Remote(e.to_string());
    let lease = store.lease()?;
    let builder = Builder::connect(address).map_err(remote)?;
    let dockerd = matches!(address, Address::Docker { .. });
    let cache_exports = options
        .cache_to
        .iter()
        .map(|to| cache_export(to, dockerd))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BuildError::Remote(format!("--builder {address}: {e}")))?;
    let cache_imports = options
        .cache_from
        .iter()
        .map(cache_import)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BuildError::Remote(format!("--builder {address}: {e}")))?;
    let node = node_id(&store)?;
    let provider: Arc<dyn kiln_buildkit::Provider> = Arc::new(Provide {
        secrets: options.secrets,
        ssh: options.ssh,
    });
    let (tx, rx) = mpsc::channel();
    let entitled = entitlements(&options.lower);
    // One platform's build, opened on the builder.
    let open = || -> Result<Part, BuildError> {
        let id = kiln_buildkit::session::new_id();
        let temporary = dockerd.then(|| format!("kiln-build/{id}:latest"));
        let output = match dockerd {
            true => None,
            false => Some(
                tempfile::NamedTempFile::new_in(store.root().join("tmp")).map_err(|e| {
                    BuildError::Remote(format!("cannot make a temporary file: {e}"))
                })?,
            ),
        };
        let session = kiln_buildkit::Session {
            id,
            dirs: [("context".to_string(), options.context.clone())].into(),
            provider: provider.clone(),
            output: output.as_ref().map(|f| f.path().to_path_buf()),
            ssh: true,
            node: node.clone(),
        };
        let exporter = match &temporary {
            Some(name) => Exporter::Moby {
                names: vec![name.clone()],
            },
            None => Exporter::DockerArchive { names: Vec::new() },
        };
        let request = kiln_buildkit::Request {
            session,
            exporter,
            cache_imports: cache_imports.clone(),
            cache_exports: cache_exports.clone(),
            entitlements: entitled.clone(),
        };
        let tx = tx.clone();
        let build = builder
            .start(
                request,
                Box::new(move |update| {
                    let _ = tx.send(update);
                }),
            )
            .map_err(remote)?;
        Ok(Part {
            build,
            definition: None,
            temporary,
            output,
        })
    };
    let give_up = |parts: &[Part], message: String| {
        for part in parts {
            part.build.give_up(&message);
        }
        BuildError::Remote(message)
    };
    // The first build resolves the base images of every platform; the
    // others are opened once lowering says how many platforms there are
    // (repeated or equivalent ones are one).
    let mut parts = vec![open()?];
    let resolver = RemoteResolver {
        build: &parts[0].build,
        pull: options.pull,
        unpinned: Mutex::default(),
    };
    let planned = super::platforms::lower_all(
        &options.dockerfile,
        &options.lower,
        &options.platforms,
        &resolver,
    )
    .map_err(|d| BuildError::Lower(Box::new(d)))?;
    let unpinned = resolver.unpinned.into_inner().unwrap_or_default();
    if planned.targets.len() > 1
        && let Some(to) = options
            .cache_to
            .iter()
            .find(|to| !matches!(to, crate::remotecache::CacheTo::Inline))
    {
        let message = format!(
            "--builder {address}: --cache-to {to} with several platforms: each platform is a build of its own there, whose caches would replace each other; use type=inline, or one --platform per build"
        );
        return Err(give_up(&parts, message));
    }
    while parts.len() < planned.targets.len() {
        match open() {
            Ok(part) => parts.push(part),
            Err(e) => {
                give_up(&parts, e.to_string());
                return Err(e);
            }
        }
    }
    let ignore_cache = ignored(&planned, options.no_cache, &options.no_cache_filter);
    let mut vertices: HashMap<String, Vec<VertexId>> = HashMap::new();
    for i in 0..parts.len() {
        let lowered = kiln_llb::lower(
            &planned.graph,
            planned.targets[i].vertex,
            &kiln_llb::Options {
                session: parts[i].build.session_id().to_string(),
                ignore_cache: ignore_cache.clone(),
                unpinned: unpinned.clone(),
                default_network: match options.network {
                    super::BuildNetwork::Host => kiln_solver::NetworkMode::Host,
                    super::BuildNetwork::None => kiln_solver::NetworkMode::None,
                    super::BuildNetwork::Private => kiln_solver::NetworkMode::Default,
                },
            },
        );
        let lowered = match lowered {
            Ok(lowered) => lowered,
            Err(e) => return Err(give_up(&parts, e.to_string())),
        };
        let needs = kiln_llb::caps::needed(&lowered.definition);
        if let Some(need) = kiln_llb::caps::missing(&needs, parts[i].build.llb_caps()) {
            let message = format!(
                "builder {address} cannot run this build: {} needs BuildKit {} or later (capability {} is missing)",
                need.feature, need.since, need.cap
            );
            return Err(give_up(&parts, message));
        }
        for (vertex, digest) in lowered.digests.iter().enumerate() {
            if let Some(digest) = digest {
                let ids = vertices.entry(digest.clone()).or_default();
                if !ids.contains(&VertexId(vertex)) {
                    ids.push(VertexId(vertex));
                }
            }
        }
        parts[i].definition = Some(lowered.definition);
    }
    Ok(RemotePrepared {
        planned,
        parts: Mutex::new(Some(parts)),
        builder,
        vertices,
        updates: Mutex::new(Some(rx)),
        store,
        tags: options.tags,
        keep_untagged: options.keep_untagged,
        _lease: lease,
    })
}

/// A `--cache-to` as BuildKit's cache exporters take it (buildx's
/// attributes: `ref`, `mode`, `ignore-error`, `compression`).
fn cache_export(
    to: &crate::remotecache::CacheTo,
    dockerd: bool,
) -> Result<kiln_buildkit::CacheEntry, String> {
    use crate::remotecache::{CacheTo, Mode};
    let mode = |mode: &Mode| match mode {
        Mode::Min => "min",
        Mode::Max => "max",
    };
    let mut attrs = BTreeMap::new();
    let kind = match to {
        CacheTo::Inline => "inline",
        CacheTo::Local { .. } => return Err(format!("--cache-to {to}: {LOCAL_CACHE}")),
        _ if dockerd => {
            return Err(format!(
                "--cache-to {to}: dockerd's BuildKit exports only type=inline caches (as with buildx's docker driver); use a buildkitd for type=registry"
            ));
        }
        CacheTo::Registry { mounts, .. } if mounts.export => {
            return Err(format!(
                "--cache-to {to}: mounts=true is kiln's own; BuildKit never exports cache mounts"
            ));
        }
        CacheTo::Registry {
            reference,
            mode: m,
            ignore_error,
            compression,
            ..
        } => {
            attrs.insert("ref".into(), reference.to_string());
            attrs.insert("mode".into(), mode(m).into());
            attrs.insert("ignore-error".into(), ignore_error.to_string());
            if matches!(compression, kiln_layer::Compression::Zstd { .. }) {
                attrs.insert("compression".into(), "zstd".into());
            }
            "registry"
        }
    };
    Ok(kiln_buildkit::CacheEntry {
        kind: kind.into(),
        attrs,
    })
}

/// Why a local cache directory cannot be used with a builder: BuildKit
/// reads and writes one through the client's content store (containerd's
/// content API over the session), which kiln's session does not serve —
/// and BuildKit 0.11 skips it without an error, so it is refused here.
const LOCAL_CACHE: &str = "a BuildKit reads and writes a local cache directory through the client's content store, which kiln does not serve to builders yet; use type=registry (or type=inline)";

/// A `--cache-from` as BuildKit's cache importers take it.
fn cache_import(from: &crate::remotecache::CacheFrom) -> Result<kiln_buildkit::CacheEntry, String> {
    use crate::remotecache::CacheFrom;
    match from {
        CacheFrom::Local { src } => Err(format!(
            "--cache-from type=local,src={}: {LOCAL_CACHE}",
            src.display()
        )),
        CacheFrom::Registry { reference } => Ok(kiln_buildkit::CacheEntry {
            kind: "registry".into(),
            attrs: [("ref".to_string(), reference.to_string())].into(),
        }),
    }
}

/// The entitlements the build grants, by BuildKit's names.
fn entitlements(lower: &kiln_frontend::lower::LowerOptions) -> Vec<String> {
    let mut granted = Vec::new();
    if lower.allow_network_host {
        granted.push("network.host".to_string());
    }
    if lower.allow_insecure {
        granted.push("security.insecure".to_string());
    }
    granted
}

/// The vertices whose cached results must not be used.
fn ignored(
    planned: &super::platforms::Planned,
    no_cache: bool,
    filter: &[String],
) -> BTreeSet<usize> {
    (0..planned.graph.len())
        .filter(|&i| {
            no_cache
                || planned.stage_of[i]
                    .as_ref()
                    .is_some_and(|stage| filter.contains(stage))
        })
        .collect()
}

impl RemotePrepared {
    /// The graph (for progress).
    pub(crate) fn graph(&self) -> &Graph {
        &self.planned.graph
    }

    /// Lowering's warnings.
    pub(crate) fn warnings(&self) -> &[Diagnostic] {
        &self.planned.warnings
    }

    /// The store the image lands in.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Runs the build on the builder, reporting its progress to
    /// `reporter`; a canceled `cancel` cancels it there. The images are loaded
    /// into the store (several platforms: with an index of them) and
    /// tagged.
    pub(crate) fn run(
        &self,
        reporter: &dyn Reporter,
        cancel: CancelToken,
    ) -> Result<Built, BuildError> {
        let Some(parts) = take(&self.parts) else {
            return Err(BuildError::Remote("the build has already run".into()));
        };
        let updates = self.updates.lock().ok().and_then(|mut u| u.take());
        let cancelers: Vec<_> = parts.iter().filter_map(|p| p.build.canceler()).collect();
        let mut solves = Vec::new();
        let mut rest = Vec::new();
        for (i, part) in parts.into_iter().enumerate() {
            let mut config = self.planned.targets[i].config.clone();
            config.rootfs = Default::default();
            let metadata: BTreeMap<String, Vec<u8>> = [(
                "containerimage.config".to_string(),
                config.to_canonical_json(),
            )]
            .into();
            let definition = part.definition.unwrap_or_default();
            solves.push((part.build, definition, metadata));
            rest.push((part.temporary, part.output));
        }
        // Ends the watcher: the solves are over. A failed platform does
        // not cancel the others: what they export is then removed from
        // dockerd as after a success, never left behind by a cancel in the
        // middle of an export.
        let stop = CancelToken::new();
        let translator = Mutex::new(Translator::new(&self.vertices));
        let solved: Vec<Result<kiln_buildkit::Exported, kiln_buildkit::Error>> =
            std::thread::scope(|scope| {
                if let Some(updates) = updates {
                    let translator = &translator;
                    scope.spawn(move || {
                        for update in updates {
                            if let Ok(mut t) = translator.lock() {
                                t.update(update, reporter);
                            }
                        }
                    });
                }
                let (stop_ref, cancel_ref, cancelers) = (&stop, &cancel, &cancelers);
                let watcher = scope.spawn(move || {
                    while !stop_ref.wait_timeout(Duration::from_millis(100)) {
                        if cancel_ref.is_canceled() {
                            break;
                        }
                    }
                    for canceler in cancelers {
                        canceler.abort();
                    }
                });
                let handles: Vec<_> = solves
                    .into_iter()
                    .map(|(build, definition, metadata)| {
                        scope.spawn(move || build.solve(definition, metadata))
                    })
                    .collect();
                let solved = handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(kiln_buildkit::Error::Config(
                                "the thread of a solve panicked".into(),
                            ))
                        })
                    })
                    .collect();
                stop.cancel();
                let _ = watcher.join();
                solved
            });
        let mut translator = translator.into_inner().unwrap_or_else(|e| e.into_inner());
        translator.finish(reporter);
        // Every image the builder made is fetched (and dockerd's names
        // removed) before an error is reported.
        let mut archives = Vec::new();
        let mut errors = Vec::new();
        for (result, (temporary, output)) in solved.into_iter().zip(&rest) {
            match result {
                Ok(exported) => match self.archive(&exported, temporary, output) {
                    Ok(archive) => archives.push(archive),
                    Err(e) => errors.push(e),
                },
                Err(e) => {
                    // Canceled while exporting, dockerd may have named
                    // the image already.
                    if let Some(name) = temporary {
                        let _ = self.builder.docker_untag(name);
                    }
                    errors.push(match e {
                        kiln_buildkit::Error::Canceled => {
                            BuildError::Solve(Box::new(SolveError::Canceled))
                        }
                        e => translator.failure(&self.planned.graph, e.to_string()),
                    });
                }
            }
        }
        // A failure before a cancellation (several parts end canceled
        // when Ctrl-C cancels them all).
        if let Some(i) = errors
            .iter()
            .position(|e| !matches!(e, BuildError::Solve(s) if matches!(**s, SolveError::Canceled)))
            .or((!errors.is_empty()).then_some(0))
        {
            return Err(errors.swap_remove(i));
        }
        let mut platforms = Vec::new();
        for (target, archive) in self.planned.targets.iter().zip(&archives) {
            let (image, layers) = load(&self.store, archive.path())?;
            platforms.push(PlatformImage {
                platform: target.platform.clone(),
                image,
                layers,
            });
        }
        Ok(super::tagged(
            &self.store,
            platforms,
            &self.tags,
            self.keep_untagged,
        )?)
    }

    /// The image archive of one part: dockerd's image under its temporary
    /// name, saved by ID when the exporter said it (no name in the
    /// archive), the name removed from dockerd either way; buildkitd's
    /// exporter stream.
    fn archive<'a>(
        &self,
        exported: &kiln_buildkit::Exported,
        temporary: &Option<String>,
        output: &'a Option<tempfile::NamedTempFile>,
    ) -> Result<Archive<'a>, BuildError> {
        match (temporary, output) {
            (Some(name), _) => {
                let image = exported
                    .response
                    .get("containerimage.digest")
                    .cloned()
                    .unwrap_or_else(|| name.clone());
                let result = tempfile::NamedTempFile::new_in(self.store.root().join("tmp"))
                    .map_err(|e| format!("cannot make a temporary file: {e}"))
                    .and_then(|file| {
                        self.builder
                            .docker_save(&image, file.path())
                            .map(|()| file)
                            .map_err(|e| e.to_string())
                    });
                if let Err(e) = self.builder.docker_untag(name) {
                    tracing::warn!(error = %e, "cannot remove the build's temporary name from dockerd");
                }
                result.map(Archive::Saved).map_err(BuildError::Remote)
            }
            (None, Some(stream)) => Ok(Archive::Stream(stream)),
            (None, None) => Err(BuildError::Remote("the builder sent no image".into())),
        }
    }
}

/// Where one platform's image archive is.
enum Archive<'a> {
    /// Saved from dockerd.
    Saved(tempfile::NamedTempFile),
    /// An exporter's stream.
    Stream(&'a tempfile::NamedTempFile),
}

impl Archive<'_> {
    fn path(&self) -> &std::path::Path {
        match self {
            Archive::Saved(file) => file.path(),
            Archive::Stream(file) => file.path(),
        }
    }
}

/// This client's random identity for builders (the shared key of its
/// uploads), kept in the store as `buildkit-node-id`.
fn node_id(store: &Store) -> Result<String, BuildError> {
    let path = store.root().join("buildkit-node-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_string());
    }
    let id = kiln_buildkit::session::new_id();
    // Written whole or not at all: a rename of a complete file.
    let tmp = tempfile::NamedTempFile::new_in(store.root().join("tmp"))
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, id.as_bytes())?;
            Ok(f)
        })
        .map_err(|e| BuildError::Remote(format!("cannot write {}: {e}", path.display())))?;
    if let Err(e) = tmp.persist_noclobber(&path) {
        // Another kiln wrote it first: its id is the one.
        if let Ok(id) = std::fs::read_to_string(&path) {
            return Ok(id.trim().to_string());
        }
        return Err(BuildError::Remote(format!(
            "cannot write {}: {}",
            path.display(),
            e.error
        )));
    }
    Ok(id)
}

/// What a mutex holds, taken out.
fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().ok().and_then(|mut v| v.take())
}

/// Loads one image archive of the builder's into the store (untagged:
/// the build's lease keeps it until it is tagged).
fn load(
    store: &Store,
    archive: &std::path::Path,
) -> Result<(crate::export::Built, Vec<crate::export::Layer>), BuildError> {
    let file = std::fs::File::open(archive)
        .map_err(|e| BuildError::Remote(format!("{}: {e}", archive.display())))?;
    let loaded = crate::archive::load(store, std::io::BufReader::new(file))
        .map_err(|e| BuildError::Remote(format!("cannot load the builder's image: {e:#}")))?;
    let [one] = &loaded[..] else {
        return Err(BuildError::Remote(format!(
            "the builder sent {} images, not one",
            loaded.len()
        )));
    };
    // Names the archive carried are not the build's.
    for name in &one.names {
        store.remove_tag(name)?;
    }
    let image = store.image(&one.target)?;
    let layers = crate::export::layers_of(store, &image)?;
    let built = crate::export::Built {
        manifest: one.target.clone(),
        id: image.manifest.config.digest.clone(),
    };
    Ok((built, layers))
}

/// BuildKit's progress as kiln's events. Each op digest is the vertices
/// lowered to it; BuildKit's own vertices (the exporter, the helpers of
/// cache mounts) are not shown. BuildKit starts and completes a vertex
/// more than once (a source's cache key, then its transfer; a cache
/// lookup, then the run), and kiln's reporters take one terminal event
/// per vertex: a completion is held until a vertex that reads it starts
/// or the build ends (a cache hit and an error are final at once).
struct Translator<'a> {
    vertices: &'a HashMap<String, Vec<VertexId>>,
    started: HashSet<VertexId>,
    ended: HashSet<VertexId>,
    /// Completed, not reported yet: digest → elapsed.
    held: HashMap<String, Duration>,
    /// When each digest first started, in nanoseconds (for its elapsed
    /// time).
    first_start: HashMap<String, i64>,
    /// The first vertex that failed, with its error.
    failed: Option<(VertexId, String)>,
    /// The last output of each vertex (for a failed step's report).
    output: HashMap<VertexId, Vec<u8>>,
}

/// How much of a step's output is kept for its error report.
const OUTPUT_KEPT: usize = 64 * 1024;

/// A protobuf timestamp in nanoseconds.
fn nanos(t: &kiln_buildkit::proto::google::protobuf::Timestamp) -> i64 {
    t.seconds.saturating_mul(1_000_000_000) + i64::from(t.nanos)
}

impl<'a> Translator<'a> {
    fn new(vertices: &'a HashMap<String, Vec<VertexId>>) -> Translator<'a> {
        Translator {
            vertices,
            started: HashSet::new(),
            ended: HashSet::new(),
            held: HashMap::new(),
            first_start: HashMap::new(),
            failed: None,
            output: HashMap::new(),
        }
    }

    /// Reports `kind` for every vertex of `digest` not ended yet (started
    /// first when it was not).
    fn end(&mut self, digest: &str, kind: &EventKind, reporter: &dyn Reporter) {
        self.held.remove(digest);
        let Some(ids) = self.vertices.get(digest) else {
            return;
        };
        for &id in ids {
            if !self.ended.insert(id) {
                continue;
            }
            if self.started.insert(id) {
                reporter.event(Event {
                    vertex: id,
                    kind: EventKind::Started,
                });
            }
            reporter.event(Event {
                vertex: id,
                kind: kind.clone(),
            });
        }
    }

    fn update(&mut self, update: kiln_buildkit::StatusUpdate, reporter: &dyn Reporter) {
        for vertex in update.vertexes {
            let Some(ids) = self.vertices.get(&vertex.digest) else {
                continue;
            };
            if let Some(start) = &vertex.started {
                // What it reads is done.
                for input in &vertex.inputs {
                    if let Some(elapsed) = self.held.get(input).copied() {
                        self.end(input, &EventKind::Completed { elapsed }, reporter);
                    }
                }
                self.first_start
                    .entry(vertex.digest.clone())
                    .or_insert_with(|| nanos(start));
                for &id in ids {
                    if !self.ended.contains(&id) && self.started.insert(id) {
                        reporter.event(Event {
                            vertex: id,
                            kind: EventKind::Started,
                        });
                    }
                }
            }
            let Some(end) = &vertex.completed else {
                continue;
            };
            let began = self
                .first_start
                .get(&vertex.digest)
                .copied()
                .unwrap_or_else(|| nanos(end));
            let elapsed = Duration::from_nanos(u64::try_from(nanos(end) - began).unwrap_or(0));
            if vertex.cached {
                self.end(&vertex.digest, &EventKind::Cached, reporter);
            } else if vertex.error.contains("context canceled") {
                self.end(&vertex.digest, &EventKind::Canceled, reporter);
            } else if !vertex.error.is_empty() {
                if self.failed.is_none()
                    && let Some(&id) = ids.first()
                {
                    self.failed = Some((id, vertex.error.clone()));
                }
                let kind = EventKind::Failed {
                    message: vertex.error.clone(),
                    elapsed,
                };
                self.end(&vertex.digest, &kind, reporter);
            } else {
                self.held.insert(vertex.digest.clone(), elapsed);
            }
        }
        for log in update.logs {
            let Some(ids) = self.vertices.get(&log.vertex) else {
                continue;
            };
            let stream = match log.stream {
                2 => kiln_solver::Stream::Stderr,
                _ => kiln_solver::Stream::Stdout,
            };
            for &id in ids {
                let kept = self.output.entry(id).or_default();
                kept.extend_from_slice(&log.msg);
                if kept.len() > OUTPUT_KEPT {
                    kept.drain(..kept.len() - OUTPUT_KEPT);
                }
                reporter.event(Event {
                    vertex: id,
                    kind: EventKind::Log {
                        stream,
                        data: log.msg.clone(),
                    },
                });
            }
        }
    }

    /// The build ended: what completed is reported so, what started and
    /// did not end is canceled.
    fn finish(&mut self, reporter: &dyn Reporter) {
        let held: Vec<(String, Duration)> = self.held.drain().collect();
        for (digest, elapsed) in held {
            self.end(&digest, &EventKind::Completed { elapsed }, reporter);
        }
        let open: Vec<VertexId> = self.started.difference(&self.ended).copied().collect();
        for id in open {
            self.ended.insert(id);
            reporter.event(Event {
                vertex: id,
                kind: EventKind::Canceled,
            });
        }
    }

    /// The build's error: the step that failed (with its line and
    /// output), or the builder's message alone.
    fn failure(&self, graph: &Graph, message: String) -> BuildError {
        let Some((id, error)) = &self.failed else {
            return BuildError::Remote(message);
        };
        let vertex = graph.vertex(*id);
        BuildError::Solve(Box::new(SolveError::Failed {
            vertex: *id,
            name: vertex.name.clone(),
            line: vertex.line,
            source: WorkerError::Remote {
                message: error.clone(),
                output: self.output.get(id).cloned().unwrap_or_default(),
            },
        }))
    }
}

/// Base images through the builder: `ResolveImageConfig` (dockerd looks
/// in its own store first, as its Dockerfile frontend does).
struct RemoteResolver<'a> {
    build: &'a Build,
    pull: PullPolicy,
    /// The digests given to images the builder found in its store
    /// without a manifest digest.
    unpinned: Mutex<BTreeSet<String>>,
}

impl ImageResolver for RemoteResolver<'_> {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ResolvedImage, String> {
        let parsed = Reference::parse(reference)
            .map_err(|e| format!("invalid image reference {reference:?}: {e}"))?;
        let normalized = parsed.to_string();
        let mode = match self.pull {
            PullPolicy::Always => "pull",
            PullPolicy::Missing => "default",
            PullPolicy::Never => "local",
        };
        let wire = pb::Platform {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            ..pb::Platform::default()
        };
        let (digest, config) = self
            .build
            .resolve_image_config(&normalized, Some(wire), mode)
            .map_err(|e| format!("cannot resolve {normalized}: {e}"))?;
        let parsed_config = ImageConfig::from_json(&config)
            .map_err(|e| format!("image {normalized}: its config: {e}"))?;
        let digest = match digest.is_empty() {
            // Found in dockerd's store, which keeps no manifest for it:
            // named by its config, sent without a digest.
            true => {
                let digest = Digest::of(&config);
                if let Ok(mut unpinned) = self.unpinned.lock() {
                    unpinned.insert(digest.to_string());
                }
                digest
            }
            false => digest
                .parse::<Digest>()
                .map_err(|e| format!("image {normalized}: digest {digest:?}: {e}"))?,
        };
        Ok(ResolvedImage {
            reference: normalized,
            digest,
            config: parsed_config,
        })
    }
}

/// The session's secrets, ssh agents and registry credentials.
struct Provide {
    secrets: Secrets,
    ssh: SshAgents,
}

impl kiln_buildkit::Provider for Provide {
    fn secret(&self, id: &str) -> Result<Option<Vec<u8>>, String> {
        match self.secrets.get(id) {
            None => Ok(None),
            Some(secret) => secret.read().map(Some).map_err(|e| e.to_string()),
        }
    }

    fn ssh_agent(&self, id: &str) -> Option<std::path::PathBuf> {
        self.ssh.get(id).map(std::path::Path::to_path_buf)
    }

    fn credentials(&self, host: &str) -> Option<(String, String)> {
        // Docker Hub's credentials are kept under its index's URL.
        let key = match host {
            "registry-1.docker.io" | "docker.io" | "index.docker.io" => {
                "https://index.docker.io/v1/"
            }
            other => other,
        };
        match crate::registry::credentials::lookup(key) {
            Ok(Some(crate::registry::credentials::Credential::Basic { username, password })) => {
                Some((username, password))
            }
            Ok(Some(crate::registry::credentials::Credential::IdentityToken(token))) => {
                Some((String::new(), token))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(host, error = %e, "no credentials for the builder");
                None
            }
        }
    }
}
