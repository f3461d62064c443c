//! Pulling an image into the store (distribution-spec "pulling
//! manifests" and "pulling blobs"): the manifest by tag or digest, an
//! index or docker manifest list resolved to one platform, then the config
//! and the layers, downloaded concurrently and verified against their
//! digests. The store keeps blobs as the registry serves them (compressed),
//! and each layer is unpacked into its snapshot while it downloads
//! (`unpack`), so the image is ready to run when the pull ends. The tag
//! changes only after every blob is stored.

use super::client::Registry;
use super::download::{fetch_blob, fetch_document};
use super::error::RegistryError;
use super::unpack::{Snapshot, fetch_and_unpack};
use kiln_cache::Store;
use kiln_oci::{Descriptor, Digest, ImageConfig, Index, Manifest, Platform, Reference, media_type};

/// What `pull` accepts in answer to a manifest request.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Layers downloaded at once (docker's default `max-concurrent-downloads`).
const CONCURRENT_DOWNLOADS: usize = 3;

/// What happened during a pull, for progress output.
pub enum PullEvent<'a> {
    /// The reference resolved to this manifest.
    Resolved(&'a Descriptor),
    /// A layer was already in the store.
    LayerExists(&'a Descriptor),
    /// A layer finished downloading.
    LayerDone(&'a Descriptor),
    /// A layer stays in the registry until something reads it (a lazy
    /// pull).
    LayerRemote(&'a Descriptor),
}

/// A finished pull.
pub struct Pulled {
    /// The platform's manifest, as stored and tagged.
    pub manifest: Descriptor,
}

/// Pulls `reference` for `platform` into `store` and points its tag (if it
/// has one) at it. `lazy` (a build's base image, as BuildKit pulls them):
/// the manifest and config only, each layer marked remote
/// (`kiln_cache`'s `remote`) and fetched when something reads it — a
/// step running on it, `kiln run`, a push to another registry.
pub fn pull(
    registry: &Registry,
    store: &Store,
    reference: &Reference,
    platform: &Platform,
    lazy: bool,
    progress: &(dyn Fn(PullEvent<'_>) + Sync),
) -> Result<Pulled, RegistryError> {
    // Held until the tag is set: prune cannot collect blobs in between.
    let _lease = store.lease()?;
    let repository = reference.path();
    let (manifest_descriptor, manifest, manifest_bytes, index) =
        resolve(registry, reference, platform)?;
    progress(PullEvent::Resolved(&manifest_descriptor));
    fetch_blob(registry, store, repository, &manifest.config, &|_| {})?;
    let config = check_platform(
        store,
        registry,
        reference,
        &manifest.config.digest,
        platform,
    )?;
    // An image kiln could not use (a config whose diff IDs do not match
    // the layers, too many layers) is refused before its layers download.
    manifest
        .check_image(&config)
        .map_err(|message| invalid(registry, &format!("image {reference}"), message))?;
    let diff_ids = &config.rootfs.diff_ids;
    let chain_ids = kiln_oci::chain_ids(diff_ids);
    let layers: Vec<(&Descriptor, Option<Snapshot<'_>>)> = manifest
        .layers
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let snapshot = chain_ids.get(i).map(|chain_id| Snapshot {
                chain_id,
                diff_id: &diff_ids[i],
            });
            (layer, snapshot)
        })
        .collect();
    // Later pushes to this registry can mount these blobs from here, and
    // a remote one is fetched from here.
    for blob in manifest.layers.iter().chain([&manifest.config]) {
        super::push::remember_repository(store, registry, repository, &blob.digest);
    }
    match lazy {
        false => fetch_layers(registry, store, repository, &layers, progress)?,
        true => {
            for (layer, _) in &layers {
                match store.blobs().contains(&layer.digest) {
                    true => progress(PullEvent::LayerExists(layer)),
                    false => {
                        super::lazy::mark_remote(store, registry, repository, layer)?;
                        progress(PullEvent::LayerRemote(layer));
                    }
                }
            }
        }
    }
    let siblings = match &index {
        Some((digest, bytes)) => {
            store.blobs().put(bytes, Some(digest))?;
            // Which index the manifest was chosen from: another platform
            // of the same tag is found through it (`Store::find_image_for`).
            store.put_memo(
                kiln_cache::PULLED_FROM_INDEX_MEMO,
                &manifest_descriptor.digest,
                digest.as_str(),
            )?;
            Index::from_json(bytes)
                .map(|i| i.manifests)
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    store
        .blobs()
        .put(&manifest_bytes, Some(&manifest_descriptor.digest))?;
    if let Some(tag) = reference.tag() {
        let name = Reference::parse(&reference.name())
            .and_then(|r| r.with_tag(tag))
            .map_err(|e| RegistryError::Invalid {
                what: "reference".into(),
                host: registry.host().to_string(),
                message: e.to_string(),
            })?;
        // A tag names one manifest. When it names another platform's of
        // the same index, both stay: the one for this machine keeps the
        // tag (so a build for several platforms leaves `kiln run NAME` as
        // it was), the other is kept untagged (as docker leaves it) and
        // found through the index (`Store::find_image_for`).
        let sibling = store.resolve_tag(&name)?.and_then(|previous| {
            let listed = siblings.iter().find(|m| m.digest == previous.digest)?;
            (previous.digest != manifest_descriptor.digest)
                .then(|| (previous, listed.platform.clone()))
        });
        let host = Platform::host();
        match sibling {
            Some((_, Some(was))) if host.matches(&was) && !host.matches(platform) => {
                store.add_untagged(&manifest_descriptor)?;
            }
            Some((previous, _)) => {
                store.set_tag(&name, &manifest_descriptor)?;
                store.add_untagged(&previous)?;
            }
            None => {
                store.set_tag(&name, &manifest_descriptor)?;
            }
        }
    } else {
        store.add_untagged(&manifest_descriptor)?;
    }
    Ok(Pulled {
        manifest: manifest_descriptor,
    })
}

type Resolved = (Descriptor, Manifest, Vec<u8>, Option<(Digest, Vec<u8>)>);

/// The manifest `reference` names for `platform`, with its bytes, and the
/// index it was chosen from, if any.
fn resolve(
    registry: &Registry,
    reference: &Reference,
    platform: &Platform,
) -> Result<Resolved, RegistryError> {
    let repository = reference.path();
    let wanted = reference.digest().map_or_else(
        || reference.tag().unwrap_or("latest").to_string(),
        |d| d.to_string(),
    );
    let what = format!("manifest {}", reference.familiar());
    let url = registry.url(&format!("{repository}/manifests/{wanted}"));
    let document = fetch_document(registry, &what, repository, &url, ACCEPT)?;
    let (bytes, content_type) = (document.bytes, document.content_type);
    let digest = Digest::of(&bytes);
    if let Some(expected) = reference.digest()
        && expected != &digest
    {
        return Err(RegistryError::DigestMismatch {
            what,
            host: registry.host().to_string(),
            expected: expected.clone(),
            actual: digest,
        });
    }
    let kind = document_kind(&bytes, content_type.as_deref());
    if media_type::is_index(&kind) {
        let index = Index::from_json(&bytes).map_err(|e| invalid(registry, &what, e))?;
        let chosen = index
            .manifests_for(platform)
            .next()
            .cloned()
            .ok_or_else(|| RegistryError::NoPlatform {
                reference: reference.familiar(),
                platform: platform.to_string(),
                available: index
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref().map(ToString::to_string))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let what = format!("manifest {} of {}", chosen.digest, reference.familiar());
        let url = registry.url(&format!("{repository}/manifests/{}", chosen.digest));
        let manifest_bytes = fetch_document(registry, &what, repository, &url, ACCEPT)?.bytes;
        let actual = Digest::of(&manifest_bytes);
        if actual != chosen.digest {
            return Err(RegistryError::DigestMismatch {
                what,
                host: registry.host().to_string(),
                expected: chosen.digest.clone(),
                actual,
            });
        }
        let manifest =
            Manifest::from_json(&manifest_bytes).map_err(|e| invalid(registry, &what, e))?;
        let descriptor = Descriptor::new(
            &media_type_of(&manifest, &chosen.media_type),
            actual,
            manifest_bytes.len() as u64,
        );
        return Ok((descriptor, manifest, manifest_bytes, Some((digest, bytes))));
    }
    if !media_type::is_manifest(&kind) {
        return Err(RegistryError::Invalid {
            what,
            host: registry.host().to_string(),
            message: format!(
                "unsupported media type {kind:?} (docker schema 1 images are not supported)"
            ),
        });
    }
    let manifest = Manifest::from_json(&bytes).map_err(|e| invalid(registry, &what, e))?;
    let descriptor = Descriptor::new(&media_type_of(&manifest, &kind), digest, bytes.len() as u64);
    Ok((descriptor, manifest, bytes, None))
}

/// The manifest `reference` names (an index's manifest for this host's
/// platform), checked against the reference's digest when it has one.
pub(crate) fn fetch_manifest(
    registry: &Registry,
    reference: &Reference,
) -> Result<(Descriptor, Manifest), RegistryError> {
    let (descriptor, manifest, _, _) = resolve(registry, reference, &Platform::host())?;
    Ok((descriptor, manifest))
}

/// A document's media type: its own `mediaType`, else the answer's
/// `Content-Type`, else (image-spec allows omitting it) its shape.
fn document_kind(bytes: &[u8], content_type: Option<&str>) -> String {
    let value: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    if let Some(kind) = value.get("mediaType").and_then(|v| v.as_str()) {
        return kind.to_string();
    }
    if let Some(kind) =
        content_type.filter(|k| media_type::is_index(k) || media_type::is_manifest(k))
    {
        return kind.to_string();
    }
    if value.get("manifests").is_some() {
        media_type::OCI_INDEX.to_string()
    } else {
        media_type::OCI_MANIFEST.to_string()
    }
}

fn media_type_of(manifest: &Manifest, fallback: &str) -> String {
    if manifest.media_type.is_empty() {
        if media_type::is_manifest(fallback) {
            fallback.to_string()
        } else {
            media_type::OCI_MANIFEST.to_string()
        }
    } else {
        manifest.media_type.clone()
    }
}

fn invalid(registry: &Registry, what: &str, error: impl std::fmt::Display) -> RegistryError {
    RegistryError::Invalid {
        what: what.to_string(),
        host: registry.host().to_string(),
        message: error.to_string(),
    }
}

/// An image that is not an index must still be for the platform asked
/// for. Returns the config.
fn check_platform(
    store: &Store,
    registry: &Registry,
    reference: &Reference,
    config: &Digest,
    platform: &Platform,
) -> Result<ImageConfig, RegistryError> {
    let bytes = store.blobs().read(config)?;
    let parsed = ImageConfig::from_json(&bytes)
        .map_err(|e| invalid(registry, &format!("image config {config}"), e))?;
    let found = parsed.platform();
    if !found.os.is_empty() && !found.architecture.is_empty() && !platform.matches(&found) {
        return Err(RegistryError::NoPlatform {
            reference: reference.familiar(),
            platform: platform.to_string(),
            available: found.to_string(),
        });
    }
    Ok(parsed)
}

/// Downloads `layers` on a few threads, each unpacked on the way where
/// its snapshot is known; the first failure stops the rest.
fn fetch_layers(
    registry: &Registry,
    store: &Store,
    repository: &str,
    layers: &[(&Descriptor, Option<Snapshot<'_>>)],
    progress: &(dyn Fn(PullEvent<'_>) + Sync),
) -> Result<(), RegistryError> {
    crate::parallel::for_each(
        layers,
        CONCURRENT_DOWNLOADS,
        |(layer, snapshot)| {
            let downloaded = match snapshot {
                Some(snapshot) => fetch_and_unpack(registry, store, repository, layer, snapshot)?,
                None => fetch_blob(registry, store, repository, layer, &|_| {})?,
            };
            progress(if downloaded {
                PullEvent::LayerDone(layer)
            } else {
                PullEvent::LayerExists(layer)
            });
            Ok(())
        },
        || {
            RegistryError::io(
                "downloading layers",
                std::io::Error::other("a download thread failed"),
            )
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_says_what_it_is_else_the_answer_or_its_shape_does() {
        let typed = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
        assert_eq!(
            document_kind(typed, Some(media_type::OCI_MANIFEST)),
            media_type::DOCKER_MANIFEST_LIST
        );
        let untyped_index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert_eq!(document_kind(untyped_index, None), media_type::OCI_INDEX);
        assert_eq!(
            document_kind(untyped_index, Some(media_type::OCI_INDEX)),
            media_type::OCI_INDEX
        );
        let untyped_manifest = br#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        assert_eq!(
            document_kind(untyped_manifest, Some("text/plain")),
            media_type::OCI_MANIFEST
        );
    }
}
