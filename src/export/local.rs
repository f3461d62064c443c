//! `--output type=local`: the image's file system copied into a host
//! directory. The layers are stacked read-only in a private mount
//! namespace and copied with `cp -a`, which keeps modes, owners, links,
//! hard links and xattrs exactly (GNU coreutils is on every host kiln
//! supports); whiteouts never show, since the overlay applies them.

use crate::worker::{Layer, Worker, WorkerError};
use kiln_runtime::view::{View, with_views};
use std::path::Path;

/// Writes the file system of `layers` into `dest` (created if missing).
pub(crate) fn write_local(worker: &Worker, layers: &[Layer], dest: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dest)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dest.display()))?;
    let dest = std::fs::canonicalize(dest)?;
    let scratch = worker.scratch_dir()?;
    let root = scratch.path().join("root");
    std::fs::create_dir(&root)?;
    let lowers = crate::worker::lowers(layers);
    let status = with_views(&[(View::ReadOnly { lowers }, root.clone())], || {
        std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", root.display()))
            .arg(&dest)
            .status()
    })
    .map_err(|e| WorkerError::io("cannot mount the image", e))?
    .map_err(|e| anyhow::anyhow!("cannot run cp: {e}"))?;
    if !status.success() {
        anyhow::bail!("copying the image to {} failed ({status})", dest.display());
    }
    Ok(())
}
