//! `type=registry`: the cache as a manifest under a tag of a registry,
//! pushed as an image is pushed (layers in parallel, skipped when the
//! repository has them, mounted from another repository, compressed once:
//! `registry::push_artifact`), and read back with the records' layers
//! fetched only when a step uses them, unpacked while they download.

use super::format::{ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CacheConfig};
use crate::registry::{
    Artifact, Format, PushOptions, Registry, RegistryOptions, Snapshot, fetch_and_unpack,
    fetch_blob, fetch_manifest, push_artifact,
};
use kiln_cache::{CacheRecord, Store};
use kiln_oci::{Descriptor, Digest, Reference};
use std::collections::BTreeMap;

/// Pushes `records` (cache key → record) to `reference`; how many layers
/// the manifest lists.
pub(crate) fn export(
    store: &Store,
    records: Vec<(Digest, CacheRecord)>,
    mounts: &[super::format::MountLayer],
    reference: &Reference,
    options: &RegistryOptions,
    compression: kiln_layer::Compression,
) -> Result<usize, String> {
    let unique = super::format::manifest_layers(&records, mounts);
    let config = super::format::config_of(records, &unique, mounts);
    let bytes = serde_json::to_vec(&config).map_err(|e| e.to_string())?;
    let (config_digest, _) = store.blobs().put(&bytes, None).map_err(|e| e.to_string())?;
    let registry = Registry::connect(reference.domain(), options).map_err(|e| e.to_string())?;
    let artifact = Artifact {
        layers: unique.iter().map(|(d, diff_id)| (d, diff_id)).collect(),
        config: &config_digest,
        config_type: CONFIG_MEDIA_TYPE,
        artifact_type: ARTIFACT_TYPE,
        annotations: BTreeMap::new(),
    };
    let push = PushOptions {
        format: Format::Oci,
        compression,
    };
    push_artifact(&registry, store, &artifact, reference, push, &|_| {})
        .map_err(|e| e.to_string())?;
    Ok(unique.len())
}

/// A cache read from a registry: its records by key, each layer's
/// descriptor there by diff ID.
pub(crate) struct RegistryCache {
    /// Where it came from, for messages.
    pub source: String,
    registry: Registry,
    repository: String,
    records: BTreeMap<Digest, CacheRecord>,
    layers: BTreeMap<Digest, Descriptor>,
    /// Cache mounts' contents: key → diff ID.
    mounts: BTreeMap<String, Digest>,
}

impl RegistryCache {
    /// Reads the manifest and config under `reference` (the config into
    /// the store, checked by its digest); the error says why the cache
    /// cannot be used.
    pub(crate) fn open(
        reference: &Reference,
        options: &RegistryOptions,
        store: &Store,
    ) -> Result<RegistryCache, String> {
        let source = format!("type=registry,ref={reference}");
        let registry = Registry::connect(reference.domain(), options).map_err(|e| e.to_string())?;
        let repository = reference.path().to_string();
        let (_, manifest) = fetch_manifest(&registry, reference).map_err(|e| e.to_string())?;
        if manifest.config.media_type != CONFIG_MEDIA_TYPE {
            return Err(format!(
                "{reference} is no kiln cache (its config is {:?})",
                manifest.config.media_type
            ));
        }
        fetch_blob(&registry, store, &repository, &manifest.config, &|_| {})
            .map_err(|e| e.to_string())?;
        let bytes = store
            .blobs()
            .read(&manifest.config.digest)
            .map_err(|e| e.to_string())?;
        let config: CacheConfig = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "the cache config {} is invalid: {e}",
                manifest.config.digest
            )
        })?;
        super::format::check(&config)?;
        if config.layers.len() != manifest.layers.len() {
            return Err(format!(
                "the cache config lists {} layers, its manifest {}",
                config.layers.len(),
                manifest.layers.len()
            ));
        }
        Ok(RegistryCache {
            source,
            registry,
            repository,
            layers: config.layers.into_iter().zip(manifest.layers).collect(),
            mounts: CacheConfig::mounts_by_key(config.mounts),
            records: CacheConfig::by_key(config.records),
        })
    }

    /// The record under `key`, if this cache has one.
    pub(crate) fn record(&self, key: &Digest) -> Option<&CacheRecord> {
        self.records.get(key)
    }

    /// Downloads cache mount `key`'s content and unpacks it into `dest`
    /// (false: this cache has none), its digest and diff ID checked.
    pub(crate) fn restore_mount(
        &self,
        store: &Store,
        key: &str,
        dest: &std::path::Path,
    ) -> Result<bool, String> {
        let Some(diff_id) = self.mounts.get(key) else {
            return Ok(false);
        };
        let descriptor = self
            .layers
            .get(diff_id)
            .ok_or_else(|| format!("the cache lists no layer {diff_id}"))?;
        fetch_blob(&self.registry, store, &self.repository, descriptor, &|_| {})
            .map_err(|e| e.to_string())?;
        let blob = store
            .blobs()
            .open(&descriptor.digest)
            .map_err(|e| e.to_string())?;
        super::unpack_mount(blob, dest, diff_id)?;
        Ok(true)
    }

    /// Fetches `record`'s layers into `store` (each unpacked as it
    /// downloads, checked by digest and diff ID); the record with the
    /// registry's descriptors, which the store now holds.
    pub(crate) fn bring(&self, store: &Store, record: &CacheRecord) -> Result<CacheRecord, String> {
        let mut brought = record.clone();
        for layer in brought.layers.iter_mut().filter(|l| !l.empty) {
            let descriptor = self
                .layers
                .get(&layer.diff_id)
                .ok_or_else(|| format!("the cache lists no layer {}", layer.diff_id))?
                .clone();
            let snapshot = Snapshot {
                chain_id: &layer.chain_id,
                diff_id: &layer.diff_id,
            };
            fetch_and_unpack(
                &self.registry,
                store,
                &self.repository,
                &descriptor,
                &snapshot,
            )
            .map_err(|e| e.to_string())?;
            store
                .ensure_snapshot(&layer.chain_id, &descriptor.digest, &layer.diff_id)
                .map_err(|e| {
                    format!(
                        "cannot unpack layer {} of the cache: {e}",
                        descriptor.digest
                    )
                })?;
            layer.descriptor = descriptor;
        }
        Ok(brought)
    }
}

impl std::fmt::Debug for RegistryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCache")
            .field("source", &self.source)
            .field("records", &self.records.len())
            .finish()
    }
}
