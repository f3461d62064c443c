//! kiln's build graph as BuildKit's LLB: the `pb.Definition` a BuildKit
//! solves (`solver/pb/ops.proto`, through the maintained generated types
//! of `bollard-buildkit-proto`), so that a build lowered by kiln's
//! frontend can run on a BuildKit instead of the local worker.
//!
//! Boundary: graph in, definition out; no network, no session, no store.
//! The backend that sends the definition serves what its sources name (the
//! `local://` directories over the session whose id [`Options`] carries).
//!
//! The mapping, op by op (what BuildKit's own `client/llb` package makes
//! for the same Dockerfile):
//!
//! - `Scratch` is no op: an input or mount on it is input `-1` (empty).
//! - `Image` → a source `docker-image://REF@DIGEST` with the platform it
//!   was resolved for; `Local` → `local://NAME` with `local.*` attributes:
//!   one source per directory for the whole build, as the Dockerfile
//!   frontend makes it (the paths any step reads as `local.followpaths`,
//!   the exclude patterns, the session, a shared key hint), whatever the
//!   step's own selection: kiln keys a step by the files it selects, and
//!   BuildKit by the copy's own source path; `Http` → the URL with `http.filename` (and
//!   `http.checksum`); `Git` → `git://HOST/PATH#REF[:SUBDIR]` with
//!   `git.fullurl` (and `git.keepgitdir`).
//! - `Exec` → an `ExecOp`: the root mount is input 0 at `/` with output 0;
//!   every other mount has no output (changes to them are dropped, as the
//!   Dockerfile frontend's `ForceNoOutput`); cache, tmpfs, secret and ssh
//!   mounts have their types and options; an environment-only secret is a
//!   `SecretEnv`; proxy variables go to `ProxyEnv`, outside the cache key;
//!   the op's platform is the step's.
//! - `File` → a `FileOp` whose actions are chained (each works on the
//!   previous one's output; the last is output 0); a COPY of several
//!   sources is one copy action per source; timestamps are left to
//!   BuildKit (`-1`).
//! - `Merge` → a `MergeOp` of the inputs in order.
//!
//! The definition lists every op the target needs once, inputs before
//! users, each by the sha256 of its marshalled bytes (prost writes fields
//! in tag order and maps sorted, as BuildKit's stable marshaler), with the
//! step's name as `llb.customname`, and ends with BuildKit's terminal op:
//! no op, one input, the target.
//!
//! What LLB cannot express is an [`Error::Unsupported`] naming the
//! feature, before anything is sent.

pub mod caps;

use bollard_buildkit_proto::pb;
use kiln_solver::{
    CacheSharing, Copy, ExecMount, FileAction, FileOp, Graph, IdOrName, Mode, NetworkMode, Op,
    Owner, VertexId,
};
use prost::Message as _;
use std::collections::{BTreeMap, HashSet};

/// What the definition depends on besides the graph.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The session the builder reads local directories through
    /// (`local.session`).
    pub session: String,
    /// Vertices (by index) whose cached results must not be used
    /// (`--no-cache`, `--no-cache-filter`): BuildKit's `ignore_cache`.
    pub ignore_cache: std::collections::BTreeSet<usize>,
    /// Images the builder resolved from its own store, which has no
    /// manifest digest for them (dockerd's images made by `docker load` or
    /// `docker import`): their sources name the reference alone, as the
    /// Dockerfile frontend names an image dockerd resolved locally. Keyed
    /// by the digest the graph holds for them.
    pub unpinned: std::collections::BTreeSet<String>,
    /// The network of RUN steps that choose none: the build's `--network`
    /// (the Dockerfile frontend's `force-network-mode`); `Default` leaves
    /// them in the builder's sandbox network.
    pub default_network: NetworkMode,
}

/// Why a graph has no LLB form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A step uses something LLB has no way to say.
    #[error("{what} (line {line}) cannot run on a BuildKit: {why}")]
    Unsupported {
        /// The step, as progress names it.
        what: String,
        /// Its Dockerfile line (0: none).
        line: usize,
        /// What it uses and why LLB cannot carry it.
        why: String,
    },
}

/// The attribute naming a step in BuildKit's progress.
const CUSTOM_NAME: &str = "llb.customname";

/// A lowered definition: the protobuf, and each vertex's op digest (for
/// matching BuildKit's progress to kiln's vertices).
#[derive(Debug, Clone)]
pub struct Lowered {
    /// The definition to solve.
    pub definition: pb::Definition,
    /// The op digest of each vertex the target needs (`None`: not needed,
    /// or scratch).
    pub digests: Vec<Option<String>>,
}

/// Lowers what `target` needs of `graph`.
pub fn lower(graph: &Graph, target: VertexId, options: &Options) -> Result<Lowered, Error> {
    let needed = needed(graph, target);
    let follow = follow_paths(graph, &needed);
    let mut digests: Vec<Option<String>> = vec![None; graph.len()];
    let mut definition = pb::Definition::default();
    let mut seen: HashSet<String> = HashSet::new();
    for (id, vertex) in graph.iter() {
        if !needed[id.0] || matches!(vertex.op, Op::Scratch) {
            continue;
        }
        let mut helpers = Vec::new();
        let op = lower_vertex(graph, id, &digests, &follow, options, &mut helpers)?;
        let ignore_cache = options.ignore_cache.contains(&id.0);
        for (helper, name) in helpers {
            add_op(&mut definition, &mut seen, &helper, name, ignore_cache);
        }
        let digest = add_op(&mut definition, &mut seen, &op, &vertex.name, ignore_cache);
        digests[id.0] = Some(digest);
    }
    // An empty result (a scratch target: nothing was added) is an empty
    // definition, as BuildKit's `State.Marshal` makes it: a terminal op
    // without an edge is refused.
    if digests[target.0].is_none() {
        return Ok(Lowered {
            definition,
            digests,
        });
    }
    // BuildKit's terminal op: nothing but the result's edge.
    let terminal = pb::Op {
        inputs: digests[target.0]
            .iter()
            .map(|digest| pb::Input {
                digest: digest.clone(),
                index: 0,
            })
            .collect(),
        ..pb::Op::default()
    };
    definition.def.push(terminal.encode_to_vec());
    Ok(Lowered {
        definition,
        digests,
    })
}

/// Adds `op` (once) with its name; its digest.
fn add_op(
    definition: &mut pb::Definition,
    seen: &mut HashSet<String>,
    op: &pb::Op,
    name: &str,
    ignore_cache: bool,
) -> String {
    let bytes = op.encode_to_vec();
    let digest = kiln_oci::Digest::of(&bytes).to_string();
    if seen.insert(digest.clone()) {
        definition.def.push(bytes);
        let mut description = BTreeMap::new();
        description.insert(CUSTOM_NAME.to_string(), name.to_string());
        definition.metadata.insert(
            digest.clone(),
            pb::OpMetadata {
                description,
                ignore_cache,
                ..pb::OpMetadata::default()
            },
        );
    }
    digest
}

/// Which vertices `target` needs: it and its inputs, transitively.
fn needed(graph: &Graph, target: VertexId) -> Vec<bool> {
    let mut needed = vec![false; graph.len()];
    let mut todo = vec![target];
    while let Some(id) = todo.pop() {
        if std::mem::replace(&mut needed[id.0], true) {
            continue;
        }
        todo.extend(graph.vertex(id).inputs.iter().copied());
    }
    needed
}

/// The paths each local directory (by name) is read at, as BuildKit's
/// `local.followpaths`: one source per directory for the whole build,
/// sending what any step reads (`normalizeContextPaths`: the paths
/// relative, sorted, none when a step reads all of it).
fn follow_paths(graph: &Graph, needed: &[bool]) -> BTreeMap<String, Option<Vec<String>>> {
    let mut follow: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
    for (id, vertex) in graph.iter() {
        let Op::Local(local) = &vertex.op else {
            continue;
        };
        if !needed[id.0] {
            continue;
        }
        let entry = follow
            .entry(local.name.clone())
            .or_insert_with(|| Some(Vec::new()));
        let whole = local.include.is_empty()
            || local
                .include
                .iter()
                .any(|p| matches!(p.trim_matches('/'), "" | "."));
        match (whole, entry.as_mut()) {
            (true, _) => *entry = None,
            (false, Some(paths)) => paths.extend(local.include.iter().map(|p| {
                p.trim_start_matches("./")
                    .trim_start_matches('/')
                    .to_string()
            })),
            (false, None) => {}
        }
    }
    for paths in follow.values_mut().flatten() {
        paths.sort();
        paths.dedup();
    }
    follow
}

/// One vertex's op: its non-scratch inputs as edges, kiln's input indexes
/// mapped to LLB's (`-1` for scratch).
fn lower_vertex(
    graph: &Graph,
    id: VertexId,
    digests: &[Option<String>],
    follow: &BTreeMap<String, Option<Vec<String>>>,
    options: &Options,
    helpers: &mut Vec<(pb::Op, &'static str)>,
) -> Result<pb::Op, Error> {
    let vertex = graph.vertex(id);
    let mut inputs = Vec::new();
    let mut index_of = Vec::new();
    for input in &vertex.inputs {
        match &digests[input.0] {
            Some(digest) => {
                index_of.push(inputs.len() as i64);
                inputs.push(pb::Input {
                    digest: digest.clone(),
                    index: 0,
                });
            }
            None => index_of.push(-1),
        }
    }
    let unsupported = |why: String| Error::Unsupported {
        what: vertex.name.clone(),
        line: vertex.line.unwrap_or(0),
        why,
    };
    let map = |i: usize| index_of.get(i).copied().unwrap_or(-1);
    let mut platform = None;
    let op = match &vertex.op {
        Op::Scratch => unreachable!("scratch vertices are skipped"),
        Op::Image(image) => {
            platform = to_platform(&image.platform);
            // Normalized as BuildKit writes it (`docker.io/library/…`).
            let reference = kiln_oci::Reference::parse(&image.reference)
                .map_or_else(|_| image.reference.clone(), |r| r.to_string());
            let identifier = match options.unpinned.contains(&image.digest.to_string()) {
                true => format!("docker-image://{reference}"),
                false => format!("docker-image://{reference}@{}", image.digest),
            };
            source(identifier, BTreeMap::new())
        }
        Op::Local(local) => {
            let mut attrs = BTreeMap::new();
            let json = |list: &[String]| serde_json::to_string(list).unwrap_or_default();
            if let Some(Some(paths)) = follow.get(&local.name) {
                attrs.insert("local.followpaths".into(), json(paths));
            }
            if !local.exclude.is_empty() {
                attrs.insert("local.excludepatterns".into(), json(&local.exclude));
            }
            attrs.insert("local.session".into(), options.session.clone());
            attrs.insert("local.sharedkeyhint".into(), local.name.clone());
            source(format!("local://{}", local.name), attrs)
        }
        Op::Http(http) => {
            let mut attrs = BTreeMap::new();
            attrs.insert("http.filename".into(), http.filename.clone());
            if let Some(checksum) = &http.checksum {
                attrs.insert("http.checksum".into(), checksum.to_string());
            }
            source(http.url.clone(), attrs)
        }
        Op::Git(git) => {
            let mut attrs = BTreeMap::new();
            attrs.insert("git.fullurl".into(), git.remote.clone());
            if git.keep_git_dir {
                attrs.insert("git.keepgitdir".into(), "true".into());
            }
            if let Some(checksum) = &git.checksum {
                attrs.insert("git.checksum".into(), checksum.clone());
            }
            // What BuildKit's `llb.Git` always asks for: the token and
            // header secrets it authenticates HTTP remotes with (when the
            // session has them), and the default ssh agent for ssh ones.
            attrs.insert("git.authtokensecret".into(), "GIT_AUTH_TOKEN".into());
            attrs.insert("git.authheadersecret".into(), "GIT_AUTH_HEADER".into());
            let (host, path, ssh) = git_remote(&git.remote);
            if ssh {
                attrs.insert("git.mountsshsock".into(), "default".into());
            }
            let mut identifier = format!("git://{host}{path}");
            if !git.reference.is_empty() || !git.subdir.is_empty() {
                identifier.push('#');
                identifier.push_str(&git.reference);
            }
            if !git.subdir.is_empty() {
                identifier.push(':');
                identifier.push_str(&git.subdir);
            }
            source(identifier, attrs)
        }
        Op::Exec(exec) => {
            platform = to_platform(&exec.platform);
            pb::op::Op::Exec(
                exec_op(exec, options.default_network, &map, &mut inputs, helpers)
                    .map_err(unsupported)?,
            )
        }
        Op::File(file) => pb::op::Op::File(file_op(file, &map, inputs.len()).map_err(unsupported)?),
        Op::Merge => pb::op::Op::Merge(pb::MergeOp {
            inputs: (0..vertex.inputs.len())
                .map(map)
                .filter(|i| *i >= 0)
                .map(|input| pb::MergeInput { input })
                .collect(),
        }),
    };
    Ok(pb::Op {
        inputs,
        platform,
        // BuildKit's `MarshalConstraints` writes an empty one on every op.
        constraints: Some(pb::WorkerConstraints::default()),
        op: Some(op),
    })
}

/// A git remote's host, its path (absolute, cleaned) and whether it is
/// reached over ssh: `https://user:pw@host/a/b.git`, `ssh://git@host/a`,
/// `git@host:a/b.git` (scp style). The identifier BuildKit's `llb.Git`
/// makes keeps neither scheme nor credentials.
fn git_remote(remote: &str) -> (String, String, bool) {
    let (scheme, rest) = match remote.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, remote),
    };
    let (host_part, path) = match scheme {
        Some(_) => rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p)),
        // scp style: user@host:path
        None => rest.split_once(':').map_or((rest, ""), |(h, p)| (h, p)),
    };
    let host = host_part.rsplit_once('@').map_or(host_part, |(_, h)| h);
    let mut clean = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    let ssh = scheme.is_none_or(|s| s == "ssh" || s == "git+ssh");
    (host.to_string(), format!("/{}", clean.join("/")), ssh)
}

fn source(identifier: String, attrs: BTreeMap<String, String>) -> pb::op::Op {
    pb::op::Op::Source(pb::SourceOp { identifier, attrs })
}

/// A platform as the graph writes it (`linux/arm64`), in LLB's form.
fn to_platform(text: &str) -> Option<pb::Platform> {
    let platform = kiln_oci::Platform::parse(text).ok()?;
    Some(pb::Platform {
        architecture: platform.architecture,
        os: platform.os,
        variant: platform.variant,
        os_version: platform.os_version,
        os_features: platform.os_features,
    })
}

fn exec_op(
    exec: &kiln_solver::Exec,
    default_network: NetworkMode,
    map: &dyn Fn(usize) -> i64,
    inputs: &mut Vec<pb::Input>,
    helpers: &mut Vec<(pb::Op, &'static str)>,
) -> Result<pb::ExecOp, String> {
    if !exec.devices.is_empty() {
        return Err(
            "RUN --device names host devices, and BuildKit takes CDI device names".to_string(),
        );
    }
    let mut proxy = pb::ProxyEnv::default();
    for entry in &exec.proxy_env {
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        let slot = match name.to_ascii_lowercase().as_str() {
            "http_proxy" => &mut proxy.http_proxy,
            "https_proxy" => &mut proxy.https_proxy,
            "ftp_proxy" => &mut proxy.ftp_proxy,
            "no_proxy" => &mut proxy.no_proxy,
            "all_proxy" => &mut proxy.all_proxy,
            _ => continue,
        };
        *slot = value.to_string();
    }
    let mut mounts = vec![pb::Mount {
        input: map(0),
        dest: "/".into(),
        output: 0,
        ..pb::Mount::default()
    }];
    let mut secretenv = Vec::new();
    for mount in &exec.mounts {
        match mount {
            ExecMount::Bind {
                input,
                source,
                target,
                readonly,
            } => mounts.push(pb::Mount {
                input: map(*input),
                // The whole input: no selector (one would make BuildKit
                // hash the input's content for the key).
                selector: match source.as_str() {
                    "/" => String::new(),
                    path => path.to_string(),
                },
                dest: target.clone(),
                output: -1,
                readonly: *readonly,
                mount_type: pb::MountType::Bind as i32,
                ..pb::Mount::default()
            }),
            ExecMount::Cache {
                id,
                target,
                sharing,
                readonly,
                from,
                uid,
                gid,
                mode,
            } => {
                let (mut input, mut selector) = match from {
                    Some((input, path)) => (map(*input), path.clone()),
                    None => (-1, String::new()),
                };
                // dockerfile2llb's `setCacheUIDGID`: a cache directory
                // of another owner or mode than root's 0755 is made by a
                // file op first (on the `from` input, or on nothing), and
                // the mount reads its `/cache`.
                if (*uid, *gid, *mode) != (0, 0, 0o755) && matches!(selector.as_str(), "" | "/") {
                    let base = usize::try_from(input)
                        .ok()
                        .and_then(|i| inputs.get(i).cloned());
                    let helper = cache_permissions(base, *uid, *gid, *mode);
                    let digest = kiln_oci::Digest::of(&helper.encode_to_vec()).to_string();
                    helpers.push((helper, "[internal] setting cache mount permissions"));
                    inputs.push(pb::Input { digest, index: 0 });
                    input = (inputs.len() - 1) as i64;
                    selector = "/cache".to_string();
                }
                mounts.push(pb::Mount {
                    input,
                    selector,
                    dest: target.clone(),
                    output: -1,
                    readonly: *readonly,
                    mount_type: pb::MountType::Cache as i32,
                    cache_opt: Some(pb::CacheOpt {
                        // dockerfile2llb: the build's cache namespace
                        // (empty) and `/` before the id.
                        id: format!("/{id}"),
                        sharing: match sharing {
                            CacheSharing::Shared => pb::CacheSharingOpt::Shared,
                            CacheSharing::Private => pb::CacheSharingOpt::Private,
                            CacheSharing::Locked => pb::CacheSharingOpt::Locked,
                        } as i32,
                    }),
                    ..pb::Mount::default()
                });
            }
            ExecMount::Tmpfs { target, size } => mounts.push(pb::Mount {
                tmpfs_opt: Some(pb::TmpfsOpt {
                    size: size.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX)),
                }),
                ..mount_of_nothing(target, pb::MountType::Tmpfs)
            }),
            ExecMount::Secret {
                id,
                target,
                env,
                required,
                uid,
                gid,
                mode,
            } => {
                if let Some(name) = env {
                    secretenv.push(pb::SecretEnv {
                        id: id.clone(),
                        name: name.clone(),
                        optional: !required,
                    });
                }
                if let Some(target) = target {
                    mounts.push(pb::Mount {
                        secret_opt: Some(pb::SecretOpt {
                            id: id.clone(),
                            uid: *uid,
                            gid: *gid,
                            mode: *mode,
                            optional: !required,
                        }),
                        ..mount_of_nothing(target, pb::MountType::Secret)
                    });
                }
            }
            ExecMount::Ssh {
                id,
                target,
                required,
                uid,
                gid,
                mode,
            } => mounts.push(pb::Mount {
                ssh_opt: Some(pb::SshOpt {
                    id: id.clone(),
                    uid: *uid,
                    gid: *gid,
                    mode: *mode,
                    optional: !required,
                }),
                ..mount_of_nothing(target, pb::MountType::Ssh)
            }),
        }
    }
    // BuildKit's `ExecOp.Marshal`: mounts sorted by target (stable), then
    // the secrets, then the ssh sockets.
    let rank = |m: &pb::Mount| match m.mount_type {
        t if t == pb::MountType::Secret as i32 => 1,
        t if t == pb::MountType::Ssh as i32 => 2,
        _ => 0,
    };
    mounts.sort_by_key(|m| match rank(m) {
        0 => (0, m.dest.clone()),
        other => (other, String::new()),
    });
    Ok(pb::ExecOp {
        meta: Some(pb::Meta {
            args: exec.args.clone(),
            env: exec.env.clone(),
            cwd: exec.cwd.clone(),
            user: exec.user.clone(),
            proxy_env: (proxy != pb::ProxyEnv::default()).then_some(proxy),
            // Parent directories made as mount stubs go too (BuildKit
            // always asks; older BuildKits ignore the field).
            remove_mount_stubs_recursive: true,
            ..pb::Meta::default()
        }),
        mounts,
        network: match exec.network {
            NetworkMode::Default => match default_network {
                NetworkMode::Host => pb::NetMode::Host,
                NetworkMode::None => pb::NetMode::None,
                NetworkMode::Default => pb::NetMode::Unset,
            },
            NetworkMode::Host => pb::NetMode::Host,
            NetworkMode::None => pb::NetMode::None,
        } as i32,
        security: match exec.insecure {
            true => pb::SecurityMode::Insecure,
            false => pb::SecurityMode::Sandbox,
        } as i32,
        secretenv,
        cdi_devices: Vec::new(),
    })
}

/// A mount of no input that makes no output (tmpfs, secret, ssh) at
/// `dest`; the caller adds its options.
fn mount_of_nothing(dest: &str, kind: pb::MountType) -> pb::Mount {
    pb::Mount {
        input: -1,
        dest: dest.to_string(),
        output: -1,
        mount_type: kind as i32,
        ..pb::Mount::default()
    }
}

/// The file op that makes a cache mount's directory `/cache` with its
/// owner and mode, on `base` (or on nothing).
fn cache_permissions(base: Option<pb::Input>, uid: u32, gid: u32, mode: u32) -> pb::Op {
    let id = |id: u32| pb::UserOpt {
        user: Some(pb::user_opt::User::ById(id)),
    };
    let action = pb::FileAction {
        input: if base.is_some() { 0 } else { -1 },
        secondary_input: -1,
        output: 0,
        action: Some(pb::file_action::Action::Mkdir(pb::FileActionMkDir {
            path: "/cache".into(),
            mode: mode as i32,
            make_parents: false,
            owner: Some(pb::ChownOpt {
                user: Some(id(uid)),
                group: Some(id(gid)),
            }),
            timestamp: -1,
        })),
    };
    pb::Op {
        inputs: base.into_iter().collect(),
        platform: None,
        constraints: Some(pb::WorkerConstraints::default()),
        op: Some(pb::op::Op::File(pb::FileOp {
            actions: vec![action],
        })),
    }
}

/// The file op: its actions chained, one copy action per source.
fn file_op(file: &FileOp, map: &dyn Fn(usize) -> i64, inputs: usize) -> Result<pb::FileOp, String> {
    let mut actions: Vec<pb::file_action::Action> = Vec::new();
    let mut secondary: Vec<i64> = Vec::new();
    for action in &file.actions {
        match action {
            FileAction::Copy(copy) => {
                if copy.parents {
                    return Err(
                        "COPY --parents has no form in the LLB this client speaks".to_string()
                    );
                }
                for source in &copy.sources {
                    actions.push(pb::file_action::Action::Copy(copy_action(
                        copy,
                        source,
                        map(0),
                    )));
                    secondary.push(map(copy.input));
                }
            }
            FileAction::Mkfile {
                path,
                data,
                mode,
                owner,
            } => {
                actions.push(pb::file_action::Action::Mkfile(pb::FileActionMkFile {
                    path: path.clone(),
                    mode: *mode as i32,
                    data: data.clone(),
                    owner: owner.as_ref().map(|o| chown(o, map(0))),
                    timestamp: -1,
                }));
                secondary.push(-1);
            }
            FileAction::Mkdir {
                path,
                mode,
                parents,
                owner,
            } => {
                actions.push(pb::file_action::Action::Mkdir(pb::FileActionMkDir {
                    path: path.clone(),
                    mode: *mode as i32,
                    make_parents: *parents,
                    owner: owner.as_ref().map(|o| chown(o, map(0))),
                    timestamp: -1,
                }));
                secondary.push(-1);
            }
        }
    }
    let last = actions.len().saturating_sub(1);
    let actions = actions
        .into_iter()
        .zip(secondary)
        .enumerate()
        .map(|(i, (action, secondary_input))| pb::FileAction {
            // The first acts on input 0 (or nothing: scratch); each later
            // one on the previous action's output, numbered after the
            // op's inputs.
            input: match i {
                0 => map(0),
                _ => (inputs + i - 1) as i64,
            },
            secondary_input,
            output: if i == last { 0 } else { -1 },
            action: Some(action),
        })
        .collect();
    Ok(pb::FileOp { actions })
}

fn copy_action(copy: &Copy, source: &str, base: i64) -> pb::FileActionCopy {
    let (mode, mode_str) = match &copy.mode {
        None => (-1, String::new()),
        Some(Mode::Octal(bits)) => (*bits as i32, String::new()),
        Some(Mode::Symbolic(symbolic)) => (-1, symbolic.to_string()),
    };
    pb::FileActionCopy {
        src: source.to_string(),
        dest: copy.dest.clone(),
        owner: copy.owner.as_ref().map(|o| chown(o, base)),
        mode,
        follow_symlink: copy.follow_symlinks,
        dir_copy_contents: copy.dir_contents_only,
        attempt_unpack_docker_compatibility: copy.unpack_archives,
        create_dest_path: copy.create_dest_path,
        allow_wildcard: copy.allow_wildcard,
        allow_empty_wildcard: copy.allow_empty_wildcard,
        timestamp: -1,
        include_patterns: Vec::new(),
        exclude_patterns: copy.exclude.clone(),
        always_replace_existing_dest_paths: false,
        mode_str,
        required_paths: Vec::new(),
    }
}

/// `--chown`: names are resolved in the destination, the op's base input
/// `base` (BuildKit's `UserOpt.marshal(base)`, for every action of the
/// chain).
fn chown(owner: &Owner, base: i64) -> pb::ChownOpt {
    let user = |who: &IdOrName| pb::UserOpt {
        user: Some(match who {
            IdOrName::Id(id) => pb::user_opt::User::ById(*id),
            IdOrName::Name(name) => pb::user_opt::User::ByName(pb::NamedUserOpt {
                name: name.clone(),
                input: base,
            }),
        }),
    };
    pb::ChownOpt {
        user: Some(user(&owner.user)),
        group: owner.group.as_ref().map(user),
    }
}

#[cfg(test)]
mod tests;
