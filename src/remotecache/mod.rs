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

/// A `--cache-from` cache, opened.
#[derive(Debug)]
pub(crate) enum Imported {
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
        match source {
            CacheFrom::Local { src } => local::LocalCache::open(src).map(Imported::Local),
            CacheFrom::Registry { reference } => {
                registry::RegistryCache::open(reference, options, store)
                    .map(|c| Imported::Registry(Box::new(c)))
            }
        }
    }

    /// The spec it was opened from, for messages.
    pub(crate) fn source(&self) -> &str {
        match self {
            Imported::Local(cache) => &cache.source,
            Imported::Registry(cache) => &cache.source,
        }
    }

    /// The record under `key`, if this cache has one.
    pub(crate) fn record(&self, key: &Digest) -> Option<&CacheRecord> {
        match self {
            Imported::Local(cache) => cache.record(key),
            Imported::Registry(cache) => cache.record(key),
        }
    }

    /// Brings `record`'s layers into `store` (checked by digest, unpacked);
    /// the record as the store then holds it.
    pub(crate) fn bring(&self, store: &Store, record: &CacheRecord) -> Result<CacheRecord, String> {
        match self {
            Imported::Local(cache) => cache.bring(store, record),
            Imported::Registry(cache) => cache.bring(store, record),
        }
    }

    /// Restores cache mount `key` (the store's name for it) into the new,
    /// empty directory `dest` when this cache has its content; whether it
    /// did.
    pub(crate) fn restore_mount(
        &self,
        store: &Store,
        key: &str,
        dest: &std::path::Path,
    ) -> Result<bool, String> {
        match self {
            Imported::Local(cache) => cache.restore_mount(key, dest),
            Imported::Registry(cache) => cache.restore_mount(store, key, dest),
        }
    }
}

/// Writes the content of cache mount directory `dir` as a layer blob in
/// `store` (uncompressed, as built layers are): its descriptor and diff
/// ID.
pub(crate) fn mount_layer(
    store: &Store,
    dir: &std::path::Path,
) -> Result<(kiln_oci::Descriptor, Digest), String> {
    let mut writer = store
        .blobs()
        .writer_hashed_by_producer()
        .map_err(|e| e.to_string())?;
    let written = kiln_layer::write_layer(
        dir,
        &kiln_layer::WriteOptions {
            compression: kiln_layer::Compression::None,
            source: kiln_layer::SourceKind::Directory,
            source_date_epoch: None,
        },
        &mut writer,
    )
    .map_err(|e| format!("cannot archive {}: {e}", dir.display()))?;
    let (digest, size) = writer
        .commit(Some(&written.digest), None)
        .map_err(|e| e.to_string())?;
    Ok((
        kiln_oci::Descriptor::new(written.media_type(), digest, size),
        written.diff_id,
    ))
}

/// Unpacks a cache mount's layer blob into `dest`, refusing one whose
/// content is not `diff_id`.
fn unpack_mount(
    blob: impl std::io::Read,
    dest: &std::path::Path,
    diff_id: &Digest,
) -> Result<(), String> {
    let unpacked = kiln_layer::unpack_layer(blob, dest, &kiln_layer::UnpackOptions::default())
        .map_err(|e| format!("cannot unpack a cache mount: {e}"))?;
    if &unpacked.diff_id != diff_id {
        return Err(format!(
            "a cache mount's layer holds {}, not {diff_id}",
            unpacked.diff_id
        ));
    }
    Ok(())
}
