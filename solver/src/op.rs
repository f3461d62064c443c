//! The operations a build graph is made of, as plain data.
//!
//! Every field here is part of a vertex's identity (its digest, see
//! [`crate::digest`]) unless its doc says otherwise: two vertices with equal
//! ops and equal inputs do the same work and are solved once. Paths inside
//! an image are absolute and already cleaned by the frontend; nothing here
//! names a host path except [`LocalSource::name`]'s meaning, which the
//! worker maps to a directory.

use crate::mode::SymbolicMode;
use kiln_oci::Digest;

/// One step of a build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// An empty root file system (`FROM scratch`). No inputs.
    Scratch,
    /// An image's root file system, pinned by the digest the frontend's
    /// resolver returned. No inputs.
    Image(ImageSource),
    /// Files from a local directory the build was handed (the context).
    /// No inputs.
    Local(LocalSource),
    /// One file fetched over HTTP(S) (`ADD URL`). No inputs.
    Http(HttpSource),
    /// A git repository's tree at one commit (`ADD git-ref`). No inputs.
    Git(GitSource),
    /// A process run over input 0's root file system; its changes are the
    /// output. Other inputs are referenced by its mounts.
    Exec(Exec),
    /// File operations applied, in order, on top of input 0's root file
    /// system; the changes are the output. Copies read other inputs.
    File(FileOp),
    /// The inputs' layers stacked in order, input 0 at the bottom, each
    /// later input's layers applied on top as they are (LLB's MergeOp, what
    /// `COPY --link` lowers to): a directory in a later layer replaces an
    /// earlier one's attributes and hides a symlink of the same path.
    /// Nothing runs; the result is the inputs' layers.
    Merge,
}

/// `FROM image`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSource {
    /// The reference as normalized (`docker.io/library/busybox:latest`).
    pub reference: String,
    /// The manifest digest it resolved to: a new digest is a new vertex.
    pub digest: Digest,
    /// The platform it was resolved for (`linux/amd64`).
    pub platform: String,
}

/// A local directory, filtered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalSource {
    /// Which directory: `context` for the build context.
    pub name: String,
    /// Only paths matching one of these (`.dockerignore` syntax, relative
    /// to the directory) are visible; empty means all.
    pub include: Vec<String>,
    /// Paths matching these are invisible (the `.dockerignore` patterns).
    pub exclude: Vec<String>,
}

/// A file fetched from a URL: its output holds the one file, `filename`,
/// owned by root with mode 0600 (BuildKit's HTTP source). The vertex names
/// the URL, not the content: the fetch runs on every build, and what
/// depends on it is keyed by the content fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSource {
    /// `http://` or `https://`.
    pub url: String,
    /// The file's name in the output.
    pub filename: String,
    /// `ADD --checksum`: the digest (`sha256:…`) the content must have.
    /// With it the content is known before the fetch, so a result made
    /// earlier may be reused without asking the server (as BuildKit does).
    pub checksum: Option<Digest>,
}

/// A git repository checked out at one commit, submodules included
/// (BuildKit's git source). The output's root is the checkout's root (or
/// `subdir` of it); files are owned by root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitSource {
    /// What `git` fetches from: `https://…`, `git://…`, `ssh://…` or
    /// `user@host:path`.
    pub remote: String,
    /// The branch, tag or commit to check out; empty for the remote's
    /// default branch (its `HEAD`).
    pub reference: String,
    /// Only this directory of the checkout (relative; empty for all).
    pub subdir: String,
    /// Keep the `.git` directory (`ADD --keep-git-dir=true`).
    pub keep_git_dir: bool,
    /// `ADD --checksum`: the commit the reference must resolve to.
    pub checksum: Option<String>,
}

/// A process in a sandbox (`RUN`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exec {
    /// argv.
    pub args: Vec<String>,
    /// `NAME=value` entries, in order.
    pub env: Vec<String>,
    /// Working directory (absolute).
    pub cwd: String,
    /// `user[:group]` as USER gave it (names resolved in the sandbox);
    /// empty means root.
    pub user: String,
    /// The network the process gets.
    pub network: NetworkMode,
    /// `RUN --security=insecure`: every capability, no seccomp filter and
    /// no masked paths (docker's `--privileged`). The build must allow it.
    pub insecure: bool,
    /// Extra mounts, in the order given.
    pub mounts: Vec<ExecMount>,
    /// `NAME=value` proxy variables (`HTTP_PROXY`…) from build args the
    /// Dockerfile did not declare: set for the process after `env`, but
    /// not part of the vertex digest or cache key, so changing a proxy
    /// invalidates nothing (as in BuildKit).
    pub proxy_env: Vec<String>,
    /// `RUN --device`: host devices the step gets. The build must allow
    /// it.
    pub devices: Vec<ExecDevice>,
    /// The platform the process runs as (`linux/arm64`, the stage's,
    /// normalized): a step for another CPU than the worker's runs under an
    /// emulator, and the same command for two platforms is two steps even
    /// on an empty root (LLB's `Op.platform`).
    pub platform: String,
}

/// A `RUN --device`: a host device node, at the same path in the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecDevice {
    /// The node's path, under `/dev/`.
    pub path: String,
    /// Fail the step when the host has no such device; otherwise the step
    /// runs without it (BuildKit's CDI `required` flag).
    pub required: bool,
}

/// `RUN --network`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// The build's default (what `kiln build --network` chose).
    #[default]
    Default,
    /// No network: only loopback.
    None,
    /// The host's network.
    Host,
}

/// A `RUN --mount`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecMount {
    /// A directory of another input, at `target`.
    Bind {
        /// Index into the vertex's inputs.
        input: usize,
        /// The directory or file inside that input (absolute).
        source: String,
        /// Where it appears (absolute).
        target: String,
        /// Refuse writes; otherwise writes go to a scratch layer that is
        /// dropped after the step (BuildKit's `rw`).
        readonly: bool,
    },
    /// A persistent cache directory kept in the store across builds.
    Cache {
        /// The cache's identity (defaults to the target in the frontend).
        id: String,
        /// Where it appears.
        target: String,
        /// How concurrent builds share it.
        sharing: CacheSharing,
        /// Owner of a newly created cache directory.
        uid: u32,
        /// Group of a newly created cache directory.
        gid: u32,
        /// Mode of a newly created cache directory.
        mode: u32,
        /// Refuse writes.
        readonly: bool,
        /// Seed a new cache from this input and path.
        from: Option<(usize, String)>,
    },
    /// An empty tmpfs.
    Tmpfs {
        /// Where it appears.
        target: String,
        /// Size limit in bytes (none: the kernel's default).
        size: Option<u64>,
    },
    /// A build secret. Only its id is part of the vertex: the secret's
    /// value never is, and never reaches a layer.
    Secret {
        /// Which `--secret`.
        id: String,
        /// File where it appears (none when only `env` is set).
        target: Option<String>,
        /// Expose it as this environment variable too.
        env: Option<String>,
        /// Fail when the secret was not given.
        required: bool,
        /// File owner.
        uid: u32,
        /// File group.
        gid: u32,
        /// File mode.
        mode: u32,
    },
    /// An SSH agent socket forwarded from the build's `--ssh` (BuildKit's
    /// `type=ssh`). The socket's path on the host is not part of the
    /// vertex.
    Ssh {
        /// Which `--ssh` (`default` unless named).
        id: String,
        /// Where the socket appears.
        target: String,
        /// Fail when the build was given no such `--ssh`.
        required: bool,
        /// Socket owner.
        uid: u32,
        /// Socket group.
        gid: u32,
        /// Socket mode.
        mode: u32,
    },
}

/// `sharing=` of a cache mount (BuildKit's `CacheMountSharingMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheSharing {
    /// Concurrent users share the directory.
    Shared,
    /// A second concurrent user gets its own directory.
    Private,
    /// A second concurrent user waits.
    Locked,
}

/// `COPY`, `ADD`, `WORKDIR` and heredoc files: actions run in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOp {
    /// The actions.
    pub actions: Vec<FileAction>,
}

/// One file action, applied to the root file system of input 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileAction {
    /// Copy paths of another input.
    Copy(Copy),
    /// Create a file with this content.
    Mkfile {
        /// Absolute path.
        path: String,
        /// Content.
        data: Vec<u8>,
        /// Permission bits.
        mode: u32,
        /// Owner (default root).
        owner: Option<Owner>,
    },
    /// Create a directory.
    Mkdir {
        /// Absolute path.
        path: String,
        /// Permission bits.
        mode: u32,
        /// Create missing parents (with the same owner, mode 0755).
        parents: bool,
        /// Owner (default root).
        owner: Option<Owner>,
    },
}

/// A copy, with BuildKit's `FileActionCopy` options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copy {
    /// Index into the vertex's inputs of the source file system.
    pub input: usize,
    /// Source paths in that input, possibly with wildcards, as written
    /// after expansion (a trailing `/` is kept: it matters).
    pub sources: Vec<String>,
    /// Destination, absolute; a trailing `/` means "into this directory".
    pub dest: String,
    /// New owner of everything copied (and of created parents).
    pub owner: Option<Owner>,
    /// New permission bits of everything copied.
    pub mode: Option<Mode>,
    /// Wildcards in sources are patterns.
    pub allow_wildcard: bool,
    /// A pattern may match nothing (the copy then does nothing for it, as
    /// BuildKit's).
    pub allow_empty_wildcard: bool,
    /// Follow a symlink named as a source (not the ones below it).
    pub follow_symlinks: bool,
    /// A source directory's contents are copied, not the directory.
    pub dir_contents_only: bool,
    /// Create the destination's missing parents.
    pub create_dest_path: bool,
    /// Extract local tar archives (`ADD`).
    pub unpack_archives: bool,
    /// Source paths matching these are skipped (`COPY --exclude`).
    pub exclude: Vec<String>,
    /// Keep the source's directory structure (`COPY --parents`).
    pub parents: bool,
}

impl Copy {
    /// A copy of the one path `source` (no patterns; a symlink named there
    /// followed; a directory's contents copied) of input `input` to `dest`,
    /// missing parents created, owners and modes kept.
    pub fn one_path(input: usize, source: &str, dest: &str) -> Copy {
        Copy {
            input,
            sources: vec![source.to_string()],
            dest: dest.to_string(),
            owner: None,
            mode: None,
            allow_wildcard: false,
            allow_empty_wildcard: false,
            follow_symlinks: true,
            dir_contents_only: true,
            create_dest_path: true,
            unpack_archives: false,
            exclude: Vec::new(),
            parents: false,
        }
    }
}

/// `--chown` as written: numbers, or names resolved against the
/// destination's `/etc/passwd` and `/etc/group` when the action runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The user.
    pub user: IdOrName,
    /// The group; none means the user's primary group (or the same id).
    pub group: Option<IdOrName>,
}

/// A numeric id or a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdOrName {
    /// Numeric.
    Id(u32),
    /// A name to resolve.
    Name(String),
}

/// `--chmod`: octal bits, or a symbolic mode applied per file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Octal permission bits.
    Octal(u32),
    /// Symbolic (`u+x,g-w`), parsed; directories get `X` rules.
    Symbolic(SymbolicMode),
}
