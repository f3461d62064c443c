//! `ADD`'s tar auto-extraction.
//!
//! Dockerfile reference (ADD, "Adding local tar archives"): a local source
//! that is a tar archive, uncompressed or compressed with gzip, bzip2, xz
//! or zstd, is extracted into the destination instead of copied, with
//! `tar -x` semantics ("the union of whatever existed at the destination
//! path and the contents of the source tree, with conflicts resolved in
//! favor of the content being added, on a file-by-file basis"); "whether a
//! file is identified as a recognized compression format or not is done
//! solely based on the contents of the file, not the name of the file", and
//! a file that is not an archive is simply copied.
//!
//! BuildKit's rules (solver/llbsolver/file/unpack.go, unpack_root.go):
//!
//! - Only a regular file (after following the source symlink) can be an
//!   archive. It is one when its first bytes select a decompressor (or
//!   none) and the first 512 bytes that come out are a tar header with a
//!   valid checksum (Go's `tar.Reader.Next` succeeds). An empty archive
//!   (end-of-archive blocks only) is therefore *not* an archive.
//! - The destination is always a directory (created with 0755 and
//!   `--chown`); trailing slash or not does not matter.
//! - Entry names are cleaned with leading `/` removed and `..` stopping at
//!   the extraction directory (`../x` lands at `x`, as in docker 20.10's
//!   chroot extraction). Symlinks already in the
//!   extraction directory, and ones the archive creates, are followed
//!   for the entry's parents only (for a directory entry, also the last
//!   element), and always inside the extraction directory: an absolute
//!   target means that path under it, `..` stops at it. (BuildKit fails on
//!   a relative target that climbs out; kiln clamps it as chroot-based
//!   extraction, which BuildKit used before, does. Either way nothing is
//!   written outside.)
//! - Missing parents are created 0755 owned by root; an existing entry is
//!   removed (recursively) unless both it and the new one are directories,
//!   which are merged.
//! - Mode (special bits included), times and `SCHILY.xattr.*` records come
//!   from the archive, and so does the owner unless `--chown` is given:
//!   then it owns every entry and the destination directory (current
//!   BuildKit, `file/unpack.go`: the untar gets `ChownOpts`; docker 20.10
//!   kept the archive's owners). Parents the archive only implies stay
//!   root's. `--chmod` does not apply. Directory times are set last, deepest first.
//! - Exclude patterns and `.dockerignore` do not look inside archives.
//!
//! Boundary: detecting and extracting one archive. Whether a source is
//! offered for extraction is [`super::copy`]'s decision.

use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use kiln_layer::read::{BLOCK, Kind, Member, TarReader, Time, read_full};
use rustix::fs::{AtFlags, FileType, Mode, Timespec};
use rustix::io::Errno;

use super::CopyStats;
use super::error::CopyError;
use super::meta::{self, Meta, Node};
use super::owner;
use super::root::Root;

/// Whether `file` is a tar archive: the magic bytes select a decompressor
/// (kiln-layer's detection: gzip, bzip2, xz, zstd or none) and the first
/// block that comes out must be a tar header (kiln-layer's reader's rule).
/// Leaves the file positioned at its start.
pub(super) fn is_archive(file: &mut File) -> io::Result<bool> {
    file.seek(SeekFrom::Start(0))?;
    let mut block = [0u8; BLOCK];
    // Any failure to decompress or to read a whole block means "not an
    // archive": BuildKit's isArchivePath answers false on every error.
    let found = match kiln_layer::decompress(&*file) {
        Ok((_, mut reader)) => read_full(&mut reader, &mut block)
            .is_ok_and(|n| n == BLOCK && kiln_layer::read::is_header(&block)),
        Err(_) => false,
    };
    file.seek(SeekFrom::Start(0))?;
    Ok(found)
}

/// Extracts the archive `file` into the existing directory `into` of
/// `dest`, every entry owned by `chown` when it is given. `shown` names
/// the archive in errors.
pub(super) fn unpack(
    file: &File,
    dest: &Root,
    into: &Path,
    chown: Option<owner::Ids>,
    shown: &str,
    stats: &mut CopyStats,
) -> Result<(), CopyError> {
    let root = dest.subroot(into)?;
    let bad = |detail: String| CopyError::Archive {
        archive: shown.to_owned(),
        detail,
    };
    let (_, decompressed) =
        kiln_layer::decompress(file).map_err(|e| bad(format!("cannot decompress: {e}")))?;
    let mut archive = TarReader::new(decompressed);
    let mut dirs: Vec<(PathBuf, Timespec, Timespec)> = Vec::new();
    while let Some(member) = archive
        .next_member()
        .map_err(|e| bad(format!("cannot read: {e}")))?
    {
        let raw_name = member.entry.path.clone();
        let shown_name = String::from_utf8_lossy(&raw_name).into_owned();
        if let Some(flag) = member.unsupported {
            return Err(bad(format!(
                "entry {shown_name} has unsupported type {:?}",
                char::from(flag)
            )));
        }
        let Some(name) = entry_path(&raw_name) else {
            continue;
        };
        let mut info =
            EntryInfo::of(&member).map_err(|e| bad(format!("entry {shown_name}: {e}")))?;
        if let Some(ids) = chown {
            (info.uid, info.gid) = (ids.uid, ids.gid);
        }
        let kind = member.entry.kind;
        let is_dir = kind == Kind::Directory;
        let rel = root.resolve(&name, is_dir, None)?;
        let Some(parent) = rel.parent() else {
            // The extraction root itself: nothing to create.
            continue;
        };
        root.mkdir_all(parent, 0o755, None)?;
        if let Some(existing) = root
            .lstat(&rel)
            .map_err(|e| CopyError::io("lstat", root.show(&rel), e))?
            && !(existing.is_dir() && is_dir)
        {
            root.remove_all(&rel)?;
        }
        let at = root.show(&rel);
        let err = |action: &'static str| {
            let at = at.clone();
            move |e: io::Error| CopyError::io(action, at, e)
        };
        let (dir, leaf) = root.parent(&rel).map_err(err("open"))?;
        let meta = Meta {
            uid: info.uid,
            gid: info.gid,
            mode: Some(info.mode),
            atime: info.atime,
            mtime: info.mtime,
        };
        // A written file stays open for its extended attributes.
        let mut written: Option<File> = None;
        match kind {
            Kind::Directory => {
                match rustix::fs::mkdirat(&dir, leaf, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(err("mkdir")(e.into())),
                }
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                dirs.push((rel.clone(), info.atime, info.mtime));
                stats.dirs += 1;
            }
            Kind::Regular { .. } => {
                let out = meta::create_new_at(dir.as_fd(), leaf).map_err(err("create"))?;
                // Blocks of zeros stay holes: a sparse member extracts sparse.
                let mut sparse = kiln_layer::HoleWriter::new(File::from(out), 1 << 20);
                let bytes = io::copy(&mut archive.data(), &mut sparse)
                    .map_err(|e| bad(format!("entry {shown_name}: {e}")))?;
                let out = sparse.finish().map_err(err("write"))?;
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                stats.files += 1;
                stats.bytes += bytes;
                written = Some(out);
            }
            Kind::Symlink { target } => {
                if target.is_empty() {
                    return Err(bad(format!("symlink {shown_name} has no target")));
                }
                rustix::fs::symlinkat(target.as_slice(), &dir, leaf)
                    .map_err(|e| err("symlink")(e.into()))?;
                let meta = Meta { mode: None, ..meta };
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                stats.symlinks += 1;
            }
            Kind::Hardlink { target } => {
                let shown_target = String::from_utf8_lossy(&target).into_owned();
                let target = entry_path(&target).ok_or_else(|| {
                    bad(format!(
                        "hard link {shown_name} points outside the extraction root ({shown_target})"
                    ))
                })?;
                let target = root.resolve(&target, false, None)?;
                let (target_dir, target_leaf) = root.parent(&target).map_err(err("link"))?;
                rustix::fs::linkat(&target_dir, target_leaf, &dir, leaf, AtFlags::empty())
                    .map_err(|e| err("link")(e.into()))?;
                let linked_is_symlink = meta::stat_at(dir.as_fd(), leaf)
                    .map_err(err("lstat"))?
                    .is_some_and(|s| s.is_symlink());
                let meta = if linked_is_symlink {
                    Meta { mode: None, ..meta }
                } else {
                    meta
                };
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                stats.hardlinks += 1;
            }
            Kind::Char { .. } | Kind::Block { .. } | Kind::Fifo => {
                let (file_type, dev) = match kind {
                    Kind::Char { major, minor } => {
                        (FileType::CharacterDevice, rustix::fs::makedev(major, minor))
                    }
                    Kind::Block { major, minor } => {
                        (FileType::BlockDevice, rustix::fs::makedev(major, minor))
                    }
                    _ => (FileType::Fifo, 0),
                };
                let device = match kind {
                    Kind::Char { major, minor } => Some(kiln_layer::Device::Char(major, minor)),
                    Kind::Block { major, minor } => Some(kiln_layer::Device::Block(major, minor)),
                    _ => None,
                };
                match device {
                    // A user namespace may not make devices: rootless kiln
                    // keeps a placeholder the layer writer archives as the
                    // device (`kiln_layer`'s `device`).
                    Some(device) if kiln_runtime::isolation::unprivileged_store() => {
                        let file = meta::create_new_at(dir.as_fd(), leaf).map_err(err("create"))?;
                        Node::Fd(file.as_fd())
                            .set(kiln_layer::DEVICE_XATTR.as_bytes(), &device.encode())
                            .map_err(err("mark the device placeholder"))?;
                    }
                    _ => rustix::fs::mknodat(
                        &dir,
                        leaf,
                        file_type,
                        Mode::from_raw_mode(info.mode),
                        dev,
                    )
                    .map_err(|e| err("mknod")(e.into()))?,
                }
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                stats.special += 1;
            }
        }
        // After the owner: chown(2) drops security.capability.
        let node = match &written {
            Some(file) => Node::Fd(file.as_fd()),
            None => Node::at(dir.as_fd(), leaf),
        };
        // kiln's own xattrs (a device placeholder's) never come from an
        // archive.
        for (key, value) in &member.entry.xattrs {
            if kiln_layer::is_kiln_xattr(key) {
                stats.xattrs_skipped += 1;
                continue;
            }
            if node.set(key, value).is_err() {
                stats.xattrs_skipped += 1;
            }
        }
    }
    // Entries created in a directory change its times: set them last,
    // deepest (latest) first.
    for (rel, atime, mtime) in dirs.iter().rev() {
        let (dir, leaf) = root
            .parent(rel)
            .map_err(|e| CopyError::io("open", root.show(rel), e))?;
        meta::times_at(dir.as_fd(), leaf, *atime, *mtime)
            .map_err(|e| CopyError::io("set times of", root.show(rel), e))?;
    }
    stats.archives += 1;
    Ok(())
}

/// An entry name cleaned as BuildKit's `cleanRootTarPath`: leading `/`
/// dropped, `.` and empty elements removed, `..` applied and stopping at
/// the extraction directory, as docker 20.10's extraction (a chroot)
/// clamps it: `../x` lands at `x`. `None` for the extraction root itself.
fn entry_path(raw: &[u8]) -> Option<PathBuf> {
    Some(kiln_rootpath::relative(raw)).filter(|p| !p.as_os_str().is_empty())
}

/// The owner, mode and times an extracted entry gets.
struct EntryInfo {
    uid: u32,
    gid: u32,
    mode: u32,
    atime: Timespec,
    mtime: Timespec,
}

impl EntryInfo {
    fn of(member: &Member) -> io::Result<EntryInfo> {
        let entry = &member.entry;
        // Root in the archive is root as this process can give it (BuildKit
        // maps header ids through its identity mapping the same way).
        let (root_uid, root_gid) = owner::root_ids();
        let id = |id: u64, what: &str, root: u32| match u32::try_from(id) {
            Ok(0) => Ok(root),
            Ok(id) => Ok(id),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{what} out of range"),
            )),
        };
        let time = |t: Time| Timespec {
            tv_sec: t.secs,
            tv_nsec: t.nanos.into(),
        };
        Ok(EntryInfo {
            uid: id(entry.uid, "uid", root_uid)?,
            gid: id(entry.gid, "gid", root_gid)?,
            mode: entry.mode,
            atime: time(member.atime.unwrap_or(member.mtime)),
            mtime: time(member.mtime),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_stop_at_the_extraction_directory() {
        let path = |s: &str| entry_path(s.as_bytes());
        assert_eq!(path("a/b"), Some(PathBuf::from("a/b")));
        assert_eq!(path("/etc/passwd"), Some(PathBuf::from("etc/passwd")));
        assert_eq!(path("./a/../b/"), Some(PathBuf::from("b")));
        assert_eq!(path("./"), None);
        assert_eq!(path("/"), None);
        // `..` stops at the extraction directory (docker 20.10 clamps).
        assert_eq!(path("../x"), Some(PathBuf::from("x")));
        assert_eq!(path("a/../../x"), Some(PathBuf::from("x")));
        assert_eq!(path("/../x"), Some(PathBuf::from("x")));
    }
}
