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
//! - Owner, mode (special bits included), times and `SCHILY.xattr.*`
//!   records come from the archive; `--chown` only owns the destination
//!   directory it creates (docker 20.10 keeps the archive's owners), and
//!   `--chmod` does not apply. Directory times are set last, deepest first.
//! - Exclude patterns and `.dockerignore` do not look inside archives.
//!
//! Boundary: detecting and extracting one archive. Whether a source is
//! offered for extraction is [`super::copy`]'s decision.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec};
use rustix::io::Errno;
use tar::EntryType;

use super::CopyStats;
use super::error::CopyError;
use super::meta::{self, Meta, Node};
use super::owner;
use super::root::Root;

/// How an archive is compressed, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compression {
    Plain,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Compression {
    /// The compression whose magic `head` starts with (containerd's
    /// `DetectCompression`, which BuildKit's `archiveutil` uses).
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b, 0x08]) {
            Compression::Gzip
        } else if head.starts_with(b"BZh") {
            Compression::Bzip2
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Compression::Xz
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::Plain
        }
    }

    /// A reader of the decompressed stream. Concatenated streams are read
    /// through, as Go's readers do.
    fn reader<'r>(self, file: &'r File) -> io::Result<Box<dyn Read + 'r>> {
        Ok(match self {
            Compression::Plain => Box::new(file),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(file)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
        })
    }
}

/// The compression of `file` if it is a tar archive, `None` if it is not.
/// Leaves the file positioned at its start.
pub(super) fn detect(file: &mut File) -> io::Result<Option<Compression>> {
    let mut head = [0u8; 6];
    let got = read_full(file, &mut head)?;
    file.seek(SeekFrom::Start(0))?;
    let compression = Compression::sniff(&head[..got]);
    let mut block = [0u8; 512];
    // Any failure to decompress or to read a whole block means "not an
    // archive": BuildKit's isArchivePath answers false on every error.
    let is_tar = match compression.reader(file) {
        Ok(mut reader) => read_full(&mut reader, &mut block).is_ok_and(|n| n == block.len()),
        Err(_) => false,
    } && is_tar_header(&block);
    file.seek(SeekFrom::Start(0))?;
    Ok(is_tar.then_some(compression))
}

/// Reads until `buf` is full or the input ends; how much it read.
pub(super) fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether a 512-byte block is a tar header as Go's reader accepts it: not
/// all zeros, and the checksum field equals the unsigned or the signed sum
/// of the block with that field read as spaces.
fn is_tar_header(block: &[u8; 512]) -> bool {
    if block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = &block[148..156];
    let Some(recorded) = parse_octal(field) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    recorded == unsigned || recorded == signed
}

/// Go's `parser.parseOctal`: spaces and NULs around the digits ignored,
/// the text ending at the first NUL.
fn parse_octal(field: &[u8]) -> Option<i64> {
    let trimmed: &[u8] = {
        let start = field
            .iter()
            .position(|b| *b != b' ' && *b != 0)
            .unwrap_or(field.len());
        let end = field
            .iter()
            .rposition(|b| *b != b' ' && *b != 0)
            .map_or(start, |e| e + 1);
        &field[start..end]
    };
    if trimmed.is_empty() {
        return Some(0);
    }
    let text = trimmed.split(|b| *b == 0).next().unwrap_or_default();
    let text = std::str::from_utf8(text).ok()?;
    i64::from_str_radix(text, 8).ok()
}

/// Extracts the archive `file` (compressed as `compression`) into the
/// existing directory `into` of `dest`. `shown` names the archive in
/// errors.
pub(super) fn unpack(
    file: &File,
    compression: Compression,
    dest: &Root,
    into: &Path,
    shown: &str,
    stats: &mut CopyStats,
) -> Result<(), CopyError> {
    let root = dest.subroot(into)?;
    let bad = |detail: String| CopyError::Archive {
        archive: shown.to_owned(),
        detail,
    };
    let reader = compression
        .reader(file)
        .map_err(|e| bad(format!("cannot decompress: {e}")))?;
    let mut archive = tar::Archive::new(reader);
    let mut dirs: Vec<(PathBuf, Timespec, Timespec)> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("cannot read: {e}")))?;
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            continue;
        }
        let raw_name = entry.path_bytes().into_owned();
        let shown_name = String::from_utf8_lossy(&raw_name).into_owned();
        let Some(name) = entry_path(&raw_name)
            .map_err(|()| bad(format!("entry {shown_name} is outside the extraction root")))?
        else {
            continue;
        };
        let info =
            EntryInfo::read(&mut entry).map_err(|e| bad(format!("entry {shown_name}: {e}")))?;
        let is_dir = kind == EntryType::Directory;
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
            EntryType::Directory => {
                match rustix::fs::mkdirat(&dir, leaf, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(err("mkdir")(e.into())),
                }
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                dirs.push((rel.clone(), info.atime, info.mtime));
                stats.dirs += 1;
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                let out = rustix::fs::openat(
                    &dir,
                    leaf,
                    OFlags::WRONLY
                        | OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )
                .map_err(|e| err("create")(e.into()))?;
                let mut out = File::from(out);
                let bytes = io::copy(&mut entry, &mut out)
                    .map_err(|e| bad(format!("entry {shown_name}: {e}")))?;
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                stats.files += 1;
                stats.bytes += bytes;
                written = Some(out);
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .ok_or_else(|| bad(format!("symlink {shown_name} has no target")))?;
                rustix::fs::symlinkat(target.as_slice(), &dir, leaf)
                    .map_err(|e| err("symlink")(e.into()))?;
                let meta = Meta { mode: None, ..meta };
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                stats.symlinks += 1;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| t.into_owned())
                    .ok_or_else(|| bad(format!("hard link {shown_name} has no target")))?;
                let shown_target = String::from_utf8_lossy(&target).into_owned();
                let target = entry_path(&target).ok().flatten().ok_or_else(|| {
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
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let file_type = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rustix::fs::makedev(info.major, info.minor);
                rustix::fs::mknodat(&dir, leaf, file_type, Mode::from_raw_mode(info.mode), dev)
                    .map_err(|e| err("mknod")(e.into()))?;
                meta::apply_at(dir.as_fd(), leaf, &meta).map_err(err("set metadata of"))?;
                stats.special += 1;
            }
            other => {
                return Err(bad(format!(
                    "entry {shown_name} has unsupported type {:?}",
                    other.as_byte() as char
                )));
            }
        }
        // After the owner: chown(2) drops security.capability.
        let node = match &written {
            Some(file) => Node::Fd(file.as_fd()),
            None => Node::at(dir.as_fd(), leaf),
        };
        for (key, value) in &info.xattrs {
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
/// dropped, `.` and empty elements removed, `..` applied. `Ok(None)` for
/// the extraction root itself, `Err` for a name that climbs out of it.
fn entry_path(raw: &[u8]) -> Result<Option<PathBuf>, ()> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for element in raw.split(|b| *b == b'/') {
        match element {
            b"" | b"." => {}
            // `..` stops at the extraction directory, as docker 20.10's
            // extraction (a chroot) clamps it: `../x` lands at `x`.
            b".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(PathBuf::from(OsString::from_vec(parts.join(&b'/')))))
}

/// What an entry's header (and its PAX records) say about it.
struct EntryInfo {
    uid: u32,
    gid: u32,
    mode: u32,
    atime: Timespec,
    mtime: Timespec,
    major: u32,
    minor: u32,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl EntryInfo {
    fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<EntryInfo> {
        let header = entry.header();
        let mode = header.mode()? & 0o7777;
        let mut uid = header.uid()?;
        let mut gid = header.gid()?;
        let mut mtime = Timespec {
            tv_sec: i64::try_from(header.mtime()?).unwrap_or(i64::MAX),
            tv_nsec: 0,
        };
        // Only device entries carry numbers; other writers leave the fields
        // empty, which Go's reader (and so BuildKit) takes as 0.
        let (major, minor) = match header.entry_type() {
            EntryType::Char | EntryType::Block => (
                header.device_major()?.unwrap_or(0),
                header.device_minor()?.unwrap_or(0),
            ),
            _ => (0, 0),
        };
        let mut atime = None;
        let mut xattrs = Vec::new();
        if let Some(records) = entry.pax_extensions()? {
            for record in records {
                let record = record?;
                let value = record.value_bytes();
                match record.key_bytes() {
                    b"uid" => uid = parse_number(value)?,
                    b"gid" => gid = parse_number(value)?,
                    b"mtime" => mtime = parse_pax_time(value)?,
                    b"atime" => atime = Some(parse_pax_time(value)?),
                    key => {
                        if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                            xattrs.push((name.to_vec(), value.to_vec()));
                        }
                    }
                }
            }
        }
        // Root in the archive is root as this process can give it (BuildKit
        // maps header ids through its identity mapping the same way). The
        // entries keep the archive's owners even with `--chown`, as docker
        // 20.10's BuildKit extracts them.
        let (root_uid, root_gid) = owner::root_ids();
        let (uid, gid) = (
            match u32::try_from(uid).map_err(|_| invalid("uid out of range"))? {
                0 => root_uid,
                uid => uid,
            },
            match u32::try_from(gid).map_err(|_| invalid("gid out of range"))? {
                0 => root_gid,
                gid => gid,
            },
        );
        Ok(EntryInfo {
            uid,
            gid,
            mode,
            atime: atime.unwrap_or(mtime),
            mtime,
            major,
            minor,
            xattrs,
        })
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn parse_number(value: &[u8]) -> io::Result<u64> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| invalid("bad number in PAX record"))
}

/// A PAX time: decimal seconds with an optional fraction (`1700000000.5`).
fn parse_pax_time(value: &[u8]) -> io::Result<Timespec> {
    let text = std::str::from_utf8(value).map_err(|_| invalid("bad PAX time"))?;
    let (secs, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let tv_sec: i64 = secs.parse().map_err(|_| invalid("bad PAX time"))?;
    let mut digits: String = frac.chars().take(9).collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(invalid("bad PAX time"));
    }
    while digits.len() < 9 {
        digits.push('0');
    }
    let mut tv_nsec: i64 = digits.parse().map_err(|_| invalid("bad PAX time"))?;
    // "-1.5" is 1.5 s before the epoch: whole seconds down, fraction up.
    let tv_sec = if secs.starts_with('-') && tv_nsec > 0 {
        tv_nsec = 1_000_000_000 - tv_nsec;
        tv_sec - 1
    } else {
        tv_sec
    };
    Ok(Timespec { tv_sec, tv_nsec })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_pick_the_decompressor() {
        assert_eq!(
            Compression::sniff(&[0x1f, 0x8b, 0x08, 0]),
            Compression::Gzip
        );
        assert_eq!(Compression::sniff(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(
            Compression::sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Compression::Xz
        );
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"ustar"), Compression::Plain);
        assert_eq!(Compression::sniff(&[0x1f]), Compression::Plain);
    }

    #[test]
    fn entry_names_stop_at_the_extraction_directory() {
        let path = |s: &str| entry_path(s.as_bytes());
        assert_eq!(path("a/b"), Ok(Some(PathBuf::from("a/b"))));
        assert_eq!(path("/etc/passwd"), Ok(Some(PathBuf::from("etc/passwd"))));
        assert_eq!(path("./a/../b/"), Ok(Some(PathBuf::from("b"))));
        assert_eq!(path("./"), Ok(None));
        assert_eq!(path("/"), Ok(None));
        // `..` stops at the extraction directory (docker 20.10 clamps).
        assert_eq!(path("../x"), Ok(Some(PathBuf::from("x"))));
        assert_eq!(path("a/../../x"), Ok(Some(PathBuf::from("x"))));
        assert_eq!(path("/../x"), Ok(Some(PathBuf::from("x"))));
    }

    #[test]
    fn octal_fields_like_go() {
        assert_eq!(parse_octal(b"0000644\0"), Some(0o644));
        assert_eq!(parse_octal(b"  1234 \0"), Some(0o1234));
        assert_eq!(parse_octal(b"\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(parse_octal(b"12x4\0\0\0\0"), None);
    }

    #[test]
    fn pax_times() {
        let t = parse_pax_time(b"1700000000.25").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 250_000_000));
        let t = parse_pax_time(b"42").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (42, 0));
        let t = parse_pax_time(b"-1.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (-2, 500_000_000));
        assert!(parse_pax_time(b"x").is_err());
    }

    #[test]
    fn headers_need_a_valid_checksum() {
        let mut header = tar::Header::new_ustar();
        header.set_path("a.txt").unwrap();
        header.set_size(0);
        header.set_cksum();
        let mut block = [0u8; 512];
        block.copy_from_slice(header.as_bytes());
        assert!(is_tar_header(&block));
        block[0] ^= 1;
        assert!(!is_tar_header(&block), "corrupted name breaks the checksum");
        assert!(
            !is_tar_header(&[0u8; 512]),
            "zero block is the end of an archive"
        );
    }
}
