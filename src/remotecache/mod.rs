//! A build cache that travels (issue 23): the cache records of a build's
//! steps written out as an OCI image layout (`--cache-to
//! type=local,dest=DIR`) and read back by a build on another store
//! (`--cache-from type=local,src=DIR`), as buildx's local cache exporter
//! and importer do. The format is kiln's, documented in
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
//! failed or wrong one.

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
}
