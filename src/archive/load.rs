//! `load`: an image archive into the store. The format is detected from
//! its contents: `manifest.json` means a docker-archive (moby's
//! `image/tarexport`), `index.json` + `oci-layout` an OCI image layout
//! (image-spec image-layout.md). Every blob is verified: OCI blobs against
//! the digest in their path, docker-archive layers against the diff IDs in
//! the image config.

use super::read::ArchiveFiles;
use anyhow::{Context as _, bail};
use kiln_cache::Store;
use kiln_oci::annotations::{CONTAINERD_IMAGE_NAME, REF_NAME};
use kiln_oci::docker_archive::ArchiveEntry;
use kiln_oci::{Descriptor, Digest, ImageConfig, Index, Manifest, Reference, media_type};
use std::io::Read;

/// An image the archive held.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Its names (full form), possibly none.
    pub names: Vec<Reference>,
    /// The manifest (or index) it was stored under.
    pub target: Descriptor,
}

/// Reads an archive stream into `store` and tags what it names.
pub fn load(store: &Store, input: impl Read) -> anyhow::Result<Vec<Loaded>> {
    let _lease = store.lease()?;
    let files = ArchiveFiles::read(store, input)?;
    let loaded = if let Some(manifest_json) = files.small("manifest.json") {
        load_docker(store, &files, manifest_json)?
    } else if files.small("index.json").is_some() && files.small("oci-layout").is_some() {
        load_oci(store, &files)?
    } else {
        bail!(
            "not an image archive: it has neither manifest.json (docker save) nor index.json and oci-layout (OCI)"
        );
    };
    for image in &loaded {
        if image.names.is_empty() {
            let target = image.target.clone();
            store.update_index(|index| {
                if !index.manifests.iter().any(|d| d.digest == target.digest) {
                    index.manifests.push(target);
                }
            })?;
        }
        for name in &image.names {
            store.set_tag(name, &image.target)?;
        }
    }
    Ok(loaded)
}

fn load_docker(
    store: &Store,
    files: &ArchiveFiles,
    manifest_json: &[u8],
) -> anyhow::Result<Vec<Loaded>> {
    let entries = ArchiveEntry::list_from_json(manifest_json)
        .context("invalid manifest.json in the archive")?;
    let mut loaded = Vec::new();
    for entry in entries {
        let config_bytes = files
            .small(&entry.config)
            .with_context(|| format!("the archive has no config {}", entry.config))?;
        let config = ImageConfig::from_json(config_bytes)
            .with_context(|| format!("invalid image config {}", entry.config))?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != entry.layers.len() {
            bail!(
                "image config {} lists {} layers but manifest.json lists {}",
                entry.config,
                diff_ids.len(),
                entry.layers.len()
            );
        }
        let (config_digest, config_size) = files.blob(store, &entry.config)?;
        let mut layers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(diff_ids) {
            let (digest, size) = files.blob(store, path)?;
            let media_type = layer_media_type(store, &digest)?;
            if media_type == media_type::OCI_LAYER_TAR && &digest != diff_id {
                bail!("layer {path} has digest {digest}, but the image config says {diff_id}");
            }
            layers.push(Descriptor::new(media_type, digest, size));
        }
        let manifest = Manifest::new(
            media_type::OCI_MANIFEST,
            Descriptor::new(media_type::OCI_CONFIG, config_digest, config_size),
            layers,
        );
        let bytes = manifest.to_canonical_json();
        let (digest, size) = store.blobs().put(&bytes, None)?;
        let names = entry
            .repo_tags
            .iter()
            .map(|t| {
                Reference::parse(t).with_context(|| format!("invalid tag {t:?} in manifest.json"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        loaded.push(Loaded {
            names,
            target: Descriptor::new(media_type::OCI_MANIFEST, digest, size),
        });
    }
    Ok(loaded)
}

/// The media type of a stored layer blob, from its first bytes.
fn layer_media_type(store: &Store, digest: &Digest) -> anyhow::Result<&'static str> {
    let mut head = [0u8; 4];
    let mut file = store.blobs().open(digest)?;
    let n = file.read(&mut head).context("cannot read a layer blob")?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => media_type::OCI_LAYER_TAR_GZIP,
        [0x28, 0xb5, 0x2f, 0xfd] => media_type::OCI_LAYER_TAR_ZSTD,
        _ => media_type::OCI_LAYER_TAR,
    })
}

fn load_oci(store: &Store, files: &ArchiveFiles) -> anyhow::Result<Vec<Loaded>> {
    let index_bytes = files
        .small("index.json")
        .context("the archive has no index.json")?;
    let index = Index::from_json(index_bytes).context("invalid index.json in the archive")?;
    let mut loaded = Vec::new();
    for descriptor in index.manifests {
        copy_tree(store, files, &descriptor)?;
        let name = descriptor
            .annotation(CONTAINERD_IMAGE_NAME)
            .or_else(|| descriptor.annotation(REF_NAME))
            .filter(|n| n.contains('/') || n.contains(':'))
            .and_then(|n| Reference::parse(n).ok());
        let mut target = descriptor.clone();
        target.annotations.clear();
        loaded.push(Loaded {
            names: name.into_iter().collect(),
            target,
        });
    }
    Ok(loaded)
}

/// Stores the blob `descriptor` names and everything it references,
/// checking each against the digest it is stored under.
fn copy_tree(store: &Store, files: &ArchiveFiles, descriptor: &Descriptor) -> anyhow::Result<()> {
    let mut pending = vec![descriptor.clone()];
    while let Some(d) = pending.pop() {
        let path = d.digest.blob_path();
        let (digest, size) = files
            .blob(store, &path)
            .with_context(|| format!("the archive is missing blob {}", d.digest))?;
        if digest != d.digest || size != d.size {
            bail!(
                "blob {path} has digest {digest} ({size} bytes), expected {} ({} bytes)",
                d.digest,
                d.size
            );
        }
        if media_type::is_index(&d.media_type) {
            let index = Index::from_json(&store.blobs().read(&digest)?)?;
            pending.extend(index.manifests);
        } else if media_type::is_manifest(&d.media_type) {
            let manifest = Manifest::from_json(&store.blobs().read(&digest)?)?;
            pending.push(manifest.config);
            pending.extend(manifest.layers);
        }
    }
    Ok(())
}
