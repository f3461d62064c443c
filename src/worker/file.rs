//! File vertices (COPY, ADD, WORKDIR, heredoc files): a writable overlay
//! of the input's layers, mounted in a private mount namespace together
//! with read-only views of the copy sources; the actions run on it in
//! order; the overlay's upper directory becomes the new layer. Given the
//! step's earlier result, a last copy action links the files that did not
//! change from it, and it notes what it wrote for the next build
//! ([`copy::Reuse`]).

use super::copy::{self, CopySource, Earlier, Reuse, SourceOwnership};
use super::error::{GraphError, WorkerError};
use super::layers::{Output, commit};
use super::vertex::Worker;
use crate::export::{Layer, lowers};
use kiln_runtime::view::{View, with_views};
use kiln_solver::{FileAction, FileOp, Job};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a file step's last copy action knows besides its sources.
pub(crate) struct Recall<'a> {
    /// The step's earlier result, if one is known.
    pub earlier: Option<Earlier<'a>>,
    /// The digests of the files it reads from the build context, by path,
    /// as the key hashed them (empty: it does not read the context).
    pub sources: &'a BTreeMap<String, String>,
}

impl Worker {
    /// Runs a file step; returns its output and the files its last copy
    /// wrote whose content the key fixes ([`Reuse::written`]).
    pub(crate) fn file(
        &self,
        job: &Job<'_, Output>,
        op: &FileOp,
        recall: Recall<'_>,
    ) -> Result<(Output, BTreeMap<String, String>), WorkerError> {
        let base = job.inputs[0].layers()?;
        let scratch = self.scratch_dir()?;
        let dir = |name: &str| -> Result<PathBuf, WorkerError> {
            let path = scratch.path().join(name);
            super::dirs::create_dir(&path)?;
            Ok(path)
        };
        let root = dir("root")?;
        let upper = self.scratch_path()?;
        let mut views = vec![(
            super::dirs::writable_view(
                scratch.path(),
                "root",
                lowers(&self.store, base)?,
                upper.clone(),
            )?,
            root.clone(),
        )];
        // Where each input's files are, once the views are mounted.
        let mut sources: Vec<Option<PathBuf>> = vec![None; job.inputs.len()];
        for action in &op.actions {
            let FileAction::Copy(c) = action else {
                continue;
            };
            if sources.get(c.input).is_some_and(Option::is_none) {
                let path = match job.inputs.get(c.input) {
                    Some(Output::Layers(layers)) => {
                        let point = dir(&format!("source-{}", c.input))?;
                        views.push((
                            View::ReadOnly {
                                lowers: lowers(&self.store, layers)?,
                            },
                            point.clone(),
                        ));
                        point
                    }
                    Some(Output::Context(context)) => context.root.clone(),
                    None => {
                        return Err(GraphError::MissingInput {
                            what: "copy input",
                            input: c.input,
                        }
                        .into());
                    }
                };
                sources[c.input] = Some(path);
            }
        }
        let applied = with_views(&views, || apply(job, op, &root, &sources, &upper, recall))
            .map_err(|e| WorkerError::io("cannot mount the step's file systems", e))?;
        let written = match applied {
            Ok(written) => written,
            Err(e) => {
                super::layers::remove_tree(&upper);
                return Err(e);
            }
        };
        let layer = commit(&self.store, &upper, base)?;
        let mut layers: Vec<Layer> = base.to_vec();
        layers.push(layer);
        Ok((Output::Layers(Arc::new(layers)), written))
    }
}

/// Runs the actions on the mounted `root`, whose overlay writes into
/// `upper`; returns what the last one noted it wrote.
fn apply(
    job: &Job<'_, Output>,
    op: &FileOp,
    root: &Path,
    sources: &[Option<PathBuf>],
    upper: &Path,
    recall: Recall<'_>,
) -> Result<BTreeMap<String, String>, WorkerError> {
    let mut recall = Some(recall);
    let mut written = BTreeMap::new();
    for (n, action) in op.actions.iter().enumerate() {
        match action {
            FileAction::Copy(c) => {
                // Context files belong to root in the image, as BuildKit's
                // client resets their owners; other stages keep theirs.
                let (ignore, ownership) = match &job.inputs[c.input] {
                    Output::Context(context) => (context.ignore.as_ref(), SourceOwnership::Root),
                    Output::Layers(_) => (None, SourceOwnership::Preserve),
                };
                let Some(source_root) = &sources[c.input] else {
                    return Err(GraphError::CopySourceNotPrepared.into());
                };
                // Links made behind the overlay stay unseen by it, so only
                // the last action may make them; and only its writes are
                // certain to be in the result.
                let mut reuse = (n + 1 == op.actions.len())
                    .then(|| recall.take())
                    .flatten()
                    .map(|r| Reuse::new(r.earlier, upper, r.sources));
                copy::copy(
                    &CopySource {
                        root: source_root,
                        ignore,
                        ownership,
                    },
                    root,
                    c,
                    reuse.as_mut(),
                )?;
                written = reuse.map(Reuse::written).unwrap_or_default();
            }
            FileAction::Mkdir {
                path,
                mode,
                parents,
                owner,
            } => copy::mkdir(root, path, *mode, *parents, owner.as_ref())?,
            FileAction::Mkfile {
                path,
                data,
                mode,
                owner,
            } => copy::mkfile(root, path, data, *mode, owner.as_ref())?,
        }
    }
    Ok(written)
}
