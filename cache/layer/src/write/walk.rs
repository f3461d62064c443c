//! The walk: a depth-first traversal through directory descriptors, with
//! every lookup relative to a directory we hold open and every call of the
//! `*at`/`lstat` family (`AT_SYMLINK_NOFOLLOW`, `O_NOFOLLOW`), so no symlink
//! in the tree is ever followed and no host path is re-resolved.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};

use super::ahead::{Ahead, Listed};
use super::overlay::{self, Verdict};
use super::{SourceKind, WriteError, WriteOptions};
use crate::format::header::encode;
use crate::format::{BLOCK, Entry, Kind, padding};
use crate::name::EntryName;
use crate::whiteout::{self, OPAQUE_MARKER};
use crate::xattr::{Target, XattrReader, Xattrs};

/// Read size for file contents.
const READ_BUFFER: usize = 256 * 1024;

/// A directory entry waiting to be archived, with what its order needs.
struct Child {
    name: CString,
    dir: bool,
    whiteout: bool,
    /// What the listing says it is (for reading ahead).
    listed: Listed,
}

impl Child {
    /// Archive order among siblings: whiteouts first (image-spec
    /// `layer.md`: "whiteout files SHOULD appear before sibling directory
    /// entries"), then bytewise by entry name, where a directory's name
    /// ends in `/`. Depth-first traversal in this order lists the whole
    /// archive in bytewise order of entry names, parents before children,
    /// on every file system and in every locale.
    fn order(a: &Child, b: &Child) -> Ordering {
        fn name(c: &Child) -> impl Iterator<Item = u8> + '_ {
            let slash: &[u8] = if c.dir { b"/" } else { b"" };
            c.name.as_bytes().iter().chain(slash).copied()
        }
        (!a.whiteout)
            .cmp(&!b.whiteout)
            .then_with(|| name(a).cmp(name(b)))
    }
}

/// Walks one tree into a tar stream.
pub(crate) struct Walker<'a, W: Write> {
    out: W,
    root: &'a Path,
    options: &'a WriteOptions,
    /// (st_dev, st_ino) of multiply-linked non-directories → first name.
    links: HashMap<(u64, u64), Vec<u8>>,
    header: Vec<u8>,
    buf: Vec<u8>,
    xattrs: XattrReader,
}

impl<'a, W: Write> Walker<'a, W> {
    pub(crate) fn new(root: &'a Path, options: &'a WriteOptions, out: W) -> Self {
        Walker {
            out,
            root,
            options,
            links: HashMap::new(),
            header: Vec::with_capacity(2 * BLOCK),
            buf: vec![0; READ_BUFFER],
            xattrs: XattrReader::new(),
        }
    }

    /// Writes every entry under `root_fd` and the end-of-archive blocks.
    pub(crate) fn run(mut self, root_fd: OwnedFd) -> Result<W, WriteError> {
        let mut prefix = Vec::new();
        self.dir(root_fd, &mut prefix)?;
        // Two zero blocks end the archive (POSIX ustar); no padding to a
        // 10 KiB record, as Go's archive/tar.
        self.out
            .write_all(&[0; 2 * BLOCK])
            .map_err(WriteError::Output)?;
        Ok(self.out)
    }

    fn overlay(&self) -> bool {
        self.options.source == SourceKind::OverlayUpper
    }

    fn mtime(&self, st: &Stat) -> i64 {
        let mtime = st.st_mtime;
        match self.options.source_date_epoch {
            Some(epoch) if mtime > epoch => epoch,
            _ => mtime,
        }
    }

    fn read_err(&self, action: &'static str, path: &[u8], source: io::Error) -> WriteError {
        WriteError::Read {
            action,
            root: self.root.to_path_buf(),
            entry: EntryName::new(path),
            source,
        }
    }

    fn changed(&self, path: &[u8], detail: &'static str) -> WriteError {
        WriteError::Changed {
            root: self.root.to_path_buf(),
            entry: EntryName::new(path),
            detail,
        }
    }

    /// Archives the children of the directory `fd`, whose entry name (with
    /// trailing `/`, empty for the root) is `prefix`.
    fn dir(&mut self, fd: OwnedFd, prefix: &mut Vec<u8>) -> Result<(), WriteError> {
        let mut dir = Dir::new(fd).map_err(|e| self.read_err("list", prefix, e.into()))?;
        let mut children: Vec<Child> = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| self.read_err("list", prefix, e.into()))?;
            let name = entry.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            let mut file_type = entry.file_type();
            let mut whiteout = false;
            if file_type == FileType::Unknown
                || (self.overlay() && file_type == FileType::CharacterDevice)
            {
                let st = rustix::fs::statat(
                    dir.fd()
                        .map_err(|e| self.read_err("list", prefix, e.into()))?,
                    name,
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| {
                    self.read_err(
                        "stat",
                        &[prefix.as_slice(), name.to_bytes()].concat(),
                        e.into(),
                    )
                })?;
                file_type = FileType::from_raw_mode(st.st_mode);
                whiteout =
                    self.overlay() && file_type == FileType::CharacterDevice && st.st_rdev == 0;
            }
            children.push(Child {
                name: name.to_owned(),
                dir: file_type == FileType::Directory,
                whiteout,
                listed: match file_type {
                    FileType::RegularFile => Listed::Regular,
                    FileType::Directory => Listed::Directory,
                    _ => Listed::Other,
                },
            });
        }
        children.sort_unstable_by(Child::order);
        let dirfd = dir
            .fd()
            .map_err(|e| self.read_err("list", prefix, e.into()))?;
        let mut ahead = Ahead::new();
        for (i, child) in children.iter().enumerate() {
            let opened = ahead.take(dirfd, i, |j| {
                children.get(j).map(|c| (c.name.as_c_str(), c.listed))
            });
            let len = prefix.len();
            prefix.extend_from_slice(child.name.as_bytes());
            let result = self.child(dirfd, &child.name, prefix, opened);
            prefix.truncate(len);
            result?;
        }
        Ok(())
    }

    /// Archives one child `name` of `dirfd`; `path` is its entry name,
    /// `opened` the file if it was opened ahead.
    fn child(
        &mut self,
        dirfd: BorrowedFd<'_>,
        name: &CString,
        path: &mut Vec<u8>,
        opened: Option<OwnedFd>,
    ) -> Result<(), WriteError> {
        let st = rustix::fs::statat(dirfd, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| self.read_err("stat", path, e.into()))?;
        let file_type = FileType::from_raw_mode(st.st_mode);
        let mut entry = Entry {
            path: path.clone(),
            kind: Kind::Fifo,
            mode: st.st_mode & 0o7777,
            uid: u64::from(st.st_uid),
            gid: u64::from(st.st_gid),
            mtime: self.mtime(&st),
            xattrs: Vec::new(),
        };
        let rdev = st.st_rdev;

        // Overlay whiteouts first: overlayfs hardlinks all whiteouts to one
        // shared inode (Linux ≥ 5.8), which must not turn them into
        // hardlink entries.
        if self.overlay() && file_type == FileType::CharacterDevice && rdev == 0 {
            // As docker and containerd write them: an empty regular file,
            // mode 0600, keeping owner and mtime of the device.
            let base = name.as_bytes();
            entry.path.truncate(entry.path.len() - base.len());
            entry.path.extend_from_slice(&whiteout::whiteout_name(base));
            entry.kind = Kind::Regular { size: 0 };
            entry.mode = 0o600;
            return self.emit(&entry);
        }

        match file_type {
            FileType::Directory => self.directory(dirfd, name, &st, entry, path),
            FileType::RegularFile => self.regular(dirfd, name, &st, entry, opened),
            FileType::Socket => Ok(()),
            FileType::Symlink
            | FileType::CharacterDevice
            | FileType::BlockDevice
            | FileType::Fifo => {
                if let Some(target) = self.hardlink(&st, &entry.path) {
                    entry.kind = Kind::Hardlink { target };
                    return self.emit(&entry);
                }
                entry.kind = match file_type {
                    FileType::Symlink => {
                        let target = rustix::fs::readlinkat(dirfd, name, Vec::new())
                            .map_err(|e| self.read_err("read link", &entry.path, e.into()))?;
                        Kind::Symlink {
                            target: target.into_bytes(),
                        }
                    }
                    FileType::CharacterDevice => Kind::Char {
                        major: rustix::fs::major(rdev),
                        minor: rustix::fs::minor(rdev),
                    },
                    FileType::BlockDevice => Kind::Block {
                        major: rustix::fs::major(rdev),
                        minor: rustix::fs::minor(rdev),
                    },
                    _ => Kind::Fifo,
                };
                let all = self
                    .xattrs
                    .read(Target::At(dirfd, name.as_bytes()), |_| true)
                    .map_err(|e| self.read_err("read xattrs of", &entry.path, e))?;
                entry.xattrs = self.keep_xattrs(all, &entry.path, false)?.0;
                self.emit(&entry)
            }
            FileType::Unknown => Err(self.read_err(
                "archive",
                &entry.path,
                io::Error::new(io::ErrorKind::InvalidData, "unknown file type"),
            )),
        }
    }

    fn directory(
        &mut self,
        dirfd: BorrowedFd<'_>,
        name: &CString,
        st: &Stat,
        mut entry: Entry,
        path: &mut Vec<u8>,
    ) -> Result<(), WriteError> {
        let fd = rustix::fs::openat(
            dirfd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.read_err("open", path, e.into()))?;
        self.same_inode(fd.as_fd(), st, path)?;
        let all = self
            .xattrs
            .read(Target::Fd(fd.as_fd()), |_| true)
            .map_err(|e| self.read_err("read xattrs of", path, e))?;
        let (xattrs, opaque) = self.keep_xattrs(all, path, true)?;
        entry.kind = Kind::Directory;
        entry.xattrs = xattrs;
        self.emit(&entry)?;
        path.push(b'/');
        if opaque {
            // Right after the directory, before its children: appliers that
            // act entry by entry must clear the lower contents before this
            // layer's children arrive.
            let marker = Entry {
                path: [path.as_slice(), OPAQUE_MARKER].concat(),
                kind: Kind::Regular { size: 0 },
                mode: entry.mode & 0o777,
                uid: entry.uid,
                gid: entry.gid,
                mtime: entry.mtime,
                xattrs: Vec::new(),
            };
            self.emit(&marker)?;
        }
        self.dir(fd, path)
    }

    fn regular(
        &mut self,
        dirfd: BorrowedFd<'_>,
        name: &CString,
        st: &Stat,
        mut entry: Entry,
        opened: Option<OwnedFd>,
    ) -> Result<(), WriteError> {
        if let Some(target) = self.hardlink(st, &entry.path) {
            entry.kind = Kind::Hardlink { target };
            return self.emit(&entry);
        }
        // One opened ahead is checked like one opened now (`same_inode`).
        let fd = match opened {
            Some(fd) => fd,
            None => rustix::fs::openat(
                dirfd,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| self.read_err("open", &entry.path, e.into()))?,
        };
        let fst = self.same_inode(fd.as_fd(), st, &entry.path)?;
        let all = self
            .xattrs
            .read(Target::Fd(fd.as_fd()), |_| true)
            .map_err(|e| self.read_err("read xattrs of", &entry.path, e))?;
        // A device kept as a placeholder (rootless: `crate::device`) is
        // archived as the device.
        let device = all
            .iter()
            .find(|(name, _)| name == crate::device::DEVICE_XATTR.as_bytes())
            .and_then(|(_, value)| crate::device::Device::decode(value))
            .filter(|_| self.options.device_placeholders && fst.st_size == 0);
        entry.xattrs = self.keep_xattrs(all, &entry.path, false)?.0;
        if let Some(device) = device {
            entry.kind = match device {
                crate::device::Device::Char(major, minor) => Kind::Char { major, minor },
                crate::device::Device::Block(major, minor) => Kind::Block { major, minor },
            };
            return self.emit(&entry);
        }
        let size = u64::try_from(fst.st_size).unwrap_or(0);
        entry.kind = Kind::Regular { size };
        self.emit(&entry)?;

        let mut file = File::from(fd);
        let mut left = size;
        while left > 0 {
            let want = self
                .buf
                .len()
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match file.read(&mut self.buf[..want]) {
                Ok(0) => return Err(self.changed(&entry.path, "the file shrank")),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_err("read", &entry.path, e)),
            };
            self.out
                .write_all(&self.buf[..n])
                .map_err(WriteError::Output)?;
            left -= n as u64;
        }
        self.write(&[0; BLOCK][..padding(size)])
    }

    /// The first name of this inode if it was archived already; records
    /// `path` as the first name otherwise.
    fn hardlink(&mut self, st: &Stat, path: &[u8]) -> Option<Vec<u8>> {
        if st.st_nlink <= 1 {
            return None;
        }
        let key = (st.st_dev, st.st_ino);
        if let Some(first) = self.links.get(&key) {
            return Some(first.clone());
        }
        self.links.insert(key, path.to_vec());
        None
    }

    /// Checks that the opened object is the one that was stat'ed.
    fn same_inode(&self, fd: BorrowedFd<'_>, st: &Stat, path: &[u8]) -> Result<Stat, WriteError> {
        let fst = rustix::fs::fstat(fd).map_err(|e| self.read_err("stat", path, e.into()))?;
        if fst.st_ino != st.st_ino
            || fst.st_dev != st.st_dev
            || FileType::from_raw_mode(fst.st_mode) != FileType::from_raw_mode(st.st_mode)
        {
            return Err(self.changed(path, "it was replaced"));
        }
        Ok(fst)
    }

    /// Drops overlay-internal xattrs; in overlay mode, first reads what they
    /// say (opaque, or content elsewhere).
    fn keep_xattrs(
        &self,
        all: Xattrs,
        path: &[u8],
        is_dir: bool,
    ) -> Result<(Xattrs, bool), WriteError> {
        let mut opaque = false;
        if self.overlay() {
            match overlay::inspect(&all) {
                Verdict::Plain => {}
                Verdict::Opaque => opaque = is_dir,
                Verdict::External(xattr) => {
                    return Err(WriteError::OverlayFeature {
                        root: self.root.to_path_buf(),
                        entry: EntryName::new(path),
                        xattr,
                    });
                }
            }
        }
        // Overlay's and kiln's own xattrs describe this disk, not the
        // file: never archived.
        let kept = all
            .into_iter()
            .filter(|(name, _)| {
                !whiteout::is_overlay_xattr(name) && !crate::device::is_kiln_xattr(name)
            })
            .collect();
        Ok((kept, opaque))
    }

    fn emit(&mut self, entry: &Entry) -> Result<(), WriteError> {
        self.header.clear();
        encode(entry, &mut self.header);
        self.out.write_all(&self.header).map_err(WriteError::Output)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        self.out.write_all(bytes).map_err(WriteError::Output)
    }
}
