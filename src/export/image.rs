//! The image a build made: config (history entries of empty steps marked
//! `empty_layer`, as BuildKit does when it drops empty layers), OCI
//! manifest (image-spec `manifest.md`), both written as blobs.

use crate::worker::Layer;
use kiln_cache::Store;
use kiln_oci::{Descriptor, Digest, ImageConfig, Manifest, media_type};

/// A written image.
pub(crate) struct Built {
    /// The manifest, as a tag points at it.
    pub manifest: Descriptor,
    /// The config digest: the image ID.
    pub id: Digest,
}

/// Writes the image whose root file system is `layers` and whose config
/// (history included) is `config`.
pub(crate) fn write_image(
    store: &Store,
    mut config: ImageConfig,
    layers: &[Layer],
) -> Result<Built, kiln_cache::StoreError> {
    // Each history entry that made a layer matches one layer of the
    // result, in order; an empty diff is no layer. A base image whose
    // history does not line up with its layers is left as it came.
    let layer_entries = config.history.iter().filter(|h| !h.empty_layer).count();
    if layer_entries == layers.len() {
        let mut layer = layers.iter();
        for entry in config.history.iter_mut().filter(|h| !h.empty_layer) {
            if layer.next().is_some_and(|l| l.empty) {
                entry.empty_layer = true;
            }
        }
    }
    let kept: Vec<&Layer> = layers.iter().filter(|l| !l.empty).collect();
    config.rootfs.kind = "layers".to_string();
    config.rootfs.diff_ids = kept.iter().map(|l| l.diff_id.clone()).collect();
    let config_bytes = config.to_canonical_json();
    let (id, config_size) = store.blobs().put(&config_bytes, None)?;
    let manifest = Manifest::new(
        media_type::OCI_MANIFEST,
        Descriptor::new(media_type::OCI_CONFIG, id.clone(), config_size),
        kept.iter()
            .map(|l| {
                let mut d = l.descriptor.clone();
                d.media_type = oci_layer_type(&d.media_type).to_string();
                d.annotations.clear();
                d
            })
            .collect(),
    );
    let (digest, size) = store.blobs().put(&manifest.to_canonical_json(), None)?;
    Ok(Built {
        manifest: Descriptor::new(media_type::OCI_MANIFEST, digest, size),
        id,
    })
}

/// The OCI media type of a layer that may carry docker's (an OCI manifest
/// must not mix them).
fn oci_layer_type(media_type: &str) -> &str {
    match media_type {
        media_type::DOCKER_LAYER_TAR => media_type::OCI_LAYER_TAR,
        media_type::DOCKER_LAYER_TAR_GZIP => media_type::OCI_LAYER_TAR_GZIP,
        media_type::DOCKER_LAYER_TAR_ZSTD => media_type::OCI_LAYER_TAR_ZSTD,
        other => other,
    }
}
