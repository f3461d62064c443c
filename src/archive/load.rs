//! `load`: an image archive into the store. The format is detected from
//! its contents: `manifest.json` means a docker-archive (moby's
//! `image/tarexport`), `index.json` + `oci-layout` an OCI image layout
//! (image-spec image-layout.md). Every blob is verified before any tag
//! changes: OCI blobs against the digest in their descriptor, docker-archive
//! layers (decompressed when compressed) against the diff IDs in the image
//! config. All the archive's names are then set in one change of the index.

use super::read::ArchiveFiles;
use anyhow::{Context as _, bail};
use kiln_cache::Store;
use kiln_oci::annotations::{CONTAINERD_IMAGE_NAME, REF_NAME};
use kiln_oci::docker_archive::ArchiveEntry;
use kiln_oci::{Descriptor, Digest, Hasher, ImageConfig, Index, Manifest, Reference, media_type};
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
    let loaded = if files.has("manifest.json") {
        load_docker(store, &files)?
    } else if files.has("index.json") && files.has("oci-layout") {
        load_oci(store, &files)?
    } else {
        bail!(
            "not an image archive: it has neither manifest.json (docker save) nor index.json and oci-layout (OCI)"
        );
    };
    let mut tags = Vec::new();
    for image in &loaded {
        if image.names.is_empty() {
            store.add_untagged(&image.target)?;
        }
        tags.extend(
            image
                .names
                .iter()
                .map(|n| (n.clone(), image.target.clone())),
        );
    }
    store.set_tags(&tags)?;
    Ok(loaded)
}

fn load_docker(store: &Store, files: &ArchiveFiles) -> anyhow::Result<Vec<Loaded>> {
    let entries = ArchiveEntry::list_from_json(&files.bytes(store, "manifest.json")?)
        .context("invalid manifest.json in the archive")?;
    let mut loaded = Vec::new();
    for entry in entries {
        let config = ImageConfig::from_json(&files.bytes(store, &entry.config)?)
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
        if entry.layers.len() > kiln_oci::MAX_LAYERS {
            bail!(
                "image {} has {} layers, more than the {} an image may have",
                entry.config,
                entry.layers.len(),
                kiln_oci::MAX_LAYERS
            );
        }
        let (config_digest, config_size) = files.blob(store, &entry.config)?;
        let mut layers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(diff_ids) {
            let (digest, size) = files.blob(store, path)?;
            let (media_type, actual) = layer_diff_id(store, &digest)
                .with_context(|| format!("cannot read layer {path}"))?;
            if &actual != diff_id {
                bail!(
                    "layer {path} has content digest {actual}, but the image config says {diff_id}"
                );
            }
            layers.push(Descriptor::new(media_type, digest, size));
        }
        let manifest = Manifest::new(
            media_type::OCI_MANIFEST,
            Descriptor::new(media_type::OCI_CONFIG, config_digest, config_size),
            layers,
        );
        let (digest, size) = store.blobs().put(&manifest.to_canonical_json(), None)?;
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

/// A stored layer's media type (from its magic bytes) and diff ID: the
/// digest of its content once decompressed.
fn layer_diff_id(store: &Store, digest: &Digest) -> anyhow::Result<(&'static str, Digest)> {
    let file = std::io::BufReader::with_capacity(1 << 20, store.blobs().open(digest)?);
    let (kind, mut content) = kiln_layer::Decompressor::new(file)?;
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = content.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let Some(media_type) = kind.media_type() else {
        anyhow::bail!(
            "layer {digest} is compressed with {kind:?}, which no OCI layer media type names"
        );
    };
    Ok((media_type, hasher.finish()))
}

fn load_oci(store: &Store, files: &ArchiveFiles) -> anyhow::Result<Vec<Loaded>> {
    let index = Index::from_json(&files.bytes(store, "index.json")?)
        .context("invalid index.json in the archive")?;
    let mut loaded = Vec::new();
    for descriptor in index.manifests {
        copy_tree(store, files, &descriptor)?;
        // containerd and docker 25+ put the full name in the containerd
        // annotation and only the tag in ref.name.
        let name = descriptor
            .annotation(CONTAINERD_IMAGE_NAME)
            .or_else(|| descriptor.annotation(REF_NAME))
            .filter(|n| n.contains('/') || n.contains(':'))
            .and_then(|n| Reference::parse(n).ok())
            .filter(|r| r.digest().is_none());
        let mut target = descriptor.clone();
        target.annotations.clear();
        loaded.push(Loaded {
            names: name.into_iter().collect(),
            target,
        });
    }
    Ok(loaded)
}

/// Stores the archive's blob that `d` names, checked against it.
fn stored_blob(
    store: &Store,
    files: &ArchiveFiles,
    d: &Descriptor,
) -> anyhow::Result<(Digest, u64)> {
    let path = d.digest.blob_path();
    if !files.has(&path) {
        bail!("the archive is missing blob {}", d.digest);
    }
    let (digest, size) = files.blob(store, &path)?;
    if digest != d.digest || size != d.size {
        bail!(
            "blob {path} has digest {digest} ({size} bytes), expected {} ({} bytes)",
            d.digest,
            d.size
        );
    }
    Ok((digest, size))
}

/// Stores a manifest's config and checks it is one: an image config (not,
/// say, a layer) whose diff IDs match the layers, of at most
/// `kiln_oci::MAX_LAYERS` layers. Before any tag changes, so an image
/// kiln could not use is never named.
fn check_config(store: &Store, files: &ArchiveFiles, manifest: &Manifest) -> anyhow::Result<()> {
    let (digest, size) = stored_blob(store, files, &manifest.config)?;
    if size > 16 << 20 {
        bail!("its config {digest} is {size} bytes: not an image config");
    }
    let parsed = ImageConfig::from_json(&store.blobs().read(&digest)?)
        .with_context(|| format!("its config {digest} is not an image config"))?;
    manifest.check_image(&parsed).map_err(anyhow::Error::msg)
}

/// Stores the blob `descriptor` names and everything it references,
/// checking each against its descriptor.
fn copy_tree(store: &Store, files: &ArchiveFiles, descriptor: &Descriptor) -> anyhow::Result<()> {
    if !(media_type::is_index(&descriptor.media_type)
        || media_type::is_manifest(&descriptor.media_type))
    {
        bail!(
            "index.json entry {} has media type {:?}: not an image manifest or index",
            descriptor.digest,
            descriptor.media_type
        );
    }
    let mut pending = vec![descriptor.clone()];
    while let Some(d) = pending.pop() {
        let (digest, _) = stored_blob(store, files, &d)?;
        if media_type::is_index(&d.media_type) {
            pending.extend(Index::from_json(&store.blobs().read(&digest)?)?.manifests);
        } else if media_type::is_manifest(&d.media_type) {
            let manifest = Manifest::from_json(&store.blobs().read(&digest)?)?;
            check_config(store, files, &manifest)
                .with_context(|| format!("image {digest} cannot be loaded"))?;
            pending.extend(manifest.layers);
        }
    }
    Ok(())
}
