//! Host directories the worker makes for a step: scratch directories,
//! overlay work directories, directories with an exact owner and mode.

use std::path::{Path, PathBuf};

use super::error::WorkerError;

/// Creates `path` and its missing parents.
pub(crate) fn create_dir(path: &Path) -> Result<(), WorkerError> {
    std::fs::create_dir_all(path)
        .map_err(|e| WorkerError::io(format!("cannot create {}", path.display()), e))
}

/// Gives `path` exactly this owner and mode (special bits included,
/// whatever the umask).
pub(crate) fn set_owner_and_mode(
    path: &Path,
    uid: u32,
    gid: u32,
    mode: u32,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
}

/// A writable overlay of `lowers` (topmost first) whose changes go to
/// `upper`, with its work directory (and, for an empty file system, an
/// empty lower) made under `scratch` with names ending in `tag`.
pub(crate) fn writable_view(
    scratch: &Path,
    tag: &str,
    mut lowers: Vec<PathBuf>,
    upper: PathBuf,
) -> Result<kiln_runtime::view::View, WorkerError> {
    let work = scratch.join(format!("work-{tag}"));
    create_dir(&work)?;
    create_dir(&upper)?;
    if lowers.is_empty() {
        // overlayfs needs a lower: an empty directory is an empty image.
        let empty = scratch.join(format!("empty-{tag}"));
        create_dir(&empty)?;
        lowers.push(empty);
    }
    Ok(kiln_runtime::view::View::Writable {
        lowers,
        upper,
        work,
    })
}
