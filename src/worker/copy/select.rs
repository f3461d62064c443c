//! What a copy would read, as one digest: the content identity of exactly
//! the files a `COPY`/`ADD` action selects, for its cache key.
//!
//! The walk makes the same choices as the copy itself — the same source
//! resolution ([`super::sources`]: cleaning, wildcards, symlinks,
//! `--parents`) and the same filters ([`super::tree::decide`]:
//! `.dockerignore`, `--exclude`, `--parents`) — so a file the copy would
//! not take never changes the key, and one it would take always does.
//!
//! Each selected entry contributes its path below the copied root, its
//! type, permission bits, owner (unless the copy gives every entry root's,
//! as for the build context), link target, device numbers and, for a
//! regular file, the sha256 of its content. Timestamps do not count, as
//! in BuildKit's content hashes: touching a file changes no key.
//!
//! Reading every selected file's content on every build would make a no-op
//! rebuild of a large context slow, so regular files' digests go through a
//! [`StatCache`] when one is given (the build context, whose files can
//! change between builds); a stage's files are immutable snapshots and are
//! memoized by the caller instead.

use std::ffi::OsStr;
use std::io::Read as _;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use kiln_cache::{FileStamp, StatCache};
use kiln_oci::{Digest, Hasher};
use rustix::fs::{FileType, Mode, OFlags};

use super::error::CopyError;
use super::ignore::Ignore;
use super::meta::{self, Stat};
use super::root::{Root, read_dir_sorted};
use super::sources;
use super::tree::{Decision, Options, States, decide};
use super::{CopySource, SourceOwnership};

/// The selection's digest, and the files in it (path in the source →
/// content digest): `--explain` names changed files from them, and a copy
/// that runs again knows from them which content each file has.
#[derive(Debug, Clone)]
pub struct Selected {
    /// Digest over every selected entry.
    pub digest: Digest,
    /// Regular files (content digest) and symlinks (digest of the target),
    /// by their path in the source; paths that are not UTF-8 are not
    /// listed.
    pub files: Vec<(String, Digest)>,
}

/// Digests what `action` would read from `source`, listing the files too
/// when `list` says so (an unchanged rebuild needs only the digest, and
/// 20,000 listed paths cost a fifth of it). Errors are those the copy
/// would report (a missing source, a pattern matching nothing).
pub fn select(
    source: &CopySource<'_>,
    action: &kiln_solver::Copy,
    stat_cache: Option<&mut StatCache>,
    list: bool,
) -> Result<Selected, CopyError> {
    let src = Root::open(source.root, "source")?;
    let exclude = super::exclude_matcher(action)?;
    let ignore = source.ignore.and_then(Ignore::new);
    let chmod = super::mode::Chmod::new(None);
    let mut walk = Walk::new(
        &src,
        source.ownership == SourceOwnership::Preserve,
        stat_cache.as_deref(),
        list,
    );
    for raw in &action.sources {
        let sources::Found { found, include } =
            sources::for_action(&src, ignore.as_ref(), action, raw)?;
        walk.field(b"source");
        walk.field(raw.as_bytes());
        let options = Options {
            owner: None,
            chmod: &chmod,
            ignore: ignore.as_ref(),
            exclude: exclude.as_ref(),
            include: include.as_ref(),
            context: source.ownership == SourceOwnership::Root,
        };
        for found in found {
            walk.field(b"found");
            walk.field(found.name.as_os_str().as_bytes());
            if found.stat.is_dir() {
                walk.entry(None, &found.path, Path::new(""), &found.stat, b"copy")?;
                let dir = src
                    .dir(&found.path)
                    .map_err(|e| CopyError::io("open", src.show(&found.path), e))?;
                let states = States::root(&options, &found.path);
                walk.children_in_parallel(
                    &options,
                    dir.as_fd(),
                    &found.path,
                    Path::new(""),
                    &states,
                )?;
            } else {
                let (dir, name) = src
                    .parent(&found.path)
                    .map_err(|e| CopyError::io("open", src.show(&found.path), e))?;
                walk.entry(
                    Some((dir.as_fd(), name)),
                    &found.path,
                    Path::new(""),
                    &found.stat,
                    b"copy",
                )?;
            }
        }
    }
    let Walk {
        hasher,
        files,
        hashed,
        ..
    } = walk;
    if let Some(cache) = stat_cache {
        for (path, stamp, digest) in hashed {
            cache.insert(&path, stamp, digest);
        }
    }
    Ok(Selected {
        digest: hasher.finish(),
        files,
    })
}

struct Walk<'a, 'c> {
    src: &'a Root,
    /// Owners count (they are kept by the copy).
    owners: bool,
    stat_cache: Option<&'c StatCache>,
    hasher: Hasher,
    /// Whether `files` is filled.
    list: bool,
    files: Vec<(String, Digest)>,
    /// Files hashed for real, for the stat cache.
    hashed: Vec<(String, FileStamp, Digest)>,
}

impl<'a, 'c> Walk<'a, 'c> {
    fn new(src: &'a Root, owners: bool, stat_cache: Option<&'c StatCache>, list: bool) -> Self {
        Walk {
            src,
            owners,
            stat_cache,
            hasher: Hasher::new(),
            list,
            files: Vec::new(),
            hashed: Vec::new(),
        }
    }

    /// [`Walk::children`] of a copied root, with its entries' subtrees
    /// walked by as many threads as there are cores: a large context's
    /// no-op rebuild is mostly `statx` calls, which scale with cores. Each
    /// entry's subtree is digested on its own and the digests are added
    /// in name order, so the result does not depend on scheduling.
    fn children_in_parallel(
        &mut self,
        options: &Options<'_>,
        dir: BorrowedFd<'_>,
        src_rel: &Path,
        below: &Path,
        states: &States,
    ) -> Result<(), CopyError> {
        let names = read_dir_sorted(dir)
            .map_err(|e| CopyError::io("read directory", self.src.show(src_rel), e))?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (src, owners, stat_cache, list) = (self.src, self.owners, self.stat_cache, self.list);
        let parts = crate::parallel::for_each(
            &names,
            threads,
            |name| {
                let mut sub = Walk::new(src, owners, stat_cache, list);
                sub.child(options, dir, src_rel, below, states, name)
                    .map(|()| (sub.hasher.finish(), sub.files, sub.hashed))
            },
            || {
                CopyError::io(
                    "walk",
                    self.src.show(src_rel),
                    std::io::Error::other("a walker thread failed"),
                )
            },
        )?;
        for (digest, files, hashed) in parts {
            self.field(b"subtree");
            self.field(digest.as_str().as_bytes());
            self.files.extend(files);
            self.hashed.extend(hashed);
        }
        Ok(())
    }
    /// Adds one length-prefixed field, so no two entry lists encode alike.
    fn field(&mut self, bytes: &[u8]) {
        self.hasher.update(&(bytes.len() as u64).to_be_bytes());
        self.hasher.update(bytes);
    }

    fn children(
        &mut self,
        options: &Options<'_>,
        dir: BorrowedFd<'_>,
        src_rel: &Path,
        below: &Path,
        states: &States,
    ) -> Result<(), CopyError> {
        let names = read_dir_sorted(dir)
            .map_err(|e| CopyError::io("read directory", self.src.show(src_rel), e))?;
        for name in names {
            self.child(options, dir, src_rel, below, states, &name)?;
        }
        Ok(())
    }

    /// One entry `name` of directory `dir` (at `src_rel`), and below it.
    fn child(
        &mut self,
        options: &Options<'_>,
        dir: BorrowedFd<'_>,
        src_rel: &Path,
        below: &Path,
        states: &States,
        name: &OsStr,
    ) -> Result<(), CopyError> {
        let child_rel = src_rel.join(name);
        let child_below = below.join(name);
        let Some(stat) = meta::stat_at(dir, name)
            .map_err(|e| CopyError::io("lstat", self.src.show(&child_rel), e))?
        else {
            return Ok(());
        };
        let (decision, child_states) = decide(options, states, &child_rel, &child_below, &stat);
        let how: &[u8] = match decision {
            Decision::Skip => return Ok(()),
            Decision::Copy => b"copy",
            Decision::Parent { full: true } => b"parent-full",
            Decision::Parent { full: false } => b"parent",
        };
        if stat.is_dir() {
            self.entry(None, &child_rel, &child_below, &stat, how)?;
            let sub = rustix::fs::openat(
                dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| CopyError::io("open", self.src.show(&child_rel), e.into()))?;
            self.children(
                options,
                sub.as_fd(),
                &child_rel,
                &child_below,
                &child_states,
            )?;
            // Closes the directory: a parent that turns out to have no
            // wanted entry leaves a trace, which only makes the key
            // stricter, never wrong.
            self.field(b"end");
        } else {
            self.entry(Some((dir, name)), &child_rel, &child_below, &stat, how)?;
        }
        Ok(())
    }

    /// Adds one entry: `at` is its directory and name (none for a
    /// directory, whose content is its children).
    fn entry(
        &mut self,
        at: Option<(BorrowedFd<'_>, &OsStr)>,
        src_rel: &Path,
        below: &Path,
        stat: &Stat,
        how: &[u8],
    ) -> Result<(), CopyError> {
        self.field(b"entry");
        self.field(below.as_os_str().as_bytes());
        self.field(how);
        self.field(&stat.mode.to_be_bytes());
        if self.owners {
            self.field(&stat.uid.to_be_bytes());
            self.field(&stat.gid.to_be_bytes());
        }
        let Some((dir, name)) = at else {
            return Ok(());
        };
        match stat.kind() {
            FileType::RegularFile => {
                let digest = self.content(dir, name, src_rel, stat)?;
                self.field(digest.as_str().as_bytes());
                self.list(src_rel, digest);
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(dir, name, Vec::new())
                    .map_err(|e| CopyError::io("readlink", self.src.show(src_rel), e.into()))?;
                self.field(target.as_bytes());
                self.list(src_rel, Digest::of(target.as_bytes()));
            }
            FileType::CharacterDevice | FileType::BlockDevice => {
                self.field(&stat.rdev.0.to_be_bytes());
                self.field(&stat.rdev.1.to_be_bytes());
            }
            _ => {}
        }
        Ok(())
    }

    /// Lists a file by its exact path. A name that is not UTF-8 is left
    /// out: written lossily it could be another file's name, and the list
    /// also tells a re-run copy which content each file has ([`Selected`]).
    /// It still counts in the digest.
    fn list(&mut self, src_rel: &Path, digest: Digest) {
        if !self.list {
            return;
        }
        if let Some(path) = src_rel.to_str() {
            self.files.push((path.to_string(), digest));
        }
    }

    /// A regular file's content digest, from the stat cache when it still
    /// describes the file.
    fn content(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        src_rel: &Path,
        stat: &Stat,
    ) -> Result<Digest, CopyError> {
        let key = src_rel.to_str();
        let stamp = stamp(stat);
        if let (Some(cache), Some(key)) = (self.stat_cache, key)
            && let Some(digest) = cache.lookup(key, &stamp)
        {
            return Ok(digest);
        }
        let file = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NOCTTY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| CopyError::io("open", self.src.show(src_rel), e.into()))?;
        let mut file = std::fs::File::from(file);
        // The stamp that goes into the cache is the open file's, taken
        // before reading: a write during the read changes the ctime, so
        // the entry will not match next time.
        let opened = meta::stat_fd(file.as_fd())
            .map_err(|e| CopyError::io("stat", self.src.show(src_rel), e))?;
        let mut hasher = Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| CopyError::io("read", self.src.show(src_rel), e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let digest = hasher.finish();
        if let (Some(_), Some(key)) = (self.stat_cache, key) {
            self.hashed
                .push((key.to_string(), self::stamp(&opened), digest.clone()));
        }
        Ok(digest)
    }
}

/// What the stat cache compares.
fn stamp(stat: &Stat) -> FileStamp {
    let ns =
        |t: &rustix::fs::Timespec| i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
    FileStamp {
        size: stat.size,
        mtime_ns: ns(&stat.mtime),
        ctime_ns: ns(&stat.ctime),
        ino: stat.ino,
        mode: stat.mode,
    }
}
