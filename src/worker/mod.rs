//! The worker: kiln's implementation of the solver's [`kiln_solver::Worker`]
//! with the runtime and the store. It turns each vertex into a result:
//! images into their unpacked layers, the context into a filtered view,
//! RUN into a sandbox whose upper directory becomes a layer, COPY/ADD/
//! WORKDIR into file operations on an overlay whose upper directory
//! becomes a layer. Steps go through the build cache first
//! ([`cache`]).

mod cache;
mod cache_mounts;
mod context_view;
pub(crate) mod copy;
mod exec;
mod file;
mod git;
mod http;
mod layers;
pub(crate) mod previous;
mod secrets;
mod sources;
mod ssh_agent;

pub(crate) use cache::{BuildCache, CachePolicy};
pub(crate) use layers::{Layer, Output, lowers};
pub(crate) use secrets::{Secret, Secrets};
pub(crate) use ssh_agent::SshAgents;

use kiln_cache::{Store, StoreError};
use kiln_runtime::Network;
use kiln_solver::{Job, Op, Solved};
use std::path::PathBuf;

/// Why a vertex failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WorkerError {
    /// The step's command exited non-zero.
    #[error("process \"{}\" did not complete successfully: exit code: {code}", command.join(" "))]
    Exec {
        /// argv.
        command: Vec<String>,
        /// Its exit code (128+n for a signal).
        code: i32,
        /// The last lines it printed.
        output: Vec<u8>,
    },
    /// The sandbox could not start.
    #[error("{0}")]
    Start(String),
    /// A store operation failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file-system operation failed.
    #[error("{message}: {source}")]
    Io {
        /// What was being done.
        message: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A layer could not be written.
    #[error("cannot write the layer: {0}")]
    Layer(String),
    /// COPY/ADD failed.
    #[error(transparent)]
    Copy(#[from] copy::CopyError),
    /// `ADD URL` could not fetch the URL (the step, which the error is
    /// reported with, is named by the URL).
    #[error("cannot fetch the URL: {0}")]
    Fetch(String),
    /// `ADD` of a git reference failed (the step is named by the source).
    #[error("cannot fetch the git repository: {0}")]
    Git(String),
    /// A secret is missing or unreadable.
    #[error("{0}")]
    Secret(String),
    /// The graph asked for something impossible.
    #[error("{0}")]
    Graph(String),
    /// The build was canceled while the step ran.
    #[error("canceled")]
    Canceled,
}

/// Runs vertices for one build.
pub(crate) struct Worker {
    pub store: Store,
    /// The context directory.
    pub context: PathBuf,
    /// `--secret`s.
    pub secrets: Secrets,
    /// `--ssh` agents.
    pub ssh: SshAgents,
    /// The network of RUN steps that do not choose one.
    pub network: Network,
    /// Where sandboxes live.
    pub sandboxes: PathBuf,
    /// The build cache: policy, stat cache, trail.
    pub cache: BuildCache,
}

impl WorkerError {
    /// A failed file-system operation: `message` says what was being done.
    pub(crate) fn io(message: impl Into<String>, source: std::io::Error) -> WorkerError {
        WorkerError::Io {
            message: message.into(),
            source,
        }
    }
}

/// Creates `path` and its missing parents.
pub(crate) fn create_dir(path: &std::path::Path) -> Result<(), WorkerError> {
    std::fs::create_dir_all(path)
        .map_err(|e| WorkerError::io(format!("cannot create {}", path.display()), e))
}

/// Gives `path` exactly this owner and mode (special bits included,
/// whatever the umask).
pub(crate) fn set_owner_and_mode(
    path: &std::path::Path,
    uid: u32,
    gid: u32,
    mode: u32,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
}

/// A writable overlay of `lowers` (topmost first) whose changes go to
/// `upper`, with its work directory (and, for an empty file system, an
/// empty lower) made under `scratch` with names ending in `tag`.
pub(crate) fn writable_view(
    scratch: &std::path::Path,
    tag: &str,
    mut lowers: Vec<PathBuf>,
    upper: PathBuf,
) -> Result<kiln_runtime::view::View, WorkerError> {
    let work = scratch.join(format!("work-{tag}"));
    create_dir(&work)?;
    create_dir(&upper)?;
    if lowers.is_empty() {
        // overlayfs needs a lower: an empty directory is an empty image.
        let empty = scratch.join(format!("empty-{tag}"));
        create_dir(&empty)?;
        lowers.push(empty);
    }
    Ok(kiln_runtime::view::View::Writable {
        lowers,
        upper,
        work,
    })
}

impl kiln_solver::Worker for Worker {
    type Output = Output;
    type Error = WorkerError;

    fn solve(&self, job: &Job<'_, Output>) -> Result<Solved<Output>, WorkerError> {
        let output = match &job.vertex.op {
            Op::Scratch => Output::Layers(Default::default()),
            Op::Image(image) => {
                // Its digest goes into the trail, for `--explain` to name
                // a changed base.
                self.note_source(job);
                self.image(image)?
            }
            Op::Local(local) => self.local(local)?,
            Op::Http(http) => self.http(job, http)?,
            Op::Git(git) => self.git(job, git)?,
            Op::Exec(_) | Op::File(_) => return self.cached(job),
        };
        Ok(Solved::Done(output))
    }
}

impl Worker {
    /// A fresh directory under the store's `tmp/`, removed when dropped.
    pub(crate) fn scratch_dir(&self) -> Result<tempfile::TempDir, WorkerError> {
        let tmp = self.store.root().join("tmp");
        tempfile::Builder::new()
            .prefix("step-")
            .tempdir_in(&tmp)
            .map_err(|e| {
                WorkerError::io(format!("cannot create a directory in {}", tmp.display()), e)
            })
    }

    /// Runs `f` on a read-only view of `layers` (mounted in a private
    /// mount namespace for the call; an empty stack is an empty
    /// directory). `what` names the view in a mount error.
    pub(crate) fn on_layers<T: Send>(
        &self,
        layers: &[Layer],
        what: &str,
        f: impl FnOnce(&std::path::Path) -> T + Send,
    ) -> Result<T, WorkerError> {
        let scratch = self.scratch_dir()?;
        let point = scratch.path().join("view");
        create_dir(&point)?;
        let lowers = lowers(layers);
        if lowers.is_empty() {
            return Ok(f(&point));
        }
        let views = [(kiln_runtime::view::View::ReadOnly { lowers }, point.clone())];
        kiln_runtime::view::with_views(&views, || f(&point))
            .map_err(|e| WorkerError::io(format!("cannot mount {what}"), e))
    }

    /// A fresh empty directory under the store's `tmp/` that stays (a
    /// directory can be renamed onto it, replacing it).
    pub(crate) fn scratch_path(&self) -> Result<PathBuf, WorkerError> {
        Ok(self.scratch_dir()?.keep())
    }
}
