//! `--output type=local`: the image's file system copied into a host
//! directory. The layers are stacked read-only in a private mount
//! namespace and copied with `cp -a`, which keeps modes, owners, links,
//! hard links and xattrs exactly (GNU coreutils is on every host kiln
//! supports); whiteouts never show, since the overlay applies them.

use super::layer::{Layer, lowers};
use anyhow::Context as _;
use kiln_cache::Store;
use kiln_runtime::view::{View, with_views};
use std::path::Path;

/// Writes the file system of `layers` (snapshots of `store`) into `dest`
/// (created if missing).
pub(crate) fn write_local(store: &Store, layers: &[Layer], dest: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dest)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dest.display()))?;
    let dest = std::fs::canonicalize(dest)?;
    let tmp = store.root().join("tmp");
    let scratch = tempfile::Builder::new()
        .prefix("export-")
        .tempdir_in(&tmp)
        .with_context(|| format!("cannot create a directory in {}", tmp.display()))?;
    let root = scratch.path().join("root");
    std::fs::create_dir(&root)?;
    let lowers = lowers(layers);
    let status = with_views(&[(View::ReadOnly { lowers }, root.clone())], || {
        std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", root.display()))
            .arg(&dest)
            .status()
    })
    .context("cannot mount the image")?
    .map_err(|e| anyhow::anyhow!("cannot run cp: {e}"))?;
    if !status.success() {
        anyhow::bail!("copying the image to {} failed ({status})", dest.display());
    }
    Ok(())
}
