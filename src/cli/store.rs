//! Where the store lives: `--root`, else `KILN_ROOT`, else `/var/lib/kiln`
//! for root and `$XDG_DATA_HOME/kiln` (default `~/.local/share/kiln`) for
//! other users.

use anyhow::Context as _;
use kiln_cache::Store;
use std::path::PathBuf;

/// The global store option.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StoreArgs {
    /// The store directory (an OCI image layout) [env: KILN_ROOT]
    // KILN_ROOT is read by `root`, not by clap: clap counts a value from
    // the environment as given, and its usage lines on any error would
    // then show `--root <DIR>` as if it were required.
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
}

impl StoreArgs {
    /// The store root this invocation uses.
    pub fn root(&self) -> anyhow::Result<PathBuf> {
        if let Some(root) = &self.root {
            return Ok(root.clone());
        }
        if let Some(root) = std::env::var_os("KILN_ROOT").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(root));
        }
        // Rootless kiln is root in its own namespace: the store is still
        // the user's.
        if crate::rootless::state().is_none() && is_root() {
            return Ok(PathBuf::from("/var/lib/kiln"));
        }
        if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(data).join("kiln"));
        }
        let home = std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .context("cannot find the store: set --root, KILN_ROOT, XDG_DATA_HOME or HOME")?;
        Ok(PathBuf::from(home).join(".local/share/kiln"))
    }

    /// Opens (creating if needed) the store.
    pub fn open(&self) -> anyhow::Result<Store> {
        let root = self.root()?;
        let mut store = Store::open(&root)?;
        // In any user namespace but the host's (rootless kiln's, or root
        // in a container's), or under chroot isolation, as the runtime
        // judges it: overlays there use `userxattr`, no trusted xattr can
        // be set and devices cannot be made.
        if kiln_runtime::isolation::unprivileged_store() {
            store.use_user_xattrs();
        }
        kiln_runtime::isolation::choose_snapshotter(snapshotter(&root)?);
        crate::registry::lazy::install(&mut store, &crate::registry::RegistryOptions::default());
        Ok(store)
    }
}

/// The file a store records its snapshotter in.
const SNAPSHOTTER_FILE: &str = "snapshotter";

/// How sandboxes on the store at `root` get their root file system:
/// `KILN_SNAPSHOTTER` (`overlay` or `copy`) when set, else what the
/// store recorded, else what a probe finds: an overlay mounted as a
/// sandbox's would be (recorded), a copy where it does not (probed again
/// by the next command).
fn snapshotter(root: &std::path::Path) -> anyhow::Result<kiln_runtime::isolation::Snapshotter> {
    use kiln_runtime::isolation::{Isolation, Snapshotter, current, probe_overlay};
    let parse = |text: &str| match text.trim() {
        "overlay" => Some(Snapshotter::Overlay),
        "copy" => Some(Snapshotter::Copy),
        _ => None,
    };
    if let Some(asked) = std::env::var_os("KILN_SNAPSHOTTER").filter(|v| !v.is_empty()) {
        let asked = asked.to_string_lossy();
        return parse(&asked)
            .with_context(|| format!("KILN_SNAPSHOTTER={asked}: expected overlay or copy"));
    }
    if current() == Isolation::Chroot {
        return Ok(Snapshotter::Copy);
    }
    let file = root.join(SNAPSHOTTER_FILE);
    if let Some(recorded) = std::fs::read_to_string(&file).ok().and_then(|t| parse(&t)) {
        return Ok(recorded);
    }
    let tmp = root.join("tmp");
    if let Err(e) = probe_overlay(&tmp) {
        // Not recorded: a failure may pass (a full disk, a namespace that
        // could not be entered), and the next command probes again.
        tracing::info!(error = %e, "overlayfs does not mount here: sandboxes copy their root");
        return Ok(Snapshotter::Copy);
    }
    // Recorded for the next command; a store it cannot be written to
    // probes again.
    let record = || -> std::io::Result<()> {
        let mut staged = tempfile::NamedTempFile::new_in(&tmp)?;
        std::io::Write::write_all(&mut staged, b"overlay")?;
        staged.persist(&file).map(|_| ()).map_err(|e| e.error)
    };
    let _ = record();
    Ok(Snapshotter::Overlay)
}

/// Whether this process runs with effective uid 0.
fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
