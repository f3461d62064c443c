//! What an entry is (its `statx`) and the metadata a copied entry gets:
//! owner, permission bits, times and extended attributes.
//!
//! Boundary: this file only reads and writes metadata of one entry named by
//! a directory descriptor and a name (or by its own descriptor). Deciding
//! *which* owner or mode an entry gets is [`super::owner`] and
//! [`super::mode`]; walking trees is [`super::tree`].
//!
//! The order is fsutil's (copy/copy_unix.go `copyFileInfo`, then
//! `copyXAttrs`): owner first, because chown(2) clears the set-user-ID and
//! set-group-ID bits and drops `security.capability`; then the mode; then
//! the times; the extended attributes last, so a file capability survives.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::fs::{AtFlags, FileType, Mode, StatxFlags, Timespec, Timestamps, XattrFlags};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};

/// The parts of `statx(2)` a copy looks at.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stat {
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub ino: u64,
    /// Device of the file system holding the entry (major, minor).
    pub dev: (u32, u32),
    /// Device a character or block special file stands for (major, minor).
    pub rdev: (u32, u32),
    pub atime: Timespec,
    pub mtime: Timespec,
    /// Status change time: with `mtime`, `size`, `ino` and `mode` what the
    /// stat cache checks before trusting a remembered content digest.
    pub ctime: Timespec,
    pub size: u64,
}

impl Stat {
    pub(super) fn from_statx(s: &rustix::fs::Statx) -> Stat {
        let time = |t: &rustix::fs::StatxTimestamp| Timespec {
            tv_sec: t.tv_sec,
            tv_nsec: t.tv_nsec.into(),
        };
        Stat {
            mode: u32::from(s.stx_mode),
            uid: s.stx_uid,
            gid: s.stx_gid,
            nlink: s.stx_nlink,
            ino: s.stx_ino,
            dev: (s.stx_dev_major, s.stx_dev_minor),
            rdev: (s.stx_rdev_major, s.stx_rdev_minor),
            atime: time(&s.stx_atime),
            mtime: time(&s.stx_mtime),
            ctime: time(&s.stx_ctime),
            size: s.stx_size,
        }
    }

    pub fn kind(&self) -> FileType {
        FileType::from_raw_mode(self.mode)
    }

    pub fn is_dir(&self) -> bool {
        self.kind() == FileType::Directory
    }

    pub fn is_symlink(&self) -> bool {
        self.kind() == FileType::Symlink
    }

    pub fn is_file(&self) -> bool {
        self.kind() == FileType::RegularFile
    }

    /// Permission bits with set-user-ID, set-group-ID and sticky.
    pub fn perm(&self) -> u32 {
        self.mode & 0o7777
    }
}

const STATX_MASK: StatxFlags = StatxFlags::BASIC_STATS;

/// `lstat` of `name` in `dir`; `None` when it does not exist.
pub(super) fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<Stat>> {
    match rustix::fs::statx(dir, name, AtFlags::SYMLINK_NOFOLLOW, STATX_MASK) {
        Ok(s) => Ok(Some(Stat::from_statx(&s))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `fstat` of an open descriptor.
/// Creates the regular file `name` in `dir`, which must not exist yet (a
/// symlink there is not followed: the call fails), mode 0600 until its
/// metadata is applied; open for writing.
pub(super) fn create_new_at<P: rustix::path::Arg>(
    dir: BorrowedFd<'_>,
    name: P,
) -> io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::OFlags;
    Ok(rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?)
}

pub(super) fn stat_fd(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    let s = rustix::fs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW,
        STATX_MASK,
    )?;
    Ok(Stat::from_statx(&s))
}

/// The metadata one copied entry ends up with.
#[derive(Debug, Clone, Copy)]
pub(super) struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (with the special bits); `None` for a symlink, whose
    /// mode Linux cannot change.
    pub mode: Option<u32>,
    pub atime: Timespec,
    pub mtime: Timespec,
}

impl Meta {
    fn times(&self) -> Timestamps {
        Timestamps {
            last_access: self.atime,
            last_modification: self.mtime,
        }
    }
}

// `from_raw_unchecked`: a tar header may carry 4294967295, which chown(2)
// reads as "leave unchanged"; the checked constructor would only assert.
fn ids(uid: u32, gid: u32) -> (Option<Uid>, Option<Gid>) {
    (
        Some(Uid::from_raw_unchecked(uid)),
        Some(Gid::from_raw_unchecked(gid)),
    )
}

/// Changes the owner of `name` in `dir`, not following a symlink.
pub(super) fn chown_at(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    let (u, g) = ids(uid, gid);
    if let Err(e) = rustix::fs::chownat(dir, name, u, g, AtFlags::SYMLINK_NOFOLLOW) {
        // Unprivileged callers (tests) may "chown" to the owner an entry
        // already has; anything else is a real failure.
        let same = stat_at(dir, name)?.is_some_and(|s| s.uid == uid && s.gid == gid);
        if e != Errno::PERM || !same {
            return Err(chown_error(e, uid, gid));
        }
    }
    Ok(())
}

/// A failed chown, saying when the owner is one this user namespace does
/// not map (EINVAL: rootless kiln maps only the user's subordinate range).
fn chown_error(e: Errno, uid: u32, gid: u32) -> io::Error {
    match e {
        Errno::INVAL => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "owner {uid}:{gid} is not mapped in kiln's user namespace (rootless kiln maps ids up to the size of the user's subordinate range; a larger range maps more: usermod --add-subuids/--add-subgids)"
            ),
        ),
        e => e.into(),
    }
}

/// Sets owner, mode and times of `name` in `dir`, not following a symlink.
pub(super) fn apply_at(dir: BorrowedFd<'_>, name: &OsStr, meta: &Meta) -> io::Result<()> {
    chown_at(dir, name, meta.uid, meta.gid)?;
    if let Some(mode) = meta.mode {
        rustix::fs::chmodat(dir, name, Mode::from_raw_mode(mode), AtFlags::empty())?;
    }
    rustix::fs::utimensat(dir, name, &meta.times(), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Sets owner, mode and times of an open directory (or file).
pub(super) fn apply_fd(fd: BorrowedFd<'_>, meta: &Meta) -> io::Result<()> {
    let (uid, gid) = ids(meta.uid, meta.gid);
    if let Err(e) = rustix::fs::fchown(fd, uid, gid) {
        let st = stat_fd(fd)?;
        if e != Errno::PERM || st.uid != meta.uid || st.gid != meta.gid {
            return Err(chown_error(e, meta.uid, meta.gid));
        }
    }
    if let Some(mode) = meta.mode {
        rustix::fs::fchmod(fd, Mode::from_raw_mode(mode))?;
    }
    rustix::fs::futimens(fd, &meta.times())?;
    Ok(())
}

/// Sets only the permission bits of `name` in `dir` (not a symlink).
pub(super) fn chmod_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    rustix::fs::chmodat(dir, name, Mode::from_raw_mode(mode), AtFlags::empty())?;
    Ok(())
}

/// Sets only the times of `name` in `dir`, not following a symlink.
pub(super) fn times_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    atime: Timespec,
    mtime: Timespec,
) -> io::Result<()> {
    let times = Timestamps {
        last_access: atime,
        last_modification: mtime,
    };
    rustix::fs::utimensat(dir, name, &times, AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Something extended attributes are read from or written to.
pub(super) enum Node<'a> {
    /// An open file or directory.
    Fd(BorrowedFd<'a>),
    /// An entry named inside an open directory, reached through
    /// `/proc/self/fd/N/name` with the `l*xattr` calls: the directory is
    /// the one already resolved (no path walk can escape), and the last
    /// component is never followed, so this works for symlinks and device
    /// nodes that cannot be opened safely.
    At(PathBuf),
}

impl<'a> Node<'a> {
    pub fn at(dir: BorrowedFd<'a>, name: &OsStr) -> Node<'a> {
        let mut path = PathBuf::from(format!("/proc/self/fd/{}", dir.as_fd().as_raw_fd()));
        path.push(name);
        Node::At(path)
    }

    fn list(&self) -> io::Result<Vec<Vec<u8>>> {
        let mut buf = vec![0u8; 1024];
        loop {
            let got = match self {
                Node::Fd(fd) => rustix::fs::flistxattr(fd, &mut buf[..]),
                Node::At(path) => rustix::fs::llistxattr(path, &mut buf[..]),
            };
            match got {
                Ok(len) => {
                    buf.truncate(len);
                    break;
                }
                Err(Errno::RANGE) if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(buf
            .split(|b| *b == 0)
            .filter(|name| !name.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    }

    fn get(&self, name: &[u8]) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 256];
        loop {
            let got = match self {
                Node::Fd(fd) => rustix::fs::fgetxattr(fd, name, &mut buf[..]),
                Node::At(path) => rustix::fs::lgetxattr(path, name, &mut buf[..]),
            };
            match got {
                Ok(len) => {
                    buf.truncate(len);
                    return Ok(buf);
                }
                // xattr values are at most 64 KiB on Linux.
                Err(Errno::RANGE) if buf.len() < (1 << 17) => buf.resize(buf.len() * 4, 0),
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn set(&self, name: &[u8], value: &[u8]) -> io::Result<()> {
        match self {
            Node::Fd(fd) => rustix::fs::fsetxattr(fd, name, value, XattrFlags::empty())?,
            Node::At(path) => rustix::fs::lsetxattr(path, name, value, XattrFlags::empty())?,
        }
        Ok(())
    }
}

/// Copies every extended attribute of `from` to `to` and returns how many
/// could not be read or written.
///
/// Failures are skipped, as BuildKit's file backend does (its
/// `xattrErrorHandler` in solver/llbsolver/file/backend.go logs and carries
/// on): `trusted.*` needs CAP_SYS_ADMIN, `security.selinux` may be refused
/// by the destination's policy, and overlayfs keeps some names for itself.
/// None of that should fail a build. `security.capability` is copied by the
/// same path and succeeds whenever the process holds CAP_SETFCAP.
pub(super) fn copy_xattrs(from: &Node<'_>, to: &Node<'_>) -> u64 {
    let names = match from.list() {
        Ok(names) => names,
        // No xattr support on the source file system: nothing to copy.
        Err(e) if e.raw_os_error() == Some(Errno::OPNOTSUPP.raw_os_error()) => return 0,
        Err(_) => return 1,
    };
    let mut skipped = 0;
    for name in names {
        let copied = from.get(&name).and_then(|value| to.set(&name, &value));
        if copied.is_err() {
            skipped += 1;
        }
    }
    skipped
}

/// The name of an entry as shown in messages (`/`-joined by callers).
pub(super) fn lossy(name: &OsStr) -> String {
    String::from_utf8_lossy(name.as_bytes()).into_owned()
}
