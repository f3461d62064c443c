//! Garbage collection: every blob not reachable from `index.json` (tags and
//! untagged images: manifests, index children, configs, layers) is removed,
//! and so are snapshots of no image's layer stack and leftover temporary
//! files and directories of killed writers. Runs under the exclusive lease,
//! so no writer is mid-way.

use crate::error::{IoContext as _, StoreError};
use crate::layout::Store;
use kiln_oci::{Digest, ImageConfig, Index, Manifest, chain_ids, media_type};
use std::collections::BTreeSet;

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The blobs deleted.
    pub blobs: Vec<Digest>,
    /// The snapshots deleted (chain IDs, hex).
    pub snapshots: Vec<String>,
    /// Bytes freed (blobs and temporary files; snapshots not counted).
    pub bytes: u64,
}

impl Store {
    /// The blobs reachable from the index.
    pub fn reachable(&self) -> Result<BTreeSet<Digest>, StoreError> {
        Ok(self.live()?.0)
    }

    /// The blobs reachable from the index, and the chain IDs of the layer
    /// stacks of every image it holds.
    fn live(&self) -> Result<(BTreeSet<Digest>, BTreeSet<Digest>), StoreError> {
        let mut seen = BTreeSet::new();
        let mut chains = BTreeSet::new();
        let mut pending: Vec<(String, Digest)> = self
            .index()?
            .manifests
            .into_iter()
            .map(|d| (d.media_type, d.digest))
            .collect();
        while let Some((kind, digest)) = pending.pop() {
            if !seen.insert(digest.clone()) || !self.blobs().contains(&digest) {
                continue;
            }
            let format = |e: kiln_oci::FormatError| StoreError::Format {
                what: "manifest",
                path: self.blobs().path(&digest),
                message: e.to_string(),
            };
            if media_type::is_index(&kind) {
                let index = Index::from_json(&self.blobs().read(&digest)?).map_err(format)?;
                pending.extend(
                    index
                        .manifests
                        .into_iter()
                        .map(|d| (d.media_type, d.digest)),
                );
            } else if media_type::is_manifest(&kind) {
                let manifest = Manifest::from_json(&self.blobs().read(&digest)?).map_err(format)?;
                if let Ok(bytes) = self.blobs().read(&manifest.config.digest)
                    && let Ok(config) = ImageConfig::from_json(&bytes)
                {
                    chains.extend(chain_ids(&config.rootfs.diff_ids));
                }
                seen.insert(manifest.config.digest);
                seen.extend(manifest.layers.into_iter().map(|l| l.digest));
            }
        }
        Ok((seen, chains))
    }

    /// Removes unreachable blobs and stale temporary files.
    pub fn prune(&self) -> Result<Pruned, StoreError> {
        let _gc = self.exclusive_lease()?;
        let (keep, chains) = self.live()?;
        let mut pruned = Pruned::default();
        let dir = self.root().join("blobs/sha256");
        for entry in std::fs::read_dir(&dir).at("cannot list", &dir)? {
            let entry = entry.at("cannot list", &dir)?;
            let name = entry.file_name();
            let Ok(digest) = format!("sha256:{}", name.to_string_lossy()).parse::<Digest>() else {
                continue;
            };
            if keep.contains(&digest) {
                continue;
            }
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(entry.path()).at("cannot remove", entry.path())?;
            pruned.bytes += size;
            pruned.blobs.push(digest);
        }
        // No writer holds a lease now, so every temporary file is stale.
        let tmp = self.root().join("tmp");
        for entry in std::fs::read_dir(&tmp).at("cannot list", &tmp)? {
            let entry = entry.at("cannot list", &tmp)?;
            pruned.bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(entry.path()).at("cannot remove", entry.path())?;
        }
        // Snapshots of no image's layer stack, and half-unpacked ones.
        let snapshots = self.root().join("snapshots");
        if snapshots.is_dir() {
            let live: BTreeSet<String> = chains.iter().map(|c| c.encoded().to_string()).collect();
            for entry in std::fs::read_dir(&snapshots).at("cannot list", &snapshots)? {
                let entry = entry.at("cannot list", &snapshots)?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let key = name.trim_end_matches(".lock");
                if live.contains(key) {
                    continue;
                }
                let path = entry.path();
                if path.is_dir() {
                    std::fs::remove_dir_all(&path).at("cannot remove", &path)?;
                    if !name.starts_with("unpacking-") {
                        pruned.snapshots.push(name);
                    }
                } else {
                    std::fs::remove_file(&path).at("cannot remove", &path)?;
                }
            }
        }
        Ok(pruned)
    }
}
