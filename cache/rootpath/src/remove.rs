//! Removing a whole tree inside a root.
//!
//! Depth-first with one open descriptor at a time (climbing back through
//! `..`), not one per level and not by recursion, so a hostile tree nesting
//! directories thousands deep (a layer, an archive, a build context) cannot
//! exhaust the stack or the descriptor table. Every step is relative to a
//! descriptor and never follows symlinks, so a removal cannot leave the
//! root.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Removes `name` in `parent`, a directory with everything under it, or
/// anything else by itself. Missing is fine.
pub fn remove_any(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let st = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        remove_tree(parent, name)
    } else {
        Ok(rustix::fs::unlinkat(parent, name, AtFlags::empty())?)
    }
}

/// Removes the directory `name` in `parent` and everything under it.
pub fn remove_tree(parent: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let mut current: OwnedFd = rustix::fs::openat(parent, name, DIR_FLAGS, Mode::empty())?;
    // Names from `name` (exclusive) down to `current`, and the identity
    // (device, inode) of each directory above `current` on the way down: a
    // climb through `..` must land where the descent came from, or the
    // tree was moved meanwhile and the removal stops rather than go on
    // somewhere else.
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut above: Vec<(u64, u64)> = Vec::new();
    loop {
        let mut subdir = None;
        for (child, is_dir) in children(current.as_fd())? {
            if is_dir {
                subdir.get_or_insert(child);
            } else {
                rustix::fs::unlinkat(&current, child.as_slice(), AtFlags::empty())?;
            }
        }
        if let Some(child) = subdir {
            above.push(identity(current.as_fd())?);
            current = rustix::fs::openat(&current, child.as_slice(), DIR_FLAGS, Mode::empty())?;
            path.push(child);
            continue;
        }
        // `current` is empty now.
        match (path.pop(), above.pop()) {
            (Some(done), Some(expected)) => {
                let up = rustix::fs::openat(&current, c"..", DIR_FLAGS, Mode::empty())?;
                if identity(up.as_fd())? != expected {
                    return Err(io::Error::other(
                        "a directory being removed was moved meanwhile",
                    ));
                }
                rustix::fs::unlinkat(&up, done.as_slice(), AtFlags::REMOVEDIR)?;
                current = up;
            }
            _ => return Ok(rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?),
        }
    }
}

/// A directory's device and inode.
fn identity(dir: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    let st = rustix::fs::fstat(dir)?;
    Ok((st.st_dev, st.st_ino))
}

/// The entries of a directory, read fully before anything is removed (what
/// readdir returns while entries are being unlinked is unspecified).
fn children(dir: BorrowedFd<'_>) -> io::Result<Vec<(Vec<u8>, bool)>> {
    let mut out = Vec::new();
    let mut reader = Dir::read_from(dir)?;
    while let Some(entry) = reader.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Unknown => {
                let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
                FileType::from_raw_mode(st.st_mode) == FileType::Directory
            }
            t => t == FileType::Directory,
        };
        out.push((name.to_vec(), is_dir));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn removes_deep_trees_without_following_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"x").unwrap();
        let mut deep = tmp.path().join("root/victim");
        for i in 0..300 {
            deep.push(format!("d{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("f"), b"x").unwrap();
        symlink(&outside, tmp.path().join("root/victim/d0/link")).unwrap();
        symlink(&outside, tmp.path().join("root/link")).unwrap();
        std::fs::create_dir_all(tmp.path().join("root/victim/d0/other/x")).unwrap();

        let root =
            rustix::fs::open(tmp.path().join("root"), OFlags::RDONLY, Mode::empty()).unwrap();
        remove_any(root.as_fd(), OsStr::new("victim")).unwrap();
        assert!(!tmp.path().join("root/victim").exists());
        remove_any(root.as_fd(), OsStr::new("link")).unwrap();
        assert!(!tmp.path().join("root/link").exists());
        assert!(outside.join("keep").exists());
        remove_any(root.as_fd(), OsStr::new("victim")).unwrap();
    }
}
