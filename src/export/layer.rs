//! [`Layer`]: what a build hands the exporters. A backend (today the local
//! worker) makes them; exporters read them with the store, never the
//! backend.

use kiln_oci::{Descriptor, Digest};
use std::path::PathBuf;

/// One layer of a result.
#[derive(Clone, Debug)]
pub(crate) struct Layer {
    /// The step changed nothing: no blob, no snapshot; the image gets no
    /// layer for it (as BuildKit's own image exporter; docker's keeps an
    /// empty one, see docs/differences.md).
    pub empty: bool,
    /// The unpacked layer (an overlay lower).
    pub snapshot: PathBuf,
    /// The chain ID of this layer on its parents.
    pub chain_id: Digest,
    /// The uncompressed tar's digest.
    pub diff_id: Digest,
    /// The blob as the manifest lists it.
    pub descriptor: Descriptor,
    /// When the step that made it first ran (RFC 3339): kept in its cache
    /// record, so a cached rebuild dates the layer's history entry as the
    /// first build did and the image ID stays the same (as BuildKit's).
    /// `None` for a base image's layers.
    pub created: Option<String>,
}

/// The overlay lowers for `layers`: topmost first, empty layers skipped.
/// A layer whose snapshot is not unpacked yet (a cache hit whose files no
/// step needed so far) is unpacked first, its blob fetched if it is
/// remote: the one place a layer's files are asked for.
pub(crate) fn lowers(
    store: &kiln_cache::Store,
    layers: &[Layer],
) -> Result<Vec<PathBuf>, kiln_cache::StoreError> {
    let mut lowers = Vec::with_capacity(layers.len());
    for l in layers.iter().rev().filter(|l| !l.empty) {
        if !store.snapshot_ready(&l.chain_id) {
            store.ensure_snapshot(&l.chain_id, &l.descriptor.digest, &l.diff_id)?;
        }
        lowers.push(l.snapshot.clone());
    }
    Ok(lowers)
}

/// The layers of a stored image, not unpacked yet (unpacked, fetched if
/// remote, when a step or an exporter needs the files: [`lowers`]).
pub(crate) fn layers_of(
    store: &kiln_cache::Store,
    image: &kiln_cache::Image,
) -> Result<Vec<Layer>, kiln_cache::StoreError> {
    let diff_ids = &image.config.rootfs.diff_ids;
    Ok(store
        .chain_ids_of(image)?
        .into_iter()
        .zip(diff_ids)
        .zip(&image.manifest.layers)
        .map(|((chain_id, diff_id), descriptor)| Layer {
            empty: false,
            snapshot: store.snapshot_path(&chain_id),
            chain_id,
            diff_id: diff_id.clone(),
            descriptor: descriptor.clone(),
            created: None,
        })
        .collect())
}
