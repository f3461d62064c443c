//! The cache manifest's config: kiln's own media type, versioned, listing
//! each exported record under its cache key (`docs/cache-format.md`).

use kiln_cache::CacheRecord;
use kiln_oci::Digest;
use serde::{Deserialize, Serialize};

/// The config's media type; its `v1` changes with an incompatible format.
pub(crate) const CONFIG_MEDIA_TYPE: &str = "application/vnd.kiln.cache.config.v1+json";

/// The manifest's artifact type (OCI image-spec 1.1 `artifactType`).
pub(crate) const ARTIFACT_TYPE: &str = "application/vnd.kiln.cache.v1";

/// The name the manifest has in the layout's `index.json`.
pub(crate) const REF_NAME: &str = "kiln-cache";

/// The format version in the config.
pub(crate) const VERSION: u32 = 1;

/// The config blob.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CacheConfig {
    /// [`VERSION`].
    pub version: u32,
    /// What the keys were made with ([`keys_version`]): keys of another
    /// kiln never match, so an importer says so instead of missing
    /// silently.
    pub keys: String,
    /// The records, in key order.
    pub records: Vec<ExportedRecord>,
}

/// One record and its key.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ExportedRecord {
    /// The step's cache key.
    pub key: Digest,
    /// The layers the step added, as the store files them.
    pub record: CacheRecord,
}

/// What keys are made with: the cache key encoding and the op encoding
/// inside it. Keys made with other versions never match.
pub(crate) fn keys_version() -> String {
    format!(
        "{}+{}",
        kiln_solver::cache_key::VERSION,
        kiln_solver::digest::VERSION
    )
}
