//! Finding (and, for mountpoints, creating) paths inside the container's
//! root without ever leaving it.
//!
//! Image content is untrusted: `/etc` may be a symlink to `/../../host/etc`.
//! Every lookup goes through openat2(2) with `RESOLVE_IN_ROOT`, which makes
//! `..` and absolute symlinks stop at the root, and `RESOLVE_NO_MAGICLINKS`,
//! so a `/proc/self/fd/N` link cannot point at a host file (the class of
//! escape behind CVE-2019-19921 and CVE-2021-30465 in runc). The resulting
//! `O_PATH` descriptor is then used as the mount target through
//! `/proc/self/fd/N`, so what is mounted on is exactly what was checked.
//!
//! Mountpoints that do not exist are created and remembered as *stubs*: the
//! caller removes them from the upper directory after the process exits, so
//! `/etc/hosts` and friends never reach a layer.

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
    fd: OwnedFd,
    path: PathBuf,
    /// Paths (relative to the root, parents before children) this root
    /// created as mountpoints.
    pub stubs: Vec<String>,
}

const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Symlinks followed while creating one path before giving up (the
/// kernel's own limit for one lookup).
const MAX_LINKS: usize = 40;

/// Attempts of one lookup that races renames elsewhere ([`Root::open_in_root`]).
const OPEN_ATTEMPTS: usize = 64;

impl Root {
    /// Opens the root directory at `path` (a host path).
    pub fn open(path: &Path) -> io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            fd,
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
        match self.open_rel(&relative(path)) {
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
        if let Some(fd) = self.find(path)? {
            return Ok(fd);
        }
        let mut todo: VecDeque<String> = components(path).collect();
        if let Some(last @ (".." | ".")) = todo.back().map(String::as_str) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot create a mountpoint named {last:?}"),
            ));
        }
        let mut prefix = String::new();
        let mut links = 0;
        while let Some(part) = todo.pop_front() {
            let next = join(&prefix, &part);
            if self.find(&next)?.is_some() {
                prefix = next;
                continue;
            }
            if let Some(target) = self.link_target(&next)? {
                links += 1;
                if links > MAX_LINKS {
                    return Err(rustix::io::Errno::LOOP.into());
                }
                if target.starts_with('/') {
                    prefix.clear();
                }
                for part in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    todo.push_front(part);
                }
                continue;
            }
            let what = if todo.is_empty() { kind } else { Kind::Dir };
            self.create_in(&prefix, &part, what)?;
            prefix = next;
        }
        self.open_rel(&relative(path))
    }

    /// The target of `rel` when it is a symlink (not followed).
    fn link_target(&self, rel: &str) -> io::Result<Option<String>> {
        let fd = match self.open_in_root(rel, OFlags::PATH | OFlags::NOFOLLOW) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::Symlink {
            return Ok(None);
        }
        let target = rustix::fs::readlinkat(&fd, "", Vec::new())?;
        Ok(Some(target.to_string_lossy().into_owned()))
    }

    /// Creates `name` in the directory `parent` resolves to, and records
    /// where it really landed (a parent may be a symlink inside the root).
    fn create_in(&mut self, parent: &str, name: &str, kind: Kind) -> io::Result<()> {
        if name == ".." || name == "." {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot create a mountpoint named {name:?}"),
            ));
        }
        let dir = self.open_dir(parent)?;
        match kind {
            Kind::Dir => rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o755))?,
            Kind::File => {
                let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC;
                drop(rustix::fs::openat(
                    &dir,
                    name,
                    flags,
                    Mode::from_raw_mode(0o644),
                )?);
            }
        }
        let real_parent = fd_path(&dir)?;
        let rel = real_parent
            .strip_prefix(&self.path)
            .map_err(|_| io::Error::other("a mountpoint's parent resolved outside the root"))?;
        self.stubs
            .push(rel.join(name).to_string_lossy().into_owned());
        Ok(())
    }

    fn open_dir(&self, rel: &str) -> io::Result<OwnedFd> {
        let path = if rel.is_empty() { "." } else { rel };
        self.open_in_root(path, OFlags::PATH | OFlags::DIRECTORY)
    }

    fn open_rel(&self, rel: &str) -> io::Result<OwnedFd> {
        self.open_in_root(rel, OFlags::PATH)
    }

    /// openat2(2) inside the root. With `RESOLVE_IN_ROOT` the kernel
    /// refuses a `..` step with EAGAIN when a rename or mount anywhere on
    /// the system raced the lookup (a followed relative link makes such
    /// steps); the man page's advice is to retry, which this does.
    fn open_in_root(&self, rel: &str, flags: OFlags) -> io::Result<OwnedFd> {
        let open = || {
            rustix::fs::openat2(
                &self.fd,
                rel,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                RESOLVE,
            )
        };
        for _ in 1..OPEN_ATTEMPTS {
            match open() {
                Err(rustix::io::Errno::AGAIN) => continue,
                other => return Ok(other?),
            }
        }
        Ok(open()?)
    }
}

/// `/proc/self/fd/N` for `fd`: a path the mount calls accept that names
/// exactly the opened object.
pub fn proc_fd_path(fd: &impl AsFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

fn fd_path(fd: &impl AsFd) -> io::Result<PathBuf> {
    std::fs::read_link(proc_fd_path(fd))
}

/// The names of a path, empty ones left out.
fn components(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// `prefix/name`, or `name` below the root.
fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

/// A container path made relative to the root (`/` becomes `.`).
fn relative(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        ".".to_string()
    } else {
        trimmed.to_string()
    }
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
