//! `RUN --mount=type=cache`: directories kept in the store across builds
//! (`<store>/cache-mounts-v1/<sha256 of the id>/`), created on first use
//! with the mount's owner and mode. `sharing` as BuildKit defines it:
//! `shared` lets concurrent steps (of this build or another kiln) use the
//! directory together; `locked` makes a second step wait for the first;
//! `private` gives a second concurrent step a fresh directory of its own
//! (dropped after the step). The lock is a file lock beside the directory,
//! held until the step ends, so it also works across kiln processes.
//! With `from=` (and `source=`), a cache made for the first time starts as
//! a copy of that path of the given stage or image, as BuildKit's does
//! ("a base of the cache mount"); an existing cache keeps its content.

use super::copy;
use super::error::WorkerError;
use super::layers::Output;
use super::vertex::Worker;
use kiln_oci::Digest;
use kiln_solver::CacheSharing;
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A cache directory for one step, and the lock that step holds on it.
pub(crate) struct CacheMount {
    pub dir: PathBuf,
    pub lock: Option<File>,
}

impl Worker {
    /// The directory for cache `id`, locked as `sharing` asks; a private
    /// copy for a busy `private` cache is made under `scratch`.
    pub(crate) fn cache_mount(
        &self,
        id: &str,
        (uid, gid, mode): (u32, u32, u32),
        sharing: CacheSharing,
        scratch: &Path,
        seed: Option<Seed<'_>>,
    ) -> Result<CacheMount, WorkerError> {
        let dir = self.cache_mount_dir(id, uid, gid, mode, seed)?;
        if sharing == CacheSharing::Shared {
            return Ok(CacheMount { dir, lock: None });
        }
        let lock_path = dir.with_extension("lock");
        let io = |e| {
            WorkerError::io(
                format!("cannot lock the cache mount {}", lock_path.display()),
                e,
            )
        };
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io)?;
        match sharing {
            CacheSharing::Locked => {
                lock.lock().map_err(io)?;
                Ok(CacheMount {
                    dir,
                    lock: Some(lock),
                })
            }
            _ => match lock.try_lock() {
                Ok(()) => Ok(CacheMount {
                    dir,
                    lock: Some(lock),
                }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    let private = scratch.join(format!(
                        "private-cache-{}",
                        Digest::of(id.as_bytes()).encoded()
                    ));
                    make_dir(&private, uid, gid, mode).map_err(io)?;
                    Ok(CacheMount {
                        dir: private,
                        lock: None,
                    })
                }
                Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
            },
        }
    }

    fn cache_mount_dir(
        &self,
        id: &str,
        uid: u32,
        gid: u32,
        mode: u32,
        seed: Option<Seed<'_>>,
    ) -> Result<PathBuf, WorkerError> {
        let parent = self.store.root().join(kiln_cache::CACHE_MOUNTS_DIR);
        let key = cache_mount_key(id, uid, gid, mode);
        let dir = parent.join(&key);
        if dir.is_dir() {
            return Ok(dir);
        }
        let io = |e| {
            WorkerError::io(
                format!("cannot create the cache mount {}", dir.display()),
                e,
            )
        };
        std::fs::create_dir_all(&parent).map_err(io)?;
        std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        // Made aside and renamed, so a half-made cache never shows up.
        let staging = tempfile::Builder::new()
            .prefix("new-")
            .tempdir_in(&parent)
            .map_err(io)?;
        super::dirs::set_owner_and_mode(staging.path(), uid, gid, mode).map_err(io)?;
        // A cache exported with `--cache-to ...,mounts=true` and imported
        // starts with its content (its `from=` seed then does not apply:
        // the cache exists, elsewhere).
        let restored = self.restore_imported_mount(&key, staging.path());
        if let (false, Some(seed)) = (restored, seed) {
            self.seed(staging.path(), seed)?;
        }
        let staged = staging.keep();
        if std::fs::rename(&staged, &dir).is_err() {
            let _ = std::fs::remove_dir(&staged);
        }
        Ok(dir)
    }
}

/// The store's name for cache mount `id` with the new directory's owner
/// and mode: they name the cache together, as in BuildKit (a mount asking
/// for another owner gets another cache, never one whose permissions it
/// cannot use).
pub(crate) fn cache_mount_key(id: &str, uid: u32, gid: u32, mode: u32) -> String {
    let key = format!("{id}\0{uid}:{gid}:{mode:o}");
    Digest::of(key.as_bytes()).encoded().to_string()
}

impl Worker {
    /// Fills the new cache directory `dir` from the first `--cache-from`
    /// cache that exported cache mount `key`; whether one did. A cache
    /// that fails here is passed over (the step starts with an empty
    /// cache, as it would have without it).
    fn restore_imported_mount(&self, key: &str, dir: &Path) -> bool {
        for cache in &self.cache.imported {
            match cache.restore_mount(&self.store, key, dir) {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(source = %cache.source(), error = %e, "cache mount not restored");
                }
            }
        }
        false
    }
}

/// Where a new cache's first content comes from (`from=`, `source=`).
#[derive(Clone, Copy)]
pub(crate) struct Seed<'a> {
    /// The stage or image (or the context).
    pub input: &'a Output,
    /// The path in it whose content is copied.
    pub source: &'a str,
}

impl Worker {
    /// Copies the seed's content into the new cache directory `dir` (which
    /// keeps its own owner and mode), with COPY's engine: owners, modes,
    /// links and times as they are in the stage.
    fn seed(&self, dir: &Path, seed: Seed<'_>) -> Result<(), WorkerError> {
        let action = super::cache::copy_of_path(0, seed.source);
        let copy_from = |root: &Path, ignore| {
            let source = copy::CopySource {
                root,
                ignore,
                ownership: copy::SourceOwnership::Preserve,
            };
            copy::copy(&source, dir, &action, None).map(|_| ())
        };
        match seed.input {
            Output::Context(context) => Ok(copy_from(&context.root, context.ignore.as_ref())?),
            Output::Layers(layers) => {
                Ok(self.on_layers(layers, "the cache seed", |root| copy_from(root, None))??)
            }
        }
    }
}

/// Creates `dir` with the cache mount's owner and mode.
fn make_dir(dir: &Path, uid: u32, gid: u32, mode: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    super::dirs::set_owner_and_mode(dir, uid, gid, mode)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn worker(root: &Path) -> Worker {
        let store = kiln_cache::Store::open(root).unwrap();
        Worker {
            cache: crate::worker::BuildCache {
                policy: Default::default(),
                stat_cache: std::sync::Mutex::new(store.stat_cache(root)),
                trail: Default::default(),
                previous: Default::default(),
                imported: Vec::new(),
                imported_hits: Default::default(),
                selections: Default::default(),
            },
            store,
            context: root.to_path_buf(),
            secrets: Default::default(),
            ssh: Default::default(),
            networks: super::super::Networks::new(super::super::BuildNetwork::None),
            sandboxes: root.join("sandboxes"),
        }
    }

    #[test]
    fn sharing_modes() {
        let dir = tempfile::tempdir().unwrap();
        let worker = worker(dir.path());
        let scratch = dir.path().join("scratch");
        let ids = (0, 0, 0o755);
        let first = worker
            .cache_mount("c", ids, CacheSharing::Private, &scratch, None)
            .unwrap();
        assert!(first.lock.is_some());
        // A second private user while the first holds it: its own dir.
        let second = worker
            .cache_mount("c", ids, CacheSharing::Private, &scratch, None)
            .unwrap();
        assert_ne!(first.dir, second.dir);
        assert!(second.dir.starts_with(&scratch));
        // Shared users always get the same directory.
        let shared = worker
            .cache_mount("c", ids, CacheSharing::Shared, &scratch, None)
            .unwrap();
        assert_eq!(shared.dir, first.dir);
        // A locked user waits until the holder is done.
        let released = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let locked = worker
                    .cache_mount("c", ids, CacheSharing::Locked, &scratch, None)
                    .unwrap();
                assert!(
                    released.load(std::sync::atomic::Ordering::SeqCst),
                    "got the lock while it was held"
                );
                locked.dir
            });
            std::thread::sleep(std::time::Duration::from_millis(200));
            released.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(first);
            assert_eq!(waiter.join().unwrap(), shared.dir);
        });
    }
}
