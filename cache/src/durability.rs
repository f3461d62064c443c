//! Snapshots published without waiting for the disk.
//!
//! Flushing a freshly unpacked or built layer (gigabytes, for a big one)
//! before it gets its name would make every pull and build wait for the
//! disk. A snapshot is instead published with a marker beside it,
//! `snapshots/<chain ID hex>.unsynced`, holding the ID of the running
//! boot (`/proc/sys/kernel/random/boot_id`), written and synced before the
//! rename. Files in the page cache outlive any process, killed or not;
//! only a kernel crash or a power cut loses them, and after either the
//! machine boots again with a new boot ID. So:
//!
//! - a marker of this boot: the snapshot is whole (the page cache has it);
//! - a marker of another boot: the snapshot may hold empty or missing
//!   files, and is removed (snapshot first, then marker), to be unpacked
//!   again from its blob, which was synced when it was stored;
//! - no marker: the snapshot was synced.
//!
//! Markers of this boot older than [`SETTLE_AFTER`] are settled: one
//! `syncfs` (by then the kernel's writeback has mostly flushed them), then
//! they are removed. `prune` settles before it returns; commands that use
//! snapshots start a settle in the background and never wait for it
//! (`syncfs` waits for every dirty page of the file system, other
//! programs' included), so one that ends first leaves the markers for the
//! next. Where the boot ID cannot be read, snapshots are synced before
//! they get their name.

use crate::error::{IoContext as _, StoreError};
use crate::layout::Store;
use kiln_oci::Digest;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// The marker's extension.
const MARKER: &str = "unsynced";
/// Age after which this boot's markers are synced away: twice the kernel's
/// default `dirty_expire_centisecs`, so writeback has usually done the
/// work.
const SETTLE_AFTER: Duration = Duration::from_secs(60);
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// This boot's ID, read once; None where the kernel does not say.
fn boot_id() -> Option<&'static str> {
    static ID: OnceLock<Option<String>> = OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string(BOOT_ID)
            .ok()
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
    })
    .as_deref()
}

/// The marker of the snapshot at `path`.
fn marker_of(path: &Path) -> PathBuf {
    path.with_extension(MARKER)
}

impl Store {
    /// Gives the finished tree `staged` its final name `path` (a
    /// snapshot): the marker first, synced, then the rename.
    pub fn publish_snapshot(&self, staged: &Path, path: &Path) -> Result<(), StoreError> {
        match boot_id() {
            Some(id) => {
                let marker = marker_of(path);
                let mut file = File::create(&marker).at("cannot create", &marker)?;
                file.write_all(id.as_bytes())
                    .and_then(|()| file.sync_all())
                    .at("cannot write", &marker)?;
                crate::fsutil::sync_parent(&marker).at("cannot sync", &marker)?;
            }
            None => {
                let dir = File::open(staged).at("cannot open", staged)?;
                rustix::fs::syncfs(&dir)
                    .map_err(std::io::Error::from)
                    .at("cannot sync", staged)?;
            }
        }
        std::fs::rename(staged, path).at("cannot move snapshot into", path)?;
        Ok(())
    }

    /// Whether the snapshot of `chain_id` is there and whole. One written
    /// in an earlier boot and never synced is removed here (false; if it
    /// cannot be removed it stays, and stays not ready).
    pub fn snapshot_ready(&self, chain_id: &Digest) -> bool {
        let path = self.snapshot_path(chain_id);
        if !path.is_dir() {
            return false;
        }
        let marker = marker_of(&path);
        let Ok(written_in) = std::fs::read_to_string(&marker) else {
            return true;
        };
        if Some(written_in.trim()) == boot_id() {
            return true;
        }
        // Out of the way under a name prune and doctor know as a
        // leftover, then gone; the marker goes last, so a crash in
        // between leaves the snapshot still suspect.
        let doomed = path.with_file_name(format!("unpacking-stale-{}", chain_id.encoded()));
        // What an interrupted removal left would block the rename.
        let _ = std::fs::remove_dir_all(&doomed);
        if std::fs::rename(&path, &doomed).is_ok() {
            let _ = std::fs::remove_dir_all(&doomed);
        }
        // Unless the snapshot is back meanwhile, made again (with a
        // marker of this boot) by another process.
        let still_stale = std::fs::read_to_string(&marker).is_ok_and(|id| id == written_in);
        if !path.exists() && still_stale {
            let _ = std::fs::remove_file(&marker);
        }
        false
    }

    /// Syncs the file system and removes the markers of this boot older
    /// than [`SETTLE_AFTER`], when there are any; and removes markers of
    /// other boots whose snapshot is gone. Best effort: a marker left only
    /// costs an unpack after a reboot.
    pub fn settle_snapshots(&self) {
        settle(&self.root().join("snapshots"));
    }

    /// [`Store::settle_snapshots`] on a thread of its own that nobody
    /// waits for, once per process.
    pub(crate) fn settle_snapshots_in_background(&self) {
        static STARTED: AtomicBool = AtomicBool::new(false);
        if STARTED.swap(true, Ordering::Relaxed) {
            return;
        }
        let dir = self.root().join("snapshots");
        // Not starting is fine: the markers wait for the next command.
        let _ = std::thread::Builder::new()
            .name("kiln-settle".into())
            .spawn(move || settle(&dir));
    }
}

/// Settles the markers in the snapshots directory `dir`.
fn settle(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut settled = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != MARKER) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > SETTLE_AFTER);
        let this_boot = std::fs::read_to_string(&path).is_ok_and(|id| Some(id.trim()) == boot_id());
        if old && this_boot {
            settled.push(path);
        } else if !this_boot && !path.with_extension("").exists() {
            let _ = std::fs::remove_file(&path);
        }
    }
    if settled.is_empty() {
        return;
    }
    let synced = File::open(dir).is_ok_and(|d| rustix::fs::syncfs(&d).is_ok());
    if synced {
        for marker in settled {
            let _ = std::fs::remove_file(marker);
        }
    }
}
