//! The component walk: the same answers as openat2's `RESOLVE_IN_ROOT` and
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, one `openat` at a time, for
//! when the kernel call is missing, refused, or cannot take the path (see
//! `policy.rs`); and the only way to create what is missing on the
//! way.
//!
//! Each step looks at one name relative to a directory already reached
//! inside the root, with `AT_SYMLINK_NOFOLLOW`, and opens it with
//! `O_NOFOLLOW`. A symlink is read and its target pushed back onto the
//! names still to walk: an absolute target starts again at the root, `..`
//! pops a directory but never the root itself. No host path is ever
//! resolved, so there is no check-then-use window as with `canonicalize`
//! followed by `open`: a name swapped for a symlink between the look and
//! the open makes the open fail, it is never followed. A symlink on procfs
//! (`/proc/self/fd/N`, `/proc/self/root`: a magic link) is refused with
//! `ELOOP`, as `RESOLVE_NO_MAGICLINKS` refuses it: even read as text and
//! resolved in the root it would name a host path (the object's, on the
//! host) and create directories there.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// Symlinks followed in one resolution before `ELOOP`, as the kernel's
/// `MAXSYMLINKS`.
pub(crate) const MAX_LINKS: usize = 40;

/// How a directory on the way is held: never followed, only looked in.
const STEP: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Which of openat2's resolutions the walk reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: symlinks followed inside
    /// the root, as for a process chrooted there.
    InRoot,
    /// `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`:
    /// for paths resolved already; a symlink anywhere is `ELOOP`, `..`
    /// above the root `EXDEV`.
    Beneath,
}

/// Creates a missing name on the way: called with the directory it is
/// missing in, the name, its path from the root (real directories only),
/// and whether it is the path's final element. It must create *something*
/// at the name (a directory, unless it is the final element), or fail;
/// `EEXIST` counts as done (a racing creator, or a dangling symlink the
/// walk will follow).
pub type Maker<'a> = &'a mut dyn FnMut(BorrowedFd<'_>, &OsStr, &Path, bool) -> io::Result<()>;

/// Whether the directory `dir` is on procfs, where every symlink is a
/// possible magic link.
fn on_procfs(dir: BorrowedFd<'_>) -> io::Result<bool> {
    Ok(rustix::fs::fstatfs(dir)?.f_type == rustix::fs::PROC_SUPER_MAGIC)
}

/// The names of `path` to walk: `.` and empty ones left out, `..` kept.
fn names(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|b| *b == b'/')
        .filter(|n| !n.is_empty() && *n != b".")
}

/// Resolves `path` from `root` in `scope` and opens it with `flags`
/// (`O_NOFOLLOW` in `flags`: a final symlink is not followed). With
/// `make`, missing names are created on the way (see [`Maker`]).
pub(crate) fn walk(
    root: BorrowedFd<'_>,
    path: &Path,
    flags: OFlags,
    scope: Scope,
    mut make: Option<Maker<'_>>,
) -> io::Result<OwnedFd> {
    let bytes = path.as_os_str().as_bytes();
    if scope == Scope::Beneath && bytes.starts_with(b"/") {
        // RESOLVE_BENEATH refuses absolute paths.
        return Err(Errno::XDEV.into());
    }
    // A trailing `/` (or `/.`, `/..`) asks for a directory, and a final
    // symlink is then followed whatever `O_NOFOLLOW` says (path_resolution(7)).
    let dir_wanted = bytes.ends_with(b"/") || bytes.ends_with(b"/.") || bytes.ends_with(b"/..");
    let (flags, follow_last) = match dir_wanted {
        true => (flags.union(OFlags::DIRECTORY), true),
        false => (flags, !flags.contains(OFlags::NOFOLLOW)),
    };
    let mut pending: VecDeque<OsString> = names(path.as_os_str().as_bytes())
        .map(|n| OsStr::from_bytes(n).to_owned())
        .collect();
    // Real directories from the root down: what `..` pops.
    let mut stack: Vec<(OsString, OwnedFd)> = Vec::new();
    let mut links = 0;
    // Each name is created at most once; a creation that loses a race
    // again and again must not loop forever.
    let mut budget = pending.len();
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if stack.pop().is_none() && scope == Scope::Beneath {
                return Err(Errno::XDEV.into());
            }
            continue;
        }
        let last = pending.is_empty();
        let here = stack.last().map_or(root, |(_, fd)| fd.as_fd());
        let st = match rustix::fs::statat(here, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::NOENT) => match make.as_mut() {
                Some(make) if budget > 0 => {
                    budget -= 1;
                    let rel: PathBuf = stack.iter().map(|(n, _)| n.as_os_str()).collect();
                    match make(here, &name, &rel.join(&name), last) {
                        Err(e) if e.raw_os_error() != Some(Errno::EXIST.raw_os_error()) => {
                            return Err(e);
                        }
                        _ => {}
                    }
                    pending.push_front(name);
                    continue;
                }
                _ => return Err(Errno::NOENT.into()),
            },
            Err(e) => return Err(e.into()),
        };
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::Symlink && (follow_last || !last) {
            if scope == Scope::Beneath {
                return Err(Errno::LOOP.into());
            }
            links += 1;
            if links > MAX_LINKS || on_procfs(here)? {
                return Err(Errno::LOOP.into());
            }
            let target = rustix::fs::readlinkat(here, name.as_os_str(), Vec::new())?;
            let target = target.as_bytes();
            if target.is_empty() {
                // An empty symlink resolves to nothing.
                return Err(Errno::NOENT.into());
            }
            if target.starts_with(b"/") {
                stack.clear();
            }
            for part in names(target).rev() {
                pending.push_front(OsStr::from_bytes(part).to_owned());
                budget += 1;
            }
            continue;
        }
        if last {
            let fd = rustix::fs::openat(
                here,
                name.as_os_str(),
                flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            return Ok(fd);
        }
        if kind != FileType::Directory {
            return Err(Errno::NOTDIR.into());
        }
        let fd = rustix::fs::openat(here, name.as_os_str(), STEP, Mode::empty())?;
        stack.push((name, fd));
    }
    // The path ends at a directory reached by `..`, `.` or a symlink's
    // target (or is the root itself).
    let here = stack.last().map_or(root, |(_, fd)| fd.as_fd());
    Ok(rustix::fs::openat(
        here,
        c".",
        flags | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}
