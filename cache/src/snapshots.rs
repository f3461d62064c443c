//! Snapshots: each layer of an image unpacked once into
//! `snapshots/<chain ID hex>/`, holding that layer's changes only (with
//! overlay whiteouts), so an image's snapshots stack as overlay lowerdirs.
//! Keyed by chain ID (image-spec config.md, "Layer ChainID"): the same layer
//! on the same parents is unpacked once for every image that has it.
//!
//! A pull unpacks each layer as it downloads (`unpack_snapshot_from`);
//! layers that came otherwise are unpacked from their blob when an image
//! first needs them (`ensure_snapshots`).
//!
//! A snapshot is unpacked into a temporary directory beside the final one
//! and renamed into place only after its diff ID and blob digest checked
//! out, under a per-snapshot lock; so a snapshot that exists is complete,
//! and two processes never unpack the same one twice.

use crate::error::{IoContext as _, StoreError};
use crate::image::Image;
use crate::layout::Store;
use kiln_oci::{Digest, chain_ids};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

impl Store {
    /// Where the snapshot of `chain_id` lives (whether or not it exists).
    pub fn snapshot_path(&self, chain_id: &Digest) -> PathBuf {
        self.root().join("snapshots").join(chain_id.encoded())
    }

    /// The chain ID of each layer of `image`, base first, once its config
    /// and manifest are checked to list as many layers.
    pub fn chain_ids_of(&self, image: &Image) -> Result<Vec<Digest>, StoreError> {
        let diff_ids = &image.config.rootfs.diff_ids;
        if diff_ids.len() != image.manifest.layers.len() {
            return Err(StoreError::Format {
                what: "image",
                path: self.blobs().path(&image.id),
                message: format!(
                    "the config lists {} diff IDs but the manifest {} layers",
                    diff_ids.len(),
                    image.manifest.layers.len()
                ),
            });
        }
        Ok(chain_ids(diff_ids))
    }

    /// Unpacks every layer of `image` that is not unpacked yet; returns the
    /// snapshot directories, base layer first.
    pub fn ensure_snapshots(&self, image: &Image) -> Result<Vec<PathBuf>, StoreError> {
        let _lease = self.lease()?;
        let chains = self.chain_ids_of(image)?;
        let diff_ids = &image.config.rootfs.diff_ids;
        self.snapshots_dir()?;
        self.settle_snapshots_in_background();
        let mut paths = Vec::with_capacity(diff_ids.len());
        for ((chain_id, diff_id), layer) in chains.iter().zip(diff_ids).zip(&image.manifest.layers)
        {
            let path = self.snapshot_path(chain_id);
            if !self.snapshot_ready(chain_id) {
                self.unpack_snapshot(chain_id, &layer.digest, diff_id)?;
            }
            paths.push(path);
        }
        Ok(paths)
    }

    /// Unpacks the layer `blob` (diff ID `diff_id`) into the snapshot of
    /// `chain_id` from `input`, the blob's bytes as they arrive (a
    /// download in progress), so the image is ready when the pull ends.
    /// Does nothing, and returns false, when the snapshot exists or
    /// another process is making it; `input` is then left unread.
    pub fn unpack_snapshot_from(
        &self,
        chain_id: &Digest,
        blob: &Digest,
        diff_id: &Digest,
        input: impl Read,
    ) -> Result<bool, StoreError> {
        let _lease = self.lease()?;
        self.snapshots_dir()?;
        let path = self.snapshot_path(chain_id);
        if self.snapshot_ready(chain_id) {
            return Ok(false);
        }
        let (lock, lock_path) = snapshot_lock(&path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).at("cannot lock", &lock_path);
            }
        }
        if self.snapshot_ready(chain_id) {
            return Ok(false);
        }
        self.unpack_locked(&path, blob, diff_id, input)?;
        Ok(true)
    }

    /// The snapshot of the layer `blob` (diff ID `diff_id`) stacked where
    /// its chain ID is `chain_id`, unpacked from the blob if missing: a
    /// layer made on one parent and stacked on another (a merge, as `COPY
    /// --link` does) needs a snapshot under its new chain ID.
    pub fn ensure_snapshot(
        &self,
        chain_id: &Digest,
        blob: &Digest,
        diff_id: &Digest,
    ) -> Result<PathBuf, StoreError> {
        let _lease = self.lease()?;
        self.snapshots_dir()?;
        self.settle_snapshots_in_background();
        if !self.snapshot_ready(chain_id) {
            // A remote blob is unpacked as it downloads.
            self.blobs().fetch_unpacking(blob, chain_id, diff_id)?;
        }
        if !self.snapshot_ready(chain_id) {
            self.unpack_snapshot(chain_id, blob, diff_id)?;
        }
        Ok(self.snapshot_path(chain_id))
    }

    /// The snapshots directory, made if missing, and closed to other
    /// users. It records which overlay its snapshots are for (`.kind`:
    /// `overlay` or `overlay-userxattr`), and refuses a store whose
    /// snapshots were made for the other: root's overlays ignore
    /// `user.overlay.*` markers and a user namespace cannot set
    /// `trusted.overlay.*` ones.
    pub fn snapshots_dir(&self) -> Result<PathBuf, StoreError> {
        let dir = self.root().join("snapshots");
        std::fs::create_dir_all(&dir).at("cannot create", &dir)?;
        // 0700: snapshots hold image content — setuid binaries, device
        // nodes — that no other host user may reach (CVE-2021-41091).
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .at("cannot restrict", &dir)?;
        let kind = match self.opaque_xattr() {
            kiln_layer::OpaqueXattr::Trusted => "overlay",
            kiln_layer::OpaqueXattr::User => "overlay-userxattr",
        };
        let marker = dir.join(".kind");
        match std::fs::read_to_string(&marker) {
            Ok(found) if found.trim() == kind => {}
            Ok(found) => {
                return Err(StoreError::Format {
                    what: "snapshots",
                    path: marker,
                    message: format!(
                        "made for {} mounts, and this kiln mounts {kind} (a store filled by root cannot be used by rootless kiln or under chroot isolation, or the other way round: use another --root)",
                        found.trim()
                    ),
                });
            }
            Err(_) => {
                let tmp = self.root().join("tmp");
                crate::fsutil::write_atomic(&tmp, &marker, kind.as_bytes())
                    .at("cannot write", &marker)?;
            }
        }
        Ok(dir)
    }

    fn unpack_snapshot(
        &self,
        chain_id: &Digest,
        blob: &Digest,
        diff_id: &Digest,
    ) -> Result<(), StoreError> {
        let path = self.snapshot_path(chain_id);
        let (lock, lock_path) = snapshot_lock(&path)?;
        lock.lock().at("cannot lock", &lock_path)?;
        if self.snapshot_ready(chain_id) {
            // Another process finished it while we waited.
            return Ok(());
        }
        let input = std::io::BufReader::with_capacity(1 << 20, self.blobs().open(blob)?);
        self.unpack_locked(&path, blob, diff_id, input)
    }

    /// Unpacks `input` into a staging directory and renames it to `path`
    /// once both digests checked out; the caller holds the lock.
    fn unpack_locked(
        &self,
        path: &Path,
        blob: &Digest,
        diff_id: &Digest,
        input: impl Read,
    ) -> Result<(), StoreError> {
        let staging = tempfile::Builder::new()
            .prefix("unpacking-")
            .tempdir_in(self.root().join("snapshots"))
            .at(
                "cannot create a staging directory in",
                self.root().join("snapshots"),
            )?;
        // A rootless store (user xattrs) is written from a user
        // namespace, which may not make device nodes: placeholders.
        let rootless = self.opaque_xattr() == kiln_layer::OpaqueXattr::User;
        let options = kiln_layer::UnpackOptions {
            opaque_xattr: self.opaque_xattr(),
            device_placeholders: rootless,
            ..kiln_layer::UnpackOptions::default()
        };
        let unpacked = kiln_layer::unpack_layer(input, staging.path(), &options).map_err(|e| {
            StoreError::Unpack {
                digest: blob.clone(),
                message: e.to_string(),
            }
        })?;
        if &unpacked.digest != blob {
            return Err(StoreError::DigestMismatch {
                expected: blob.clone(),
                actual: unpacked.digest,
                size: unpacked.size,
            });
        }
        if &unpacked.diff_id != diff_id {
            return Err(StoreError::DigestMismatch {
                expected: diff_id.clone(),
                actual: unpacked.diff_id,
                size: unpacked.uncompressed_size,
            });
        }
        // "Exists" must mean "complete", also after a power cut (see
        // `durability`).
        let staged = staging.keep();
        self.publish_snapshot(&staged, path)
    }
}

/// The lock file that serializes the making of the snapshot at `path`.
fn snapshot_lock(path: &Path) -> Result<(File, PathBuf), StoreError> {
    let lock_path = path.with_extension("lock");
    let lock = crate::fsutil::open_lock_file(&lock_path).at("cannot open", &lock_path)?;
    Ok((lock, lock_path))
}
