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
    /// What `COPY --from` steps select from stages, so a step whose
    /// source stage is an imported hit is keyed without its files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selections: Vec<ExportedSelection>,
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

/// What one export writes: records, cache mounts' contents, and the
/// digests of what COPY steps select from stages.
#[derive(Debug, Default)]
pub(crate) struct Contents {
    /// Cache key → record.
    pub records: Vec<(Digest, kiln_cache::CacheRecord)>,
    /// `mounts=true`: the cache mounts to carry.
    pub mounts: Vec<MountLayer>,
    /// `COPY --from` selections: memo key → the selection's digest.
    pub selections: Vec<(Digest, Digest)>,
}

impl Contents {
    /// The manifest's layers: the records' and the mounts', each once.
    pub(crate) fn manifest_layers(&self) -> Vec<(kiln_oci::Descriptor, Digest)> {
        let mut layers = layers_of(&self.records);
        for (_, descriptor, diff_id) in &self.mounts {
            if !layers.iter().any(|(_, d)| d == diff_id) {
                layers.push((descriptor.clone(), diff_id.clone()));
            }
        }
        layers
    }

    /// The config, for a manifest whose layers are `layers`
    /// ([`Contents::manifest_layers`]).
    pub(crate) fn config(self, layers: &[(kiln_oci::Descriptor, Digest)]) -> CacheConfig {
        CacheConfig {
            version: VERSION,
            keys: keys_version(),
            layers: layers.iter().map(|(_, diff_id)| diff_id.clone()).collect(),
            records: self
                .records
                .into_iter()
                .map(|(key, record)| ExportedRecord { key, record })
                .collect(),
            mounts: self
                .mounts
                .into_iter()
                .map(|(key, _, diff_id)| ExportedMount { key, diff_id })
                .collect(),
            selections: self
                .selections
                .into_iter()
                .map(|(key, digest)| ExportedSelection { key, digest })
                .collect(),
        }
    }
}

/// A `COPY --from` selection's digest: what the step's key needs from
/// the source stage's files, so an importer keys the step without them.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ExportedSelection {
    /// The memo key (`worker/cache.rs` `select_layers`: the copy action
    /// and the identity of the stage's layers).
    pub key: Digest,
    /// The digest of what it selects.
    pub digest: Digest,
}

/// The key under which `--cache-to type=inline` embeds a [`CacheConfig`]
/// in an image's config (as BuildKit embeds its own under
/// `moby.buildkit.cache.v0`); its `layers` are the image's diff IDs.
pub(crate) const INLINE_KEY: &str = "kiln.cache.v1";

/// The cache an image carries (`--cache-to type=inline`): a
/// [`CacheConfig`] whose records name their layers by diff ID only — the
/// image's manifest has the blobs, and a descriptor would name the
/// exporting store's copy (uncompressed here, compressed in a store that
/// pulled it), making the same image's config differ between stores.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InlineCache {
    /// [`VERSION`].
    pub version: u32,
    /// As [`CacheConfig::keys`].
    pub keys: String,
    /// The image's diff IDs.
    pub layers: Vec<Digest>,
    /// The records, in key order.
    pub records: Vec<InlineRecord>,
}

/// A record as an image carries it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InlineRecord {
    /// The step's cache key.
    pub key: Digest,
    /// The record's layers, base first.
    pub layers: Vec<InlineLayer>,
    /// As [`CacheRecord::created`].
    pub created: String,
    /// As [`CacheRecord::description`].
    pub description: String,
}

/// A record's layer without its blob's descriptor.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InlineLayer {
    /// The step changed nothing.
    pub empty: bool,
    /// Its chain ID.
    pub chain_id: Digest,
    /// Its diff ID.
    pub diff_id: Digest,
}

/// The inline cache of an image whose layers are `diff_ids`: the records
/// whose layers are all among them (the others' blobs are not in the
/// image, so no importer could use them).
pub(crate) fn inline_config(
    records: Vec<(Digest, CacheRecord)>,
    diff_ids: &[Digest],
) -> InlineCache {
    let records = records
        .into_iter()
        .filter(|(_, r)| {
            r.layers
                .iter()
                .all(|l| l.empty || diff_ids.contains(&l.diff_id))
        })
        .map(|(key, record)| InlineRecord {
            key,
            layers: record
                .layers
                .into_iter()
                .map(|l| InlineLayer {
                    empty: l.empty,
                    chain_id: l.chain_id,
                    diff_id: l.diff_id,
                })
                .collect(),
            created: record.created,
            description: record.description,
        })
        .collect();
    InlineCache {
        version: VERSION,
        keys: keys_version(),
        layers: diff_ids.to_vec(),
        records,
    }
}

/// The [`CacheConfig`] of an image's inline cache: each record's layers
/// get the manifest's descriptors back (an empty one, the descriptor the
/// worker files an empty step with: an empty tar named by its chain ID).
fn from_inline(
    inline: InlineCache,
    manifest: &kiln_oci::Manifest,
    diff_ids: &[Digest],
) -> Result<CacheConfig, String> {
    if inline.layers != diff_ids {
        return Err("the image's inline cache does not list the image's own layers".to_string());
    }
    let descriptor = |layer: &InlineLayer| match layer.empty {
        true => Some(kiln_oci::Descriptor::new(
            kiln_oci::media_type::OCI_LAYER_TAR,
            layer.chain_id.clone(),
            0,
        )),
        false => diff_ids
            .iter()
            .position(|d| d == &layer.diff_id)
            .and_then(|i| manifest.layers.get(i))
            .cloned(),
    };
    let mut records = Vec::new();
    for r in inline.records {
        let mut layers = Vec::new();
        for layer in r.layers {
            let descriptor = descriptor(&layer).ok_or_else(|| {
                format!(
                    "the inline cache names layer {}, not the image's",
                    layer.diff_id
                )
            })?;
            layers.push(kiln_cache::RecordLayer {
                empty: layer.empty,
                chain_id: layer.chain_id,
                diff_id: layer.diff_id,
                descriptor,
            });
        }
        records.push(ExportedRecord {
            key: r.key,
            record: CacheRecord {
                layers,
                created: r.created,
                description: r.description,
            },
        });
    }
    Ok(CacheConfig {
        version: inline.version,
        keys: inline.keys,
        layers: inline.layers,
        records,
        mounts: Vec::new(),
        selections: Vec::new(),
    })
}

/// The cache a manifest's config (`bytes`, already checked against the
/// manifest's digest) holds: a kiln cache config, or an image config
/// with an inline cache; of this version, with keys made as this kiln
/// makes them, and a diff ID for each layer.
pub(crate) fn read_config(
    manifest: &kiln_oci::Manifest,
    bytes: &[u8],
) -> Result<CacheConfig, String> {
    let invalid = |e: serde_json::Error| {
        format!(
            "the cache config {} is invalid: {e}",
            manifest.config.digest
        )
    };
    let config: CacheConfig = match is_image_config(&manifest.config.media_type) {
        false => serde_json::from_slice(bytes).map_err(invalid)?,
        true => {
            let mut image: kiln_oci::ImageConfig =
                serde_json::from_slice(bytes).map_err(invalid)?;
            let inline = image.extra.remove(INLINE_KEY).ok_or_else(|| {
                "the image carries no inline kiln cache (build it with --cache-to type=inline)"
                    .to_string()
            })?;
            let inline: InlineCache = serde_json::from_value(inline).map_err(invalid)?;
            from_inline(inline, manifest, &image.rootfs.diff_ids)?
        }
    };
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

/// An image config's media type (OCI or docker).
fn is_image_config(media_type: &str) -> bool {
    media_type == kiln_oci::media_type::OCI_CONFIG
        || media_type == kiln_oci::media_type::DOCKER_CONFIG
}

/// Refuses a manifest whose config is neither a kiln cache config nor an
/// image's (which may carry an inline cache), before its config is read.
pub(crate) fn check_manifest(manifest: &kiln_oci::Manifest) -> Result<(), String> {
    let kind = &manifest.config.media_type;
    if kind != CONFIG_MEDIA_TYPE && !is_image_config(kind) {
        return Err(format!(
            "the manifest's config is {kind:?}, not a kiln cache config ({CONFIG_MEDIA_TYPE}) or an image's"
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
