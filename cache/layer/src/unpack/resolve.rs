//! The directories entries land in, resolved inside the snapshot root by
//! kiln-rootpath (symlinks followed as for a process chrooted there, so a
//! layer that plants `a -> /etc` or `a -> ../../..` and then writes `a/x`
//! writes inside the snapshot: the symlink half of tar-slip), with missing
//! parents created 0755, which is how an entry `a/b/c` without entries for
//! `a/` and `a/b/` gets its parents. What this file adds is a memory of the
//! last directory: tars list a directory's files together.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use kiln_rootpath::Root;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

/// Opens directories inside one snapshot root, remembering the last one.
pub(crate) struct Resolver {
    root: Root,
    /// The last directory resolved, by its entry path.
    last: Option<(Vec<u8>, Rc<OwnedFd>)>,
}

/// Missing parents: 0755 whatever the umask.
fn mkdir(dir: BorrowedFd<'_>, name: &OsStr, _: &Path, _: bool) -> io::Result<()> {
    rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755))?;
    rustix::fs::chmodat(dir, name, Mode::from_raw_mode(0o755), AtFlags::empty())?;
    Ok(())
}

impl Resolver {
    pub(crate) fn new(root: OwnedFd) -> Self {
        Resolver {
            root: Root::from_fd(root),
            last: None,
        }
    }

    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(&self.root)
    }

    /// Forgets the remembered directory. Called whenever an entry is
    /// removed, since that may change what a path resolves to.
    pub(crate) fn invalidate(&mut self) {
        self.last = None;
    }

    /// Opens the directory at `components` (already free of `..`, see
    /// `path::components`), resolved inside the root; creates missing
    /// directories when `create`.
    pub(crate) fn dir(&mut self, components: &[&[u8]], create: bool) -> Result<Rc<OwnedFd>, Errno> {
        let key = components.join(&b'/');
        if let Some((path, fd)) = &self.last
            && *path == key
        {
            return Ok(Rc::clone(fd));
        }
        let path = Path::new(OsStr::from_bytes(&key));
        let flags = OFlags::RDONLY | OFlags::DIRECTORY;
        let fd = if create {
            self.root.make_in_root(path, flags, &mut mkdir)
        } else {
            self.root.open_in_root(path, flags)
        };
        let fd = fd.map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
        let fd = Rc::new(fd);
        self.last = Some((key, Rc::clone(&fd)));
        Ok(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_directory_until_invalidated() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a")).unwrap();
        let fd = rustix::fs::open(tmp.path(), OFlags::PATH, Mode::empty()).unwrap();
        let mut r = Resolver::new(fd);
        let first = r.dir(&[b"a"], false).unwrap();
        let again = r.dir(&[b"a"], false).unwrap();
        assert!(Rc::ptr_eq(&first, &again));
        r.invalidate();
        let fresh = r.dir(&[b"a"], false).unwrap();
        assert!(!Rc::ptr_eq(&first, &fresh));
    }
}
