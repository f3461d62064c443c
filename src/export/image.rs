//! The image a build made: config (history entries of empty steps marked
//! `empty_layer`, as BuildKit does when it drops empty layers), OCI
//! manifest (image-spec `manifest.md`), both written as blobs.

use super::layer::Layer;
use kiln_cache::Store;
use kiln_oci::{Descriptor, Digest, ImageConfig, Manifest, media_type};

/// A written image.
#[derive(Clone)]
pub(crate) struct Built {
    /// The manifest, as a tag points at it.
    pub manifest: Descriptor,
    /// The config digest: the image ID.
    pub id: Digest,
}

/// Writes the image whose root file system is `layers` and whose config
/// (history included) is `config`. With `redate`, the history entries
/// dated `redate` (this build's steps) are dated as their layers were
/// first made (see [`date_from_layers`]).
pub(crate) fn write_image(
    store: &Store,
    mut config: ImageConfig,
    layers: &[Layer],
    redate: Option<&str>,
) -> Result<Built, kiln_cache::StoreError> {
    // Each history entry that made a layer matches one layer of the
    // result, in order; an empty diff is no layer. A base image whose
    // history does not line up with its layers is left as it came.
    let layer_entries = config.history.iter().filter(|h| !h.empty_layer).count();
    if layer_entries == layers.len() {
        if let Some(build_time) = redate {
            date_from_layers(&mut config, layers, build_time);
        }
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

/// Writes an image index (image-spec `image-index.md`) of `manifests`,
/// each descriptor carrying its platform, in the order given: what a
/// multi-platform build's tag names. Its digest is the ID shown.
pub(crate) fn write_index(
    store: &Store,
    manifests: &[(kiln_oci::Platform, Descriptor)],
) -> Result<Built, kiln_cache::StoreError> {
    let descriptors = manifests
        .iter()
        .map(|(platform, manifest)| {
            let mut descriptor = manifest.clone();
            descriptor.platform = Some(platform.normalize());
            descriptor
        })
        .collect();
    let index = kiln_oci::Index::new(media_type::OCI_INDEX, descriptors);
    let (digest, size) = store.blobs().put(&index.to_canonical_json(), None)?;
    Ok(Built {
        manifest: Descriptor::new(media_type::OCI_INDEX, digest.clone(), size),
        id: digest,
    })
}

/// Dates this build's history entries (those dated `build_time`) as
/// BuildKit does: a step's entry gets the time its layer was first made
/// (a cached step keeps its first build's time), an entry without a layer
/// (ENV, LABEL…) the time of the nearest layer step before it (or, before
/// the first, after it), and the config's `created` is the latest of them.
/// So an unchanged rebuild writes the same config: the same image ID.
fn date_from_layers(config: &mut ImageConfig, layers: &[Layer], build_time: &str) {
    let ours: Vec<bool> = config
        .history
        .iter()
        .map(|e| e.created.as_deref() == Some(build_time))
        .collect();
    let mut layer = layers.iter();
    let mut dates: Vec<Option<String>> = config
        .history
        .iter()
        .zip(&ours)
        .map(|(entry, ours)| {
            let made = match entry.empty_layer {
                true => None,
                false => layer.next().and_then(|l| l.created.clone()),
            };
            made.filter(|_| *ours)
        })
        .collect();
    // Fill entries without a layer from the step before, then after.
    fill_from_neighbour(dates.iter_mut().zip(&ours));
    fill_from_neighbour(dates.iter_mut().zip(&ours).rev());
    let Some(latest) = dates.iter().flatten().max_by_key(|d| sortable(d)).cloned() else {
        return;
    };
    for (entry, date) in config.history.iter_mut().zip(dates) {
        if let Some(date) = date {
            entry.created = Some(date);
        }
    }
    if config.created.as_deref() == Some(build_time) {
        config.created = Some(latest);
    }
}

/// Gives each of this build's undated entries the date of the last dated
/// entry before it in the order of `entries`.
fn fill_from_neighbour<'a>(entries: impl Iterator<Item = (&'a mut Option<String>, &'a bool)>) {
    let mut last = None;
    for (date, ours) in entries {
        match (date.as_ref(), ours) {
            (Some(d), _) => last = Some(d.clone()),
            (None, true) => *date = last.clone(),
            (None, false) => {}
        }
    }
}

/// An RFC 3339 UTC time as Go writes it (`…:05Z`, `…:05.5Z`), made
/// comparable as text: the fraction padded to nine digits.
fn sortable(time: &str) -> String {
    let time = time.trim_end_matches('Z');
    let (whole, fraction) = time.split_once('.').unwrap_or((time, ""));
    format!("{whole}.{fraction:0<9}")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_compare_with_their_fractions() {
        assert!(sortable("2026-01-01T10:00:00.5Z") > sortable("2026-01-01T10:00:00Z"));
        assert!(sortable("2026-01-01T10:00:00.5Z") < sortable("2026-01-01T10:00:00.51Z"));
        assert!(sortable("2026-01-01T10:00:01Z") > sortable("2026-01-01T10:00:00.999Z"));
    }
}
