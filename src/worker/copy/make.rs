//! The two other file actions, `Mkdir` (`WORKDIR`) and `Mkfile` (heredoc
//! files), with BuildKit's semantics (solver/llbsolver/file/backend.go
//! `mkdir`, `mkfile`) and the same root confinement as copies.
//!
//! - `mkdir`: the path is resolved inside the root (symlinks followed, so
//!   `WORKDIR /var/run/app` lands in `/run/app`). With parents, every
//!   missing directory is created with the action's mode and owner
//!   (fsutil `MkdirAll` passes both down); an existing directory is left
//!   alone, anything else in the way fails. Without parents, an existing
//!   entry of any kind is success (Go's `os.Mkdir` error is `ErrExist`)
//!   and a missing parent fails.
//! - `mkfile`: the path is resolved the same way; the data goes to a
//!   temporary file next to it which is then renamed over it, so a device
//!   node or FIFO left there by an earlier action is replaced, never opened
//!   (BuildKit `replaceWithFile`). The parent must exist.
//!
//! Modes are the action's permission bits (`& 0o777`, as BuildKit masks
//! them) set exactly, whatever the umask; without an owner the entry keeps
//! the one it was created with (root).
//!
//! Boundary: these two actions. Copies are the rest of [`super`].

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use kiln_solver::Owner;
use rustix::fs::Mode;
use rustix::io::Errno;

use super::error::CopyError;
use super::meta;
use super::owner;
use super::root::Root;

/// Creates the directory `path` (absolute, inside the root `root`).
pub fn mkdir(
    root: &Path,
    path: &str,
    mode: u32,
    parents: bool,
    owner: Option<&Owner>,
) -> Result<(), CopyError> {
    let root = Root::open(root, "destination")?;
    let ids = owner
        .map(|o| owner::resolve(&root, o))
        .transpose()?
        .map(|ids| (ids.uid, ids.gid));
    let rel = root.resolve(&kiln_rootpath::relative(path), true, None)?;
    let mode = mode & 0o777;
    if parents {
        return root.mkdir_all(&rel, mode, ids);
    }
    let err = |e: std::io::Error| CopyError::io("mkdir", root.show(&rel), e);
    let Some(name) = rel.file_name() else {
        // The root itself exists.
        return Ok(());
    };
    let dir = root
        .dir(rel.parent().unwrap_or(Path::new("")))
        .map_err(err)?;
    match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(Errno::EXIST) => return Ok(()),
        Err(e) => return Err(err(e.into())),
    }
    if let Some((uid, gid)) = ids {
        meta::chown_at(dir.as_fd(), name, uid, gid).map_err(err)?;
    }
    meta::chmod_at(dir.as_fd(), name, mode).map_err(err)
}

/// Writes the file `path` (absolute, inside the root `root`) with `data`.
pub fn mkfile(
    root: &Path,
    path: &str,
    data: &[u8],
    mode: u32,
    owner: Option<&Owner>,
) -> Result<(), CopyError> {
    let root = Root::open(root, "destination")?;
    let ids = owner.map(|o| owner::resolve(&root, o)).transpose()?;
    let rel = root.resolve(&kiln_rootpath::relative(path), true, None)?;
    let err = |e: std::io::Error| CopyError::io("mkfile", root.show(&rel), e);
    let Some(name) = rel.file_name() else {
        return Err(err(Errno::ISDIR.into()));
    };
    let dir = root
        .dir(rel.parent().unwrap_or(Path::new("")))
        .map_err(err)?;
    // A name no other writer uses: this process's id and a counter.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let temp = format!(
        ".kiln-mkfile-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let write = || -> std::io::Result<()> {
        let fd = super::meta::create_new_at(dir.as_fd(), temp.as_str())?;
        let mut file = std::fs::File::from(fd);
        file.write_all(data)?;
        if let Some(ids) = ids {
            meta::chown_at(dir.as_fd(), OsStr::new(&temp), ids.uid, ids.gid)?;
        }
        meta::chmod_at(dir.as_fd(), OsStr::new(&temp), mode & 0o777)?;
        rustix::fs::renameat(&dir, temp.as_str(), &dir, name)?;
        Ok(())
    };
    write().map_err(|e| {
        let _ = rustix::fs::unlinkat(&dir, temp.as_str(), rustix::fs::AtFlags::empty());
        err(e)
    })
}
