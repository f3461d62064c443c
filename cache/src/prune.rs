//! Garbage collection and disk usage.
//!
//! What stays: everything reachable from `index.json` (tags and untagged
//! images: manifests, index children, configs, layers, and the snapshots
//! of their layer stacks), and the layers of the cache records that are
//! kept. Which records are kept is the caller's choice ([`PruneOptions`]):
//! all usable ones by default; with `until`, those used recently; with
//! `keep_storage`, the most recently used ones that fit; with `all`, none
//! (and the other build-cache files go too: cache mounts, memos, trails,
//! stat caches). Everything else — unreachable blobs and snapshots,
//! records whose layers are gone, leftovers of killed writers in `tmp/` —
//! is removed.
//!
//! Runs under the exclusive lease: every running build or load holds a
//! shared one, so nothing they are writing, or have written but not yet
//! tagged or recorded, is ever collected; prune waits for them instead.

use crate::error::{IoContext as _, StoreError};
use crate::image::Children;
use crate::layout::Store;
use crate::records::StoredRecord;
use kiln_oci::{Descriptor, Digest, ImageConfig, chain_ids};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::SystemTime;

/// Where `RUN --mount=type=cache` directories live, below the store root.
pub const CACHE_MOUNTS_DIR: &str = "cache-mounts-v1";

/// Build-cache directories that only `--all` removes, besides records.
const CACHE_EXTRAS: [&str; 4] = [
    CACHE_MOUNTS_DIR,
    crate::memo::MEMO_DIR,
    crate::trails::TRAILS_DIR,
    crate::statcache::STAT_DIR,
];

/// Which cache records a prune keeps.
#[derive(Debug, Default, Clone)]
pub struct PruneOptions {
    /// Remove the whole build cache: every record, cache mount, memo,
    /// trail and stat cache.
    pub all: bool,
    /// Remove records last used before this instant.
    pub until: Option<SystemTime>,
    /// Keep at most this many bytes of build cache (layers only records
    /// hold), dropping the least recently used records first.
    pub keep_storage: Option<u64>,
}

/// What a prune removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The blobs deleted.
    pub blobs: Vec<Digest>,
    /// The snapshots deleted (chain IDs, hex).
    pub snapshots: Vec<String>,
    /// How many cache records were deleted.
    pub records: usize,
    /// Bytes freed: blobs, snapshots, records and temporary files.
    pub bytes: u64,
}

/// What the store holds, for `kiln df`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Usage {
    /// Images in the index.
    pub images: usize,
    /// Bytes of their blobs and unpacked snapshots.
    pub image_bytes: u64,
    /// Usable cache records.
    pub records: usize,
    /// Bytes of the layers only records hold (blobs and snapshots).
    pub cache_bytes: u64,
    /// Cache mount directories.
    pub cache_mounts: usize,
    /// Their bytes.
    pub cache_mount_bytes: u64,
    /// Bytes nothing references (what a plain prune frees).
    pub unreferenced_bytes: u64,
}

/// What images and records hold.
#[derive(Default)]
struct Live {
    blobs: BTreeSet<Digest>,
    chains: BTreeSet<Digest>,
}

impl Store {
    /// The blobs reachable from the index.
    pub fn reachable(&self) -> Result<BTreeSet<Digest>, StoreError> {
        Ok(self.images_live()?.blobs)
    }

    /// The blobs reachable from the index, and the chain IDs of the layer
    /// stacks of every image it holds.
    fn images_live(&self) -> Result<Live, StoreError> {
        let mut live = Live::default();
        let mut pending: Vec<Descriptor> = self.index()?.manifests;
        while let Some(descriptor) = pending.pop() {
            if !live.blobs.insert(descriptor.digest.clone())
                || !self.blobs().contains(&descriptor.digest)
            {
                continue;
            }
            match self.children(&descriptor)? {
                Children::Index(manifests) => pending.extend(manifests),
                Children::Manifest(manifest) => {
                    if let Ok(bytes) = self.blobs().read(&manifest.config.digest)
                        && let Ok(config) = ImageConfig::from_json(&bytes)
                    {
                        live.chains.extend(chain_ids(&config.rootfs.diff_ids));
                    }
                    live.blobs.insert(manifest.config.digest);
                    live.blobs
                        .extend(manifest.layers.into_iter().map(|l| l.digest));
                }
                Children::None => {}
            }
        }
        Ok(live)
    }

    /// Whether every layer a record names is still in the store (its blob
    /// held or remote: as `Store::peek_record` judges a hit).
    fn record_usable(&self, record: &StoredRecord) -> bool {
        record.key.is_some()
            && record.record.as_ref().is_some_and(|r| {
                r.layers
                    .iter()
                    .filter(|l| !l.empty)
                    .all(|l| self.available(&l.descriptor.digest))
            })
    }

    /// Bytes each record's layers take beyond what images (and records
    /// used more recently) already hold, most recently used first.
    fn exclusive_sizes<'r>(
        &self,
        records: &'r [StoredRecord],
        images: &Live,
    ) -> Vec<(&'r StoredRecord, u64)> {
        let mut by_use: Vec<&StoredRecord> = records.iter().collect();
        by_use.sort_by_key(|r| std::cmp::Reverse(r.last_used));
        let mut counted = BTreeSet::new();
        by_use
            .into_iter()
            .map(|stored| {
                let mut bytes = stored.size;
                for layer in stored.record.iter().flat_map(|r| &r.layers) {
                    if layer.empty || images.chains.contains(&layer.chain_id) {
                        continue;
                    }
                    if counted.insert(layer.chain_id.clone()) {
                        bytes += disk_usage(&self.snapshot_path(&layer.chain_id));
                        if !images.blobs.contains(&layer.descriptor.digest) {
                            bytes += disk_usage(&self.blobs().path(&layer.descriptor.digest));
                        }
                    }
                }
                (stored, bytes)
            })
            .collect()
    }

    /// Removes unreachable blobs and snapshots, stale temporary files and
    /// unusable cache records, keeping every usable record.
    pub fn prune(&self) -> Result<Pruned, StoreError> {
        self.prune_with(&PruneOptions::default())
    }

    /// Removes what `options` lets go (see the module docs).
    pub fn prune_with(&self, options: &PruneOptions) -> Result<Pruned, StoreError> {
        let _gc = self.exclusive_lease()?;
        // Snapshots whose writeback is long done stop counting as unsynced.
        self.settle_snapshots();
        let mut live = self.images_live()?;
        let mut pruned = Pruned::default();
        let records = self.records()?;
        let usable: Vec<StoredRecord> = records
            .iter()
            .filter(|r| self.record_usable(r))
            .cloned()
            .collect();
        let mut keep: Vec<&StoredRecord> = match options.all {
            true => Vec::new(),
            false => usable
                .iter()
                .filter(|r| options.until.is_none_or(|until| r.last_used >= until))
                .collect(),
        };
        if let Some(limit) = options.keep_storage {
            let kept: BTreeSet<&Path> = keep.iter().map(|r| r.path.as_path()).collect();
            let mut total = 0u64;
            let mut fits = BTreeSet::new();
            for (stored, bytes) in self.exclusive_sizes(&usable, &live) {
                if !kept.contains(stored.path.as_path()) {
                    continue;
                }
                if total + bytes > limit {
                    break;
                }
                total += bytes;
                fits.insert(stored.path.clone());
            }
            keep.retain(|r| fits.contains(&r.path));
        }
        let kept: BTreeSet<&Path> = keep.iter().map(|r| r.path.as_path()).collect();
        for stored in &records {
            if kept.contains(stored.path.as_path()) {
                continue;
            }
            std::fs::remove_file(&stored.path).at("cannot remove", &stored.path)?;
            pruned.bytes += stored.size;
            pruned.records += 1;
        }
        for stored in &keep {
            for layer in stored.record.iter().flat_map(|r| &r.layers) {
                if !layer.empty {
                    live.chains.insert(layer.chain_id.clone());
                    live.blobs.insert(layer.descriptor.digest.clone());
                }
            }
        }
        if options.all {
            for dir in CACHE_EXTRAS {
                let path = self.root().join(dir);
                if path.exists() {
                    pruned.bytes += disk_usage(&path);
                    remove(&path)?;
                }
            }
        }
        // No build holds a step lock now (they all hold leases).
        let locks = self.root().join(crate::records::LOCKS_DIR);
        if locks.exists() {
            remove(&locks)?;
        }
        self.collect(&live, &mut pruned)?;
        Ok(pruned)
    }

    /// Deletes blobs and snapshots outside `live`, and everything in tmp/.
    fn collect(&self, live: &Live, pruned: &mut Pruned) -> Result<(), StoreError> {
        let dir = self.root().join("blobs/sha256");
        for entry in std::fs::read_dir(&dir).at("cannot list", &dir)? {
            let entry = entry.at("cannot list", &dir)?;
            let name = entry.file_name();
            let Ok(digest) = format!("sha256:{}", name.to_string_lossy()).parse::<Digest>() else {
                continue;
            };
            if live.blobs.contains(&digest) {
                continue;
            }
            let size = entry.metadata().map(|m| allocated(&m)).unwrap_or(0);
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
        // Snapshots of no live layer stack, and half-unpacked ones.
        let snapshots = self.root().join("snapshots");
        if snapshots.is_dir() {
            let keep: BTreeSet<String> = live
                .chains
                .iter()
                .map(|c| c.encoded().to_string())
                .collect();
            for entry in std::fs::read_dir(&snapshots).at("cannot list", &snapshots)? {
                let entry = entry.at("cannot list", &snapshots)?;
                let name = entry.file_name().to_string_lossy().into_owned();
                // Beside each snapshot: its lock and its durability marker.
                let chain = name
                    .strip_suffix(".lock")
                    .or_else(|| name.strip_suffix(".unsynced"))
                    .unwrap_or(&name);
                // The record of what overlay the snapshots are for stays.
                if keep.contains(chain) || name == ".kind" {
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
        Ok(())
    }

    /// What the store holds (read without a lock: a snapshot in time).
    pub fn usage(&self) -> Result<Usage, StoreError> {
        let images = self.images_live()?;
        let records: Vec<StoredRecord> = self
            .records()?
            .into_iter()
            .filter(|r| self.record_usable(r))
            .collect();
        let mut usage = Usage {
            images: self.index()?.manifests.len(),
            records: records.len(),
            ..Usage::default()
        };
        let sizes = self.exclusive_sizes(&records, &images);
        usage.cache_bytes = sizes.iter().map(|(_, bytes)| bytes).sum();
        let mut cached_chains = BTreeSet::new();
        let mut cached_blobs = BTreeSet::new();
        for layer in records
            .iter()
            .flat_map(|r| r.record.iter().flat_map(|r| &r.layers))
        {
            cached_chains.insert(layer.chain_id.encoded().to_string());
            cached_blobs.insert(layer.descriptor.digest.clone());
        }
        let blob_dir = self.root().join("blobs/sha256");
        let mut blob_sizes = BTreeMap::new();
        for entry in std::fs::read_dir(&blob_dir).at("cannot list", &blob_dir)? {
            let entry = entry.at("cannot list", &blob_dir)?;
            let size = entry.metadata().map(|m| allocated(&m)).unwrap_or(0);
            if let Ok(digest) =
                format!("sha256:{}", entry.file_name().to_string_lossy()).parse::<Digest>()
            {
                blob_sizes.insert(digest, size);
            }
        }
        for (digest, size) in &blob_sizes {
            if images.blobs.contains(digest) {
                usage.image_bytes += size;
            } else if !cached_blobs.contains(digest) {
                usage.unreferenced_bytes += size;
            }
        }
        let image_chains: BTreeSet<String> = images
            .chains
            .iter()
            .map(|c| c.encoded().to_string())
            .collect();
        let snapshots = self.root().join("snapshots");
        if let Ok(entries) = std::fs::read_dir(&snapshots) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if image_chains.contains(&name) {
                    usage.image_bytes += disk_usage(&entry.path());
                } else if !cached_chains.contains(&name) {
                    usage.unreferenced_bytes += disk_usage(&entry.path());
                }
            }
        }
        usage.unreferenced_bytes += disk_usage(&self.root().join("tmp"));
        if let Ok(entries) = std::fs::read_dir(self.root().join(CACHE_MOUNTS_DIR)) {
            for entry in entries.flatten() {
                usage.cache_mounts += 1;
                usage.cache_mount_bytes += disk_usage(&entry.path());
            }
        }
        Ok(usage)
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

/// Bytes a file takes on disk: its allocated blocks, so a sparse file
/// counts what its data takes, not its length (`du`, not `ls -l`).
fn allocated(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::blocks(meta) * 512
}

/// Bytes the regular files at or below `path` take on disk (links not
/// followed).
fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { allocated(&meta) } else { 0 };
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|e| disk_usage(&e.path())).sum()
}
