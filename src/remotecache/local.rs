//! `type=local`: the cache as an OCI image layout directory, written whole
//! (blobs first, `index.json` last by rename, so a reader sees the old
//! cache or the new one), and read back with every blob checked against
//! its digest.

use super::format::{ARTIFACT_TYPE, CONFIG_MEDIA_TYPE, CacheConfig, REF_NAME};
use anyhow::Context as _;
use kiln_cache::{RecordLayer, Store};
use kiln_oci::{Descriptor, Digest, Index, Manifest, media_type};
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What an export wrote.
#[derive(Debug, Default)]
pub(crate) struct Exported {
    /// Layer blobs the directory holds for them.
    pub blobs: usize,
    /// Layer blobs copied this time (the others were there already).
    pub copied: usize,
}

fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs")
        .join(digest.algorithm())
        .join(digest.encoded())
}

/// Writes `bytes` to `path` through a temporary file beside it.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("kiln-tmp");
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `records` (cache key → record) to the layout at `dest`, then
/// removes the blobs of an earlier export that the new one does not use.
pub(crate) fn export(
    store: &Store,
    contents: super::format::Contents,
    dest: &Path,
) -> anyhow::Result<Exported> {
    let blobs_dir = dest.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs_dir)
        .with_context(|| format!("cannot create {}", blobs_dir.display()))?;
    let mut report = Exported::default();
    let unique = contents.manifest_layers();
    let mut layers: Vec<Descriptor> = Vec::new();
    for (descriptor, _) in &unique {
        let path = blob_path(dest, &descriptor.digest);
        let present = std::fs::metadata(&path).is_ok_and(|m| m.len() == descriptor.size);
        if !present {
            // A remote blob (a hit of an imported registry cache) is
            // fetched first.
            store.blobs().ensure(&descriptor.digest)?;
            let from = store.blobs().path(&descriptor.digest);
            let tmp = path.with_extension("kiln-tmp");
            let _ = std::fs::remove_file(&tmp);
            // A link when the directory is on the store's file system.
            if std::fs::hard_link(&from, &tmp).is_err() {
                std::fs::copy(&from, &tmp).with_context(|| {
                    format!(
                        "cannot copy layer {} to {}",
                        descriptor.digest,
                        dest.display()
                    )
                })?;
            }
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            report.copied += 1;
        }
        layers.push(descriptor.clone());
    }
    report.blobs = layers.len();
    let config = contents.config(&unique);
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = Digest::of(&config_bytes);
    write_file(&blob_path(dest, &config_digest), &config_bytes)?;
    let mut manifest = Manifest::new(
        media_type::OCI_MANIFEST,
        Descriptor::new(
            CONFIG_MEDIA_TYPE,
            config_digest.clone(),
            config_bytes.len() as u64,
        ),
        layers,
    );
    manifest.artifact_type = ARTIFACT_TYPE.to_string();
    let manifest_bytes = manifest.to_canonical_json();
    let manifest_digest = Digest::of(&manifest_bytes);
    write_file(&blob_path(dest, &manifest_digest), &manifest_bytes)?;
    write_file(
        &dest.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let mut entry = Descriptor::new(
        media_type::OCI_MANIFEST,
        manifest_digest.clone(),
        manifest_bytes.len() as u64,
    );
    entry.annotations.insert(
        kiln_oci::annotations::REF_NAME.to_string(),
        REF_NAME.to_string(),
    );
    // Last: until this rename, readers see the earlier cache whole.
    write_file(
        &dest.join("index.json"),
        &Index::new(media_type::OCI_INDEX, vec![entry]).to_canonical_json(),
    )?;
    // The blobs only an earlier export used.
    let keep: BTreeSet<String> = manifest
        .layers
        .iter()
        .map(|l| l.digest.encoded().to_string())
        .chain([config_digest, manifest_digest].map(|d| d.encoded().to_string()))
        .collect();
    if let Ok(entries) = std::fs::read_dir(&blobs_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let is_blob = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if is_blob && !keep.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(report)
}

/// A cache in a layout directory, opened: where its blobs are.
#[derive(Debug)]
pub(crate) struct LocalCache {
    dir: PathBuf,
}

/// Reads blob `digest` of the layout at `dir`, checked against its digest.
fn read_blob(dir: &Path, digest: &Digest) -> Result<Vec<u8>, String> {
    let path = blob_path(dir, digest);
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let actual = Digest::of(&bytes);
    if &actual != digest {
        return Err(format!("{} holds {actual}, not {digest}", path.display()));
    }
    Ok(bytes)
}

impl LocalCache {
    /// Opens the cache at `dir` and reads its config (every blob checked
    /// against its digest); the error says why it cannot be used.
    pub(crate) fn open(dir: &Path) -> Result<(LocalCache, CacheConfig), String> {
        let index_path = dir.join("index.json");
        let index = std::fs::read(&index_path)
            .map_err(|e| format!("cannot read {}: {e}", index_path.display()))?;
        let index = Index::from_json(&index)
            .map_err(|e| format!("{} is no OCI index: {e}", index_path.display()))?;
        let entry = index
            .manifests
            .iter()
            .find(|m| m.annotation(kiln_oci::annotations::REF_NAME) == Some(REF_NAME))
            .ok_or_else(|| format!("{} names no kiln cache ({REF_NAME})", index_path.display()))?;
        let manifest = Manifest::from_json(&read_blob(dir, &entry.digest)?)
            .map_err(|e| format!("the cache manifest {} is invalid: {e}", entry.digest))?;
        super::format::check_manifest(&manifest)?;
        let bytes = read_blob(dir, &manifest.config.digest)?;
        let config = super::format::read_config(&manifest, &bytes)?;
        Ok((
            LocalCache {
                dir: dir.to_path_buf(),
            },
            config,
        ))
    }

    /// The blob of `layer`, copied into `store` (checked against its
    /// digest and size) unless there; its descriptor there.
    pub(crate) fn bring_layer(
        &self,
        store: &Store,
        layer: &RecordLayer,
    ) -> Result<Descriptor, String> {
        let digest = &layer.descriptor.digest;
        if !store.blobs().contains(digest) {
            let path = blob_path(&self.dir, digest);
            let mut file = std::fs::File::open(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let mut writer = store.blobs().writer().map_err(|e| e.to_string())?;
            std::io::copy(&mut file, &mut writer)
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
            writer
                .commit(Some(digest), Some(layer.descriptor.size))
                .map_err(|e| format!("layer {digest} of the cache: {e}"))?;
        }
        Ok(layer.descriptor.clone())
    }

    /// The blob of layer `diff_id` (stored uncompressed here, so named
    /// by it), to read.
    pub(crate) fn open_layer(&self, diff_id: &Digest) -> Result<std::fs::File, String> {
        let path = blob_path(&self.dir, diff_id);
        std::fs::File::open(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}
