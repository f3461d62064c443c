//! Cache records: a build step's result filed under its cache key, in
//! `cache-v1/records/<key hex>.json`. A record names the layers the result
//! is made of (chain IDs, diff IDs, blob descriptors); their snapshots and
//! blobs live in the snapshot and blob stores, and a record whose snapshot
//! or blob is gone is a miss, never a wrong result.
//!
//! Records are written atomically (temporary file, fsync, rename), so a
//! killed kiln leaves either no record or a whole one. The file's mtime is
//! its last use: a hit touches it, and prune collects the least recently
//! used first.
//!
//! Boundary: records are opaque to this crate beyond the layers they keep
//! alive; what a key is made of is the solver's business.

use crate::error::{IoContext as _, StoreError};
use crate::fsutil::write_atomic;
use crate::layout::Store;
use kiln_oci::{Descriptor, Digest};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::SystemTime;

/// Where records live, below the store root. The `-v1` is bumped when the
/// record format changes incompatibly: an old kiln then simply misses.
pub const RECORDS_DIR: &str = "cache-v1/records";

/// One layer of a cached result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordLayer {
    /// The step changed nothing: no snapshot, no blob.
    pub empty: bool,
    /// The layer's chain ID on its parents (its snapshot's name).
    pub chain_id: Digest,
    /// The uncompressed tar's digest.
    pub diff_id: Digest,
    /// The blob as a manifest lists it.
    pub descriptor: Descriptor,
}

/// A step's result under its cache key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The root file system the step produced, base layer first.
    pub layers: Vec<RecordLayer>,
    /// When the step ran (RFC 3339), for `kiln df` and `--explain`.
    pub created: String,
    /// The step as progress named it, for `kiln df`.
    pub description: String,
}

impl Store {
    fn record_path(&self, key: &Digest) -> PathBuf {
        self.root()
            .join(RECORDS_DIR)
            .join(format!("{}.json", key.encoded()))
    }

    /// The record under `key`, if there is a usable one: it parses and
    /// every blob it names is held or remote (its snapshot is made from the
    /// blob when missing). A hit counts as a use.
    pub fn lookup_record(&self, key: &Digest) -> Option<CacheRecord> {
        let record = self.peek_record(key)?;
        // Last use, for LRU pruning; a failure only makes it look older.
        if let Ok(file) = std::fs::File::options()
            .write(true)
            .open(self.record_path(key))
        {
            let _ = file.set_modified(SystemTime::now());
        }
        Some(record)
    }

    /// The usable record under `key`, as [`Store::lookup_record`] finds
    /// it, without counting a use (a look at an earlier result that is
    /// not this build's).
    pub fn peek_record(&self, key: &Digest) -> Option<CacheRecord> {
        let bytes = std::fs::read(self.record_path(key)).ok()?;
        let record: CacheRecord = serde_json::from_slice(&bytes).ok()?;
        // Each layer's blob is held or remote (fetched when read); its
        // snapshot is unpacked from it when a step needs its files
        // (`Store::ensure_snapshot`).
        let complete = record
            .layers
            .iter()
            .filter(|l| !l.empty)
            .all(|l| self.available(&l.descriptor.digest));
        complete.then_some(record)
    }

    /// Files `record` under `key`, replacing any older one.
    pub fn put_record(&self, key: &Digest, record: &CacheRecord) -> Result<(), StoreError> {
        let path = self.record_path(key);
        let dir = self.root().join(RECORDS_DIR);
        std::fs::create_dir_all(&dir).at("cannot create", &dir)?;
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError::Format {
            what: "cache record",
            path: path.clone(),
            message: e.to_string(),
        })?;
        write_atomic(&self.root().join("tmp"), &path, &bytes).at("cannot write", &path)
    }

    /// Every record: its key, the record and its last use. Unreadable
    /// files are listed with `None` so prune can remove them.
    pub fn records(&self) -> Result<Vec<StoredRecord>, StoreError> {
        let dir = self.root().join(RECORDS_DIR);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).at("cannot list", &dir),
        };
        let mut records = Vec::new();
        for entry in entries {
            let entry = entry.at("cannot list", &dir)?;
            let path = entry.path();
            let Some(hex) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            let meta = entry.metadata().at("cannot stat", &path)?;
            let record = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            records.push(StoredRecord {
                key: format!("sha256:{hex}").parse().ok(),
                record,
                last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                size: meta.len(),
                path,
            });
        }
        records.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(records)
    }
}

/// Where step locks live, below the store root.
pub const LOCKS_DIR: &str = "cache-v1/locks";

/// A held step lock; dropping it releases it.
#[derive(Debug)]
pub struct StepLock {
    _file: std::fs::File,
}

impl Store {
    /// Takes the lock of cache key `key`, so two builds that reach the
    /// same step at once run it once: the second waits, then finds the
    /// first one's record. Polls, so a build canceled while waiting stops
    /// waiting: `None` once `give_up` says so. `flock(2)`: released when
    /// the holder dies, so a killed kiln blocks nobody.
    pub fn lock_step(
        &self,
        key: &Digest,
        give_up: &dyn Fn() -> bool,
    ) -> Result<Option<StepLock>, StoreError> {
        let dir = self.root().join(LOCKS_DIR);
        std::fs::create_dir_all(&dir).at("cannot create", &dir)?;
        let path = dir.join(format!("{}.lock", key.encoded()));
        let file = crate::fsutil::open_lock_file(&path).at("cannot open", &path)?;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(StepLock { _file: file })),
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).at("cannot lock", &path);
                }
            }
            if give_up() {
                return Ok(None);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// A record as it sits in the store.
#[derive(Clone, Debug)]
pub struct StoredRecord {
    /// Its key (`None`: a file whose name is no digest).
    pub key: Option<Digest>,
    /// The record (`None`: unreadable).
    pub record: Option<CacheRecord>,
    /// Its last use.
    pub last_used: SystemTime,
    /// The record file's own size.
    pub size: u64,
    /// The record file.
    pub path: PathBuf,
}
