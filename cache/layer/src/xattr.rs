//! Extended attributes, read and written without following symlinks.
//!
//! Regular files and directories are reached through an open descriptor
//! (`f*xattr`). Symlinks, devices and fifos cannot be opened for that
//! without side effects (a device open can act on hardware; an `O_PATH`
//! descriptor is refused by `fgetxattr`), so they are named as
//! `/proc/self/fd/<parent>/<name>` with the `l*xattr` calls: the kernel
//! follows the magic link to the parent directory we hold open, and does not
//! follow the final component. That keeps every lookup relative to a
//! directory we resolved ourselves, with no host path to race on and no
//! `PATH_MAX` limit on deep trees.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use rustix::fs::XattrFlags;
use rustix::io::Errno;

/// Linux caps a name list and a value at 64 KiB (`XATTR_LIST_MAX`,
/// `XATTR_SIZE_MAX`); larger buffers are grown on `ERANGE` for file
/// systems that allow more.
const INITIAL_BUF: usize = 64 * 1024;

/// Sorted `(name, value)` pairs.
pub type Xattrs = Vec<(Vec<u8>, Vec<u8>)>;

/// Which object's xattrs.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    /// The object behind an open descriptor.
    Fd(BorrowedFd<'a>),
    /// Entry `name` of the open directory, not following it.
    At(BorrowedFd<'a>, &'a [u8]),
}

impl Target<'_> {
    fn proc_path(dir: BorrowedFd<'_>, name: &[u8]) -> Vec<u8> {
        let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
        path.extend_from_slice(name);
        path
    }
}

/// Reusable buffers for reading xattrs.
pub(crate) struct XattrReader {
    list: Vec<u8>,
    value: Vec<u8>,
}

impl XattrReader {
    pub(crate) fn new() -> Self {
        XattrReader {
            list: vec![0; INITIAL_BUF],
            value: vec![0; INITIAL_BUF],
        }
    }

    /// All xattrs of `target` for which `keep(name)` holds, sorted by name.
    /// A file system without xattr support has none.
    pub(crate) fn read(
        &mut self,
        target: Target<'_>,
        keep: impl Fn(&[u8]) -> bool,
    ) -> io::Result<Xattrs> {
        let mut out = Xattrs::new();
        let path = match target {
            Target::At(dir, name) => Some(Target::proc_path(dir, name)),
            Target::Fd(_) => None,
        };
        let len = match with_growing(&mut self.list, |buf| match (&target, &path) {
            (Target::Fd(fd), _) => rustix::fs::flistxattr(fd, buf),
            (_, Some(p)) => rustix::fs::llistxattr(p, buf),
            (_, None) => Err(Errno::INVAL),
        }) {
            Ok(len) => len,
            Err(Errno::NOTSUP) => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for name in self.list[..len].split(|b| *b == 0) {
            if name.is_empty() || !keep(name) {
                continue;
            }
            let got = with_growing(&mut self.value, |buf| match (&target, &path) {
                (Target::Fd(fd), _) => rustix::fs::fgetxattr(fd, name, buf),
                (_, Some(p)) => rustix::fs::lgetxattr(p, name, buf),
                (_, None) => Err(Errno::INVAL),
            });
            match got {
                Ok(n) => out.push((name.to_vec(), self.value[..n].to_vec())),
                // Removed between list and get: it is not there any more.
                Err(Errno::NODATA) => {}
                Err(e) => return Err(e.into()),
            }
        }
        out.sort();
        Ok(out)
    }
}

/// Calls `f` with `buf`, doubling it on `ERANGE` (the attribute grew, or
/// the file system allows more than 64 KiB).
fn with_growing(
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<usize> {
    loop {
        match f(buf.as_mut_slice()) {
            Err(Errno::RANGE) if buf.len() < 16 * 1024 * 1024 => {
                let len = buf.len() * 2;
                buf.resize(len, 0);
            }
            other => return other,
        }
    }
}

/// The xattrs of the entry `path` (a final symlink not followed) whose
/// names `keep` takes, sorted by name. One reader per thread serves every
/// call: a copy of a tree asks once per entry.
pub fn read_xattrs(path: &std::path::Path, keep: impl Fn(&[u8]) -> bool) -> io::Result<Xattrs> {
    thread_local! {
        static READER: std::cell::RefCell<XattrReader> = std::cell::RefCell::new(XattrReader::new());
    }
    let parent = path.parent().unwrap_or(std::path::Path::new("/"));
    let name = path.file_name().map_or(&b"."[..], |n| n.as_encoded_bytes());
    let dir = rustix::fs::open(
        parent,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    READER.with_borrow_mut(|reader| reader.read(Target::At(dir.as_fd(), name), keep))
}

/// The xattrs of `path` that are content — every one but overlayfs's own
/// ([`crate::whiteout::is_overlay_xattr`]): what a copy of the entry must
/// carry (the chroot sandbox's copies, kiln-runtime).
pub fn content_xattrs(path: &std::path::Path) -> io::Result<Xattrs> {
    read_xattrs(path, |n| !crate::whiteout::is_overlay_xattr(n))
}

/// Sets one xattr on `target`.
pub(crate) fn set(target: Target<'_>, name: &[u8], value: &[u8]) -> rustix::io::Result<()> {
    match target {
        Target::Fd(fd) => rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty()),
        Target::At(dir, entry) => rustix::fs::lsetxattr(
            Target::proc_path(dir, entry),
            name,
            value,
            XattrFlags::empty(),
        ),
    }
}
