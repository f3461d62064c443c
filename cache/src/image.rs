//! Images in the store: a manifest, its config and the tags that name it,
//! and finding one from what a user types (`busybox`, `app:v1`,
//! `app@sha256:…`, a manifest or index digest, or an image ID prefix as
//! docker accepts it).

use crate::error::StoreError;
use crate::layout::Store;
use kiln_oci::annotations::REF_NAME;
use kiln_oci::{Descriptor, Digest, ImageConfig, Index, Manifest, Platform, Reference, media_type};

/// An image: the index.json entry, the manifest it resolves to, its config.
#[derive(Clone, Debug)]
pub struct Image {
    /// The entry in index.json (annotations removed): a manifest, or an
    /// index for a multi-platform image. Tags point here.
    pub target: Descriptor,
    /// The manifest for this machine (for a manifest target, the target).
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

/// What `images` found: the readable images and the entries it could not
/// read, each with the reason (so one bad entry never hides the rest).
#[derive(Debug, Default)]
pub struct Images {
    /// Readable images, in index order.
    pub list: Vec<Image>,
    /// Unreadable entries: a name or digest, and why.
    pub broken: Vec<(String, StoreError)>,
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

/// What a blob refers to.
pub(crate) enum Children {
    /// An image index: its manifests.
    Index(Vec<Descriptor>),
    /// A manifest: its config and layers.
    Manifest(Box<Manifest>),
    /// A leaf (config, layer, anything else).
    None,
}

/// Whether `image` is for `platform` (an image whose config names no
/// platform fits any).
pub fn fits(image: &Image, platform: &Platform) -> bool {
    let found = image.config.platform();
    found.os.is_empty() || found.architecture.is_empty() || platform.matches(&found)
}

/// Manifests and indexes are small; anything larger is not one.
const MAX_DOCUMENT: u64 = 8 << 20;

impl Store {
    /// What the blob `descriptor` names refers to. The media type decides;
    /// when it is missing or unknown, the document's own shape does
    /// (`manifests` → index, `config` and `layers` → manifest), so content
    /// reachable through a sloppily typed descriptor is never collected.
    pub(crate) fn children(&self, descriptor: &Descriptor) -> Result<Children, StoreError> {
        let kind = descriptor.media_type.as_str();
        let format = |e: kiln_oci::FormatError| StoreError::Format {
            what: "manifest",
            path: self.blobs().path(&descriptor.digest),
            message: e.to_string(),
        };
        if media_type::is_index(kind) {
            return Ok(Children::Index(
                Index::from_json(&self.blobs().read(&descriptor.digest)?)
                    .map_err(format)?
                    .manifests,
            ));
        }
        if media_type::is_manifest(kind) {
            return Ok(Children::Manifest(Box::new(
                Manifest::from_json(&self.blobs().read(&descriptor.digest)?).map_err(format)?,
            )));
        }
        let known_leaf = media_type::is_layer(kind) || media_type::is_config(kind);
        if known_leaf || descriptor.size > MAX_DOCUMENT {
            return Ok(Children::None);
        }
        let Ok(bytes) = self.blobs().read(&descriptor.digest) else {
            return Ok(Children::None);
        };
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return Ok(Children::None);
        };
        if value
            .get("manifests")
            .is_some_and(serde_json::Value::is_array)
        {
            if let Ok(index) = Index::from_json(&bytes) {
                return Ok(Children::Index(index.manifests));
            }
        } else if value.get("config").is_some()
            && value.get("layers").is_some()
            && let Ok(manifest) = Manifest::from_json(&bytes)
        {
            return Ok(Children::Manifest(Box::new(manifest)));
        }
        Ok(Children::None)
    }

    /// Reads the image `target` names; an index resolves to the manifest
    /// for this machine's platform or, when it has none (a build for other
    /// platforms only), its first manifest.
    pub fn image(&self, target: &Descriptor) -> Result<Image, StoreError> {
        self.image_choosing(target, None)
    }

    /// [`Store::image`], where with `platform` an index resolves to that
    /// platform's manifest (an error when it has none); a single manifest
    /// is returned whatever its platform (the caller judges it).
    fn image_choosing(
        &self,
        target: &Descriptor,
        platform: Option<&Platform>,
    ) -> Result<Image, StoreError> {
        let format = |what: &'static str, digest: &Digest, message: String| StoreError::Format {
            what,
            path: self.blobs().path(digest),
            message,
        };
        let manifest_descriptor = if media_type::is_index(&target.media_type) {
            let index = self.read_index(&target.digest)?;
            let wanted = platform.cloned().unwrap_or_else(Platform::host);
            let found = index.manifests_for(&wanted).next().cloned();
            let first = || match platform {
                None => index
                    .manifests
                    .iter()
                    .find(|d| d.platform.as_ref().is_some_and(|p| p.os != "unknown"))
                    .cloned(),
                Some(_) => None,
            };
            found.or_else(first).ok_or_else(|| StoreError::NoPlatform {
                digest: target.digest.clone(),
                platform: wanted.to_string(),
            })?
        } else {
            target.clone()
        };
        let manifest_bytes = self.blobs().read(&manifest_descriptor.digest)?;
        let manifest = Manifest::from_json(&manifest_bytes)
            .map_err(|e| format("manifest", &manifest_descriptor.digest, e.to_string()))?;
        let id = manifest.config.digest.clone();
        let config = ImageConfig::from_json(&self.blobs().read(&id)?)
            .map_err(|e| format("image config", &id, e.to_string()))?;
        let mut target = target.clone();
        target.annotations.clear();
        Ok(Image {
            target,
            manifest_descriptor,
            manifest,
            id,
            config,
            tags: Vec::new(),
        })
    }

    /// The image index stored as `digest`.
    fn read_index(&self, digest: &Digest) -> Result<Index, StoreError> {
        Index::from_json(&self.blobs().read(digest)?).map_err(|e| StoreError::Format {
            what: "image index",
            path: self.blobs().path(digest),
            message: e.to_string(),
        })
    }

    /// Each platform's image of the index `target`, in its order; every
    /// manifest it lists must be stored (a partial index is an error).
    pub fn platform_images(
        &self,
        target: &Descriptor,
    ) -> Result<Vec<(Platform, Image)>, StoreError> {
        self.read_index(&target.digest)?
            .manifests
            .iter()
            .map(|manifest| {
                let platform = manifest.platform.clone().unwrap_or_default();
                Ok((platform, self.image(manifest)?))
            })
            .collect()
    }

    /// The platforms `image` is for: each platform of its index, or its
    /// config's platform (normalized, `linux/arm64`).
    pub fn platforms_of(&self, image: &Image) -> Vec<Platform> {
        let listed = media_type::is_index(&image.target.media_type)
            .then(|| self.read_index(&image.target.digest).ok())
            .flatten()
            .map(|index| {
                index
                    .manifests
                    .iter()
                    .filter_map(|m| m.platform.as_ref().map(Platform::normalize))
                    .filter(|p| p.os != "unknown")
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        match listed.is_empty() {
            true => vec![image.config.platform().normalize()],
            false => listed,
        }
    }

    /// Every image in the store (tagged or not), each once, with its tags.
    pub fn images(&self) -> Result<Images, StoreError> {
        let mut images = Images::default();
        for entry in self.index()?.manifests {
            let tag = entry.annotation(REF_NAME).map(str::to_string);
            if let Some(known) = images
                .list
                .iter_mut()
                .find(|i| i.target.digest == entry.digest)
            {
                known.tags.extend(tag);
                continue;
            }
            match self.image(&entry) {
                Ok(mut image) => {
                    image.tags.extend(tag);
                    images.list.push(image);
                }
                Err(e) => images
                    .broken
                    .push((tag.unwrap_or_else(|| entry.digest.to_string()), e)),
            }
        }
        for image in &mut images.list {
            image.tags.sort();
        }
        Ok(images)
    }

    /// Finds the image a user means by `query`: a name (`busybox`,
    /// `app:v1`), a name with digest, a manifest or index digest, or an
    /// image ID or a unique prefix of one (at least 4 hex digits, with or
    /// without `sha256:`). An index digest finds this machine's image.
    pub fn find_image(&self, query: &str) -> Result<Image, StoreError> {
        self.find_image_choosing(query, None)
    }

    /// [`Store::find_image`], where an index (tagged, or by digest) finds
    /// the image for `platform`.
    pub fn find_image_for(&self, query: &str, platform: &Platform) -> Result<Image, StoreError> {
        self.find_image_choosing(query, Some(platform))
    }

    fn find_image_choosing(
        &self,
        query: &str,
        chosen: Option<&Platform>,
    ) -> Result<Image, StoreError> {
        let host = Platform::host();
        let platform = chosen.unwrap_or(&host);
        let not_found = || StoreError::ImageNotFound(query.to_string());
        if let Ok(reference) = Reference::parse(query)
            && reference.digest().is_none()
            && let Some(target) = self.resolve_tag(&reference)?
        {
            let mut image = self.image_choosing(&target, chosen)?;
            // A tag pulled for another platform: that platform's image,
            // when the index it came from lists one the store holds.
            if let Some(wanted) = chosen
                && !fits(&image, wanted)
                && let Some(sibling) = self.pulled_sibling(&image, wanted)?
            {
                return Ok(sibling);
            }
            image.tags = self.tags_of(&target.digest)?;
            return Ok(image);
        }
        let digest = Reference::parse(query)
            .ok()
            .and_then(|r| r.digest().cloned());
        let hex = query
            .strip_prefix("sha256:")
            .unwrap_or(query)
            .to_ascii_lowercase();
        let is_prefix = hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if digest.is_none() && !is_prefix {
            return Err(not_found());
        }
        let matches: Vec<Image> = self
            .images()?
            .list
            .into_iter()
            .filter(|i| {
                let digests = [&i.target.digest, &i.manifest_descriptor.digest, &i.id];
                match &digest {
                    Some(d) => digests.contains(&d),
                    None => digests.iter().any(|d| d.encoded().starts_with(&hex)),
                }
            })
            .collect();
        let Some(first) = matches.first() else {
            return match digest {
                Some(index) => self
                    .pulled_from_index(&index, platform)?
                    .ok_or_else(not_found),
                None => Err(not_found()),
            };
        };
        // An index asked for by its digest, for a platform: that
        // platform's image (`images` resolved it for the host).
        if let Some(wanted) = chosen
            && media_type::is_index(&first.target.media_type)
            && match &digest {
                Some(d) => d == &first.target.digest,
                None => first.target.digest.encoded().starts_with(&hex),
            }
        {
            let mut image = self.image_choosing(&first.target, Some(wanted))?;
            image.tags = first.tags.clone();
            return Ok(image);
        }
        // Two entries with one config (say, the same image with gzip and
        // with plain layers) are one image ID: not ambiguous.
        if matches.iter().any(|i| i.id != first.id) {
            return Err(StoreError::AmbiguousImage(query.to_string()));
        }
        Ok(first.clone())
    }

    /// The image for `platform` of the index `image` was pulled from
    /// (`PULLED_FROM_INDEX_MEMO`), when the store holds it.
    fn pulled_sibling(
        &self,
        image: &Image,
        platform: &Platform,
    ) -> Result<Option<Image>, StoreError> {
        let Some(index) = self
            .memo(
                crate::PULLED_FROM_INDEX_MEMO,
                &image.manifest_descriptor.digest,
            )
            .and_then(|text| text.trim().parse::<Digest>().ok())
        else {
            return Ok(None);
        };
        self.pulled_from_index(&index, platform)
    }

    /// The image for `platform` in the index `digest`, when the index
    /// blob is stored (a pull by index digest keeps it beside the
    /// platform's manifest, which index.json lists) and that manifest is
    /// an image of the store.
    fn pulled_from_index(
        &self,
        digest: &Digest,
        platform: &Platform,
    ) -> Result<Option<Image>, StoreError> {
        // A layer could have the digest asked for: only small blobs are
        // read, and only an index is used.
        let small = std::fs::metadata(self.blobs().path(digest))
            .is_ok_and(|m| m.is_file() && m.len() <= MAX_DOCUMENT);
        if !small {
            return Ok(None);
        }
        let Ok(index) = Index::from_json(&self.blobs().read(digest)?) else {
            return Ok(None);
        };
        let Some(chosen) = index.manifests_for(platform).next() else {
            return Ok(None);
        };
        Ok(self
            .images()?
            .list
            .into_iter()
            .find(|i| i.manifest_descriptor.digest == chosen.digest))
    }

    /// The names tagged on `digest`, sorted.
    fn tags_of(&self, digest: &Digest) -> Result<Vec<String>, StoreError> {
        let mut tags: Vec<String> = self
            .index()?
            .manifests
            .iter()
            .filter(|d| &d.digest == digest)
            .filter_map(|d| d.annotation(REF_NAME).map(str::to_string))
            .collect();
        tags.sort();
        Ok(tags)
    }
}
