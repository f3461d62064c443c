//! What a vertex produces: a stack of layers (each unpacked as a snapshot
//! and stored as a blob), or a view of the build context. And the commit
//! of a finished step's overlay upper directory into a new layer — the
//! upper directory *is* the layer, so this costs O(changed files).

use super::error::{GraphError, WorkerError};
use crate::export::Layer;
use kiln_cache::Store;
use kiln_dockerignore::Matcher;
use kiln_layer::{Compression, SourceKind, WriteOptions, write_layer};
use kiln_oci::{Descriptor, Digest, child_chain_id, media_type};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A vertex's output.
#[derive(Clone, Debug)]
pub(crate) enum Output {
    /// A root file system: layers, base first.
    Layers(Arc<Vec<Layer>>),
    /// The build context (a host directory) with its ignore rules.
    Context(Arc<ContextDir>),
}

/// The build context as a copy source.
#[derive(Debug)]
pub(crate) struct ContextDir {
    /// The directory.
    pub root: PathBuf,
    /// `.dockerignore` (and the include selection): excluded paths are
    /// invisible.
    pub ignore: Option<Matcher>,
}

impl Output {
    /// The layers, or an error naming what was expected.
    pub(crate) fn layers(&self) -> Result<&[Layer], WorkerError> {
        match self {
            Output::Layers(layers) => Ok(layers),
            Output::Context(_) => Err(GraphError::ContextAsRoot.into()),
        }
    }
}

/// `base` with `layers` (made on another parent, such as an empty file
/// system) stacked on top, each under the chain ID it has there: LLB's
/// MergeOp, which `COPY --link` lowers to. A layer keeps its diff; its
/// snapshot is unpacked again from its blob under the new chain ID when
/// that chain is new to the store.
pub(crate) fn stack(
    store: &Store,
    base: &[Layer],
    layers: &[Layer],
) -> Result<Vec<Layer>, WorkerError> {
    let mut stacked = base.to_vec();
    for layer in layers {
        let parent = stacked
            .iter()
            .rev()
            .find(|l| !l.empty)
            .map(|l| l.chain_id.clone());
        if layer.empty {
            // As `commit` records an empty change: the parent's chain.
            let chain_id = parent.unwrap_or_else(|| Digest::of(b""));
            stacked.push(Layer {
                chain_id: chain_id.clone(),
                diff_id: chain_id.clone(),
                descriptor: Descriptor::new(media_type::OCI_LAYER_TAR, chain_id, 0),
                ..layer.clone()
            });
            continue;
        }
        let chain_id = match parent {
            Some(parent) => child_chain_id(&parent, &layer.diff_id),
            None => layer.diff_id.clone(),
        };
        let snapshot = if chain_id == layer.chain_id {
            layer.snapshot.clone()
        } else {
            store.ensure_snapshot(&chain_id, &layer.descriptor.digest, &layer.diff_id)?
        };
        stacked.push(Layer {
            chain_id,
            snapshot,
            ..layer.clone()
        });
    }
    Ok(stacked)
}

/// Turns a finished step's upper directory into a layer on `parent`:
/// archived once into a blob (uncompressed, so its digest is its diff
/// ID; compression waits for an export or push), then renamed into the
/// snapshot store under its chain ID. Consumes `upper`, also when the
/// commit fails (a full disk must not keep the step's files in `tmp/`
/// until the next prune).
pub(crate) fn commit(store: &Store, upper: &Path, parent: &[Layer]) -> Result<Layer, WorkerError> {
    let committed = commit_upper(store, upper, parent);
    if committed.is_err() && upper.exists() {
        remove_tree(upper);
    }
    committed
}

fn commit_upper(store: &Store, upper: &Path, parent: &[Layer]) -> Result<Layer, WorkerError> {
    let io = |what: &str, path: &Path, e| {
        WorkerError::io(format!("cannot {what} {}", path.display()), e)
    };
    let parent_chain = parent.iter().rev().find(|l| !l.empty).map(|l| &l.chain_id);
    let is_empty = std::fs::read_dir(upper)
        .map_err(|e| io("read", upper, e))?
        .next()
        .is_none();
    if is_empty {
        let _ = std::fs::remove_dir(upper);
        let chain_id = parent_chain.cloned().unwrap_or_else(|| Digest::of(b""));
        return Ok(Layer {
            empty: true,
            snapshot: PathBuf::new(),
            diff_id: chain_id.clone(),
            descriptor: Descriptor::new(media_type::OCI_LAYER_TAR, chain_id.clone(), 0),
            chain_id,
            created: Some(kiln_oci::now_rfc3339_nano()),
        });
    }
    // On an empty file system (`FROM scratch`, the copy of a `COPY
    // --link`) nothing lies below: an opaque mark some kernels put on a new
    // directory there would hide, once the layer is stacked on a stage,
    // that stage's directory.
    let source = match parent_chain {
        Some(_) => SourceKind::OverlayUpper,
        None => SourceKind::Directory,
    };
    let (descriptor, diff_id) = archive(store, upper, source)?;
    let chain_id = match parent_chain {
        Some(parent) => child_chain_id(parent, &diff_id),
        None => diff_id.clone(),
    };
    let snapshot = store.snapshot_path(&chain_id);
    tracing::debug!(%chain_id, %diff_id, bytes = descriptor.size, "layer written");
    if store.snapshot_ready(&chain_id) {
        // The same change on the same parents exists already (another
        // build, or a step whose cache record was lost).
        tracing::debug!(%chain_id, "snapshot exists already: the new one is dropped");
        remove_tree(upper);
    } else {
        store.snapshots_dir()?;
        // "Exists" must mean "complete", also after a power cut: the store
        // marks it as not yet on disk.
        if let Err(e) = store.publish_snapshot(upper, &snapshot) {
            if snapshot.is_dir() {
                remove_tree(upper);
            } else {
                return Err(e.into());
            }
        }
    }
    Ok(Layer {
        empty: false,
        snapshot,
        chain_id,
        descriptor,
        diff_id,
        created: Some(kiln_oci::now_rfc3339_nano()),
    })
}

/// Archives the tree under `dir` (read as `source`) into an uncompressed
/// layer blob in the store; its descriptor and diff ID. The layer writer
/// hashes exactly the bytes it emits, so the blob store does not hash
/// them again.
pub(crate) fn archive(
    store: &Store,
    dir: &Path,
    source: SourceKind,
) -> Result<(Descriptor, Digest), WorkerError> {
    let mut writer = store.blobs().writer_hashed_by_producer()?;
    let written = write_layer(
        dir,
        &WriteOptions {
            compression: Compression::None,
            source,
            source_date_epoch: None,
            // A rootless store keeps devices as placeholders.
            device_placeholders: store.opaque_xattr() == kiln_layer::OpaqueXattr::User,
        },
        &mut writer,
    )
    .map_err(WorkerError::Layer)?;
    let (digest, size) = writer.commit(Some(&written.digest), None)?;
    Ok((
        Descriptor::new(written.media_type(), digest, size),
        written.diff_id,
    ))
}

/// Removes a directory tree, best-effort (a leftover in the store's tmp is
/// swept later; failing a finished build for it would lose work).
pub(crate) fn remove_tree(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
}
