//! Garbage collection: every blob not reachable from `index.json` (tags and
//! untagged images: manifests, index children, configs, layers) is removed,
//! and so are snapshots of no image's layer stack and leftover temporary
//! files and directories of killed writers. Runs under the exclusive lease,
//! so no writer is mid-way.

use crate::error::{IoContext as _, StoreError};
use crate::image::Children;
use crate::layout::Store;
use kiln_oci::{Descriptor, Digest, ImageConfig, chain_ids};
use std::collections::BTreeSet;
use std::path::Path;

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The blobs deleted.
    pub blobs: Vec<Digest>,
    /// The snapshots deleted (chain IDs, hex).
    pub snapshots: Vec<String>,
    /// Bytes freed: blobs, snapshots and temporary files.
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
        let mut pending: Vec<Descriptor> = self.index()?.manifests;
        while let Some(descriptor) = pending.pop() {
            if !seen.insert(descriptor.digest.clone()) || !self.blobs().contains(&descriptor.digest)
            {
                continue;
            }
            match self.children(&descriptor)? {
                Children::Index(manifests) => pending.extend(manifests),
                Children::Manifest(manifest) => {
                    if let Ok(bytes) = self.blobs().read(&manifest.config.digest)
                        && let Ok(config) = ImageConfig::from_json(&bytes)
                    {
                        chains.extend(chain_ids(&config.rootfs.diff_ids));
                    }
                    seen.insert(manifest.config.digest);
                    seen.extend(manifest.layers.into_iter().map(|l| l.digest));
                }
                Children::None => {}
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
        // No writer holds a lease now, so everything in tmp/ is stale.
        let tmp = self.root().join("tmp");
        for entry in std::fs::read_dir(&tmp).at("cannot list", &tmp)? {
            let path = entry.at("cannot list", &tmp)?.path();
            pruned.bytes += disk_usage(&path);
            remove(&path)?;
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
                pruned.bytes += disk_usage(&path);
                let is_snapshot = path.is_dir() && !name.starts_with("unpacking-");
                remove(&path)?;
                if is_snapshot {
                    pruned.snapshots.push(name);
                }
            }
        }
        Ok(pruned)
    }
}

/// Removes a file or a whole directory tree.
fn remove(path: &Path) -> Result<(), StoreError> {
    let result = if path.is_dir() && !path.is_symlink() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    result.at("cannot remove", path)
}

/// Bytes of the regular files at or below `path` (links not followed).
fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|e| disk_usage(&e.path())).sum()
}
