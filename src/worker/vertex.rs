//! The [`Worker`]: one build's store, context, secrets and cache, and
//! kiln's implementation of [`kiln_solver::Worker`] over them: which op
//! goes where (sources here, steps through the build cache).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_cache::Store;
use kiln_solver::{Job, Op, Solved};

use super::cache::BuildCache;
use super::dirs::create_dir;
use super::error::WorkerError;
use super::layers::Output;
use super::network::Networks;
use super::secrets::Secrets;
use super::ssh_agent::SshAgents;
use crate::export::{Layer, lowers};

/// Runs vertices for one build.
pub(crate) struct Worker {
    pub store: Store,
    /// The context directory.
    pub context: PathBuf,
    /// `--secret`s.
    pub secrets: Secrets,
    /// `--ssh` agents.
    pub ssh: SshAgents,
    /// The networks of RUN steps.
    pub networks: Networks,
    /// Where sandboxes live.
    pub sandboxes: PathBuf,
    /// The build cache: policy, stat cache, trail.
    pub cache: BuildCache,
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
            Op::Merge => {
                let mut layers = job.inputs[0].layers()?.to_vec();
                for input in &job.inputs[1..] {
                    layers = super::layers::stack(&self.store, &layers, input.layers()?)?;
                }
                Output::Layers(Arc::new(layers))
            }
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
        f: impl FnOnce(&Path) -> T + Send,
    ) -> Result<T, WorkerError> {
        let scratch = self.scratch_dir()?;
        let point = scratch.path().join("view");
        create_dir(&point)?;
        let lowers = lowers(&self.store, layers)?;
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
