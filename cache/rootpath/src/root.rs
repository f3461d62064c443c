//! [`Root`]: an open directory that paths are resolved in and never leave.

use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::policy;
use crate::walk::{self, Maker, Scope};

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// A directory whose content is untrusted (a layer being unpacked, a
/// container's root file system, a build context, another stage), opened
/// once; every path below it is resolved relative to that descriptor.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    /// Resolve by the component walk only, as on a kernel without openat2.
    walk_only: bool,
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Root {
    /// Opens the host directory `host` (an `O_PATH` descriptor; the path
    /// itself is trusted, it is the caller's own).
    pub fn open(host: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            host,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root::from_fd(fd))
    }

    /// A root from a descriptor of a directory already opened.
    pub fn from_fd(fd: OwnedFd) -> Root {
        Root {
            fd,
            walk_only: false,
        }
    }

    /// The same root, resolving by the component walk only: the path taken
    /// on kernels without openat2, for tests that it gives the same answers.
    pub fn walk_only(self) -> Root {
        Root {
            walk_only: true,
            ..self
        }
    }

    /// Opens `path` resolved as the kernel resolves paths for a process
    /// chrooted at the root: symlinks are followed (a final one unless
    /// `flags` has `O_NOFOLLOW`), an absolute target starts again at the
    /// root, `..` never climbs above it, magic links are refused.
    pub fn open_in_root(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        self.lookup(path, flags, Scope::InRoot)
    }

    /// Opens `path`, a path resolved already (a result of
    /// [`Root::resolve`]): no symlink may appear anywhere on it (`ELOOP`)
    /// and `..` may not climb above the root (`EXDEV`). A tree changed
    /// underneath since it was resolved makes the call fail rather than
    /// reach outside: the guard runc lacked in CVE-2021-30465.
    pub fn open_beneath(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        self.lookup(path, flags, Scope::Beneath)
    }

    fn lookup(&self, path: &Path, flags: OFlags, scope: Scope) -> io::Result<OwnedFd> {
        let path = if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        };
        if !self.walk_only {
            let resolve = match scope {
                Scope::InRoot => IN_ROOT,
                Scope::Beneath => BENEATH,
            };
            if let Some(answer) = policy::openat2(self.fd.as_fd(), path, flags, resolve) {
                return Ok(answer?);
            }
        }
        walk::walk(self.fd.as_fd(), path, flags, scope, None)
    }

    /// Opens `path` as [`Root::open_in_root`] does, creating what is
    /// missing on the way with `make` (`mkdir -p` inside the root). A
    /// symlink whose target is missing is followed to where it points and
    /// that is created, as BuildKit's executors do for mount targets (they
    /// resolve within the root and `MkdirAll` the result).
    pub fn make_in_root(&self, path: &Path, flags: OFlags, make: Maker<'_>) -> io::Result<OwnedFd> {
        self.make(path, flags, Scope::InRoot, make)
    }

    /// Opens the resolved `path` as [`Root::open_beneath`] does, creating
    /// what is missing with `make`. A name on the way that exists and is
    /// not a directory is `ENOTDIR`, a symlink `ELOOP`.
    pub fn make_beneath(&self, path: &Path, flags: OFlags, make: Maker<'_>) -> io::Result<OwnedFd> {
        self.make(path, flags, Scope::Beneath, make)
    }

    fn make(
        &self,
        path: &Path,
        flags: OFlags,
        scope: Scope,
        make: Maker<'_>,
    ) -> io::Result<OwnedFd> {
        match self.lookup(path, flags, scope) {
            Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => {
                walk::walk(self.fd.as_fd(), path, flags, scope, Some(make))
            }
            answer => answer,
        }
    }

    /// Removes the resolved path `rel` and everything below it, never
    /// following a symlink. A missing path is fine; the root itself cannot
    /// be removed (`EISDIR`).
    pub fn remove_all(&self, rel: &Path) -> io::Result<()> {
        let name = rel.file_name().ok_or(Errno::ISDIR)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = self.open_beneath(parent, OFlags::RDONLY | OFlags::DIRECTORY)?;
        crate::remove::remove_any(dir.as_fd(), name)
    }
}

/// The names in a directory (without `.` and `..`), sorted by bytes as
/// Go's `os.ReadDir` sorts them, so what is done to them happens in a
/// stable order.
pub fn read_dir_sorted(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsString::from_vec(name.to_vec()));
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}
