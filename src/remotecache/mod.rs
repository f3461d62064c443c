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
pub(crate) mod spec;

pub(crate) use local::Imported;
pub(crate) use spec::{CacheFrom, CacheTo, Mode};
