//! Taking unchanged files from an earlier result of the same step instead
//! of writing them again: the edit-build loop's `COPY . /app` re-runs for
//! one changed file, and without this every other file is created, filled
//! and given its metadata anew.
//!
//! A file is taken only when nothing could tell the difference in the
//! layer: the earlier result has a regular file at the same path with the
//! same size, owner, permission bits and mtime (to the nanosecond) that
//! this copy would give, neither file nor the directory it goes into has
//! extended attributes (a default ACL would be inherited), and the
//! contents are equal byte for byte. It is then hard-linked into the
//! step's upper directory, which is the layer. The layer tar records no
//! atime or link count for a file seen once (hard links are only written
//! between names within one layer), so the new layer's bytes are what a
//! fresh copy would have made.
//!
//! Snapshots are never written in place (each step writes through a new
//! overlay whose upper directory starts empty), so a shared inode stays
//! what both snapshots recorded. The earlier result is read with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` like every other root.
//!
//! The link goes into the upper directory behind the mounted overlay's
//! back, so the overlay may still remember the name as absent. The caller
//! therefore offers only a copy that is the step's last write and touches
//! each target once (one source, see `Run::copy_source`): nothing looks
//! the name up through the overlay afterwards.
//!
//! Boundary: deciding and making one link. Anything unexpected (the earlier
//! result pruned meanwhile, another file system) only means the file is
//! copied the ordinary way.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, OFlags, Timestamps};
use rustix::io::Errno;

use super::archive::read_full;
use super::meta::{self, Meta, Stat};
use super::root::Root;

/// An earlier result of the step and the upper directory of this run.
pub struct Reuse {
    previous: Root,
    upper: Root,
    /// The directory of the upper directory files are linked into; none
    /// where they may not be.
    upper_dir: OpenDir,
    /// The earlier result's directory they are looked for in.
    previous_dir: OpenDir,
    /// Inodes of the earlier result linked so far: two names of this
    /// layer must never share one (the tar would record a hard link).
    linked: HashSet<u64>,
    /// Buffers for comparing contents.
    buffers: (Vec<u8>, Vec<u8>),
    /// A link failed: no more are tried, so a kernel that refuses them
    /// (`AT_EMPTY_PATH` without `CAP_DAC_READ_SEARCH` before Linux 6.10)
    /// costs one comparison, not one per file.
    failed: bool,
}

/// One directory, opened once while the walk stays in it (it visits a
/// directory's files together); none when it could not be used.
#[derive(Default)]
struct OpenDir(Option<(PathBuf, Option<OwnedFd>)>);

impl OpenDir {
    /// The directory `rel`, opened with `open` unless it is the one held.
    fn get(
        &mut self,
        rel: &Path,
        open: impl FnOnce() -> Option<OwnedFd>,
    ) -> Option<BorrowedFd<'_>> {
        if self.0.as_ref().is_none_or(|(held, _)| held != rel) {
            self.0 = Some((rel.to_path_buf(), open()));
        }
        self.0.as_ref()?.1.as_ref().map(|fd| fd.as_fd())
    }
}

impl Reuse {
    /// The earlier result `previous` (a snapshot directory) for a copy
    /// writing through an overlay whose upper directory is `upper`; `None`
    /// when either cannot be opened.
    pub fn new(previous: &Path, upper: &Path) -> Option<Reuse> {
        Some(Reuse {
            previous: Root::open(previous, "earlier result").ok()?,
            upper: Root::open(upper, "upper directory").ok()?,
            upper_dir: OpenDir::default(),
            previous_dir: OpenDir::default(),
            linked: HashSet::new(),
            buffers: (vec![0; CHUNK], vec![0; CHUNK]),
            failed: false,
        })
    }

    /// Links the earlier result's file at `dest_rel` into the upper
    /// directory if it is what copying `src_name` (with `stat`) there with
    /// `meta` would make; whether it did. `dest_dir` is the overlay's
    /// directory holding `dest_rel`, where nothing is at that name.
    pub(super) fn take(
        &mut self,
        (src_dir, src_name): (BorrowedFd<'_>, &OsStr),
        stat: &Stat,
        meta: &Meta,
        (dest_dir, dest_rel): (BorrowedFd<'_>, &Path),
    ) -> bool {
        let (Some(parent), Some(name)) = (dest_rel.parent(), dest_rel.file_name()) else {
            return false;
        };
        if self.failed {
            return false;
        }
        let Some((previous, previous_ino)) = self.previous_file(parent, name, stat, meta) else {
            return false;
        };
        let upper = &self.upper;
        let Some(upper_dir) = self
            .upper_dir
            .get(parent, || open_upper(upper, parent, dest_dir))
        else {
            return false;
        };
        if !same_content(&mut self.buffers, src_dir, src_name, &previous) {
            return false;
        }
        let linked = rustix::fs::linkat(previous.as_fd(), "", upper_dir, name, AtFlags::EMPTY_PATH);
        if linked.is_err() {
            self.failed = true;
            return false;
        }
        self.linked.insert(previous_ino);
        true
    }

    /// The earlier result's file at `parent/name`, open, with its inode,
    /// when its metadata is what the copy would give.
    fn previous_file(
        &mut self,
        parent: &Path,
        name: &OsStr,
        stat: &Stat,
        meta: &Meta,
    ) -> Option<(File, u64)> {
        let previous = &self.previous;
        let dir = self
            .previous_dir
            .get(parent, || previous.dir(parent).ok())?;
        // Looked at before it is opened: opening a FIFO would block and
        // opening a device node (a stage can make one) would reach the
        // host's device.
        let found = meta::stat_at(dir, name).ok()??;
        let same = found.is_file()
            && found.size == stat.size
            && found.uid == meta.uid
            && found.gid == meta.gid
            && Some(found.perm()) == meta.mode
            && found.mtime == meta.mtime
            && !self.linked.contains(&found.ino);
        if !same {
            return None;
        }
        let fd = open_regular(dir, name)?;
        let opened = meta::stat_fd(fd.as_fd()).ok()?;
        (opened.ino == found.ino && opened.dev == found.dev && no_xattrs(fd.as_fd()))
            .then(|| (File::from(fd), found.ino))
    }
}

/// Whether the source file has the same bytes as `previous` (and no
/// extended attributes), compared through `buffers`.
fn same_content(
    (x, y): &mut (Vec<u8>, Vec<u8>),
    src_dir: BorrowedFd<'_>,
    src_name: &OsStr,
    previous: &File,
) -> bool {
    let Some(src) = open_regular(src_dir, src_name) else {
        return false;
    };
    no_xattrs(src.as_fd()) && equal(&mut File::from(src), &mut &*previous, x, y).unwrap_or(false)
}

/// Opens `parent` in the upper directory. A directory with extended
/// attributes is refused: a default ACL there would give a new file an
/// access ACL the earlier file lacks. One that exists only in a lower
/// layer is copied up first, by setting its times to what they are: the
/// change the overlay would have made anyway by creating the file in it.
fn open_upper(upper: &Root, parent: &Path, dest_dir: BorrowedFd<'_>) -> Option<OwnedFd> {
    if !no_xattrs(dest_dir) {
        return None;
    }
    match upper.dir(parent) {
        Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => {
            let now = meta::stat_fd(dest_dir).ok()?;
            let same = Timestamps {
                last_access: now.atime,
                last_modification: now.mtime,
            };
            rustix::fs::futimens(dest_dir, &same).ok()?;
            upper.dir(parent).ok()
        }
        other => other.ok(),
    }
}

/// Opens `name` in `dir` for reading without waiting (a FIFO swapped in
/// would block) and only if it is a regular file.
fn open_regular(dir: BorrowedFd<'_>, name: &OsStr) -> Option<OwnedFd> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    meta::stat_fd(fd.as_fd())
        .is_ok_and(|st| st.is_file())
        .then_some(fd)
}

/// Whether the open file has no extended attributes: an empty list fits
/// any buffer, a name does not fit one byte (ERANGE). (rustix reports 0
/// for a zero-length buffer whatever the list holds.)
fn no_xattrs(fd: BorrowedFd<'_>) -> bool {
    let mut byte = [0u8; 1];
    rustix::fs::flistxattr(fd, &mut byte[..]) == Ok(0)
}

/// How much of each file a comparison reads at a time.
const CHUNK: usize = 64 * 1024;

/// Whether two readers give the same bytes, read through `x` and `y`.
fn equal(a: &mut impl Read, b: &mut impl Read, x: &mut [u8], y: &mut [u8]) -> io::Result<bool> {
    loop {
        let n = read_full(a, x)?;
        let m = read_full(b, y)?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n < x.len() {
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &[u8], b: &[u8]) -> bool {
        let (mut x, mut y) = (vec![0; CHUNK], vec![0; CHUNK]);
        equal(&mut &a[..], &mut &b[..], &mut x, &mut y).unwrap()
    }

    #[test]
    fn a_file_with_an_extended_attribute_is_seen_to_have_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        let file = File::open(&path).unwrap();
        assert!(no_xattrs(file.as_fd()));
        rustix::fs::setxattr(&path, "user.kiln", b"1", rustix::fs::XattrFlags::empty()).unwrap();
        assert!(!no_xattrs(file.as_fd()));
    }

    #[test]
    fn contents_compare_across_chunk_boundaries() {
        let long: Vec<u8> = (0..3 * CHUNK).map(|i| (i % 251) as u8).collect();
        assert!(same(&long, &long));
        assert!(same(&long[..CHUNK], &long[..CHUNK]));
        assert!(same(b"", b""));
        let mut late = long.clone();
        late[2 * CHUNK + 7] ^= 1;
        assert!(!same(&long, &late));
        // One is a prefix of the other, ending on a chunk boundary.
        assert!(!same(&long[..CHUNK], &long[..2 * CHUNK]));
        assert!(!same(&long[..2 * CHUNK], &long[..CHUNK]));
    }
}
