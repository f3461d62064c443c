//! Durable file-system steps shared by the store: write to a temporary file
//! in the same file system, fsync it, rename it into place, fsync the
//! directory. A crash at any point leaves either the old file or the new
//! one under the final name, never a half-written one.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use tempfile::NamedTempFile;

/// Replaces `path` with `bytes` atomically. `tmp_dir` must be on the same
/// file system as `path`.
pub(crate) fn write_atomic(tmp_dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = NamedTempFile::new_in(tmp_dir)?;
    tmp.write_all(bytes)?;
    persist_durable(tmp, path)
}

/// Creates `path` with `bytes` unless it exists. Never replaces an existing
/// file, even when another process creates it at the same moment (the new
/// file is linked into place with no-clobber semantics).
pub(crate) fn create_atomic_once(tmp_dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut tmp = NamedTempFile::new_in(tmp_dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    match tmp.persist_noclobber(path) {
        Ok(_) => sync_parent(path),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e.error),
    }
}

/// Fsyncs `tmp`, renames it to `to` and fsyncs the destination directory so
/// the rename itself survives a crash.
pub(crate) fn persist_durable(tmp: NamedTempFile, to: &Path) -> std::io::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(to).map_err(|e| e.error)?;
    sync_parent(to)
}

/// Fsyncs the directory holding `path`.
pub(crate) fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) => File::open(parent)?.sync_all(),
        None => Ok(()),
    }
}

/// Opens (creating it if needed) a lock file; the caller takes a shared or
/// exclusive `flock` on it, which the kernel drops if the process dies.
pub(crate) fn open_lock_file(path: &Path) -> std::io::Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}
