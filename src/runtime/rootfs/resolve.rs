//! Finding (and, for mountpoints, creating) paths inside the container's
//! root without ever leaving it.
//!
//! Image content is untrusted: `/etc` may be a symlink to `/../../host/etc`.
//! Every lookup is kiln-rootpath's in-root resolution (openat2 with
//! `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`, or its component walk), which
//! makes `..` and absolute symlinks stop at the root and never lets a
//! `/proc/self/fd/N` link reach a host file (the class of escape behind
//! CVE-2019-19921 and CVE-2021-30465 in runc). The resulting `O_PATH`
//! descriptor is then used as the mount target through `/proc/self/fd/N`,
//! so what is mounted on is exactly what was checked.
//!
//! Mountpoints that do not exist are created and remembered as *stubs*: the
//! caller removes them from the upper directory after the process exits, so
//! `/etc/hosts` and friends never reach a layer.

use kiln_rootpath::Root as InRoot;
use rustix::fs::{Mode, OFlags};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What to create when a mountpoint is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A directory (mode 0755).
    Dir,
    /// An empty regular file (mode 0644).
    File,
}

/// The container's root directory, opened once.
pub struct Root {
    root: InRoot,
    path: PathBuf,
    /// Paths (relative to the root, parents before children) this root
    /// created as mountpoints.
    pub stubs: Vec<String>,
}

impl Root {
    /// Opens the root directory at `path` (a host path).
    pub fn open(path: &Path) -> io::Result<Root> {
        Ok(Root {
            root: InRoot::open(path)?,
            path: path.to_path_buf(),
            stubs: Vec::new(),
        })
    }

    /// The host path of the root.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `path` (inside the container) as an `O_PATH` descriptor, or
    /// `None` when it does not exist.
    pub fn find(&self, path: &str) -> io::Result<Option<OwnedFd>> {
        match self.root.open_in_root(Path::new(path), OFlags::PATH) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens `path`, creating it (and missing parents, as directories) when
    /// it does not exist. Created paths are recorded in [`Root::stubs`].
    ///
    /// A symlink on the way whose target is missing is followed to where it
    /// points (inside the root) and that is created, as BuildKit's
    /// executors do: they resolve a mount target within the root lexically
    /// and `MkdirAll` the result.
    pub fn ensure(&mut self, path: &str, kind: Kind) -> io::Result<OwnedFd> {
        // A path ending in `.` or `..` names a directory that must exist:
        // there is no name to create.
        if let Some(last @ (".." | ".")) = path.rsplit('/').find(|p| !p.is_empty()) {
            return self.find(path)?.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("cannot create a mountpoint named {last:?}"),
                )
            });
        }
        // An existing path is opened by `make_in_root`'s first lookup.
        let stubs = &mut self.stubs;
        let mut make = |dir: BorrowedFd<'_>, name: &OsStr, rel: &Path, last: bool| {
            if last && kind == Kind::File {
                let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
                drop(rustix::fs::openat(
                    dir,
                    name,
                    flags,
                    Mode::from_raw_mode(0o644),
                )?);
            } else {
                rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o755))?;
            }
            stubs.push(rel.to_string_lossy().into_owned());
            Ok(())
        };
        self.root
            .make_in_root(Path::new(path), OFlags::PATH, &mut make)
    }
}

/// `/proc/self/fd/N` for `fd`: a path the mount calls accept that names
/// exactly the opened object.
pub fn proc_fd_path(fd: &impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_creates_missing_parents_and_records_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        let mut root = Root::open(dir.path()).unwrap();
        root.ensure("/etc/hosts", Kind::File).unwrap();
        root.ensure("/a/b/c", Kind::Dir).unwrap();
        root.ensure("/etc", Kind::Dir).unwrap();
        assert_eq!(root.stubs, ["etc/hosts", "a", "a/b", "a/b/c"]);
        assert!(dir.path().join("etc/hosts").is_file());
        assert!(dir.path().join("a/b/c").is_dir());
    }

    #[test]
    fn absolute_symlinks_stay_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        // /etc -> <outside>: inside the root that means <root>/<outside>.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/../../real", dir.path().join("up")).unwrap();
        let mut root = Root::open(dir.path()).unwrap();
        root.ensure("/up/hosts", Kind::File).unwrap();
        assert!(dir.path().join("real/hosts").is_file());
        // Inside the root the link dangles: what it points to is created
        // there, never outside.
        root.ensure("/etc/hosts", Kind::File).unwrap();
        assert!(!outside.path().join("hosts").exists());
        let inside = outside.path().strip_prefix("/").unwrap();
        assert!(dir.path().join(inside).join("hosts").is_file());
        assert_eq!(root.stubs[0], "real/hosts");
        assert_eq!(
            root.stubs.last().unwrap(),
            &inside.join("hosts").to_string_lossy()
        );
    }

    #[test]
    fn a_dangling_relative_link_is_followed_and_its_target_created() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        // /a/cache -> ../var/cache, which does not exist yet.
        std::os::unix::fs::symlink("../var/cache", dir.path().join("a/cache")).unwrap();
        std::os::unix::fs::symlink("loop", dir.path().join("loop")).unwrap();
        let mut root = Root::open(dir.path()).unwrap();
        root.ensure("/a/cache/pip", Kind::Dir).unwrap();
        assert!(dir.path().join("var/cache/pip").is_dir());
        assert_eq!(root.stubs, ["var", "var/cache", "var/cache/pip"]);
        let err = root.ensure("/loop/x", Kind::Dir).unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(rustix::io::Errno::LOOP.raw_os_error())
        );
    }

    #[test]
    fn magic_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/proc/self/fd/0", dir.path().join("leak")).unwrap();
        std::fs::create_dir(dir.path().join("proc")).unwrap();
        let root = Root::open(dir.path()).unwrap();
        // Inside the root /proc is an empty directory, so the link dangles;
        // it must never resolve to the test's own stdin.
        assert!(root.find("/leak").unwrap().is_none());
    }

    #[test]
    fn dot_dot_cannot_be_created() {
        let dir = tempfile::tempdir().unwrap();
        let mut root = Root::open(dir.path()).unwrap();
        let err = root.ensure("/x/..", Kind::Dir).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    }
}
