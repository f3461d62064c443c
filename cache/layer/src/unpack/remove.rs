//! Removing what an entry replaces. Tar semantics: a later entry for the
//! same path replaces the earlier one, except that a directory over a
//! directory merges (keeps the contents).
//!
//! Whole trees are removed by kiln-rootpath's `remove_tree`: depth-first
//! with one descriptor at a time, never following a symlink, so a hostile
//! layer nesting directories thousands deep cannot exhaust the stack or the
//! descriptor table, nor lead a removal out of the snapshot.

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, FileType};
use rustix::io::{Errno, Result};

/// What was at a path before an entry took it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Previous {
    /// Nothing.
    Nothing,
    /// A directory, kept (directory over directory).
    KeptDir,
    /// An overlay whiteout (char device 0:0), removed.
    Whiteout,
    /// Something else, removed.
    Removed,
}

/// Clears `name` in `dir` for a new entry; keeps a directory if `keep_dir`.
pub(crate) fn clear(dir: BorrowedFd<'_>, name: &[u8], keep_dir: bool) -> Result<Previous> {
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(Previous::Nothing),
        Err(e) => return Err(e),
    };
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory if keep_dir => Ok(Previous::KeptDir),
        FileType::Directory => {
            kiln_rootpath::remove_tree(dir, OsStr::from_bytes(name))
                .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
            Ok(Previous::Removed)
        }
        file_type => {
            rustix::fs::unlinkat(dir, name, AtFlags::empty())?;
            if file_type == FileType::CharacterDevice && st.st_rdev == 0 {
                Ok(Previous::Whiteout)
            } else {
                Ok(Previous::Removed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{Mode, OFlags};
    use std::os::fd::AsFd;
    use std::os::unix::fs::symlink;

    /// Deep trees and symlinks are kiln-rootpath's tests (`remove_tree`);
    /// this is what `clear` makes of each kind of previous entry.
    #[test]
    fn clear_keeps_removes_or_reports_the_previous_entry() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("dir/sub")).unwrap();
        std::fs::write(tmp.path().join("dir/sub/f"), b"x").unwrap();
        std::fs::write(tmp.path().join("file"), b"x").unwrap();
        symlink("/", tmp.path().join("link")).unwrap();
        let root = rustix::fs::open(tmp.path(), OFlags::RDONLY, Mode::empty()).unwrap();
        let clear = |name: &[u8], keep| clear(root.as_fd(), name, keep).unwrap();
        assert_eq!(clear(b"dir", true), Previous::KeptDir);
        assert_eq!(clear(b"dir", false), Previous::Removed);
        assert_eq!(clear(b"file", true), Previous::Removed);
        assert_eq!(clear(b"link", true), Previous::Removed);
        assert_eq!(clear(b"dir", false), Previous::Nothing);
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
