//! Chroot isolation (issue 24, point 5): what a sandbox is where kiln may
//! make no namespace at all — inside a CI container without
//! `CAP_SYS_ADMIN` whose seccomp profile refuses user namespaces (docker's
//! default, and `kiln run`'s). Buildah offers the same as
//! `--isolation chroot`; this is weaker than the namespaced sandbox and
//! documented so (`docs/differences.md`).
//!
//! No overlay can be mounted, so the root is a copy: the snapshots are
//! applied bottom to top into the sandbox's `rootfs/` ([`merge`]: a
//! whiteout removes what the layers below put there, an opaque directory
//! replaces theirs), the generated `/etc` files are written into it, and
//! every entry's identity is recorded ([`Baseline`]: inode and change
//! time, which no process can set back). After the program, the layer is
//! found by comparing the tree with that record ([`collect`]): a changed
//! or new entry is moved into `upper/`, a deleted one becomes a whiteout
//! (a 0:0 character device), a directory made again in place of another
//! becomes opaque — the same overlay-form upper directory the namespaced
//! sandbox leaves, so the layer writer and the snapshot store see no
//! difference. `/proc`, `/dev` and `/sys` are the kernel's mountpoints in
//! the namespaced sandbox: here they are made when missing (and so stay in
//! the layer, as there), `/dev` gets the usual nodes where the caller may
//! make them, and nothing below them enters a layer.
//!
//! There is no PID namespace to end the program's background processes:
//! [`kill_leftovers`] kills every process whose root is the sandbox's
//! (`/proc/PID/root`) and the program's session.

use crate::rootfs::resolve::Root as Resolver;
use rustix::fs::{AtFlags, FileType, Mode, Timestamps};
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Directories that are kernel mountpoints in the namespaced sandbox:
/// never looked into.
const KERNEL_DIRS: [&str; 3] = ["proc", "dev", "sys"];

/// Whether `rel/name` is `/proc`, `/dev` or `/sys`.
fn is_kernel_dir(rel: &Path, name: &OsStr) -> bool {
    rel.as_os_str().is_empty() && KERNEL_DIRS.iter().any(|k| name == *k)
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    FileType::from_raw_mode(meta.mode()) == FileType::CharacterDevice && meta.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    kiln_layer::OpaqueXattr::ALL.iter().any(|kind| {
        let mut value = [0u8; 4];
        matches!(rustix::fs::lgetxattr(path, kind.name(), &mut value), Ok(1) if value[0] == b'y')
    })
}

/// Applies the snapshot directories `lowers` (topmost first, overlay
/// form) into the empty directory `dest`, as an overlay mount of them
/// would show them to a writer: files linked to each other in a layer are
/// copied apart, since writing one through an overlay copies that one up
/// and leaves the others as they were.
pub(crate) fn merge(lowers: &[PathBuf], dest: &Path) -> io::Result<()> {
    for lower in lowers.iter().rev() {
        apply_dir(lower, dest)?;
        copy_meta(lower, dest)?;
    }
    Ok(())
}

/// One snapshot directory onto its counterpart in the root.
fn apply_dir(src: &Path, dst: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&from)?;
        if is_whiteout(&meta) {
            remove_any(&to)?;
            continue;
        }
        if meta.is_dir() {
            let keep =
                !is_opaque(&from) && std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir());
            if !keep {
                remove_any(&to)?;
                std::fs::create_dir(&to)?;
            }
            apply_dir(&from, &to)?;
            copy_meta(&from, &to)?;
            continue;
        }
        remove_any(&to)?;
        copy_node(&from, &to, &meta)?;
        copy_meta(&from, &to)?;
    }
    Ok(())
}

/// Makes `to` an entry of `from`'s type and content (not its metadata).
fn copy_node(from: &Path, to: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    let kind = FileType::from_raw_mode(meta.mode());
    match kind {
        FileType::RegularFile => std::fs::copy(from, to).map(|_| ()),
        FileType::Symlink => std::os::unix::fs::symlink(std::fs::read_link(from)?, to),
        _ => Ok(rustix::fs::mknodat(
            rustix::fs::CWD,
            to,
            kind,
            Mode::from_raw_mode(meta.mode() & 0o7777),
            meta.rdev(),
        )?),
    }
}

/// Gives `to` the owner, mode, xattrs (not overlay's: `to` keeps none
/// `from` lacks) and times of `from`.
fn copy_meta(from: &Path, to: &Path) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))?;
    if !meta.is_symlink() {
        // After the chown, which clears setuid and setgid.
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    let named = |e: io::Error, what: &str, path: &Path| {
        io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
    };
    let wanted =
        kiln_layer::content_xattrs(from).map_err(|e| named(e, "read the xattrs of", from))?;
    // Only a directory can have been there before (a layer below's, kept
    // under this one's); anything else was made just now.
    let had = match meta.is_dir() {
        true => kiln_layer::content_xattrs(to).map_err(|e| named(e, "read the xattrs of", to))?,
        false => Vec::new(),
    };
    for (name, _) in had {
        if !wanted.iter().any(|(n, _)| *n == name) {
            rustix::fs::lremovexattr(to, name.as_slice())
                .map_err(|e| named(e.into(), "remove an xattr of", to))?;
        }
    }
    for (name, value) in &wanted {
        match rustix::fs::lsetxattr(to, name.as_slice(), value, rustix::fs::XattrFlags::empty()) {
            // An LSM's label (SELinux's, Smack's) is the host's business.
            Err(_)
                if name.starts_with(b"security.") && name.as_slice() != b"security.capability" => {}
            other => other.map_err(|e| named(e.into(), "set an xattr of", to))?,
        }
    }
    set_times(to, &meta)
}

fn set_times(path: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    let at = |sec: i64, nsec: i64| rustix::fs::Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    let times = Timestamps {
        last_access: at(meta.atime(), meta.atime_nsec()),
        last_modification: at(meta.mtime(), meta.mtime_nsec()),
    };
    Ok(rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

/// Removes `path`, a whole tree if it is a directory; missing is fine
/// (`kiln_rootpath`'s removal, from the parent's descriptor).
fn remove_any(path: &Path) -> io::Result<()> {
    // Most calls find nothing there (a fresh copy): one lstat says so.
    if std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == io::ErrorKind::NotFound) {
        return Ok(());
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    let dir = rustix::fs::open(
        parent,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    kiln_rootpath::remove_any(std::os::fd::AsFd::as_fd(&dir), name)
}

/// Makes `target` inside the root when missing, as the namespaced
/// sandbox makes its mountpoints (`rootfs::resolve`, symlinks followed
/// inside the root): a directory when `dir`, else a file. Its path
/// relative to the root, as resolved.
fn make_target(root: &mut Resolver, target: &str, dir: bool) -> io::Result<PathBuf> {
    let kind = match dir {
        true => crate::rootfs::resolve::Kind::Dir,
        false => crate::rootfs::resolve::Kind::File,
    };
    let fd = root.ensure(target, kind)?;
    let here = std::fs::read_link(crate::rootfs::resolve::proc_fd_path(&fd))?;
    let top = std::fs::canonicalize(root.path())?;
    let rel = here
        .strip_prefix(&top)
        .map_err(|_| io::Error::other(format!("{target} resolves outside the root")))?;
    Ok(rel.to_path_buf())
}

/// Writes the generated `/etc` files (`(container path, contents)`) into
/// the root, resolving them inside it (a dangling `/etc/resolv.conf`
/// link gets its target made, as the namespaced sandbox's stub is).
pub(crate) fn write_etc_files(root: &Path, files: &[(String, String)]) -> io::Result<Vec<PathBuf>> {
    let mut tree = Resolver::open(root)?;
    let mut written = Vec::new();
    for (target, contents) in files {
        let rel = make_target(&mut tree, target, false)?;
        let path = root.join(&rel);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
            std::fs::write(&path, contents)?;
            written.push(rel);
        }
    }
    Ok(written)
}

/// A mount chroot isolation placed in the root.
#[derive(Debug)]
pub(crate) struct Placed {
    /// Its target as resolved, relative to the root: [`Baseline::record`]
    /// and [`collect`] leave it alone (mounted, it would never reach a
    /// layer).
    pub rel: PathBuf,
    /// A writable bind: where its changes go back, and what it held when
    /// placed.
    writable: Option<Writable>,
}

#[derive(Debug)]
struct Writable {
    source: PathBuf,
    /// The target directory's identity, checked before anything is read
    /// back: a step that replaced it (with a link out of the root, say)
    /// gets nothing returned.
    dev: u64,
    ino: u64,
    /// A file's change time when placed (a directory has a baseline).
    ctime: (i64, i64),
    baseline: Baseline,
}

/// The caller's mounts, without a mount: each target is made inside the
/// root as the namespaced sandbox makes its stubs, a bind's source copied
/// onto it with owners and modes (a socket, which cannot be copied,
/// linked), a tmpfs's an empty directory.
pub(crate) fn place_mounts(root: &Path, mounts: &[crate::Mount]) -> io::Result<Vec<Placed>> {
    let mut tree = Resolver::open(root)?;
    let mut sorted: Vec<&crate::Mount> = mounts.iter().collect();
    // Parents first, as the namespaced sandbox mounts them.
    sorted.sort_by_key(|m| crate::rootfs::depth(m.target()));
    let mut placed: Vec<Placed> = Vec::new();
    for mount in sorted {
        let (source, dir) = match mount {
            crate::Mount::Bind { source, .. } => {
                (Some(source), std::fs::metadata(source)?.is_dir())
            }
            crate::Mount::Tmpfs { .. } => (None, true),
        };
        let rel = make_target(&mut tree, mount.target(), dir)?;
        if rel.as_os_str().is_empty() {
            return Err(io::Error::other(format!(
                "the mount target {} is the root itself",
                mount.target()
            )));
        }
        let at = root.join(&rel);
        // What the image has there is hidden by the mount.
        remove_any(&at)?;
        match (mount, source) {
            (_, Some(source)) if dir => {
                std::fs::create_dir(&at)?;
                merge(std::slice::from_ref(source), &at)?;
            }
            (_, Some(source)) => {
                let meta = std::fs::metadata(source)?;
                if meta.is_file() {
                    copy_node(source, &at, &meta)?;
                    copy_meta(source, &at)?;
                } else {
                    std::fs::hard_link(source, &at).map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!(
                                "chroot isolation gives {} (not a file or directory) by a link, which {e}",
                                source.display()
                            ),
                        )
                    })?;
                }
            }
            (crate::Mount::Tmpfs { options, .. }, None) => {
                std::fs::create_dir(&at)?;
                // tmpfs(5)'s root: mode 1777 unless `mode=` says otherwise.
                let mode = options
                    .split(',')
                    .find_map(|o| o.strip_prefix("mode="))
                    .and_then(|m| u32::from_str_radix(m, 8).ok())
                    .unwrap_or(0o1777);
                std::fs::set_permissions(&at, std::fs::Permissions::from_mode(mode))?;
            }
            _ => {}
        }
        let writable = match (mount, source) {
            (
                crate::Mount::Bind {
                    readonly: false, ..
                },
                Some(source),
            ) if dir || std::fs::metadata(source)?.is_file() => {
                Some((source.clone(), std::fs::symlink_metadata(&at)?))
            }
            _ => None,
        };
        placed.push(Placed {
            rel,
            writable: writable.map(|(source, meta)| Writable {
                source,
                dev: meta.dev(),
                ino: meta.ino(),
                ctime: (meta.ctime(), meta.ctime_nsec()),
                baseline: Baseline::default(),
            }),
        });
    }
    // Each writable target's baseline, without the mounts placed inside
    // it (their contents never go back into it).
    for i in 0..placed.len() {
        if !std::fs::symlink_metadata(root.join(&placed[i].rel)).is_ok_and(|m| m.is_dir())
            || placed[i].writable.is_none()
        {
            continue;
        }
        let rel = placed[i].rel.clone();
        let inside: Vec<PathBuf> = placed
            .iter()
            .filter_map(|p| p.rel.strip_prefix(&rel).ok())
            .filter(|r| !r.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .collect();
        let baseline = Baseline::record(&root.join(&rel), false, inside)?;
        if let Some(w) = placed[i].writable.as_mut() {
            w.baseline = baseline;
        }
    }
    Ok(placed)
}

/// After the program: what the step changed in each writable bind (a
/// cache mount, `kiln run -v`) goes back to its source — changed and new
/// entries copied, deleted ones removed; nothing else is touched. The
/// target is opened without following links and must be the directory
/// placed. `scratch` is an empty directory on the root's file system.
pub(crate) fn return_mounts(root: &Path, placed: &[Placed], scratch: &Path) -> io::Result<()> {
    let tree = kiln_rootpath::Root::open(root)?;
    for (i, p) in placed.iter().enumerate() {
        let Some(w) = &p.writable else { continue };
        let flags =
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC;
        let Ok(fd) = tree.open_beneath(&p.rel, flags) else {
            continue;
        };
        let st = rustix::fs::fstat(&fd)?;
        if st.st_dev != w.dev || st.st_ino != w.ino {
            continue;
        }
        if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile {
            if (st.st_ctime, st.st_ctime_nsec as i64) != w.ctime {
                let mut from = std::fs::File::from(fd);
                let mut to = std::fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(&w.source)?;
                io::copy(&mut from, &mut to)?;
            }
            continue;
        }
        let changes = scratch.join(format!("mount-{i}"));
        std::fs::create_dir(&changes)?;
        let target = crate::rootfs::resolve::proc_fd_path(&fd);
        collect(&target, &w.baseline, &changes, true)?;
        apply_dir(&changes, &w.source)?;
    }
    Ok(())
}

/// Makes the working directory `workdir` inside the root when missing
/// (after the baseline: a real change, as in the namespaced sandbox).
pub(crate) fn make_workdir(root: &Path, workdir: &str) -> io::Result<()> {
    make_target(&mut Resolver::open(root)?, workdir, true).map(|_| ())
}

/// What the root held before the program ran: each entry's inode and
/// change time (a process can restore an mtime, never a ctime), and each
/// directory's names.
#[derive(Debug, Default)]
pub(crate) struct Baseline {
    entries: HashMap<PathBuf, Identity>,
    children: HashMap<PathBuf, Vec<OsString>>,
    /// A sandbox's root: `/proc`, `/dev` and `/sys` are mountpoints,
    /// never looked into.
    sandbox: bool,
    /// Mount targets: never looked into, never in a layer.
    skip: HashSet<PathBuf>,
}

/// An entry's identity: a file system may give a new entry the inode
/// number of one just deleted, never its birth time as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    ino: u64,
    born: Option<std::time::SystemTime>,
    ctime: (i64, i64),
    dir: bool,
}

fn identity(meta: &std::fs::Metadata) -> Identity {
    Identity {
        ino: meta.ino(),
        born: meta.created().ok(),
        ctime: (meta.ctime(), meta.ctime_nsec()),
        dir: meta.is_dir(),
    }
}

impl Baseline {
    /// Records the tree under `root`, a sandbox's root when `sandbox`,
    /// but for the mount targets `skip`.
    pub(crate) fn record(root: &Path, sandbox: bool, skip: Vec<PathBuf>) -> io::Result<Baseline> {
        let mut baseline = Baseline {
            sandbox,
            skip: skip.into_iter().collect(),
            ..Baseline::default()
        };
        baseline.walk(root, PathBuf::new())?;
        // A change time comes from the kernel's coarse clock (one tick,
        // up to 10 ms, before 6.13's fine-grained stamps): a change made
        // within the tick of the copy would keep the copy's stamp. Let
        // that tick pass before the program runs.
        let newest = baseline.entries.values().map(|i| i.ctime).max();
        if let Some((sec, nsec)) = newest {
            let newest = std::time::UNIX_EPOCH + std::time::Duration::new(sec as u64, nsec as u32);
            let until = newest + std::time::Duration::from_millis(10);
            if let Ok(wait) = until.duration_since(std::time::SystemTime::now()) {
                std::thread::sleep(wait.min(std::time::Duration::from_millis(20)));
            }
        }
        Ok(baseline)
    }

    fn walk(&mut self, root: &Path, rel: PathBuf) -> io::Result<()> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(root.join(&rel))? {
            let entry = entry?;
            let name = entry.file_name();
            let child = rel.join(&name);
            let meta = entry.metadata()?;
            if self.skip.contains(&child) {
                names.push(name);
                continue;
            }
            self.entries.insert(child.clone(), identity(&meta));
            if meta.is_dir() && !(self.sandbox && is_kernel_dir(&rel, &name)) {
                self.walk(root, child)?;
            }
            names.push(name);
        }
        self.children.insert(rel, names);
        Ok(())
    }
}

/// Makes `/proc`, `/dev` and `/sys` when missing and the usual nodes in
/// `/dev` where the caller may (`CAP_MKNOD`); after [`Baseline::record`],
/// so that new mountpoint directories stay in the layer as in the
/// namespaced sandbox.
pub(crate) fn kernel_dirs(root: &Path) -> io::Result<()> {
    for dir in KERNEL_DIRS {
        let path = root.join(dir);
        if std::fs::symlink_metadata(&path).is_err() {
            std::fs::create_dir(&path)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    let dev = root.join("dev");
    if std::fs::symlink_metadata(&dev).is_ok_and(|m| m.is_dir()) {
        // The nodes the namespaced sandbox's `/dev` has.
        for (name, major, minor) in crate::rootfs::dev::DEVICES {
            let node = dev.join(name);
            if std::fs::symlink_metadata(&node).is_ok() {
                continue;
            }
            // EPERM without CAP_MKNOD: the step then has no such node.
            let _ = rustix::fs::mknodat(
                rustix::fs::CWD,
                &node,
                FileType::CharacterDevice,
                Mode::from_raw_mode(0o666),
                rustix::fs::makedev(major as u32, minor as u32),
            );
            let _ = std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o666));
        }
    }
    Ok(())
}

/// Moves what changed under `root` since `baseline` into the empty
/// directory `upper`, in overlay form; `user_xattrs` marks opaque
/// directories with `user.overlay.opaque` instead of the trusted xattr.
/// `root` is left with what did not change.
pub(crate) fn collect(
    root: &Path,
    baseline: &Baseline,
    upper: &Path,
    user_xattrs: bool,
) -> io::Result<()> {
    let kind = match user_xattrs {
        true => kiln_layer::OpaqueXattr::User,
        false => kiln_layer::OpaqueXattr::Trusted,
    };
    let mut diff = Diff {
        root,
        upper,
        baseline,
        opaque: kind.name(),
        made: HashSet::new(),
        dirs: Vec::new(),
    };
    diff.walk(PathBuf::new(), false)?;
    // Directory times last, deepest first (adding entries changed them),
    // as they were before kiln moved anything out of them.
    for (rel, meta) in diff.dirs.iter().rev() {
        set_times(&upper.join(rel), meta)?;
    }
    Ok(())
}

struct Diff<'a> {
    root: &'a Path,
    upper: &'a Path,
    baseline: &'a Baseline,
    opaque: &'static str,
    /// Directories made in `upper` already.
    made: HashSet<PathBuf>,
    /// The same, in the order made, with the root's metadata of each
    /// before any entry was moved out of it.
    dirs: Vec<(PathBuf, std::fs::Metadata)>,
}

impl Diff<'_> {
    /// `rel` is a directory of the root; `opaque` when it or a directory
    /// above it replaced what was there: then everything below is new
    /// (what the layers below had there is hidden, whatever the baseline
    /// recorded at the same paths) and needs no whiteout.
    fn walk(&mut self, rel: PathBuf, opaque: bool) -> io::Result<()> {
        let mut present = HashSet::new();
        let entries: Vec<_> = std::fs::read_dir(self.root.join(&rel))?.collect::<Result<_, _>>()?;
        for entry in entries {
            let name = entry.file_name();
            present.insert(name.clone());
            let child = rel.join(&name);
            if self.baseline.skip.contains(&child) {
                continue;
            }
            let meta = std::fs::symlink_metadata(entry.path())?;
            let before = self.baseline.entries.get(&child).copied();
            let unchanged = !opaque && before == Some(identity(&meta));
            if self.baseline.sandbox && is_kernel_dir(&rel, &name) {
                // A mountpoint: in the layer only when the step made it.
                if before.is_none() && meta.is_dir() {
                    self.upper_dir(&child)?;
                }
                continue;
            }
            if meta.is_dir() {
                if unchanged {
                    self.walk(child, false)?;
                    continue;
                }
                self.upper_dir(&child)?;
                let now = identity(&meta);
                let replaced =
                    before.is_some_and(|b| !b.dir || b.ino != now.ino || b.born != now.born);
                if replaced {
                    rustix::fs::lsetxattr(
                        self.upper.join(&child),
                        self.opaque,
                        b"y",
                        rustix::fs::XattrFlags::empty(),
                    )?;
                }
                self.walk(child, opaque || replaced)?;
                continue;
            }
            if unchanged {
                continue;
            }
            self.upper_dir(&rel)?;
            let to = self.upper.join(&child);
            std::fs::rename(self.root.join(&child), &to)?;
            // overlayfs's own xattrs are refused to a process in the
            // namespaced sandbox; one a chrooted step set must not reach a
            // snapshot, where an overlay would obey it.
            for (name, _) in kiln_layer::read_xattrs(&to, kiln_layer::is_overlay_xattr)? {
                rustix::fs::lremovexattr(&to, name.as_slice())?;
            }
        }
        if opaque {
            return Ok(());
        }
        let gone: Vec<&OsString> = self
            .baseline
            .children
            .get(&rel)
            .map(|names| {
                names
                    .iter()
                    .filter(|n| !present.contains(*n))
                    .filter(|n| !self.baseline.skip.contains(&rel.join(n)))
                    .collect()
            })
            .unwrap_or_default();
        for name in gone {
            self.upper_dir(&rel)?;
            rustix::fs::mknodat(
                rustix::fs::CWD,
                self.upper.join(rel.join(name)),
                FileType::CharacterDevice,
                Mode::empty(),
                0,
            )
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot record the deletion of /{} (a 0:0 whiteout device needs CAP_MKNOD, and a store not on overlayfs): {e}",
                        rel.join(name).display()
                    ),
                )
            })?;
        }
        Ok(())
    }

    /// Makes `rel` (and its parents) in `upper` with the root's metadata.
    fn upper_dir(&mut self, rel: &Path) -> io::Result<()> {
        if rel.as_os_str().is_empty() || self.made.contains(rel) {
            return Ok(());
        }
        if let Some(parent) = rel.parent() {
            self.upper_dir(parent)?;
        }
        let (from, to) = (self.root.join(rel), self.upper.join(rel));
        std::fs::create_dir(&to)?;
        copy_meta(&from, &to)?;
        self.made.insert(rel.to_path_buf());
        self.dirs
            .push((rel.to_path_buf(), std::fs::symlink_metadata(&from)?));
        Ok(())
    }
}

/// Kills every process whose root is `root` or below it and every
/// process of the session `session` (the program's), until none is left;
/// whether none is. A process that left both is not found (it would need
/// `CAP_SYS_CHROOT`, which a chroot-isolated step lacks, to change its
/// root).
pub(crate) fn kill_leftovers(root: &Path, session: i32) -> bool {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    for _ in 0..100 {
        let _ = kill(Pid::from_raw(-session), Signal::SIGKILL);
        let mut found = false;
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            let Some((state, sid)) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| state_and_session(&stat))
            else {
                continue;
            };
            // A zombie is dead already; its parent reaps it.
            if state == 'Z' {
                continue;
            }
            let chrooted =
                std::fs::read_link(entry.path().join("root")).is_ok_and(|r| r.starts_with(&root));
            if chrooted || sid == session {
                found = true;
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        if !found {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// The state and session fields of a `/proc/PID/stat` line (proc(5): the
/// command name in parentheses may hold anything, so fields are counted
/// after its last `)`).
fn state_and_session(stat: &str) -> Option<(char, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state, ppid, pgrp, session.
    Some((
        fields.first()?.chars().next()?,
        fields.get(3)?.parse().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dir: &Path, files: &[(&str, &str)]) {
        for (path, contents) in files {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
    }

    fn listing(dir: &Path) -> Vec<String> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
            let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let meta = e.metadata().unwrap();
                let rel = e.path().strip_prefix(base).unwrap().display().to_string();
                if meta.is_dir() {
                    let opaque = if is_opaque(&e.path()) { " opaque" } else { "" };
                    out.push(format!("{rel}/{opaque}"));
                    walk(base, &e.path(), out);
                } else if is_whiteout(&meta) {
                    out.push(format!("{rel} whiteout"));
                } else {
                    out.push(format!(
                        "{rel}={}",
                        std::fs::read_to_string(e.path()).unwrap()
                    ));
                }
            }
        }
        let mut out = Vec::new();
        walk(dir, dir, &mut out);
        out
    }

    #[test]
    fn the_session_is_read_past_any_command_name() {
        let stat = "42 (a) b) (c) S 1 42 40 0 -1 4194560";
        assert_eq!(state_and_session(stat), Some(('S', 40)));
    }

    #[test]
    fn a_merge_shows_what_an_overlay_of_the_snapshots_shows() {
        let t = tempfile::tempdir().unwrap();
        let (low, high, dest) = (t.path().join("l"), t.path().join("h"), t.path().join("d"));
        tree(
            &low,
            &[("a/x", "1"), ("a/y", "2"), ("b/z", "3"), ("c", "4")],
        );
        tree(&high, &[("a/x", "new"), ("b/w", "5")]);
        std::fs::create_dir(&dest).unwrap();
        // b is opaque in the upper snapshot: low's b/z is hidden.
        rustix::fs::setxattr(
            high.join("b"),
            "user.overlay.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        merge(&[high, low], &dest).unwrap();
        assert_eq!(
            listing(&dest),
            ["a/", "a/x=new", "a/y=2", "b/", "b/w=5", "c=4"]
        );
    }

    #[test]
    fn the_changes_since_the_baseline_become_an_overlay_upper_directory() {
        let t = tempfile::tempdir().unwrap();
        let (root, upper) = (t.path().join("root"), t.path().join("upper"));
        tree(
            &root,
            &[
                ("keep/same", "1"),
                ("keep/edit", "1"),
                ("gone", "x"),
                ("redo/old", "o"),
                ("redo/moved/inner", "i"),
            ],
        );
        std::fs::create_dir(&upper).unwrap();
        let baseline = Baseline::record(&root, true, Vec::new()).unwrap();
        std::fs::write(root.join("keep/edit"), "2").unwrap();
        std::fs::write(root.join("keep/new"), "3").unwrap();
        std::fs::remove_file(root.join("gone")).unwrap();
        std::fs::rename(root.join("redo/moved"), root.join("moved")).unwrap();
        std::fs::remove_dir_all(root.join("redo")).unwrap();
        tree(&root, &[("redo/fresh", "f")]);
        std::fs::rename(root.join("moved"), root.join("redo/moved")).unwrap();
        std::fs::create_dir(root.join("proc")).unwrap();
        std::fs::write(root.join("proc/ignored"), "").unwrap();
        let whiteouts_allowed = rustix::fs::mknodat(
            rustix::fs::CWD,
            t.path().join("probe"),
            FileType::CharacterDevice,
            Mode::empty(),
            0,
        )
        .is_ok();
        let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        let keep_time = mtime(&root.join("keep"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        let collected = collect(&root, &baseline, &upper, true);
        if !whiteouts_allowed {
            // No CAP_MKNOD here: the deletion cannot be recorded, and says so.
            assert!(collected.unwrap_err().to_string().contains("/gone"));
            return;
        }
        collected.unwrap();
        // A directory keeps the time it had, not the one kiln's moves
        // gave it.
        assert_eq!(mtime(&upper.join("keep")), keep_time);
        // A directory made again in place holds only what is there now:
        // everything in it, however old, is in the layer.
        assert_eq!(
            listing(&upper),
            [
                "gone whiteout",
                "keep/",
                "keep/edit=2",
                "keep/new=3",
                "proc/",
                "redo/ opaque",
                "redo/fresh=f",
                "redo/moved/",
                "redo/moved/inner=i"
            ]
        );
    }
}
