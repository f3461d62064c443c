//! Shared helpers: the root check, tree building and tree descriptions.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use kiln_layer::{Compression, SourceKind, UnpackOptions, WriteOptions, WrittenLayer};
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, XattrFlags};

/// Whether a test that needs root may run (kiln-testkit's rule: a loud
/// skip, a failure under `CI=true`).
pub fn root_or_skip(test: &str) -> bool {
    kiln_testkit::require_root(
        test,
        "mknod, chown, trusted.* xattrs and overlay mounts",
        &[],
    )
}

/// One file system object, as compared between trees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: NodeKind,
    /// `07777` bits (not for symlinks, whose mode Linux ignores).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// For a multiply-linked non-directory: the first path (sorted) of its
    /// inode.
    pub link: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    File(String),
    Symlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
    Socket,
}

/// Every object under `root` (not the root itself), by relative path.
pub fn describe(root: &Path) -> BTreeMap<Vec<u8>, Node> {
    describe_except(root, &[])
}

/// As [`describe`], skipping the subtrees named in `skip` (relative).
pub fn describe_except(root: &Path, skip: &[&str]) -> BTreeMap<Vec<u8>, Node> {
    let mut out = BTreeMap::new();
    let mut first: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let mut names: Vec<_> = std::fs::read_dir(root.join(&rel))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let rel = rel.join(&name);
            if skip.iter().any(|s| Path::new(s) == rel) {
                continue;
            }
            let path = root.join(&rel);
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let st = rustix::fs::lstat(&path).unwrap();
            let ft = FileType::from_raw_mode(st.st_mode);
            let rdev = meta.rdev();
            let kind = match ft {
                FileType::Directory => {
                    stack.push(rel.clone());
                    NodeKind::Dir
                }
                FileType::RegularFile => {
                    NodeKind::File(kiln_oci::Digest::of(&std::fs::read(&path).unwrap()).to_string())
                }
                FileType::Symlink => NodeKind::Symlink(
                    std::fs::read_link(&path)
                        .unwrap()
                        .as_os_str()
                        .as_bytes()
                        .to_vec(),
                ),
                FileType::CharacterDevice => {
                    NodeKind::Char(rustix::fs::major(rdev), rustix::fs::minor(rdev))
                }
                FileType::BlockDevice => {
                    NodeKind::Block(rustix::fs::major(rdev), rustix::fs::minor(rdev))
                }
                FileType::Fifo => NodeKind::Fifo,
                _ => NodeKind::Socket,
            };
            let key = rel.as_os_str().as_bytes().to_vec();
            let link = if ft != FileType::Directory && meta.nlink() > 1 {
                Some(
                    first
                        .entry((meta.dev(), meta.ino()))
                        .or_insert_with(|| key.clone())
                        .clone(),
                )
            } else {
                None
            };
            out.insert(
                key,
                Node {
                    kind,
                    mode: if ft == FileType::Symlink {
                        0
                    } else {
                        meta.permissions().mode() & 0o7777
                    },
                    uid: meta.uid(),
                    gid: meta.gid(),
                    mtime: meta.mtime(),
                    xattrs: xattrs(&path),
                    link,
                },
            );
        }
    }
    out
}

/// All xattrs of `path` (not following it), sorted.
pub fn xattrs(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut list = vec![0u8; 65536];
    let n = match rustix::fs::llistxattr(path, &mut list[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Vec::new(),
        Err(e) => panic!("llistxattr {}: {e}", path.display()),
    };
    let mut out = Vec::new();
    for name in list[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut value = vec![0u8; 65536];
        let len = rustix::fs::lgetxattr(path, name, &mut value[..]).unwrap();
        out.push((name.to_vec(), value[..len].to_vec()));
    }
    out.sort();
    out
}

pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(path, name, value, XattrFlags::empty()).unwrap();
}

pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn mknod(path: &Path, ft: FileType, mode: u32, major: u32, minor: u32) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        ft,
        Mode::from_raw_mode(mode),
        rustix::fs::makedev(major, minor),
    )
    .unwrap();
}

/// Sets the mtime of `path` (not following it).
pub fn set_mtime(path: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &Timestamps {
            last_access: t,
            last_modification: t,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Sets every mtime under `root` to `base + i`, `i` the path's rank in
/// byte order (so equal trees get equal times), children before their
/// directories so directory times stick.
pub fn set_all_mtimes(root: &Path, base: i64) {
    let mut paths = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if std::fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            paths.push(path);
        }
    }
    paths.sort_by(|a, b| a.as_os_str().as_bytes().cmp(b.as_os_str().as_bytes()));
    let mut ranked: Vec<(usize, PathBuf)> = paths.into_iter().enumerate().collect();
    ranked.sort_by_key(|(_, p)| std::cmp::Reverse(p.components().count()));
    for (i, path) in ranked {
        set_mtime(&path, base + (i % 1000) as i64);
    }
}

/// Writes `root` into memory as one layer.
pub fn write(
    root: &Path,
    compression: Compression,
    source: SourceKind,
    epoch: Option<i64>,
) -> (WrittenLayer, Vec<u8>) {
    let mut blob = Vec::new();
    let options = WriteOptions {
        compression,
        source,
        source_date_epoch: epoch,
        device_placeholders: true,
    };
    let layer = kiln_layer::write_layer(root, &options, &mut blob).unwrap();
    (layer, blob)
}

/// Unpacks `blob` into a new directory `dest`.
pub fn unpack(blob: &[u8], dest: &Path) -> kiln_layer::Unpacked {
    std::fs::create_dir_all(dest).unwrap();
    kiln_layer::unpack_layer(blob, dest, &UnpackOptions::default()).unwrap()
}

/// Entry names of a plain tar, read with the tar crate (an independent
/// reader).
pub fn tar_names(tar: &[u8]) -> Vec<Vec<u8>> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path_bytes().into_owned())
        .collect()
}

pub fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

/// A mount that is undone when dropped (also when a test panics).
pub struct Mount(pub PathBuf);

impl Mount {
    pub fn overlay(options: &str, target: &Path) -> Mount {
        let status = std::process::Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", options])
            .arg(target)
            .status()
            .unwrap();
        assert!(status.success(), "mount -t overlay -o {options} failed");
        Mount(target.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}
