//! A directory a copy may not leave: the build context, another stage's
//! file system, the destination root, or the directory an archive is
//! unpacked into.
//!
//! Everything in these trees is untrusted: an image may ship
//! `/var/run -> /run` (fine) or `/etc -> /../../../host/etc` (an attack), a
//! context may hold `link -> /home/user/.ssh`. Paths are resolved by
//! kiln-rootpath the way BuildKit resolves them (`fs.RootPath`: links
//! followed inside the root, a missing component kept as written), into a
//! clean relative path of real directories; every later access opens that
//! path beneath the root with no symlink allowed on the way, so a tree that
//! changed underneath makes the call fail rather than reach outside.
//!
//! This file adds the copy's own policy: how the root is named in messages,
//! errors as [`CopyError`], `.dockerignore` hiding during resolution, and
//! the modes and owners of the directories `mkdir -p` makes.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use kiln_rootpath::ResolveError;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

pub(super) use kiln_rootpath::read_dir_sorted;

use super::error::CopyError;
use super::ignore::Ignore;
use super::meta::{self, Stat};

/// `S_ISGID`.
const SETGID: u32 = 0o2000;

/// An open directory that paths are resolved in.
pub(super) struct Root {
    root: kiln_rootpath::Root,
    /// How the root itself is named in messages: `/` for a file system,
    /// the destination path for an extraction root.
    shown: String,
}

impl Root {
    /// Opens the host directory `host` as a root shown as `/`.
    pub fn open(host: &Path, role: &'static str) -> Result<Root, CopyError> {
        let root = kiln_rootpath::Root::open(host).map_err(|source| CopyError::OpenRoot {
            role,
            path: host.display().to_string(),
            source,
        })?;
        Ok(Root {
            root,
            shown: "/".to_owned(),
        })
    }

    /// The directory `rel` as a root of its own (an archive's extraction
    /// root), shown as this root shows `rel`.
    pub fn subroot(&self, rel: &Path) -> Result<Root, CopyError> {
        let fd = self
            .root
            .open_beneath(rel, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|e| CopyError::io("open", self.show(rel), e))?;
        Ok(Root {
            root: kiln_rootpath::Root::from_fd(fd),
            shown: self.show(rel),
        })
    }

    /// `rel` as shown in messages (`/etc/passwd`).
    pub fn show(&self, rel: &Path) -> String {
        let rel = meta::lossy(rel.as_os_str());
        match (self.shown.as_str(), rel.is_empty()) {
            (shown, true) => shown.to_owned(),
            ("/", false) => format!("/{rel}"),
            (shown, false) => format!("{shown}/{rel}"),
        }
    }

    /// Opens the directory `rel` (a resolved path) for reading entries and
    /// for the `*at` calls that create them.
    pub fn dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        self.root
            .open_beneath(rel, OFlags::RDONLY | OFlags::DIRECTORY)
    }

    /// Opens the regular file `rel` (a resolved path) for reading.
    pub fn open_file(&self, rel: &Path) -> io::Result<std::fs::File> {
        let flags = OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK;
        Ok(std::fs::File::from(self.root.open_beneath(rel, flags)?))
    }

    /// The parent directory of `rel` (opened) and the last element.
    /// `rel` must not be the root.
    pub fn parent<'p>(&self, rel: &'p Path) -> io::Result<(OwnedFd, &'p OsStr)> {
        let name = rel.file_name().ok_or(Errno::ISDIR)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        Ok((self.dir(parent)?, name))
    }

    /// `lstat` of the resolved path `rel`; `None` when it (or a parent)
    /// does not exist.
    pub fn lstat(&self, rel: &Path) -> io::Result<Option<Stat>> {
        Ok(self.root.lstat(rel)?.as_ref().map(Stat::from_statx))
    }

    /// Resolves `path` inside the root the way `fs.RootPath` does and
    /// returns it as a clean relative path (empty for the root itself).
    /// A symlink as the last element is followed only when `follow_last`.
    /// With `ignore`, entries `.dockerignore` hides count as missing, as
    /// they would be in a context BuildKit received.
    pub fn resolve(
        &self,
        path: &Path,
        follow_last: bool,
        ignore: Option<&Ignore<'_>>,
    ) -> Result<PathBuf, CopyError> {
        let mut hide = |rel: &Path, st: &rustix::fs::Statx| match ignore {
            Some(ignore) => ignore.hides(self, rel, &Stat::from_statx(st)),
            None => Ok(false),
        };
        self.root
            .resolve(path, follow_last, Some(&mut hide))
            .map_err(|e| match e {
                ResolveError::TooManyLinks => CopyError::TooManyLinks {
                    path: self.show(path),
                },
                ResolveError::Io { op, path, source } => {
                    CopyError::io(op, self.show(&path), source)
                }
                ResolveError::Hide(e) => e,
            })
    }

    /// `mkdir -p` of the resolved path `rel`: every missing directory is
    /// created with `mode` (set explicitly, whatever the umask; 0755 for a
    /// copy's destination parents) and, when `owner` is given, chowned.
    /// Existing directories are left as they are. fsutil's `MkdirAll`
    /// (copy/mkdir.go). A setgid parent's bit is kept on new directories,
    /// and without `owner` the kernel's default owner applies (the
    /// parent's group under a setgid parent).
    pub fn mkdir_all(
        &self,
        rel: &Path,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<(), CopyError> {
        let mut make = |dir: BorrowedFd<'_>, name: &OsStr, _: &Path, _: bool| {
            rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700))?;
            if let Some((uid, gid)) = owner {
                meta::chown_at(dir, name, uid, gid)?;
            }
            // A setgid parent passes its group and its setgid bit to new
            // directories (mkdir(2)); Go's MkdirAll, which BuildKit uses,
            // keeps both, so the exact mode set here must too.
            let inherited = meta::stat_at(dir, name)?.map_or(0, |st| st.mode & SETGID);
            meta::chmod_at(dir, name, mode | inherited)
        };
        self.root
            .make_beneath(rel, OFlags::PATH | OFlags::DIRECTORY, &mut make)
            .map(drop)
            .map_err(|e| CopyError::io("mkdir", self.show(rel), e))
    }

    /// Removes the resolved path `rel` and everything below it, never
    /// following a symlink. Missing is fine.
    pub fn remove_all(&self, rel: &Path) -> Result<(), CopyError> {
        self.root
            .remove_all(rel)
            .map_err(|e| CopyError::io("remove", self.show(rel), e))
    }
}

impl AsFd for Root {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }
}
