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
    /// The diff ID of each of the manifest's layers, in its order: a
    /// registry may hold a layer compressed, and a record names the
    /// uncompressed layer it added.
    #[serde(default)]
    pub layers: Vec<Digest>,
    /// The records, in key order.
    pub records: Vec<ExportedRecord>,
    /// `mounts=true`: the cache mounts' contents, each a layer of the
    /// manifest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<ExportedMount>,
}

/// A `RUN --mount=type=cache` directory's content.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ExportedMount {
    /// The cache's name in the store (`worker::cache_mounts`: the id, the
    /// owner and the mode, hashed).
    pub key: String,
    /// The diff ID of the layer holding its files.
    pub diff_id: Digest,
}

/// The distinct non-empty layers of `records` (stored descriptor, diff ID),
/// each once, in the order records name them: the cache manifest's layers.
pub(crate) fn layers_of(
    records: &[(Digest, kiln_cache::CacheRecord)],
) -> Vec<(kiln_oci::Descriptor, Digest)> {
    let mut seen = std::collections::BTreeSet::new();
    records
        .iter()
        .flat_map(|(_, r)| &r.layers)
        .filter(|l| !l.empty && seen.insert(l.diff_id.clone()))
        .map(|l| (l.descriptor.clone(), l.diff_id.clone()))
        .collect()
}

/// A cache mount's content to export: its key and its layer (stored
/// descriptor, diff ID).
pub(crate) type MountLayer = (String, kiln_oci::Descriptor, Digest);

/// The config of `records` and `mounts` whose manifest layers are
/// `layers` (which must list the mounts' layers too).
pub(crate) fn config_of(
    records: Vec<(Digest, kiln_cache::CacheRecord)>,
    layers: &[(kiln_oci::Descriptor, Digest)],
    mounts: &[MountLayer],
) -> CacheConfig {
    CacheConfig {
        version: VERSION,
        keys: keys_version(),
        layers: layers.iter().map(|(_, diff_id)| diff_id.clone()).collect(),
        records: records
            .into_iter()
            .map(|(key, record)| ExportedRecord { key, record })
            .collect(),
        mounts: mounts
            .iter()
            .map(|(key, _, diff_id)| ExportedMount {
                key: key.clone(),
                diff_id: diff_id.clone(),
            })
            .collect(),
    }
}

/// The manifest's layers: the records' and the mounts', each once.
pub(crate) fn manifest_layers(
    records: &[(Digest, kiln_cache::CacheRecord)],
    mounts: &[MountLayer],
) -> Vec<(kiln_oci::Descriptor, Digest)> {
    let mut layers = layers_of(records);
    for (_, descriptor, diff_id) in mounts {
        if !layers.iter().any(|(_, d)| d == diff_id) {
            layers.push((descriptor.clone(), diff_id.clone()));
        }
    }
    layers
}

/// The config of a cache manifest, from its bytes (already checked
/// against the manifest's digest): a kiln cache config of this version,
/// with keys made as this kiln makes them, and a diff ID for each layer.
pub(crate) fn read_config(
    manifest: &kiln_oci::Manifest,
    bytes: &[u8],
) -> Result<CacheConfig, String> {
    let config: CacheConfig = serde_json::from_slice(bytes).map_err(|e| {
        format!(
            "the cache config {} is invalid: {e}",
            manifest.config.digest
        )
    })?;
    if config.version != VERSION {
        return Err(format!(
            "cache format version {} (this kiln reads {VERSION})",
            config.version
        ));
    }
    if config.keys != keys_version() {
        return Err(format!(
            "its keys were made by another kiln ({}; this one makes {}): no step would match",
            config.keys,
            keys_version()
        ));
    }
    if config.layers.len() != manifest.layers.len() {
        return Err(format!(
            "the cache config lists {} layers, its manifest {}",
            config.layers.len(),
            manifest.layers.len()
        ));
    }
    Ok(config)
}

/// Refuses a manifest whose config is not a kiln cache config.
pub(crate) fn check_manifest(manifest: &kiln_oci::Manifest) -> Result<(), String> {
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(format!(
            "the manifest's config is {:?}, not a kiln cache config ({CONFIG_MEDIA_TYPE})",
            manifest.config.media_type
        ));
    }
    Ok(())
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
