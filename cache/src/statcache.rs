//! The stat cache: the content digest of each build-context file, filed
//! under what `stat` says about it (size, mtime, ctime, inode, mode), so a
//! rebuild hashes only files that changed and a no-op rebuild reads no file
//! contents. One file per context directory,
//! `cache-v1/stat/<sha256 of the context path>` (a compact binary file).
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
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where stat caches live, below the store root.
pub const STAT_DIR: &str = "cache-v1/stat";

/// What `stat` says about a file, as far as its content is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// The stat cache of one context directory, loaded.
#[derive(Debug)]
pub struct StatCache {
    file: PathBuf,
    context: String,
    /// The file as read: its entries, sorted by path, are looked up where
    /// they lie, so loading a large context's cache allocates nothing per
    /// entry.
    loaded: Loaded,
    /// The cache file's mtime when loaded: entries stamped at or after it
    /// are racy.
    written_ns: Option<i128>,
    /// Paths hashed since loading; they take precedence over `loaded`.
    fresh: HashMap<String, (FileStamp, Digest)>,
    /// Whether `fresh` has entries not saved yet.
    dirty: bool,
}

impl Store {
    /// Loads the stat cache of `context` (an absolute path).
    pub fn stat_cache(&self, context: &Path) -> StatCache {
        let context = context.to_string_lossy().into_owned();
        let file = self
            .root()
            .join(STAT_DIR)
            .join(Digest::of(context.as_bytes()).encoded());
        let mut cache = StatCache {
            file,
            context,
            loaded: Loaded::default(),
            written_ns: None,
            fresh: HashMap::new(),
            dirty: false,
        };
        let loaded = std::fs::read(&cache.file)
            .ok()
            .and_then(Loaded::index)
            .filter(|(context, _)| context == &cache.context);
        let written = std::fs::metadata(&cache.file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        if let (Some((_, loaded)), Some(written)) = (loaded, written) {
            cache.written_ns = Some(written.as_nanos() as i128);
            cache.loaded = loaded;
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
        let mut entries: Vec<(&str, FileStamp, &str)> = cache
            .loaded
            .entries()
            .filter(|(path, stamp, _)| !cache.fresh.contains_key(*path) && cache.settled(stamp))
            .chain(
                cache
                    .fresh
                    .iter()
                    .map(|(path, (stamp, digest))| (path.as_str(), *stamp, digest.as_str())),
            )
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let bytes = encode(&cache.context, &entries);
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
        if let Some((known, digest)) = self.fresh.get(path) {
            return (known == stamp && self.settled(stamp)).then(|| digest.clone());
        }
        let (known, digest) = self.loaded.get(path)?;
        (known == *stamp && self.settled(stamp))
            .then(|| digest.parse().ok())
            .flatten()
    }

    /// Whether a file with `stamp` last changed strictly before the cache
    /// was written.
    fn settled(&self, stamp: &FileStamp) -> bool {
        self.written_ns
            .is_some_and(|written| stamp.mtime_ns < written && stamp.ctime_ns < written)
    }

    /// Records the digest of `path` as hashed while it had `stamp`.
    pub fn insert(&mut self, path: &str, stamp: FileStamp, digest: Digest) {
        self.fresh.insert(path.to_string(), (stamp, digest));
        self.dirty = true;
    }

    /// How many files it knows.
    pub fn len(&self) -> usize {
        let fresh_only = self
            .fresh
            .keys()
            .filter(|path| self.loaded.get(path).is_none())
            .count();
        self.loaded.offsets.len() + fresh_only
    }

    /// Whether it knows none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The file's first bytes; a new layout gets a new magic (and an old file
/// is then simply ignored).
const MAGIC: &[u8] = b"kiln-stat-v1\0";

/// The compact binary layout: a no-op rebuild of a large context loads
/// this whole file, so it must load in a few milliseconds. After the
/// magic: the context path, the entry count, then per entry, in byte
/// order of the paths, its path, size, mtime, ctime, inode, mode
/// (little-endian) and the digest's text.
fn encode(context: &str, entries: &[(&str, FileStamp, &str)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + entries.len() * 128);
    out.extend_from_slice(MAGIC);
    put_bytes(&mut out, context.as_bytes());
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for (path, stamp, digest) in entries {
        put_bytes(&mut out, path.as_bytes());
        out.extend_from_slice(&stamp.size.to_le_bytes());
        out.extend_from_slice(&stamp.mtime_ns.to_le_bytes());
        out.extend_from_slice(&stamp.ctime_ns.to_le_bytes());
        out.extend_from_slice(&stamp.ino.to_le_bytes());
        out.extend_from_slice(&stamp.mode.to_le_bytes());
        put_bytes(&mut out, digest.as_bytes());
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A cache file's bytes and where each entry starts.
#[derive(Debug, Default)]
struct Loaded {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

impl Loaded {
    /// Checks the layout of `bytes` and notes where each entry starts;
    /// `None` for anything malformed, including paths out of order or not
    /// UTF-8 (the lookup's binary search relies on both).
    fn index(bytes: Vec<u8>) -> Option<(String, Loaded)> {
        let mut r = Reader(bytes.strip_prefix(MAGIC)?);
        let context = String::from_utf8(r.bytes()?.to_vec()).ok()?;
        let count = usize::try_from(u64::from_le_bytes(r.array()?)).ok()?;
        let mut offsets = Vec::with_capacity(count.min(1 << 20));
        let mut last: Option<&[u8]> = None;
        for _ in 0..count {
            offsets.push(bytes.len() - r.0.len());
            let (path, _, digest) = r.entry()?;
            std::str::from_utf8(path).ok()?;
            std::str::from_utf8(digest).ok()?;
            if last.is_some_and(|last| last >= path) {
                return None;
            }
            last = Some(path);
        }
        if !r.0.is_empty() {
            return None;
        }
        Some((context, Loaded { bytes, offsets }))
    }

    /// The entry at `offset` (always `Some` for an indexed offset).
    fn at(&self, offset: usize) -> Option<(&str, FileStamp, &str)> {
        let (path, stamp, digest) = Reader(self.bytes.get(offset..)?).entry()?;
        let text = |b| std::str::from_utf8(b).ok();
        Some((text(path)?, stamp, text(digest)?))
    }

    /// The stamp and digest text recorded for `path`.
    fn get(&self, path: &str) -> Option<(FileStamp, &str)> {
        // Only the paths are read while searching.
        let path_at = |offset: usize| self.bytes.get(offset..).and_then(|b| Reader(b).bytes());
        let found = self
            .offsets
            .binary_search_by(|&offset| path_at(offset).unwrap_or_default().cmp(path.as_bytes()))
            .ok()?;
        let (_, stamp, digest) = self.at(self.offsets[found])?;
        Some((stamp, digest))
    }

    fn entries(&self) -> impl Iterator<Item = (&str, FileStamp, &str)> {
        self.offsets.iter().filter_map(|&offset| self.at(offset))
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        if self.0.len() < len {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }

    /// One entry: its path, stamp and digest text.
    fn entry(&mut self) -> Option<(&'a [u8], FileStamp, &'a [u8])> {
        let path = self.bytes()?;
        let stamp = FileStamp {
            size: u64::from_le_bytes(self.array()?),
            mtime_ns: i128::from_le_bytes(self.array()?),
            ctime_ns: i128::from_le_bytes(self.array()?),
            ino: u64::from_le_bytes(self.array()?),
            mode: u32::from_le_bytes(self.array()?),
        };
        Some((path, stamp, self.bytes()?))
    }
}
