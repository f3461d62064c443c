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
//! contents are equal: by digest when the earlier result's key fixed that
//! file's content and this step's key fixes the source's (both copied
//! from the build context, whose files the key hashes), else byte for
//! byte. It is then hard-linked into the
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
//! The same copy notes, for the next build, the digest of every regular
//! file it writes whose source digest its key knows: the earlier result's
//! `contents` of that build.
//!
//! Boundary: deciding and making one link, and noting what was written.
//! Anything unexpected (the earlier result pruned meanwhile, another file
//! system) only means the file is copied the ordinary way.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, OFlags, Timestamps};
use rustix::io::Errno;

use super::meta::{self, Meta, Stat};
use super::root::Root;
use kiln_layer::read::read_full;

/// A step's earlier result, as the last build of the same name left it.
pub struct Earlier<'a> {
    /// The layer it added (a snapshot directory).
    pub snapshot: PathBuf,
    /// What its key fixed of its files: path → content digest (see
    /// [`Reuse::written`]).
    pub contents: &'a BTreeMap<String, String>,
}

/// What one copy takes from the step's earlier result and notes for the
/// next build.
pub struct Reuse<'a> {
    /// Where files are linked from and into; none without an earlier
    /// result.
    link: Option<Link<'a>>,
    /// The source files' digests, by path in the source, as the step's
    /// key hashed them (empty when the source is not the build context).
    sources: &'a BTreeMap<String, String>,
    /// Regular files written with a known source digest: path → digest.
    written: Vec<(String, String)>,
}

/// The earlier result and the upper directory of this run.
struct Link<'a> {
    previous: Root,
    /// [`Earlier::contents`].
    contents: &'a BTreeMap<String, String>,
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

impl<'a> Reuse<'a> {
    /// Reuse for a copy writing through an overlay whose upper directory
    /// is `upper`, from `earlier` (ignored when it cannot be opened), with
    /// the key's `sources` digests.
    pub fn new(
        earlier: Option<Earlier<'a>>,
        upper: &Path,
        sources: &'a BTreeMap<String, String>,
    ) -> Reuse<'a> {
        let link = earlier.and_then(|earlier| {
            Some(Link {
                previous: Root::open(&earlier.snapshot, "earlier result").ok()?,
                contents: earlier.contents,
                upper: Root::open(upper, "upper directory").ok()?,
                upper_dir: OpenDir::default(),
                previous_dir: OpenDir::default(),
                linked: HashSet::new(),
                buffers: (vec![0; CHUNK], vec![0; CHUNK]),
                failed: false,
            })
        });
        Reuse {
            link,
            sources,
            written: Vec::new(),
        }
    }

    /// What the copy wrote whose content the key fixes: each regular
    /// file's path in the step's file system → the digest of its source.
    pub fn written(self) -> BTreeMap<String, String> {
        self.written.into_iter().collect()
    }

    /// Notes that the regular file at `dest_rel` was written from
    /// `src_rel`.
    pub(super) fn wrote(&mut self, src_rel: &Path, dest_rel: &Path) {
        // Only exact (UTF-8) paths: a lossy one could stand for two files.
        if let (Some(src), Some(dest)) = (src_rel.to_str(), dest_rel.to_str())
            && let Some(digest) = self.sources.get(src)
        {
            self.written.push((dest.to_string(), digest.clone()));
        }
    }

    /// Links the earlier result's file at `dest_rel` into the upper
    /// directory if it is what copying `src_name` (with `stat`) there with
    /// `meta` would make; whether it did (and then noted it). `dest_dir`
    /// is the overlay's directory holding `dest_rel`, where nothing is at
    /// that name.
    pub(super) fn take(
        &mut self,
        (src_dir, src_name, src_rel): (BorrowedFd<'_>, &OsStr, &Path),
        stat: &Stat,
        meta: &Meta,
        (dest_dir, dest_rel): (BorrowedFd<'_>, &Path),
    ) -> bool {
        let (Some(parent), Some(name)) = (dest_rel.parent(), dest_rel.file_name()) else {
            return false;
        };
        let Some(link) = self.link.as_mut().filter(|l| !l.failed) else {
            return false;
        };
        let Some((previous, previous_ino)) = link.previous_file(parent, name, stat, meta) else {
            return false;
        };
        let upper = &link.upper;
        let Some(upper_dir) = link
            .upper_dir
            .get(parent, || open_upper(upper, parent, dest_dir))
        else {
            return false;
        };
        let known = (src_rel.to_str().and_then(|p| self.sources.get(p)))
            .zip(dest_rel.to_str().and_then(|p| link.contents.get(p)));
        let same = match known {
            Some((now, before)) => {
                now == before
                    && open_regular(src_dir, src_name).is_some_and(|(f, _)| no_xattrs(f.as_fd()))
            }
            None => same_content(&mut link.buffers, src_dir, src_name, &previous),
        };
        if !same {
            return false;
        }
        let linked = rustix::fs::linkat(previous.as_fd(), "", upper_dir, name, AtFlags::EMPTY_PATH);
        if linked.is_err() {
            link.failed = true;
            return false;
        }
        link.linked.insert(previous_ino);
        self.wrote(src_rel, dest_rel);
        true
    }
}

impl Link<'_> {
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
        let (fd, opened) = open_regular(dir, name)?;
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
    let Some((src, _)) = open_regular(src_dir, src_name) else {
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
/// would block) and only if it is a regular file; with its metadata.
fn open_regular(dir: BorrowedFd<'_>, name: &OsStr) -> Option<(OwnedFd, Stat)> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    let stat = meta::stat_fd(fd.as_fd()).ok().filter(Stat::is_file)?;
    Some((fd, stat))
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

    /// A source directory, an earlier result and an upper directory, each
    /// holding `d/f` (the upper only `d`), the two files with these
    /// contents and the same metadata.
    struct Fixture {
        _dir: tempfile::TempDir,
        src: PathBuf,
        earlier: PathBuf,
        upper: PathBuf,
    }

    fn fixture(src_bytes: &[u8], earlier_bytes: &[u8]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let [src, earlier, upper] = ["src", "earlier", "upper"].map(|n| dir.path().join(n));
        for (root, bytes) in [(&src, src_bytes), (&earlier, earlier_bytes)] {
            std::fs::create_dir_all(root.join("d")).unwrap();
            std::fs::write(root.join("d/f"), bytes).unwrap();
            let file = File::options().write(true).open(root.join("d/f")).unwrap();
            file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::new(7, 9))
                .unwrap();
        }
        std::fs::create_dir_all(upper.join("d")).unwrap();
        Fixture {
            _dir: dir,
            src,
            earlier,
            upper,
        }
    }

    /// Offers `d/f` to `reuse` as a copy from the source would make it;
    /// whether it was linked.
    fn offer(fx: &Fixture, reuse: &mut Reuse<'_>) -> bool {
        let src_dir = File::open(fx.src.join("d")).unwrap();
        let stat = meta::stat_at(src_dir.as_fd(), OsStr::new("f"))
            .unwrap()
            .unwrap();
        let meta = Meta {
            uid: stat.uid,
            gid: stat.gid,
            mode: Some(stat.perm()),
            atime: stat.atime,
            mtime: stat.mtime,
        };
        let dest_dir = File::open(fx.upper.join("d")).unwrap();
        reuse.take(
            (src_dir.as_fd(), OsStr::new("f"), Path::new("d/f")),
            &stat,
            &meta,
            (dest_dir.as_fd(), Path::new("d/f")),
        )
    }

    fn digests(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(p, d)| (p.to_string(), d.to_string()))
            .collect()
    }

    #[test]
    fn known_digests_decide_without_reading_and_the_link_is_noted() {
        // The bytes differ on purpose: equal digests must be trusted (the
        // files are not read), different ones must refuse.
        let fx = fixture(b"new", b"old");
        let contents = digests(&[("d/f", "sha256:a")]);
        let earlier = || Earlier {
            snapshot: fx.earlier.clone(),
            contents: &contents,
        };
        let other = digests(&[("d/f", "sha256:b")]);
        let mut refused = Reuse::new(Some(earlier()), &fx.upper, &other);
        assert!(!offer(&fx, &mut refused));
        assert!(refused.written().is_empty());
        let same = digests(&[("d/f", "sha256:a")]);
        let mut reuse = Reuse::new(Some(earlier()), &fx.upper, &same);
        assert!(offer(&fx, &mut reuse));
        assert_eq!(reuse.written(), digests(&[("d/f", "sha256:a")]));
        assert_eq!(std::fs::read(fx.upper.join("d/f")).unwrap(), b"old");
    }

    #[test]
    fn without_known_digests_the_bytes_are_compared() {
        let none = BTreeMap::new();
        for (src, earlier, linked) in [(&b"abc"[..], &b"abc"[..], true), (b"abc", b"abd", false)] {
            let fx = fixture(src, earlier);
            let earlier = Earlier {
                snapshot: fx.earlier.clone(),
                contents: &none,
            };
            let mut reuse = Reuse::new(Some(earlier), &fx.upper, &none);
            assert_eq!(offer(&fx, &mut reuse), linked);
            assert!(reuse.written().is_empty());
        }
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
