//! Images in the store: a manifest, its config and the tags that name it,
//! and finding one from what a user types (`busybox`, `app:v1`,
//! `app@sha256:…`, a manifest digest, or an image ID prefix as docker
//! accepts it).

use crate::error::StoreError;
use crate::layout::Store;
use kiln_oci::annotations::REF_NAME;
use kiln_oci::{Descriptor, Digest, ImageConfig, Index, Manifest, Platform, Reference, media_type};

/// An image: the manifest that defines it and its config.
#[derive(Clone, Debug)]
pub struct Image {
    /// The manifest's descriptor (for an index, the chosen platform's).
    pub manifest_descriptor: Descriptor,
    /// The manifest.
    pub manifest: Manifest,
    /// The config blob's digest: the image ID.
    pub id: Digest,
    /// The config.
    pub config: ImageConfig,
    /// Full names of the tags pointing at it, sorted.
    pub tags: Vec<String>,
}

impl Image {
    /// The first 12 hex digits of the ID, as `docker images` shows it.
    pub fn short_id(&self) -> &str {
        &self.id.encoded()[..12]
    }

    /// Bytes of the config and the layer blobs.
    pub fn size(&self) -> u64 {
        self.manifest.config.size + self.manifest.layers.iter().map(|l| l.size).sum::<u64>()
    }
}

impl Store {
    /// Reads the manifest `descriptor` names; an index resolves to the
    /// manifest for this host's platform.
    pub fn image(&self, descriptor: &Descriptor) -> Result<Image, StoreError> {
        let bytes = self.blobs().read(&descriptor.digest)?;
        let format = |what: &'static str, message: String| StoreError::Format {
            what,
            path: self.blobs().path(&descriptor.digest),
            message,
        };
        let (manifest_descriptor, manifest) = if media_type::is_index(&descriptor.media_type) {
            let index =
                Index::from_json(&bytes).map_err(|e| format("image index", e.to_string()))?;
            let host = Platform::host();
            let chosen =
                index.manifests_for(&host).next().cloned().ok_or_else(|| {
                    format("image index", format!("no manifest for platform {host}"))
                })?;
            let bytes = self.blobs().read(&chosen.digest)?;
            let manifest =
                Manifest::from_json(&bytes).map_err(|e| format("manifest", e.to_string()))?;
            (chosen, manifest)
        } else {
            let manifest =
                Manifest::from_json(&bytes).map_err(|e| format("manifest", e.to_string()))?;
            (descriptor.clone(), manifest)
        };
        let id = manifest.config.digest.clone();
        let config_bytes = self.blobs().read(&id)?;
        let config = ImageConfig::from_json(&config_bytes).map_err(|e| StoreError::Format {
            what: "image config",
            path: self.blobs().path(&id),
            message: e.to_string(),
        })?;
        Ok(Image {
            manifest_descriptor,
            manifest,
            id,
            config,
            tags: Vec::new(),
        })
    }

    /// Every image in the store (tagged or not), each once, with its tags.
    pub fn images(&self) -> Result<Vec<Image>, StoreError> {
        let mut images: Vec<Image> = Vec::new();
        for entry in self.index()?.manifests {
            let tag = entry.annotation(REF_NAME).map(str::to_string);
            if let Some(known) = images
                .iter_mut()
                .find(|i| i.manifest_descriptor.digest == entry.digest)
            {
                known.tags.extend(tag);
                continue;
            }
            let mut image = self.image(&entry)?;
            image.tags.extend(tag);
            images.push(image);
        }
        for image in &mut images {
            image.tags.sort();
        }
        Ok(images)
    }

    /// Finds the image a user means by `query`: a name (`busybox`,
    /// `app:v1`), a name with digest, a manifest digest, or an image ID or a
    /// unique prefix of one (at least 4 hex digits, with or without
    /// `sha256:`).
    pub fn find_image(&self, query: &str) -> Result<Image, StoreError> {
        let images = self.images()?;
        let not_found = || StoreError::ImageNotFound(query.to_string());
        if let Ok(reference) = Reference::parse(query) {
            if let Some(digest) = reference.digest() {
                return images
                    .into_iter()
                    .find(|i| &i.manifest_descriptor.digest == digest || &i.id == digest)
                    .ok_or_else(not_found);
            }
            let name = reference.to_string();
            if let Some(image) = images.iter().find(|i| i.tags.contains(&name)) {
                return Ok(image.clone());
            }
        }
        let hex = query.strip_prefix("sha256:").unwrap_or(query);
        if hex.len() < 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found());
        }
        let hex = hex.to_ascii_lowercase();
        let mut matches = images.into_iter().filter(|i| {
            i.id.encoded().starts_with(&hex)
                || i.manifest_descriptor.digest.encoded().starts_with(&hex)
        });
        let first = matches.next().ok_or_else(not_found)?;
        if matches.next().is_some() {
            return Err(StoreError::AmbiguousImage(query.to_string()));
        }
        Ok(first)
    }
}
