//! `type=registry`: the cache as a manifest under a tag of a registry,
//! pushed as an image is pushed (layers in parallel, skipped when the
//! repository has them, mounted from another repository, compressed once:
//! `registry::push_artifact`), and read back with the records' layers
//! marked remote: fetched only when a step needs their files, mounted
//! when an image made of them is pushed to the same registry.

use super::format::{ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CacheConfig};
use crate::registry::{
    Artifact, Format, PushOptions, Registry, RegistryOptions, fetch_blob, fetch_manifest,
    push_artifact,
};
use kiln_cache::{RecordLayer, Store};
use kiln_oci::{Descriptor, Digest, Reference};
use std::collections::BTreeMap;

/// Pushes `contents` to `reference`; how many layers the manifest lists.
pub(crate) fn export(
    store: &Store,
    contents: super::format::Contents,
    reference: &Reference,
    options: &RegistryOptions,
    compression: kiln_layer::Compression,
) -> Result<usize, String> {
    let unique = contents.manifest_layers();
    let config = contents.config(&unique);
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

/// A cache under a registry tag, opened: where its blobs are, each
/// layer's descriptor there by diff ID.
pub(crate) struct RegistryCache {
    registry: Registry,
    repository: String,
    layers: BTreeMap<Digest, Descriptor>,
}

impl RegistryCache {
    /// Reads the manifest and config under `reference` (the config into
    /// the store, checked by its digest); the error says why the cache
    /// cannot be used.
    pub(crate) fn open(
        reference: &Reference,
        options: &RegistryOptions,
        store: &Store,
    ) -> Result<(RegistryCache, CacheConfig), String> {
        let registry = Registry::connect(reference.domain(), options).map_err(|e| e.to_string())?;
        let repository = reference.path().to_string();
        let (_, manifest) = fetch_manifest(&registry, reference).map_err(|e| e.to_string())?;
        super::format::check_manifest(&manifest)?;
        fetch_blob(&registry, store, &repository, &manifest.config, &|_| {})
            .map_err(|e| e.to_string())?;
        let bytes = store
            .blobs()
            .read(&manifest.config.digest)
            .map_err(|e| e.to_string())?;
        let config = super::format::read_config(&manifest, &bytes)?;
        let layers = config.layers.iter().cloned().zip(manifest.layers).collect();
        Ok((
            RegistryCache {
                registry,
                repository,
                layers,
            },
            config,
        ))
    }

    /// The registry's descriptor of layer `diff_id`.
    fn descriptor(&self, diff_id: &Digest) -> Result<&Descriptor, String> {
        self.layers
            .get(diff_id)
            .ok_or_else(|| format!("the cache lists no layer {diff_id}"))
    }

    /// Marks `layer` as a blob of this cache's repository that `store`
    /// fetches when it is read; its descriptor there.
    pub(crate) fn mark_layer(
        &self,
        store: &Store,
        layer: &RecordLayer,
    ) -> Result<Descriptor, String> {
        let descriptor = self.descriptor(&layer.diff_id)?;
        crate::registry::lazy::mark_remote(store, &self.registry, &self.repository, descriptor)
            .map_err(|e| e.to_string())?;
        Ok(descriptor.clone())
    }

    /// Downloads layer `diff_id` into `store` (checked by digest); the blob
    /// there, to read.
    pub(crate) fn open_layer(
        &self,
        store: &Store,
        diff_id: &Digest,
    ) -> Result<std::fs::File, String> {
        let descriptor = self.descriptor(diff_id)?;
        fetch_blob(&self.registry, store, &self.repository, descriptor, &|_| {})
            .map_err(|e| e.to_string())?;
        store
            .blobs()
            .open(&descriptor.digest)
            .map_err(|e| e.to_string())
    }
}

impl std::fmt::Debug for RegistryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCache")
            .field("repository", &self.repository)
            .field("layers", &self.layers.len())
            .finish()
    }
}
