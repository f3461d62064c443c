//! The stat cache: the content digest of each build-context file, filed
//! under what `stat` says about it (size, mtime, ctime, inode, mode), so a
//! rebuild hashes only files that changed and a no-op rebuild reads no file
//! contents. One file per context directory,
//! `cache-v1/stat/<sha256 of the context path>.json`.
//!
//! Racy entries are handled as git handles its index ("racy git", git's
//! Documentation/technical/racy-git.txt): a file changed within the same
//! timestamp tick as the cache was written could carry the same stamp as
//! the version that was hashed. So an entry is trusted only when the file's
//! mtime and ctime are both strictly older than the cache file's own mtime
//! (taken from the same file-system clock); otherwise it is hashed again.
//!
//! The cache is an optimisation only: a missing, unreadable or corrupt
//! file is treated as empty.

use crate::error::{IoContext as _, StoreError};
use crate::fsutil::write_atomic;
use crate::layout::Store;
use kiln_oci::Digest;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Where stat caches live, below the store root.
pub const STAT_DIR: &str = "cache-v1/stat";

/// What `stat` says about a file, as far as its content is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Status change time, nanoseconds since the epoch.
    pub ctime_ns: i128,
    /// Inode number.
    pub ino: u64,
    /// `st_mode`.
    pub mode: u32,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    stamp: FileStamp,
    digest: Digest,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    context: String,
    entries: Vec<Entry>,
}

/// The stat cache of one context directory, loaded.
#[derive(Debug)]
pub struct StatCache {
    file: PathBuf,
    context: String,
    entries: HashMap<String, (FileStamp, Digest)>,
    /// The cache file's mtime when loaded: entries stamped at or after it
    /// are racy.
    written_ns: Option<i128>,
    /// Paths hashed since loading.
    fresh: HashSet<String>,
    dirty: bool,
}

impl Store {
    /// Loads the stat cache of `context` (an absolute path).
    pub fn stat_cache(&self, context: &Path) -> StatCache {
        let context = context.to_string_lossy().into_owned();
        let file = self
            .root()
            .join(STAT_DIR)
            .join(format!("{}.json", Digest::of(context.as_bytes()).encoded()));
        let mut cache = StatCache {
            file,
            context,
            entries: HashMap::new(),
            written_ns: None,
            fresh: HashSet::new(),
            dirty: false,
        };
        let loaded = std::fs::read(&cache.file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<OnDisk>(&bytes).ok())
            .filter(|on_disk| on_disk.context == cache.context);
        let written = std::fs::metadata(&cache.file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        if let (Some(on_disk), Some(written)) = (loaded, written) {
            cache.written_ns = Some(written.as_nanos() as i128);
            cache.entries = on_disk
                .entries
                .into_iter()
                .map(|e| (e.path, (e.stamp, e.digest)))
                .collect();
        }
        cache
    }

    /// Writes `cache` back if anything was added to it.
    pub fn save_stat_cache(&self, cache: &mut StatCache) -> Result<(), StoreError> {
        if !cache.dirty {
            return Ok(());
        }
        let dir = self.root().join(STAT_DIR);
        std::fs::create_dir_all(&dir).at("cannot create", &dir)?;
        // An entry that was racy when loaded and was not hashed again
        // would look settled against the new file's mtime: drop it (git
        // "smudges" such entries for the same reason).
        let mut entries: Vec<Entry> = cache
            .entries
            .iter()
            .filter(|(path, (stamp, _))| cache.fresh.contains(*path) || cache.settled(stamp))
            .map(|(path, (stamp, digest))| Entry {
                path: path.clone(),
                stamp: *stamp,
                digest: digest.clone(),
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let on_disk = OnDisk {
            context: cache.context.clone(),
            entries,
        };
        let bytes = serde_json::to_vec(&on_disk).map_err(|e| StoreError::Format {
            what: "stat cache",
            path: cache.file.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&self.root().join("tmp"), &cache.file, &bytes)
            .at("cannot write", &cache.file)?;
        cache.dirty = false;
        Ok(())
    }
}

impl StatCache {
    /// The digest recorded for `path` (relative to the context) if the
    /// file still has exactly `stamp` and the entry is not racy.
    pub fn lookup(&self, path: &str, stamp: &FileStamp) -> Option<Digest> {
        let (known, digest) = self.entries.get(path)?;
        (known == stamp && self.settled(stamp)).then(|| digest.clone())
    }

    /// Whether a file with `stamp` last changed strictly before the cache
    /// was written.
    fn settled(&self, stamp: &FileStamp) -> bool {
        self.written_ns
            .is_some_and(|written| stamp.mtime_ns < written && stamp.ctime_ns < written)
    }

    /// Records the digest of `path` as hashed while it had `stamp`.
    pub fn insert(&mut self, path: &str, stamp: FileStamp, digest: Digest) {
        self.entries.insert(path.to_string(), (stamp, digest));
        self.fresh.insert(path.to_string());
        self.dirty = true;
    }

    /// How many files it knows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
