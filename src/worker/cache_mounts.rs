//! `RUN --mount=type=cache`: directories kept in the store across builds
//! (`<store>/cache-mounts-v1/<sha256 of the id>/`), created on first use
//! with the mount's owner and mode. Every user shares the directory
//! (`sharing=shared` semantics); `private` and `locked` are not told apart
//! yet.

use super::{Worker, WorkerError};
use kiln_oci::Digest;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

impl Worker {
    pub(crate) fn cache_mount_dir(
        &self,
        id: &str,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<PathBuf, WorkerError> {
        let parent = self.store.root().join("cache-mounts-v1");
        let dir = parent.join(Digest::of(id.as_bytes()).encoded());
        if dir.is_dir() {
            return Ok(dir);
        }
        let io = |e: std::io::Error| WorkerError::Io {
            message: format!("cannot create the cache mount {}", dir.display()),
            source: e,
        };
        std::fs::create_dir_all(&parent).map_err(io)?;
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        // Made aside and renamed, so a half-made cache never shows up.
        let staging = tempfile::Builder::new()
            .prefix("new-")
            .tempdir_in(&parent)
            .map_err(io)?;
        std::os::unix::fs::chown(staging.path(), Some(uid), Some(gid)).map_err(io)?;
        std::fs::set_permissions(
            staging.path(),
            std::fs::Permissions::from_mode(mode & 0o7777),
        )
        .map_err(io)?;
        let staged = staging.keep();
        if std::fs::rename(&staged, &dir).is_err() {
            let _ = std::fs::remove_dir(&staged);
        }
        Ok(dir)
    }
}
