//! [`Root::resolve`]: a path resolved the way BuildKit resolves copy
//! sources and destinations (containerd/continuity `fs.RootPath`, itself
//! moby's `FollowSymlinkInScope`), into a clean relative path of real
//! directories that [`Root::open_beneath`] then opens.
//!
//! Component by component, a symlink's target is read and followed inside
//! the root, absolute targets restarting at the root, `..` stopping at it,
//! at most 255 links (moby's `maxSymlinkLimit`), and a missing component
//! kept as written so that it can be created. Unlike
//! [`Root::open_in_root`], which answers the kernel's way, this answers
//! BuildKit's: the two differ on a missing component (kept here, `ENOENT`
//! there) and on the link limit.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, OFlags, Statx, StatxFlags};
use rustix::io::Errno;

use crate::Root;

/// moby's `maxSymlinkLimit`, the bound `fs.RootPath` applies.
const MAX_LINKS: usize = 255;

/// Why [`Root::resolve`] failed.
#[derive(Debug)]
pub enum ResolveError<E> {
    /// More than 255 symlinks on the way.
    TooManyLinks,
    /// A look at `path` (relative to the root) failed.
    Io {
        /// What was being done: `lstat`, `readlink`.
        op: &'static str,
        /// The path looked at.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The caller's `hide` failed.
    Hide(E),
}

/// Hides existing entries: given an entry's path (relative to the root)
/// and its `lstat`, whether it counts as missing (a build context's
/// `.dockerignore`).
pub type Hide<'a, E> = &'a mut dyn FnMut(&Path, &Statx) -> Result<bool, E>;

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

impl Root {
    /// `lstat` of the resolved path `rel` (its parent opened beneath the
    /// root); `None` when it or a parent does not exist.
    pub fn lstat(&self, rel: &Path) -> io::Result<Option<Statx>> {
        let flags = AtFlags::SYMLINK_NOFOLLOW;
        let Some(name) = rel.file_name() else {
            let st = rustix::fs::statx(
                self,
                "",
                flags | AtFlags::EMPTY_PATH,
                StatxFlags::BASIC_STATS,
            )?;
            return Ok(Some(st));
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = match self.open_beneath(parent, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(dir) => dir,
            Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => return Ok(None),
            Err(e) => return Err(e),
        };
        match rustix::fs::statx(dir.as_fd(), name, flags, StatxFlags::BASIC_STATS) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The target of the symlink at the resolved path `rel`.
    pub fn readlink(&self, rel: &Path) -> io::Result<PathBuf> {
        let name = rel.file_name().ok_or(Errno::INVAL)?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = self.open_beneath(parent, OFlags::PATH | OFlags::DIRECTORY)?;
        let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    /// Resolves `path` inside the root as `fs.RootPath` does (module docs)
    /// and returns it as a clean relative path (empty for the root). A
    /// symlink as the last element is followed only when `follow_last`.
    /// Entries `hide` hides count as missing.
    pub fn resolve<E>(
        &self,
        path: &Path,
        follow_last: bool,
        hide: Option<Hide<'_, E>>,
    ) -> Result<PathBuf, ResolveError<E>> {
        let mut hide = hide;
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
            let io = |op, source| ResolveError::Io {
                op,
                path: candidate.clone(),
                source,
            };
            let mut stat = self.lstat(&candidate).map_err(|e| io("lstat", e))?;
            if let (Some(st), Some(hide)) = (&stat, hide.as_mut())
                && hide(&candidate, st).map_err(ResolveError::Hide)?
            {
                stat = None;
            }
            let last = pending.is_empty();
            let is_link = stat.is_some_and(|st| {
                FileType::from_raw_mode(u32::from(st.stx_mode)) == FileType::Symlink
            });
            if is_link && (follow_last || !last) {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ResolveError::TooManyLinks);
                }
                let target = self.readlink(&candidate).map_err(|e| io("readlink", e))?;
                if target.has_root() {
                    done = PathBuf::new();
                }
                for part in parts(&target).into_iter().rev() {
                    pending.push_front(part);
                }
            } else {
                done.push(&name);
            }
        }
        Ok(done)
    }
}
