//! Garbage collection: every blob not reachable from `index.json` (tags and
//! untagged images: manifests, index children, configs, layers) is removed,
//! and so are leftover temporary files of killed writers. Runs under the
//! exclusive lease, so no writer is mid-way.

use crate::error::{IoContext as _, StoreError};
use crate::layout::Store;
use kiln_oci::{Digest, Index, Manifest, media_type};
use std::collections::BTreeSet;

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The blobs deleted.
    pub blobs: Vec<Digest>,
    /// Bytes freed (blobs and temporary files).
    pub bytes: u64,
}

impl Store {
    /// The blobs reachable from the index.
    pub fn reachable(&self) -> Result<BTreeSet<Digest>, StoreError> {
        let mut seen = BTreeSet::new();
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
                seen.insert(manifest.config.digest);
                seen.extend(manifest.layers.into_iter().map(|l| l.digest));
            }
        }
        Ok(seen)
    }

    /// Removes unreachable blobs and stale temporary files.
    pub fn prune(&self) -> Result<Pruned, StoreError> {
        let _gc = self.exclusive_lease()?;
        let keep = self.reachable()?;
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
        Ok(pruned)
    }
}
