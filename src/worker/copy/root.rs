//! A directory a copy may not leave: the build context, another stage's
//! file system, the destination root, or the directory an archive is
//! unpacked into.
//!
//! Everything in these trees is untrusted: an image may ship
//! `/var/run -> /run` (fine) or `/etc -> /../../../host/etc` (an attack), a
//! context may hold `link -> /home/user/.ssh`. Paths are resolved here the
//! way BuildKit resolves them (containerd/continuity `fs.RootPath`, itself
//! moby's `FollowSymlinkInScope`): component by component, a symlink's
//! target read and followed *inside* the root, absolute targets restarting
//! at the root, `..` stopping at it, at most 255 links, and a missing
//! component kept as written so it can be created. The result is a clean
//! relative path made of real directories only.
//!
//! Every later access opens that path with openat2(2) under
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS` relative
//! to the root's descriptor, so even a tree that changed underneath (a
//! directory swapped for a symlink) makes the call fail rather than reach
//! outside: the guard that runc lacked in CVE-2021-30465 and that BuildKit
//! relies on `fs.RootPath` plus a private mount for.
//!
//! Boundary: path resolution and the few whole-path operations (`mkdir -p`,
//! `rm -r`) on one root. What is copied where is decided by the callers.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::error::CopyError;
use super::ignore::Ignore;
use super::meta::{self, Stat};

/// `S_ISGID`.
const SETGID: u32 = 0o2000;

/// moby's `maxSymlinkLimit`, the bound `fs.RootPath` applies.
const MAX_LINKS: usize = 255;

const BENEATH: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);

/// An open directory that paths are resolved in.
pub(super) struct Root {
    fd: OwnedFd,
    /// How the root itself is named in messages: `/` for a file system,
    /// the destination path for an extraction root.
    shown: String,
}

impl Root {
    /// Opens the host directory `host` as a root shown as `/`.
    pub fn open(host: &Path, role: &'static str) -> Result<Root, CopyError> {
        let fd = rustix::fs::open(
            host,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| CopyError::OpenRoot {
            role,
            path: host.display().to_string(),
            source: e.into(),
        })?;
        Ok(Root {
            fd,
            shown: "/".to_owned(),
        })
    }

    /// The directory `rel` as a root of its own (an archive's extraction
    /// root), shown as this root shows `rel`.
    pub fn subroot(&self, rel: &Path) -> Result<Root, CopyError> {
        let fd = self
            .open_beneath(rel, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|e| CopyError::io("open", self.show(rel), e))?;
        Ok(Root {
            fd,
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

    fn open_beneath(&self, rel: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let path: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        Ok(rustix::fs::openat2(
            &self.fd,
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            BENEATH,
        )?)
    }

    /// Opens the directory `rel` (a resolved path) for reading entries and
    /// for the `*at` calls that create them.
    pub fn dir(&self, rel: &Path) -> io::Result<OwnedFd> {
        self.open_beneath(rel, OFlags::RDONLY | OFlags::DIRECTORY)
    }

    /// Opens the regular file `rel` (a resolved path) for reading.
    pub fn open_file(&self, rel: &Path) -> io::Result<std::fs::File> {
        let fd = self.open_beneath(rel, OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK)?;
        Ok(std::fs::File::from(fd))
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
        let Some(name) = rel.file_name() else {
            return meta::stat_fd(self.fd.as_fd()).map(Some);
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = match self.open_beneath(parent, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(dir) => dir,
            Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => return Ok(None),
            Err(e) => return Err(e),
        };
        meta::stat_at(dir.as_fd(), name)
    }

    fn readlink(&self, rel: &Path) -> io::Result<PathBuf> {
        let (dir, name) = self.parent(rel)?;
        let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
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
        let mut pending = parts(path);
        let mut done = PathBuf::new();
        let mut links = 0;
        while let Some(part) = pending.pop_front() {
            let name = match part {
                Part::Up => {
                    // `..` at the root stays at the root.
                    done.pop();
                    continue;
                }
                Part::Name(name) => name,
            };
            let candidate = done.join(&name);
            let mut stat = self
                .lstat(&candidate)
                .map_err(|e| CopyError::io("lstat", self.show(&candidate), e))?;
            if let (Some(st), Some(ignore)) = (&stat, ignore)
                && ignore.hides(self, &candidate, st)?
            {
                stat = None;
            }
            let last = pending.is_empty();
            match stat {
                Some(st) if st.is_symlink() && (follow_last || !last) => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(CopyError::TooManyLinks {
                            path: self.show(path),
                        });
                    }
                    let target = self
                        .readlink(&candidate)
                        .map_err(|e| CopyError::io("readlink", self.show(&candidate), e))?;
                    if target.has_root() {
                        done = PathBuf::new();
                    }
                    for part in parts(&target).into_iter().rev() {
                        pending.push_front(part);
                    }
                }
                _ => done.push(&name),
            }
        }
        Ok(done)
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
        let mut prefix = PathBuf::new();
        for part in rel.components() {
            let Component::Normal(name) = part else {
                continue;
            };
            let path = prefix.join(name);
            let err = |e: io::Error| CopyError::io("mkdir", self.show(&path), e);
            let dir = self.dir(&prefix).map_err(err)?;
            match meta::stat_at(dir.as_fd(), name).map_err(err)? {
                Some(st) if st.is_dir() => {}
                Some(_) => return Err(err(Errno::NOTDIR.into())),
                None => {
                    match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o700)) {
                        Ok(()) => {}
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(err(e.into())),
                    }
                    if let Some((uid, gid)) = owner {
                        meta::chown_at(dir.as_fd(), name, uid, gid).map_err(err)?;
                    }
                    // A setgid parent passes its group and its setgid bit
                    // to new directories (mkdir(2)); Go's MkdirAll, which
                    // BuildKit uses, keeps both, so the exact mode set here
                    // must too.
                    let inherited = meta::stat_at(dir.as_fd(), name)
                        .map_err(err)?
                        .map_or(0, |st| st.mode & SETGID);
                    meta::chmod_at(dir.as_fd(), name, mode | inherited).map_err(err)?;
                }
            }
            prefix = path;
        }
        Ok(())
    }

    /// Removes the resolved path `rel` and everything below it, never
    /// following a symlink. Missing is fine.
    pub fn remove_all(&self, rel: &Path) -> Result<(), CopyError> {
        let err = |e: io::Error| CopyError::io("remove", self.show(rel), e);
        let (dir, name) = self.parent(rel).map_err(err)?;
        remove_in(dir.as_fd(), name).map_err(err)
    }
}

fn remove_in(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match meta::stat_at(dir, name)? {
        None => Ok(()),
        Some(st) if st.is_dir() => {
            let sub = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            for child in read_dir_sorted(sub.as_fd())? {
                remove_in(sub.as_fd(), &child)?;
            }
            Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
        }
        Some(_) => Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?),
    }
}

/// The names in a directory, sorted by bytes as Go's `os.ReadDir` sorts
/// them, so copies (and hard-link choices) happen in a stable order.
pub(super) fn read_dir_sorted(dir: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
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

/// One element of a path being resolved.
enum Part {
    Up,
    Name(OsString),
}

fn parts(path: &Path) -> VecDeque<Part> {
    path.components()
        .filter_map(|c| match c {
            Component::ParentDir => Some(Part::Up),
            Component::Normal(name) => Some(Part::Name(name.to_owned())),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// Cleans a path lexically the way Go's `path.Join("/", p)` does and
/// returns it relative (`/a/./b/../c/` becomes `a/c`, `../../x` becomes
/// `x`): the form every source and destination starts from.
pub(super) fn clean(path: &str) -> PathBuf {
    let mut out: Vec<&str> = Vec::new();
    for element in path.split('/') {
        match element {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            name => out.push(name),
        }
    }
    out.iter().collect()
}
