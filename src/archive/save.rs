//! `save`: images from the store into one archive. Both formats are OCI
//! image layouts (`oci-layout`, `index.json`, `blobs/sha256/…`); the docker
//! format adds `manifest.json`, which `docker load` reads (as the archives
//! of docker 25+ do). Layer blobs are written as stored: `docker load`
//! decompresses gzip and zstd layers itself and checks them against the
//! config's diff IDs.
//!
//! Entries are written in a fixed order with fixed metadata (mode 0644,
//! uid/gid 0, mtime 0), so the same images always give the same bytes.

use anyhow::Context as _;
use kiln_cache::{Image, Store, annotate_name};
use kiln_oci::docker_archive::ArchiveEntry;
use kiln_oci::{Descriptor, Digest, Index, Reference, media_type};
use std::collections::BTreeSet;
use std::io::Write;

/// Which archive to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An OCI layout plus docker's `manifest.json`.
    Docker,
    /// A plain OCI image layout.
    Oci,
}

/// An image to save and the names it is saved under (full form).
pub struct SaveRequest {
    /// The image.
    pub image: Image,
    /// The names; empty for an image asked for by ID.
    pub names: Vec<Reference>,
}

/// Writes `requests` as one archive to `out`.
pub fn save(
    store: &Store,
    requests: &[SaveRequest],
    format: Format,
    out: impl Write,
) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut written: BTreeSet<Digest> = BTreeSet::new();
    let mut index_entries = Vec::new();
    let mut docker_entries = Vec::new();
    for request in requests {
        let image = &request.image;
        // A multi-platform image is saved whole when the store has every
        // platform's image (a build's index): the index and each image;
        // docker's manifest.json, which knows one image per entry, lists
        // the platform `image` resolved to. Otherwise the archive names
        // that platform's manifest alone.
        let platforms = match media_type::is_index(&image.target.media_type) {
            true => store.platform_images(&image.target).unwrap_or_default(),
            false => Vec::new(),
        };
        let built_index = !platforms.is_empty();
        let manifest = match built_index {
            true => &image.target,
            false => &image.manifest_descriptor,
        };
        if built_index && written.insert(manifest.digest.clone()) {
            append_blob(&mut tar, store, manifest)?;
        }
        let images: Vec<&Image> = match built_index {
            true => platforms.iter().map(|(_, i)| i).collect(),
            false => vec![image],
        };
        for one in images {
            for descriptor in std::iter::once(&one.manifest_descriptor)
                .chain(std::iter::once(&one.manifest.config))
                .chain(&one.manifest.layers)
            {
                if written.insert(descriptor.digest.clone()) {
                    append_blob(&mut tar, store, descriptor)?;
                }
            }
        }
        let entry = Descriptor::new(&manifest.media_type, manifest.digest.clone(), manifest.size);
        if request.names.is_empty() {
            index_entries.push(entry);
        } else {
            for name in &request.names {
                // As docker 25+ and containerd write archives: the tag in
                // ref.name, the full name in the containerd annotation
                // (so `skopeo copy oci-archive:x.tar:TAG` finds it).
                let mut named = entry.clone();
                annotate_name(
                    &mut named,
                    name.tag().unwrap_or("latest"),
                    &name.to_string(),
                );
                index_entries.push(named);
            }
        }
        docker_entries.push(ArchiveEntry {
            config: image.manifest.config.digest.blob_path(),
            repo_tags: request.names.iter().map(Reference::familiar).collect(),
            layers: image
                .manifest
                .layers
                .iter()
                .map(|l| l.digest.blob_path())
                .collect(),
            parent: String::new(),
            layer_sources: Default::default(),
        });
    }
    let index = Index::new(media_type::OCI_INDEX, index_entries);
    append_bytes(&mut tar, "index.json", &index.to_canonical_json())?;
    append_bytes(
        &mut tar,
        kiln_oci::layout::OCI_LAYOUT_FILE,
        &kiln_oci::layout::OciLayout::default().to_json(),
    )?;
    if format == Format::Docker {
        append_bytes(
            &mut tar,
            "manifest.json",
            &ArchiveEntry::list_to_json(&docker_entries),
        )?;
    }
    tar.into_inner()
        .context("cannot finish the archive")?
        .flush()?;
    Ok(())
}

fn header(path: &str, size: u64) -> anyhow::Result<tar::Header> {
    let mut header = tar::Header::new_ustar();
    header.set_path(path)?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(header)
}

fn append_bytes(
    tar: &mut tar::Builder<impl Write>,
    path: &str,
    bytes: &[u8],
) -> anyhow::Result<()> {
    tar.append(&header(path, bytes.len() as u64)?, bytes)
        .with_context(|| format!("cannot write {path} to the archive"))
}

fn append_blob(
    tar: &mut tar::Builder<impl Write>,
    store: &Store,
    descriptor: &Descriptor,
) -> anyhow::Result<()> {
    let path = descriptor.digest.blob_path();
    let file = store.blobs().open(&descriptor.digest)?;
    let size = file
        .metadata()
        .with_context(|| format!("cannot stat blob {}", descriptor.digest))?
        .len();
    tar.append(&header(&path, size)?, std::io::BufReader::new(file))
        .with_context(|| format!("cannot write {path} to the archive"))
}
