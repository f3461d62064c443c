//! The destination: where in the destination root each source lands, and
//! which directories are created for it.
//!
//! Dockerfile reference (COPY, "Destination"): "Trailing slashes are
//! significant. For example, `COPY test.txt /abs` creates a file at `/abs`,
//! whereas `COPY test.txt /abs/` creates `/abs/test.txt`. [...] If
//! destination doesn't exist, it's created, along with all missing
//! directories in its path." BuildKit implements this in fsutil
//! (copy/copy.go `Copy` and `prepareTargetDir`), per source:
//!
//! 1. The destination's directory part is created (`mkdir -p`, 0755 or an
//!    octal `--chmod`'s permission bits, owned by `--chown` when given):
//!    the whole path when it ends in `/` or `/.`, its parent otherwise.
//! 2. The destination is resolved inside the root, following symlinks even
//!    as its last element: `/var/run -> /run` is honoured, and an absolute
//!    link target means the same path *inside* the root.
//! 3. A file (or a symlink not followed) goes *into* an existing directory
//!    under its own name, otherwise *to* the path. A directory's contents
//!    go into the path (created when missing); without "contents only" a
//!    directory goes into an existing destination under its own name.
//!
//! Existing directories on the way are never changed: their owner and mode
//! stay (moby/buildkit#790 fixed `--chown` rewriting them).
//!
//! Boundary: computing and creating the destination path. Writing entries
//! there is [`super::tree`] and [`super::archive`].

use std::path::{Path, PathBuf};

use super::error::CopyError;
use super::owner::Ids;
use super::root::Root;
use super::sources::Source;

/// Whether the destination as written names a directory to copy into.
fn names_directory(raw: &str) -> bool {
    raw.ends_with('/') || raw.ends_with("/.") || kiln_rootpath::relative(raw).as_os_str().is_empty()
}

/// Fails when the destination's parent is missing (an action that may not
/// create it: BuildKit's `CreateDestPath` unset).
pub(super) fn check_parent(root: &Root, raw: &str) -> Result<(), CopyError> {
    let dst = root.resolve(&kiln_rootpath::relative(raw), true, None)?;
    let parent = dst.parent().unwrap_or(Path::new(""));
    match root.lstat(parent) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(CopyError::DestParentMissing {
            path: root.show(&kiln_rootpath::relative(raw)),
        }),
        Err(e) => Err(CopyError::io("lstat", root.show(parent), e)),
    }
}

/// Steps 1 and 2: creates the destination's directory part (missing
/// directories get `mode`) and returns the destination resolved inside the
/// root.
pub(super) fn prepare(
    root: &Root,
    raw: &str,
    owner: Option<Ids>,
    mode: u32,
) -> Result<PathBuf, CopyError> {
    let clean = kiln_rootpath::relative(raw);
    let ensure = if names_directory(raw) {
        clean.clone()
    } else {
        clean.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let ensure = root.resolve(&ensure, true, None)?;
    root.mkdir_all(&ensure, mode, owner.map(|o| (o.uid, o.gid)))?;
    root.resolve(&clean, true, None)
}

/// Step 3: the path `source` is copied to, given the resolved destination
/// `dst`; creates the directory it goes into (with `mode` when missing).
pub(super) fn target(
    root: &Root,
    dst: &Path,
    source: &Source,
    contents_only: bool,
    owner: Option<Ids>,
    mode: u32,
) -> Result<PathBuf, CopyError> {
    let existing = root
        .lstat(dst)
        .map_err(|e| CopyError::io("lstat", root.show(dst), e))?;
    let src_dir = source.stat.is_dir();
    let into = match &existing {
        Some(st) => (src_dir && !contents_only) || (!src_dir && st.is_dir()),
        None => false,
    };
    let target = match (into, source.name.file_name()) {
        (true, Some(name)) => dst.join(name),
        _ => dst.to_path_buf(),
    };
    // The directory a file is written in, or the directory whose contents
    // are being filled (created here so it gets `mode` and `--chown`, not
    // the source directory's mode: moby/buildkit#1941).
    let holder = if src_dir && contents_only && existing.is_none() {
        target.clone()
    } else {
        target.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    root.mkdir_all(&holder, mode, owner.map(|o| (o.uid, o.gid)))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_and_dot_name_directories() {
        assert!(names_directory("/app/"));
        assert!(names_directory("/app/."));
        assert!(names_directory("/"));
        assert!(names_directory("."));
        assert!(!names_directory("/app"));
        assert!(!names_directory("/app/file.txt"));
    }
}
