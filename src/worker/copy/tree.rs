//! Copying one source (a file, symlink, special file or whole directory
//! tree) to its target path, with `cp -a` semantics as BuildKit defines
//! them (fsutil copy/copy.go `copy`, `copyDirectory`, `createParentDirs`).
//!
//! What happens to each entry:
//!
//! - A non-directory replaces whatever non-directory is at its target
//!   (removed first, so a symlink there is replaced, never written
//!   through); a directory there is an error ("cannot replace directory
//!   ... with a file"). Regular files are copied by content, symlinks as
//!   symlinks (their target text unchanged, never followed), device nodes,
//!   FIFOs and sockets recreated with mknod(2).
//! - A directory is merged into an existing directory and created
//!   otherwise; anything else in the way is an error ("cannot copy to
//!   non-directory"). A directory *below* the copied root that already
//!   exists takes the source's metadata, as with `tar -x`; the target
//!   directory itself, when it existed, keeps its own.
//! - Regular files that are hard links of one another within the source
//!   (same inode, seen during this one copy) are hard-linked at the
//!   destination too, as fsutil's `getLinkSource` does.
//! - Every copied entry then gets its metadata ([`super::meta`]): owner
//!   (`--chown`, else the source's or root, see [`super::CopySource`]),
//!   mode ([`super::mode`]), the source's atime and mtime, and its extended
//!   attributes. Directories get theirs after their contents, so the
//!   copied mtime is not disturbed by the entries added to them.
//!
//! Filters decide what is copied below the root, each seeing the path it is
//! defined on: `.dockerignore` the real path in the build context,
//! `--exclude` and `--parents` the path relative to the copied source
//! (both moby/patternmatcher patterns, as fsutil applies them). A
//! directory that is filtered out but may still contain wanted entries is
//! walked, and created only when one of them is copied (fsutil's delayed
//! "parent dirs").
//!
//! All access goes through directory descriptors: a source directory is
//! opened with `O_NOFOLLOW` and read entry by entry, targets are created
//! with `*at` calls relative to the open target directory, so neither side
//! can be redirected out of its root mid-copy.
//!
//! Boundary: one source to one target. Finding sources is
//! [`super::sources`], choosing the target [`super::dest`].

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use kiln_dockerignore::{DirState, Matcher};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::CopyStats;
use super::error::CopyError;
use super::ignore::{Ignore, slash};
use super::meta::{self, Meta, Node, Stat};
use super::mode::Chmod;
use super::owner::Ids;
use super::reuse::Reuse;
use super::root::{Root, read_dir_sorted};
use super::sources::Source;

/// How entries are copied and which are.
pub(super) struct Options<'a> {
    /// Owner of every copied entry; `None` keeps each source entry's own.
    pub owner: Option<Ids>,
    /// Permission bits of copied entries.
    pub chmod: &'a Chmod,
    /// `.dockerignore` of the source (build context only).
    pub ignore: Option<&'a Ignore<'a>>,
    /// `--exclude` patterns.
    pub exclude: Option<&'a Matcher>,
    /// `--parents`: only paths matching (or below a match) are copied.
    pub include: Option<&'a Matcher>,
    /// The source is the build context as a client sends it: a socket
    /// there arrives as an empty regular file with the socket's
    /// permission bits (fsutil clears the socket bit; a socket cannot be
    /// sent), where another stage's socket is made again.
    pub context: bool,
}

/// Copies `source` (from `src`) to `target` (in `dest`).
pub(super) fn copy(
    src: &Root,
    source: &Source,
    dest: &Root,
    target: &Path,
    options: &Options<'_>,
    stats: &mut CopyStats,
    reuse: Option<&mut Reuse<'_>>,
) -> Result<(), CopyError> {
    let mut walker = Walker {
        ctx: Ctx {
            src,
            dest,
            options,
            stats,
            inodes: HashMap::new(),
            reuse,
        },
        levels: Vec::new(),
    };
    if source.stat.is_dir() {
        walker.copy_root_dir(source, target)
    } else {
        let (src_dir, src_name) = src
            .parent(&source.path)
            .map_err(|e| CopyError::io("open", src.show(&source.path), e))?;
        let (dest_dir, dest_name) = dest
            .parent(target)
            .map_err(|e| CopyError::io("open", dest.show(target), e))?;
        walker.ctx.copy_leaf(
            (src_dir.as_fd(), src_name, &source.path),
            &source.stat,
            (dest_dir.as_fd(), dest_name, target),
            false,
        )
    }
}

/// Whether a directory being walked is copied as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Copied: created or merged, then given the source's metadata.
    Copied,
    /// Filtered out but walked: created only when something below is
    /// copied. With `full`, it then counts as copied (`.dockerignore`: the
    /// context holds the directory itself once a child is re-included);
    /// otherwise it is only a parent, as fsutil's delayed parent dirs.
    Parent { full: bool },
}

/// Per-directory states of the pattern filters.
#[derive(Debug, Clone, Default)]
pub(super) struct States {
    ignore: Option<DirState>,
    exclude: Option<DirState>,
    include: Option<DirState>,
}

impl States {
    /// The states at the copied root `rel` (a real path in the source).
    pub(super) fn root(options: &Options<'_>, rel: &Path) -> States {
        States {
            ignore: options.ignore.map(|i| i.state(rel)),
            exclude: options.exclude.map(Matcher::root),
            include: options.include.map(Matcher::root),
        }
    }
}

/// A directory on the path from the copied root to the current entry.
struct Level {
    src_fd: OwnedFd,
    /// Real path in the source root (what `.dockerignore` matches).
    src_rel: PathBuf,
    src_stat: Stat,
    /// Path below the copied root (what `--exclude`/`--parents` match).
    below: PathBuf,
    dest_rel: PathBuf,
    /// Open once the target directory exists.
    dest_fd: Option<OwnedFd>,
    kind: Kind,
    /// The target directory was created by this copy.
    created: bool,
    states: States,
}

/// What the filters make of one entry below the copied root.
pub(super) enum Decision {
    /// Not copied, not walked.
    Skip,
    /// Copied (a directory: with everything below that is not filtered).
    Copy,
    /// A directory filtered out but walked for entries that are wanted.
    Parent { full: bool },
}

/// What every entry's copy needs, apart from the directory stack (kept
/// separate so entries can be copied while the stack is borrowed).
struct Ctx<'a, 's, 'r> {
    src: &'a Root,
    dest: &'a Root,
    options: &'a Options<'a>,
    stats: &'s mut CopyStats,
    /// Source inode (device, inode) to the target of its first copy.
    inodes: HashMap<(u32, u32, u64), PathBuf>,
    /// Where unchanged files may be linked from instead.
    reuse: Option<&'s mut Reuse<'r>>,
}

struct Walker<'a, 's, 'r> {
    ctx: Ctx<'a, 's, 'r>,
    levels: Vec<Level>,
}

impl Walker<'_, '_, '_> {
    fn copy_root_dir(&mut self, source: &Source, target: &Path) -> Result<(), CopyError> {
        let (src, dest, options) = (self.ctx.src, self.ctx.dest, self.ctx.options);
        let src_fd = src
            .dir(&source.path)
            .map_err(|e| CopyError::io("open", src.show(&source.path), e))?;
        let err = |e| CopyError::io("mkdir", dest.show(target), e);
        let created = match dest.lstat(target).map_err(err)? {
            Some(st) if st.is_dir() => false,
            Some(_) => {
                return Err(CopyError::NotADirectory {
                    path: dest.show(target),
                });
            }
            None => {
                let (parent, name) = dest.parent(target).map_err(err)?;
                rustix::fs::mkdirat(&parent, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| err(e.into()))?;
                true
            }
        };
        let dest_fd = dest.dir(target).map_err(err)?;
        self.ctx.stats.dirs += 1;
        self.levels.push(Level {
            src_fd,
            src_rel: source.path.clone(),
            src_stat: source.stat,
            below: PathBuf::new(),
            dest_rel: target.to_path_buf(),
            dest_fd: Some(dest_fd),
            kind: Kind::Copied,
            created,
            states: States::root(options, &source.path),
        });
        let walked = self.copy_children();
        let level = self.levels.pop();
        walked?;
        // The target directory keeps its metadata when it existed (fsutil
        // passes overwriteTargetMetadata=false for the copy's root).
        match level {
            Some(level) if level.created => self.ctx.finish_copied(&level),
            _ => Ok(()),
        }
    }

    /// Copies the entries of the innermost level.
    fn copy_children(&mut self) -> Result<(), CopyError> {
        let idx = self.levels.len() - 1;
        let names = {
            let level = &self.levels[idx];
            read_dir_sorted(level.src_fd.as_fd()).map_err(|e| {
                CopyError::io("read directory", self.ctx.src.show(&level.src_rel), e)
            })?
        };
        for name in names {
            self.copy_child(idx, &name)?;
        }
        Ok(())
    }

    fn copy_child(&mut self, idx: usize, name: &OsStr) -> Result<(), CopyError> {
        let level = &self.levels[idx];
        let src_rel = level.src_rel.join(name);
        let below = level.below.join(name);
        let Some(stat) = meta::stat_at(level.src_fd.as_fd(), name)
            .map_err(|e| CopyError::io("lstat", self.ctx.src.show(&src_rel), e))?
        else {
            // Gone since the directory was read.
            return Ok(());
        };
        let (decision, states) = decide(self.ctx.options, &level.states, &src_rel, &below, &stat);
        let kind = match decision {
            Decision::Skip => return Ok(()),
            Decision::Copy => Kind::Copied,
            Decision::Parent { full } => Kind::Parent { full },
        };
        if stat.is_dir() {
            return self.copy_dir(idx, name, src_rel, below, stat, kind, states);
        }
        self.ensure_levels(idx)?;
        let level = &self.levels[idx];
        let Some(dest_fd) = level.dest_fd.as_ref() else {
            return Ok(());
        };
        let dest_rel = level.dest_rel.join(name);
        self.ctx.copy_leaf(
            (level.src_fd.as_fd(), name, &src_rel),
            &stat,
            (dest_fd.as_fd(), name, &dest_rel),
            level.created,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_dir(
        &mut self,
        idx: usize,
        name: &OsStr,
        src_rel: PathBuf,
        below: PathBuf,
        stat: Stat,
        kind: Kind,
        states: States,
    ) -> Result<(), CopyError> {
        let src_fd = rustix::fs::openat(
            self.levels[idx].src_fd.as_fd(),
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| CopyError::io("open", self.ctx.src.show(&src_rel), e.into()))?;
        let dest_rel = self.levels[idx].dest_rel.join(name);
        self.levels.push(Level {
            src_fd,
            src_rel,
            src_stat: stat,
            below,
            dest_rel,
            dest_fd: None,
            kind,
            created: false,
            states,
        });
        let walked = match kind {
            Kind::Copied => self
                .ensure_levels(idx + 1)
                .and_then(|()| self.copy_children()),
            Kind::Parent { .. } => self.copy_children(),
        };
        let level = self.levels.pop();
        walked?;
        match level {
            // Never needed: nothing below was copied.
            None => Ok(()),
            Some(level) if level.dest_fd.is_none() => Ok(()),
            Some(level) => match level.kind {
                Kind::Copied | Kind::Parent { full: true } => self.ctx.finish_copied(&level),
                Kind::Parent { full: false } => self.ctx.finish_parent(&level),
            },
        }
    }

    /// Makes sure the target directories of levels `0..=idx` exist.
    fn ensure_levels(&mut self, idx: usize) -> Result<(), CopyError> {
        for j in 1..=idx {
            if self.levels[j].dest_fd.is_some() {
                continue;
            }
            let (before, after) = self.levels.split_at_mut(j);
            let (Some(parent), Some(level)) = (before.last(), after.first_mut()) else {
                continue;
            };
            materialize(&mut self.ctx, parent, level)?;
        }
        Ok(())
    }
}

/// What to do with an entry (`src_rel` its real path in the source,
/// `below` its path below the copied root), and the filter states for its
/// children.
pub(super) fn decide(
    options: &Options<'_>,
    parent: &States,
    src_rel: &Path,
    below: &Path,
    stat: &Stat,
) -> (Decision, States) {
    let mut states = States::default();
    let mut copied = true;
    let mut full = true;
    let is_dir = stat.is_dir();
    if let (Some(ignore), Some(state)) = (options.ignore, parent.ignore.as_ref()) {
        if is_dir {
            let verdict = ignore.enter_dir(src_rel, state);
            if verdict.excluded {
                if verdict.skip {
                    return (Decision::Skip, states);
                }
                copied = false;
            }
            states.ignore = Some(verdict.state);
        } else if ignore.excludes(src_rel, state) {
            return (Decision::Skip, states);
        }
    }
    let below_text = slash(below);
    if let (Some(exclude), Some(state)) = (options.exclude, parent.exclude.as_ref()) {
        if is_dir {
            let verdict = exclude.enter_dir(&below_text, state);
            if verdict.excluded {
                if verdict.skip {
                    return (Decision::Skip, states);
                }
                copied = false;
                full = false;
            }
            states.exclude = Some(verdict.state);
        } else if exclude.is_excluded(&below_text, state) {
            return (Decision::Skip, states);
        }
    }
    if let (Some(include), Some(state)) = (options.include, parent.include.as_ref()) {
        // For include patterns "excluded" reads "matched": the path or
        // one of its parents matches a pattern.
        if is_dir {
            let verdict = include.enter_dir(&below_text, state);
            if !verdict.excluded {
                let deeper = include
                    .patterns()
                    .iter()
                    .any(|p| !p.is_exception() && p.could_match_below(&below_text));
                if !deeper {
                    return (Decision::Skip, states);
                }
                copied = false;
                full = false;
            }
            states.include = Some(verdict.state);
        } else if !include.is_excluded(&below_text, state) {
            return (Decision::Skip, states);
        }
    }
    match (copied, is_dir) {
        (true, _) => (Decision::Copy, states),
        (false, true) => (Decision::Parent { full }, states),
        (false, false) => (Decision::Skip, states),
    }
}

impl Ctx<'_, '_, '_> {
    /// Metadata of a copied directory, applied once its contents are in.
    fn finish_copied(&mut self, level: &Level) -> Result<(), CopyError> {
        let Some(dest_fd) = level.dest_fd.as_ref() else {
            return Ok(());
        };
        let meta = entry_meta(self.options, &level.src_stat);
        meta::apply_fd(dest_fd.as_fd(), &meta)
            .map_err(|e| CopyError::io("set metadata of", self.dest.show(&level.dest_rel), e))?;
        self.stats.xattrs_skipped +=
            meta::copy_xattrs(&Node::Fd(level.src_fd.as_fd()), &Node::Fd(dest_fd.as_fd()));
        Ok(())
    }

    /// A parent directory got its metadata when it was created; restore
    /// its times, which the entries created in it since have changed.
    /// (fsutil leaves them at "now", which makes layers differ run to run.)
    fn finish_parent(&mut self, level: &Level) -> Result<(), CopyError> {
        let Some(dest_fd) = level.dest_fd.as_ref().filter(|_| level.created) else {
            return Ok(());
        };
        let times = rustix::fs::Timestamps {
            last_access: level.src_stat.atime,
            last_modification: level.src_stat.mtime,
        };
        rustix::fs::futimens(dest_fd, &times)
            .map_err(|e| CopyError::io("set times of", self.dest.show(&level.dest_rel), e.into()))
    }

    /// Copies one non-directory entry: `(dir, name, path)` on each side.
    /// `fresh`: the target directory was made empty by this copy, which
    /// writes each name in it once, so nothing can be at the target.
    fn copy_leaf(
        &mut self,
        (src_dir, src_name, src_rel): (BorrowedFd<'_>, &OsStr, &Path),
        stat: &Stat,
        (dest_dir, dest_name, dest_rel): (BorrowedFd<'_>, &OsStr, &Path),
        fresh: bool,
    ) -> Result<(), CopyError> {
        let dest = self.dest;
        let dest_err = |action: &'static str| {
            move |e: io::Error| CopyError::io(action, dest.show(dest_rel), e)
        };
        // fsutil's ensureEmptyFileTarget.
        let existed = match fresh {
            true => None,
            false => meta::stat_at(dest_dir, dest_name).map_err(dest_err("lstat"))?,
        };
        match existed {
            Some(existing) if existing.is_dir() => {
                return Err(CopyError::IsADirectory {
                    path: dest.show(dest_rel),
                });
            }
            Some(_) => rustix::fs::unlinkat(dest_dir, dest_name, AtFlags::empty())
                .map_err(|e| dest_err("remove")(e.into()))?,
            None => {}
        }
        let meta = entry_meta(self.options, stat);
        // Only onto nothing: a removed lower file leaves a whiteout in the
        // upper directory, and hard links of the source are kept as links.
        if existed.is_none()
            && stat.is_file()
            && stat.nlink <= 1
            && let Some(reuse) = self.reuse.as_deref_mut()
            && reuse.take(
                (src_dir, src_name, src_rel),
                stat,
                &meta,
                (dest_dir, dest_rel),
            )
        {
            self.stats.reused += 1;
            return Ok(());
        }
        match stat.kind() {
            FileType::RegularFile => {
                let key = (stat.dev.0, stat.dev.1, stat.ino);
                let first = if stat.nlink > 1 {
                    self.inodes.get(&key).cloned()
                } else {
                    None
                };
                if let Some(first) = first {
                    let (first_dir, first_name) = dest.parent(&first).map_err(dest_err("link"))?;
                    rustix::fs::linkat(
                        &first_dir,
                        first_name,
                        dest_dir,
                        dest_name,
                        AtFlags::empty(),
                    )
                    .map_err(|e| dest_err("link")(e.into()))?;
                    self.stats.hardlinks += 1;
                } else {
                    let src = self.src;
                    let bytes = copy_file(src_dir, src_name, dest_dir, dest_name, stat.size)
                        .map_err(|(e, on_source)| {
                            if on_source {
                                CopyError::io("read", src.show(src_rel), e)
                            } else {
                                CopyError::io("write", dest.show(dest_rel), e)
                            }
                        })?;
                    if stat.nlink > 1 {
                        self.inodes.insert(key, dest_rel.to_path_buf());
                    }
                    self.stats.files += 1;
                    self.stats.bytes += bytes;
                }
                if let Some(reuse) = self.reuse.as_deref_mut() {
                    reuse.wrote(src_rel, dest_rel);
                }
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src_dir, src_name, Vec::new())
                    .map_err(|e| CopyError::io("readlink", self.src.show(src_rel), e.into()))?;
                rustix::fs::symlinkat(target.as_c_str(), dest_dir, dest_name)
                    .map_err(|e| dest_err("symlink")(e.into()))?;
                self.stats.symlinks += 1;
            }
            FileType::Socket if self.options.context => {
                drop(meta::create_new_at(dest_dir, dest_name).map_err(dest_err("create"))?);
                self.stats.files += 1;
            }
            kind @ (FileType::CharacterDevice
            | FileType::BlockDevice
            | FileType::Fifo
            | FileType::Socket) => {
                let dev = rustix::fs::makedev(stat.rdev.0, stat.rdev.1);
                rustix::fs::mknodat(
                    dest_dir,
                    dest_name,
                    kind,
                    Mode::from_raw_mode(stat.perm()),
                    dev,
                )
                .map_err(|e| dest_err("mknod")(e.into()))?;
                self.stats.special += 1;
            }
            FileType::Directory | FileType::Unknown => {
                return Err(CopyError::io(
                    "copy",
                    self.src.show(src_rel),
                    io::Error::other("unsupported file type"),
                ));
            }
        }
        meta::apply_at(dest_dir, dest_name, &meta).map_err(dest_err("set metadata of"))?;
        self.stats.xattrs_skipped +=
            meta::copy_xattrs(&Node::at(src_dir, src_name), &Node::at(dest_dir, dest_name));
        Ok(())
    }
}

/// Creates (or adopts) the target directory of a level whose parent's
/// target exists: fsutil's `copyDirectoryOnly`.
fn materialize(
    ctx: &mut Ctx<'_, '_, '_>,
    parent: &Level,
    level: &mut Level,
) -> Result<(), CopyError> {
    let dest = ctx.dest;
    let Some(parent_fd) = parent.dest_fd.as_ref() else {
        return Ok(());
    };
    let parent_fd = parent_fd.as_fd();
    let Some(name) = level.dest_rel.file_name() else {
        return Ok(());
    };
    let err = |e: io::Error| CopyError::io("mkdir", dest.show(&level.dest_rel), e);
    match meta::stat_at(parent_fd, name).map_err(err)? {
        // Below the copied root an existing directory takes the source's
        // mode (and, once filled, the rest of its metadata).
        Some(st) if st.is_dir() => {
            meta::chmod_at(parent_fd, name, level.src_stat.perm()).map_err(err)?;
        }
        Some(_) => {
            return Err(CopyError::NotADirectory {
                path: dest.show(&level.dest_rel),
            });
        }
        None => {
            // Owner-only until finished, so a half-copied tree is never
            // readable by others with the source's (or --chmod's) bits.
            rustix::fs::mkdirat(parent_fd, name, Mode::from_raw_mode(0o700))
                .map_err(|e| err(e.into()))?;
            level.created = true;
        }
    }
    let fd = rustix::fs::openat(
        parent_fd,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err(e.into()))?;
    ctx.stats.dirs += 1;
    if level.created && level.kind == (Kind::Parent { full: false }) {
        // fsutil `createParentDirs`: a parent made for a wanted entry gets
        // the source directory's metadata at once.
        let meta = entry_meta(ctx.options, &level.src_stat);
        meta::apply_fd(fd.as_fd(), &meta).map_err(err)?;
        ctx.stats.xattrs_skipped +=
            meta::copy_xattrs(&Node::Fd(level.src_fd.as_fd()), &Node::Fd(fd.as_fd()));
    }
    level.dest_fd = Some(fd);
    Ok(())
}

/// The metadata a copied entry with source `stat` gets.
fn entry_meta(options: &Options<'_>, stat: &Stat) -> Meta {
    let (uid, gid) = match options.owner {
        Some(ids) => (ids.uid, ids.gid),
        None => (stat.uid, stat.gid),
    };
    Meta {
        uid,
        gid,
        mode: (!stat.is_symlink()).then(|| options.chmod.apply(stat.perm(), stat.is_dir())),
        atime: stat.atime,
        mtime: stat.mtime,
    }
}

/// Copies a regular file's content into a new file; the error says
/// whether it happened on the source side.
fn copy_file(
    src_dir: BorrowedFd<'_>,
    src_name: &OsStr,
    dest_dir: BorrowedFd<'_>,
    dest_name: &OsStr,
    size: u64,
) -> Result<u64, (io::Error, bool)> {
    let src = rustix::fs::openat(
        src_dir,
        src_name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| (e.into(), true))?;
    let dest = meta::create_new_at(dest_dir, dest_name).map_err(|e| (e, false))?;
    let (mut src, mut dest) = (File::from(src), File::from(dest));
    if size <= SMALL_FILE {
        return copy_small(&mut src, &mut dest);
    }
    // std uses copy_file_range(2) (reflinks on file systems that have them)
    // and falls back to read/write, as fsutil's copyFileContent does.
    io::copy(&mut src, &mut dest).map_err(|e| (e, false))
}

/// Files up to this size are copied with one read and one write through a
/// buffer: for them, the failed copy_file_range(2) across file systems
/// and sendfile(2)'s page-at-a-time splice that `io::copy` goes through
/// cost more than the bytes.
const SMALL_FILE: u64 = 64 * 1024;

fn copy_small(src: &mut File, dest: &mut File) -> Result<u64, (io::Error, bool)> {
    let mut buf = [0u8; SMALL_FILE as usize];
    let mut total = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((e, true)),
        };
        dest.write_all(&buf[..n]).map_err(|e| (e, false))?;
        total += n as u64;
    }
}
