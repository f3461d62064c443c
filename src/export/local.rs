//! `--output type=local`: the image's file system copied into a host
//! directory. The layers are stacked read-only in a private mount
//! namespace and copied with `cp -a`, which keeps modes, owners, links,
//! hard links and xattrs exactly (GNU coreutils is on every host kiln
//! supports); whiteouts never show, since the overlay applies them.
//!
//! The image is untrusted and kiln runs as root: a setuid-root binary or a
//! world-writable device node from the image would be a door into the host
//! for any local user (issue 20). So, unless the caller asks to preserve
//! them, the copy lands first in a directory only root can enter, inside
//! `dest`; device nodes are removed there and set-user-ID and set-group-ID
//! bits cleared; only then is it moved into `dest`. What was dropped is
//! returned, for a warning. buildx writes local outputs as the invoking
//! user, which has the same effect.

use super::layer::{Layer, lowers};
use anyhow::Context as _;
use kiln_cache::Store;
use kiln_runtime::view::{View, with_views};
use std::path::Path;

/// What [`write_local`] left out of the copy.
#[derive(Debug, Default)]
pub(crate) struct Dropped {
    /// Device nodes not created (paths relative to `dest`).
    pub devices: Vec<String>,
    /// Files whose set-user-ID or set-group-ID bit was cleared.
    pub setid: Vec<String>,
}

/// Writes the file system of `layers` (snapshots of `store`) into `dest`
/// (created if missing); unless `preserve`, without device nodes and set-id
/// bits (see the module docs).
pub(crate) fn write_local(
    store: &Store,
    layers: &[Layer],
    dest: &Path,
    preserve: bool,
) -> anyhow::Result<Dropped> {
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
    // Unless preserving, the copy lands in a directory of dest's that only
    // root can enter, and is cleaned there before anyone else sees it.
    let staging = match preserve {
        true => None,
        false => Some(
            tempfile::Builder::new()
                .prefix(".kiln-export-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir_in(&dest)
                .with_context(|| format!("cannot create a directory in {}", dest.display()))?,
        ),
    };
    let target = staging
        .as_ref()
        .map_or(dest.clone(), |s| s.path().to_path_buf());
    let lowers = lowers(store, layers)?;
    let status = with_views(&[(View::ReadOnly { lowers }, root.clone())], || {
        std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", root.display()))
            .arg(&target)
            .status()
    })
    .context("cannot mount the image")?
    .map_err(|e| anyhow::anyhow!("cannot run cp: {e}"))?;
    if !status.success() {
        anyhow::bail!("copying the image to {} failed ({status})", dest.display());
    }
    let Some(staging) = staging else {
        return Ok(Dropped::default());
    };
    let dropped = defuse(staging.path())
        .with_context(|| format!("cannot clean the copy in {}", staging.path().display()))?;
    for entry in std::fs::read_dir(staging.path())? {
        let entry = entry?;
        let to = dest.join(entry.file_name());
        // An existing directory in dest receives the copy's contents, as
        // `cp -a SRC/. DEST` merges; anything else is replaced.
        if entry.file_type()?.is_dir() && to.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            let status = std::process::Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", entry.path().display()))
                .arg(&to)
                .status()
                .map_err(|e| anyhow::anyhow!("cannot run cp: {e}"))?;
            if !status.success() {
                anyhow::bail!("copying the image to {} failed ({status})", dest.display());
            }
            continue;
        }
        std::fs::rename(entry.path(), &to)
            .with_context(|| format!("cannot move the copy into {}", to.display()))?;
    }
    Ok(dropped)
}

/// Removes device nodes and clears set-user-ID and set-group-ID bits below
/// `root`, never following a symlink; what it did, by relative path.
fn defuse(root: &Path) -> std::io::Result<Dropped> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let mut dropped = Dropped::default();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path)?;
            let kind = meta.file_type();
            let shown = || {
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string()
            };
            if kind.is_block_device() || kind.is_char_device() {
                std::fs::remove_file(&path)?;
                dropped.devices.push(shown());
            } else if kind.is_dir() {
                todo.push(path);
            } else if kind.is_file() && meta.permissions().mode() & 0o6000 != 0 {
                let mode = meta.permissions().mode() & 0o7777 & !0o6000;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
                dropped.setid.push(shown());
            }
        }
    }
    dropped.devices.sort();
    dropped.setid.sort();
    Ok(dropped)
}
