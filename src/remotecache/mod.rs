//! A build cache that travels (issue 23): the cache records of a build's
//! steps written out as an OCI image layout (`--cache-to
//! type=local,dest=DIR`) and read back by a build on another store
//! (`--cache-from type=local,src=DIR`), or pushed under a registry tag and
//! pulled back (`type=registry,ref=REF`), as buildx's cache exporters and
//! importers do. The format is kiln's, documented in
//! `docs/cache-format.md`: one image manifest whose config
//! ([`format::CONFIG_MEDIA_TYPE`]) lists the records (cache key → the
//! layers the step added) and whose layers are the records' layer blobs,
//! the same blobs as the image's.
//!
//! Boundary: specs, the format, export and import. When an imported record
//! is used is the worker's (`worker/cache.rs`): a record is only brought
//! into the store, its blobs verified by digest and unpacked, when a step
//! looks its key up, so a hit costs only the layers the build needs.
//! A cache that cannot be read is a warning and a cold build, never a
//! failed or wrong one. With `mounts=true` the `RUN --mount=type=cache`
//! directories travel too: archived as layers of the same manifest, and
//! restored into a cache mount the importing store does not have yet.

pub(crate) mod format;
pub(crate) mod local;
pub(crate) mod registry;
pub(crate) mod spec;

pub(crate) use spec::{CacheFrom, CacheTo, Mode};

use kiln_cache::{CacheRecord, Store};
use kiln_oci::Digest;
use std::collections::BTreeMap;

/// A `--cache-from` cache, opened: its records and cache mounts by key,
/// and where their blobs are.
#[derive(Debug)]
pub(crate) struct Imported {
    /// The spec it was opened from, for messages.
    source: String,
    records: BTreeMap<Digest, CacheRecord>,
    /// Cache mounts' contents: key → diff ID.
    mounts: BTreeMap<String, Digest>,
    /// `COPY --from` selections: memo key → digest.
    selections: BTreeMap<Digest, Digest>,
    blobs: Blobs,
}

/// Where an imported cache's blobs are.
#[derive(Debug)]
enum Blobs {
    /// `type=local`.
    Local(local::LocalCache),
    /// `type=registry`.
    Registry(Box<registry::RegistryCache>),
}

impl Imported {
    /// Opens `source`; the error says why it cannot be used.
    pub(crate) fn open(
        source: &CacheFrom,
        options: &crate::registry::RegistryOptions,
        store: &Store,
    ) -> Result<Imported, String> {
        let (blobs, config) = match source {
            CacheFrom::Local { src } => {
                let (cache, config) = local::LocalCache::open(src)?;
                (Blobs::Local(cache), config)
            }
            CacheFrom::Registry { reference } => {
                let (cache, config) = registry::RegistryCache::open(reference, options, store)?;
                (Blobs::Registry(Box::new(cache)), config)
            }
        };
        Ok(Imported {
            source: source.to_string(),
            records: config
                .records
                .into_iter()
                .map(|r| (r.key, r.record))
                .collect(),
            mounts: config
                .mounts
                .into_iter()
                .map(|m| (m.key, m.diff_id))
                .collect(),
            selections: config
                .selections
                .into_iter()
                .map(|s| (s.key, s.digest))
                .collect(),
            blobs,
        })
    }

    /// The spec it was opened from, for messages.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The digest of `COPY --from` selection `key`, if this cache has it.
    pub(crate) fn selection(&self, key: &Digest) -> Option<&Digest> {
        self.selections.get(key)
    }

    /// The record under `key`, if this cache has one.
    pub(crate) fn record(&self, key: &Digest) -> Option<&CacheRecord> {
        self.records.get(key)
    }

    /// Brings `record` into `store`. From a directory each layer blob is
    /// copied in, checked by digest and size, and unpacked as its snapshot
    /// under the chain ID the record gives (which the key fixes). From a
    /// registry nothing is downloaded: each layer is marked remote
    /// (`kiln_cache`'s `remote`), fetched and unpacked only when a step
    /// needs its files, and an image made of it is pushed by mounting the
    /// blobs. The record as the store then holds it (with the blobs the
    /// cache gave).
    pub(crate) fn bring(&self, store: &Store, record: &CacheRecord) -> Result<CacheRecord, String> {
        let mut brought = record.clone();
        for layer in brought.layers.iter_mut().filter(|l| !l.empty) {
            layer.descriptor = match &self.blobs {
                Blobs::Local(cache) => {
                    let descriptor = cache.bring_layer(store, layer)?;
                    store
                        .ensure_snapshot(&layer.chain_id, &descriptor.digest, &layer.diff_id)
                        .map_err(|e| {
                            format!(
                                "cannot unpack layer {} of the cache: {e}",
                                descriptor.digest
                            )
                        })?;
                    descriptor
                }
                Blobs::Registry(cache) => cache.mark_layer(store, layer)?,
            };
        }
        Ok(brought)
    }

    /// Restores cache mount `key` (the store's name for it) into the new,
    /// empty directory `dest` when this cache has its content, its diff ID
    /// checked; whether it did.
    pub(crate) fn restore_mount(
        &self,
        store: &Store,
        key: &str,
        dest: &std::path::Path,
    ) -> Result<bool, String> {
        let Some(diff_id) = self.mounts.get(key) else {
            return Ok(false);
        };
        let blob = match &self.blobs {
            Blobs::Local(cache) => cache.open_layer(diff_id)?,
            Blobs::Registry(cache) => cache.open_layer(store, diff_id)?,
        };
        let unpacked = kiln_layer::unpack_layer(blob, dest, &kiln_layer::UnpackOptions::default())
            .map_err(|e| format!("cannot unpack a cache mount: {e}"))?;
        if &unpacked.diff_id != diff_id {
            return Err(format!(
                "a cache mount's layer holds {}, not {diff_id}",
                unpacked.diff_id
            ));
        }
        Ok(true)
    }
}

/// Writes the content of cache mount directory `dir` as a layer blob in
/// `store` (uncompressed, as built layers are): its descriptor and diff
/// ID.
pub(crate) fn mount_layer(
    store: &Store,
    dir: &std::path::Path,
) -> Result<(kiln_oci::Descriptor, Digest), String> {
    crate::worker::archive(store, dir, kiln_layer::SourceKind::Directory)
        .map_err(|e| format!("cannot archive {}: {e}", dir.display()))
}
