//! Applying one tar entry to the snapshot directory.
//!
//! Every object is created relative to its parent's descriptor (resolved
//! inside the root, see `resolve`) under its final name, with calls that do
//! not follow a symlink in the last component (`O_CREAT|O_EXCL|O_NOFOLLOW`,
//! `mknodat`, `symlinkat`, `linkat` without `AT_SYMLINK_FOLLOW`,
//! `AT_SYMLINK_NOFOLLOW`), after removing whatever was there: an entry
//! written "over" a symlink replaces the symlink, never what it points to.
//!
//! Metadata goes on in the order that keeps it: data, then owner (`chown`
//! clears setuid/setgid and `security.capability`), then mode (so setuid
//! survives), then xattrs (so the file capability survives), then times.
//! Directory times are set at the very end, after their children stopped
//! changing them.
//!
//! Whiteouts become overlayfs whiteouts (char device 0:0) and opaque markers
//! the `overlay.opaque` xattr, so that the snapshot works as a lowerdir. A
//! whiteout only hides the layers below (image-spec `layer.md`): when this
//! layer itself has an entry at that name, the entry stays, and a directory
//! meeting a whiteout of its own name becomes opaque (which is what overlayfs
//! does on `mkdir` over a whiteout).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;

use rustix::fs::{AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid};
use rustix::io::Errno;

use super::UnpackOptions;
use super::error::UnpackError;
use super::path::{components, join};
use super::remove::{Previous, clear};
use super::resolve::Resolver;
use crate::format::reader::{Member, ReadError, TarReader};
use crate::format::{Entry, Kind};
use crate::name::EntryName;
use crate::whiteout::{self, Marker};
use crate::xattr::{self, Target};

/// Write size for file contents.
const COPY_BUFFER: usize = 256 * 1024;

/// The state of one unpack.
pub(crate) struct Applier<'a> {
    resolver: Resolver,
    options: &'a UnpackOptions,
    /// Directories (normalized path, mtime) whose times are set last.
    dir_times: Vec<(Vec<u8>, i64)>,
    buf: Vec<u8>,
    pub(crate) entries: u64,
    pub(crate) skipped_xattrs: u64,
}

fn rejected(entry: &Entry, reason: impl Into<String>) -> UnpackError {
    UnpackError::Rejected {
        entry: EntryName::new(entry.path.as_slice()),
        reason: reason.into(),
    }
}

fn failed<'e>(action: &'static str, entry: &'e Entry) -> impl FnOnce(Errno) -> UnpackError + 'e {
    move |e| UnpackError::Apply {
        action,
        entry: EntryName::new(entry.path.as_slice()),
        source: e.into(),
    }
}

/// A tar reading error, attributed to the entry being read.
pub(crate) fn read_error(e: ReadError, entry: Option<&Entry>) -> UnpackError {
    let entry = entry.map(|e| EntryName::new(e.path.as_slice()));
    match e {
        ReadError::Io { offset, source } => UnpackError::Read {
            offset,
            entry,
            source,
        },
        ReadError::Malformed { offset, reason } => UnpackError::Malformed {
            offset,
            entry,
            reason,
        },
    }
}

fn id(value: u64, what: &str, entry: &Entry) -> Result<u32, UnpackError> {
    // (u32)-1 means "leave unchanged" to chown: not a real owner.
    match u32::try_from(value) {
        Ok(v) if v != u32::MAX => Ok(v),
        _ => Err(rejected(entry, format!("{what} {value} is out of range"))),
    }
}

fn times(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

impl<'a> Applier<'a> {
    pub(crate) fn new(root: OwnedFd, options: &'a UnpackOptions) -> Self {
        Applier {
            resolver: Resolver::new(root),
            options,
            dir_times: Vec::new(),
            buf: vec![0; COPY_BUFFER],
            entries: 0,
            skipped_xattrs: 0,
        }
    }

    fn opaque_xattr(&self) -> &'static str {
        self.options.opaque_xattr.name()
    }

    /// Applies one member, reading its data from `reader`.
    pub(crate) fn apply<R: Read>(
        &mut self,
        member: Member,
        reader: &mut TarReader<R>,
    ) -> Result<(), UnpackError> {
        let entry = member.entry;
        if let Some(flag) = member.unsupported {
            return Err(rejected(
                &entry,
                format!("unsupported entry type {:?}", char::from(flag)),
            ));
        }
        let parts = components(&entry.path).map_err(|reason| rejected(&entry, reason))?;
        self.entries += 1;
        let Some((base, parent)) = parts.split_last() else {
            return self.root_entry(&entry);
        };
        match whiteout::classify(base) {
            Marker::Opaque => {
                let dir = self
                    .resolver
                    .dir(parent, true)
                    .map_err(failed("resolve the parent of", &entry))?;
                return self.set_opaque(dir.as_fd(), &entry);
            }
            // AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): no meaning
            // in a layer, ignored as docker and containerd do.
            Marker::AufsMeta => return Ok(()),
            Marker::Whiteout(name) => return self.whiteout(parent, name, &entry),
            Marker::None => {}
        }
        let dir = self
            .resolver
            .dir(parent, true)
            .map_err(failed("resolve the parent of", &entry))?;
        match &entry.kind {
            Kind::Directory => self.directory(&dir, base, &parts, &entry),
            Kind::Regular { .. } => self.regular(&dir, base, &entry, reader),
            Kind::Symlink { target } => self.symlink(&dir, base, target, &entry),
            Kind::Hardlink { target } => self.hardlink(&dir, base, &parts, target, &entry),
            Kind::Char { major, minor } => self.node(
                &dir,
                base,
                FileType::CharacterDevice,
                rustix::fs::makedev(*major, *minor),
                &entry,
            ),
            Kind::Block { major, minor } => self.node(
                &dir,
                base,
                FileType::BlockDevice,
                rustix::fs::makedev(*major, *minor),
                &entry,
            ),
            Kind::Fifo => self.node(&dir, base, FileType::Fifo, 0, &entry),
        }
    }

    /// Sets directory times, last: nothing changes them any more.
    pub(crate) fn finish(&mut self) -> Result<(), UnpackError> {
        let dir_times = std::mem::take(&mut self.dir_times);
        for (path, mtime) in &dir_times {
            let name_of = || EntryName::new(path.as_slice());
            let parts = components(path).unwrap_or_default();
            let Some((base, parent)) = parts.split_last() else {
                rustix::fs::futimens(self.resolver.root(), &times(*mtime)).map_err(|e| {
                    UnpackError::Apply {
                        action: "set times of",
                        entry: name_of(),
                        source: e.into(),
                    }
                })?;
                continue;
            };
            // A later entry may have replaced the directory or a parent.
            let Ok(dir) = self.resolver.dir(parent, false) else {
                continue;
            };
            let is_dir = rustix::fs::statat(dir.as_fd(), *base, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
            if is_dir {
                rustix::fs::utimensat(
                    dir.as_fd(),
                    *base,
                    &times(*mtime),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| UnpackError::Apply {
                    action: "set times of",
                    entry: name_of(),
                    source: e.into(),
                })?;
            }
        }
        Ok(())
    }

    /// `./` (or `/`): the snapshot root's own metadata.
    fn root_entry(&mut self, entry: &Entry) -> Result<(), UnpackError> {
        if entry.kind != Kind::Directory {
            return Err(rejected(
                entry,
                "a non-directory entry cannot replace the snapshot root",
            ));
        }
        let root = self
            .resolver
            .dir(&[], false)
            .map_err(failed("open", entry))?;
        self.owner_mode_xattrs(root.as_fd(), entry)?;
        self.dir_times.push((Vec::new(), entry.mtime));
        Ok(())
    }

    fn set_opaque(&mut self, dir: BorrowedFd<'_>, entry: &Entry) -> Result<(), UnpackError> {
        let name = self.opaque_xattr();
        xattr::set(Target::Fd(dir), name.as_bytes(), b"y").map_err(|e| UnpackError::Xattr {
            xattr: name.to_string(),
            entry: EntryName::new(entry.path.as_slice()),
            source: e.into(),
        })
    }

    fn whiteout(
        &mut self,
        parent: &[&[u8]],
        name: &[u8],
        entry: &Entry,
    ) -> Result<(), UnpackError> {
        if name.is_empty() || name == b"." || name == b".." {
            return Err(rejected(entry, "whiteout of an invalid name"));
        }
        let dir = self
            .resolver
            .dir(parent, true)
            .map_err(failed("resolve the parent of", entry))?;
        match rustix::fs::statat(dir.as_fd(), name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => rustix::fs::mknodat(
                dir.as_fd(),
                name,
                FileType::CharacterDevice,
                Mode::empty(),
                rustix::fs::makedev(0, 0),
            )
            .map_err(failed("create the whiteout for", entry)),
            Err(e) => Err(failed("inspect the target of", entry)(e)),
            // This layer's own directory of that name replaces the lower
            // one rather than merging with it.
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                let fd = rustix::fs::openat(
                    dir.as_fd(),
                    name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .map_err(failed("open the target of", entry))?;
                self.set_opaque(fd.as_fd(), entry)
            }
            // Any other entry of this layer already hides the lower one.
            Ok(_) => Ok(()),
        }
    }

    /// Removes what is at `name` unless it is a directory to keep.
    fn clear(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        keep_dir: bool,
        entry: &Entry,
    ) -> Result<Previous, UnpackError> {
        let previous =
            clear(dir, name, keep_dir).map_err(failed("replace the existing file at", entry))?;
        if matches!(previous, Previous::Removed | Previous::Whiteout) {
            self.resolver.invalidate();
        }
        Ok(previous)
    }

    fn directory(
        &mut self,
        dir: &Rc<OwnedFd>,
        name: &[u8],
        parts: &[&[u8]],
        entry: &Entry,
    ) -> Result<(), UnpackError> {
        let previous = self.clear(dir.as_fd(), name, true, entry)?;
        if previous != Previous::KeptDir {
            rustix::fs::mkdirat(dir.as_fd(), name, Mode::from_raw_mode(0o700))
                .map_err(failed("create", entry))?;
        }
        let fd = rustix::fs::openat(
            dir.as_fd(),
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(failed("open", entry))?;
        self.owner_mode_xattrs(fd.as_fd(), entry)?;
        if previous == Previous::Whiteout {
            self.set_opaque(fd.as_fd(), entry)?;
        }
        self.dir_times.push((join(parts), entry.mtime));
        Ok(())
    }

    fn regular<R: Read>(
        &mut self,
        dir: &Rc<OwnedFd>,
        name: &[u8],
        entry: &Entry,
        reader: &mut TarReader<R>,
    ) -> Result<(), UnpackError> {
        self.clear(dir.as_fd(), name, false, entry)?;
        let fd = rustix::fs::openat(
            dir.as_fd(),
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(failed("create", entry))?;
        // Blocks of zeros stay holes: a sparse file unpacks sparse.
        let mut out = crate::HoleWriter::new(File::from(fd), COPY_BUFFER);
        let write_error = |source| UnpackError::Apply {
            action: "write",
            entry: EntryName::new(entry.path.as_slice()),
            source,
        };
        loop {
            let n = reader
                .read_data(&mut self.buf)
                .map_err(|e| read_error(e, Some(entry)))?;
            if n == 0 {
                break;
            }
            out.write_all(&self.buf[..n]).map_err(write_error)?;
        }
        let file = out.finish().map_err(write_error)?;
        self.owner_mode_xattrs(file.as_fd(), entry)?;
        rustix::fs::futimens(&file, &times(entry.mtime)).map_err(failed("set times of", entry))
    }

    fn symlink(
        &mut self,
        dir: &Rc<OwnedFd>,
        name: &[u8],
        target: &[u8],
        entry: &Entry,
    ) -> Result<(), UnpackError> {
        self.clear(dir.as_fd(), name, false, entry)?;
        // The target is stored verbatim: it is only ever followed by the
        // container (chrooted) or by our in-root resolver.
        rustix::fs::symlinkat(target, dir.as_fd(), name).map_err(failed("create", entry))?;
        self.owner_at(dir.as_fd(), name, entry)?;
        self.xattrs_and_times_at(dir.as_fd(), name, entry)
    }

    fn hardlink(
        &mut self,
        dir: &Rc<OwnedFd>,
        name: &[u8],
        parts: &[&[u8]],
        target: &[u8],
        entry: &Entry,
    ) -> Result<(), UnpackError> {
        let target_parts = components(target).map_err(|reason| {
            rejected(
                entry,
                format!("hardlink target {}: {reason}", EntryName::new(target)),
            )
        })?;
        let Some((target_base, target_parent)) = target_parts.split_last() else {
            return Err(rejected(entry, "hardlink to the snapshot root"));
        };
        if target_parts == parts {
            return Ok(());
        }
        self.clear(dir.as_fd(), name, false, entry)?;
        // The target must already be in this snapshot: resolved inside the
        // root, never created, and linked without following a symlink (a
        // link to a symlink is a second name for the symlink itself).
        let target_dir = self
            .resolver
            .dir(target_parent, false)
            .map_err(failed("find the hardlink target of", entry))?;
        rustix::fs::linkat(
            target_dir.as_fd(),
            *target_base,
            dir.as_fd(),
            name,
            AtFlags::empty(),
        )
        .map_err(failed("link", entry))
    }

    fn node(
        &mut self,
        dir: &Rc<OwnedFd>,
        name: &[u8],
        file_type: FileType,
        dev: u64,
        entry: &Entry,
    ) -> Result<(), UnpackError> {
        self.clear(dir.as_fd(), name, false, entry)?;
        let mode = Mode::from_raw_mode(entry.mode & 0o7777);
        let device = match file_type {
            FileType::CharacterDevice => Some(crate::device::Device::Char(
                rustix::fs::major(dev),
                rustix::fs::minor(dev),
            )),
            FileType::BlockDevice => Some(crate::device::Device::Block(
                rustix::fs::major(dev),
                rustix::fs::minor(dev),
            )),
            _ => None,
        };
        if let (true, Some(device)) = (self.options.device_placeholders, device) {
            return self.placeholder(dir, name, mode, device, entry);
        }
        rustix::fs::mknodat(dir.as_fd(), name, file_type, mode, dev)
            .map_err(failed("create", entry))?;
        self.owner_at(dir.as_fd(), name, entry)?;
        // Just created by us as a device or fifo, so not a symlink: the
        // following chmod cannot be redirected.
        rustix::fs::chmodat(dir.as_fd(), name, mode, AtFlags::empty())
            .map_err(failed("chmod", entry))?;
        self.xattrs_and_times_at(dir.as_fd(), name, entry)
    }

    /// The last steps for an entry reached by name, not by descriptor
    /// (symlinks, devices, fifos): its xattrs, then its mtime, never
    /// following a symlink.
    fn xattrs_and_times_at(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        entry: &Entry,
    ) -> Result<(), UnpackError> {
        self.xattrs(Target::At(dir, name), entry)?;
        rustix::fs::utimensat(dir, name, &times(entry.mtime), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(failed("set times of", entry))
    }

    fn owner_mode_xattrs(&mut self, fd: BorrowedFd<'_>, entry: &Entry) -> Result<(), UnpackError> {
        if self.options.ownership {
            let uid = id(entry.uid, "uid", entry)?;
            let gid = id(entry.gid, "gid", entry)?;
            rustix::fs::fchown(
                fd,
                Some(Uid::from_raw_unchecked(uid)),
                Some(Gid::from_raw_unchecked(gid)),
            )
            .map_err(failed("chown", entry))?;
        }
        rustix::fs::fchmod(fd, Mode::from_raw_mode(entry.mode & 0o7777))
            .map_err(failed("chmod", entry))?;
        self.xattrs(Target::Fd(fd), entry)
    }

    fn owner_at(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        entry: &Entry,
    ) -> Result<(), UnpackError> {
        if !self.options.ownership {
            return Ok(());
        }
        let uid = id(entry.uid, "uid", entry)?;
        let gid = id(entry.gid, "gid", entry)?;
        rustix::fs::chownat(
            dir,
            name,
            Some(Uid::from_raw_unchecked(uid)),
            Some(Gid::from_raw_unchecked(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(failed("chown", entry))
    }

    /// A device as a placeholder (`crate::device`): an empty file, the
    /// device's owner, mode and times, and the xattr naming it.
    fn placeholder(
        &mut self,
        dir: &Rc<OwnedFd>,
        name: &[u8],
        mode: Mode,
        device: crate::device::Device,
        entry: &Entry,
    ) -> Result<(), UnpackError> {
        let file = rustix::fs::openat(
            dir.as_fd(),
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(failed("create", entry))?;
        xattr::set(
            Target::Fd(file.as_fd()),
            crate::device::DEVICE_XATTR.as_bytes(),
            &device.encode(),
        )
        .map_err(|e| UnpackError::Xattr {
            xattr: crate::device::DEVICE_XATTR.to_string(),
            entry: EntryName::new(entry.path.as_slice()),
            source: e.into(),
        })?;
        drop(file);
        self.owner_at(dir.as_fd(), name, entry)?;
        // Just created by us as a regular file (O_EXCL, O_NOFOLLOW).
        rustix::fs::chmodat(dir.as_fd(), name, mode, AtFlags::empty())
            .map_err(failed("chmod", entry))?;
        self.xattrs_and_times_at(dir.as_fd(), name, entry)
    }

    fn xattrs(&mut self, target: Target<'_>, entry: &Entry) -> Result<(), UnpackError> {
        for (name, value) in &entry.xattrs {
            // Overlay's own xattrs are never restored from a layer: they
            // would steer the overlay mount (see `whiteout::is_overlay_xattr`);
            // nor kiln's, which would turn a file into a device
            // (`crate::device`).
            if whiteout::is_overlay_xattr(name) || crate::device::is_kiln_xattr(name) {
                self.skipped_xattrs += 1;
                continue;
            }
            match xattr::set(target, name, value) {
                Ok(()) => {}
                // The file system has no xattrs, or this namespace is not
                // ours to write (trusted.* without CAP_SYS_ADMIN, user.* on
                // a symlink): counted, as docker and containerd tolerate it.
                Err(Errno::NOTSUP | Errno::PERM) => self.skipped_xattrs += 1,
                Err(e) => {
                    return Err(UnpackError::Xattr {
                        xattr: String::from_utf8_lossy(name).into_owned(),
                        entry: EntryName::new(entry.path.as_slice()),
                        source: e.into(),
                    });
                }
            }
        }
        Ok(())
    }
}
