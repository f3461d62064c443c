//! Resolving a directory path *inside* the snapshot root, the way the
//! kernel resolves paths for a process chrooted there: symlinks are
//! followed, but an absolute target starts again at the snapshot root and
//! `..` never climbs above it. So a layer that plants `a -> /etc` or
//! `a -> ../../..` and then writes `a/x` writes inside the snapshot, never
//! on the host (the symlink half of tar-slip: CVE-2018-15664-style escapes
//! in `docker cp`, CVE-2019-14271, CVE-2021-30465 in runc's mounts).
//!
//! The kernel does it for us with `openat2(RESOLVE_IN_ROOT)` (Linux ≥ 5.6).
//! Where that is missing (older kernels, seccomp filters answering
//! `ENOSYS`/`EPERM`) or a path is too long for one call, a component-wise
//! walk gives the same answer: each step is an `openat` with `O_NOFOLLOW`
//! relative to a directory already resolved inside the root, and symlinks
//! are read and expanded by hand. Neither ever resolves a host path, so
//! there is no check-then-use window like `canonicalize` + `open`.
//!
//! The walk can also create missing directories (mode 0755), which is how
//! an entry `a/b/c` without entries for `a/` and `a/b/` gets its parents.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::{Errno, Result};

/// Symlinks followed in one resolution before giving up, as the kernel's
/// `MAXSYMLINKS`.
const MAX_SYMLINKS: usize = 40;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Opens directories inside one snapshot root, remembering the last one.
pub(crate) struct Resolver {
    root: OwnedFd,
    use_openat2: bool,
    /// The last directory resolved, by its entry path: tars list a
    /// directory's files together, so most entries hit it.
    last: Option<(Vec<u8>, Rc<OwnedFd>)>,
}

impl Resolver {
    pub(crate) fn new(root: OwnedFd) -> Self {
        Resolver {
            root,
            use_openat2: true,
            last: None,
        }
    }

    /// Resolves with the component-wise walk only (for tests of the path
    /// taken on kernels without `openat2`).
    #[cfg(test)]
    pub(crate) fn without_openat2(root: OwnedFd) -> Self {
        Resolver {
            use_openat2: false,
            ..Resolver::new(root)
        }
    }

    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Forgets the remembered directory. Called whenever an entry is
    /// removed, since that may change what a path resolves to.
    pub(crate) fn invalidate(&mut self) {
        self.last = None;
    }

    /// Opens the directory at `components` (already free of `..`, see
    /// `path::components`), resolved inside the root; creates missing
    /// directories when `create`.
    pub(crate) fn dir(&mut self, components: &[&[u8]], create: bool) -> Result<Rc<OwnedFd>> {
        let key = components.join(&b'/');
        if let Some((path, fd)) = &self.last
            && *path == key
        {
            return Ok(Rc::clone(fd));
        }
        let fd = Rc::new(self.open(&key, components, create)?);
        self.last = Some((key, Rc::clone(&fd)));
        Ok(fd)
    }

    fn open(&mut self, path: &[u8], components: &[&[u8]], create: bool) -> Result<OwnedFd> {
        if components.is_empty() {
            return self.dup_root();
        }
        if self.use_openat2 {
            match rustix::fs::openat2(
                &self.root,
                path,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            ) {
                Ok(fd) => return Ok(fd),
                Err(Errno::NOSYS | Errno::PERM) => self.use_openat2 = false,
                // Missing parents (created by the walk), too long for one
                // call, or a concurrent rename seen by the kernel: walk.
                Err(Errno::NOENT) if create => {}
                Err(Errno::NAMETOOLONG | Errno::AGAIN) => {}
                Err(e) => return Err(e),
            }
        }
        self.walk(components, create)
    }

    fn dup_root(&self) -> Result<OwnedFd> {
        rustix::fs::openat(&self.root, c".", DIR_FLAGS, Mode::empty())
    }

    /// The component-wise resolution (see the module docs).
    fn walk(&self, components: &[&[u8]], create: bool) -> Result<OwnedFd> {
        let mut pending: VecDeque<Vec<u8>> = components.iter().map(|c| c.to_vec()).collect();
        // Real directories from the root to `current`: what `..` pops.
        let mut resolved: Vec<Vec<u8>> = Vec::new();
        let mut current = self.dup_root()?;
        let mut symlinks = 0;
        // Each component is created at most once; a mkdir that loses a
        // race again and again must not loop forever.
        let mut budget = components.len();
        while let Some(component) = pending.pop_front() {
            match component.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    if resolved.pop().is_some() {
                        current = self.reopen(&resolved)?;
                    }
                    continue;
                }
                _ => {}
            }
            match rustix::fs::openat(&current, component.as_slice(), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => {
                    current = fd;
                    resolved.push(component);
                }
                Err(Errno::NOENT) if create && budget > 0 => {
                    match rustix::fs::mkdirat(
                        &current,
                        component.as_slice(),
                        Mode::from_raw_mode(0o755),
                    ) {
                        Ok(()) => {
                            // mkdir applied the umask; the mode is ours to fix.
                            rustix::fs::chmodat(
                                &current,
                                component.as_slice(),
                                Mode::from_raw_mode(0o755),
                                AtFlags::empty(),
                            )?;
                        }
                        // A dangling symlink is there: the retry follows it.
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(e),
                    }
                    budget -= 1;
                    pending.push_front(component);
                }
                Err(Errno::LOOP | Errno::NOTDIR) => {
                    let st = rustix::fs::statat(
                        &current,
                        component.as_slice(),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )?;
                    if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
                        return Err(Errno::NOTDIR);
                    }
                    symlinks += 1;
                    if symlinks > MAX_SYMLINKS {
                        return Err(Errno::LOOP);
                    }
                    let target =
                        rustix::fs::readlinkat(&current, component.as_slice(), Vec::new())?;
                    let target = target.as_bytes();
                    if target.starts_with(b"/") {
                        resolved.clear();
                        current = self.dup_root()?;
                    }
                    for part in target.split(|b| *b == b'/').rev() {
                        pending.push_front(part.to_vec());
                        budget += 1;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(current)
    }

    /// Re-opens a chain of real directories from the root.
    fn reopen(&self, resolved: &[Vec<u8>]) -> Result<OwnedFd> {
        let mut current = self.dup_root()?;
        for component in resolved {
            current = rustix::fs::openat(&current, component.as_slice(), DIR_FLAGS, Mode::empty())?;
        }
        Ok(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_fd(path: &std::path::Path) -> OwnedFd {
        rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap()
    }

    fn same_dir(fd: &OwnedFd, path: &std::path::Path) -> bool {
        let a = rustix::fs::fstat(fd).unwrap();
        let b = rustix::fs::stat(path).unwrap();
        a.st_ino == b.st_ino && a.st_dev == b.st_dev
    }

    /// Both resolution strategies must agree on every case.
    fn resolvers(root: &std::path::Path) -> [Resolver; 2] {
        [
            Resolver::new(root_fd(root)),
            Resolver::without_openat2(root_fd(root)),
        ]
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(root.join("real/sub")).unwrap();
        std::fs::create_dir_all(outside.join("sub")).unwrap();
        symlink(&outside, root.join("abs")).unwrap();
        symlink("../../../..", root.join("real/up")).unwrap();
        symlink("/real", root.join("absreal")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        std::fs::write(root.join("file"), b"").unwrap();

        for mut r in resolvers(&root) {
            // An upward symlink stops at the root.
            let fd = r.dir(&[b"real", b"up"], false).unwrap();
            assert!(same_dir(&fd, &root));
            let fd = r.dir(&[b"real", b"up", b"real", b"sub"], false).unwrap();
            assert!(same_dir(&fd, &root.join("real/sub")));
            // An absolute symlink starts again at the root.
            let fd = r.dir(&[b"absreal", b"sub"], false).unwrap();
            assert!(same_dir(&fd, &root.join("real/sub")));
            // The host path the symlink names does not exist in the root.
            assert_eq!(r.dir(&[b"abs", b"sub"], false).unwrap_err(), Errno::NOENT);
            assert_eq!(r.dir(&[b"loop1"], false).unwrap_err(), Errno::LOOP);
            assert_eq!(r.dir(&[b"file"], false).unwrap_err(), Errno::NOTDIR);
        }
    }

    #[test]
    fn creates_missing_directories_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        symlink(&outside, root.join("abs")).unwrap();
        symlink("../..", root.join("rel")).unwrap();
        let [mut a, mut b] = resolvers(&root);
        for (r, tag) in [(&mut a, &b"one"[..]), (&mut b, b"two")] {
            let fd = r.dir(&[b"abs", tag, b"x"], true).unwrap();
            let inside = root
                .join(outside.strip_prefix("/").unwrap())
                .join(std::str::from_utf8(tag).unwrap())
                .join("x");
            assert!(same_dir(&fd, &inside));
            let fd = r.dir(&[b"rel", tag], true).unwrap();
            assert!(same_dir(&fd, &root.join(std::str::from_utf8(tag).unwrap())));
        }
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        let mode = rustix::fs::stat(root.join("one")).unwrap().st_mode & 0o7777;
        assert_eq!(mode, 0o755);
    }

    #[test]
    fn remembers_the_last_directory_until_invalidated() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("a")).unwrap();
        let mut r = Resolver::new(root_fd(tmp.path()));
        let first = r.dir(&[b"a"], false).unwrap();
        let again = r.dir(&[b"a"], false).unwrap();
        assert!(Rc::ptr_eq(&first, &again));
        r.invalidate();
        let fresh = r.dir(&[b"a"], false).unwrap();
        assert!(!Rc::ptr_eq(&first, &fresh));
    }
}
