//! The copy engine: executes one `COPY`/`ADD` file action
//! ([`kiln_solver::Copy`]) from a source file system into a destination
//! root, with BuildKit's semantics.
//!
//! The reference is the Dockerfile reference (COPY, ADD) and, where it is
//! silent, what BuildKit does: its file backend
//! (solver/llbsolver/file/backend.go `docopy`, unpack.go) on top of
//! tonistiigi/fsutil's copier (copy/copy.go, copy/mkdir.go). Each module
//! says which rule it carries and where it comes from:
//!
//! - [`sources`]: which paths a source string names (cleaning, wildcards
//!   with Go's `filepath.Match` from [`glob`], symlinks, `--parents`);
//! - [`dest`]: where each one lands and which directories are created;
//! - [`tree`]: the recursive copy itself, with `--exclude`, `--parents`
//!   and `.dockerignore` ([`ignore`]) filtering, hard links and conflicts;
//! - [`archive`]: `ADD`'s extraction of local tar archives;
//! - [`owner`] and [`mode`]: `--chown` and `--chmod`; [`meta`] applies
//!   them with times and extended attributes;
//! - [`root`]: resolving paths inside a root without ever leaving it;
//! - [`make`]: the other two file actions, `Mkdir` and `Mkfile`, on the
//!   same foundations;
//! - [`select`]: the digest of what an action would read, for its cache
//!   key, walking the same choices without copying.
//!
//! Sources are processed in order, each as BuildKit's frontend would emit a
//! separate copy for it: a later source sees what an earlier one wrote.
//! Nothing here runs a process or mounts anything; the caller hands two
//! directories (the source may be a read-only view, the destination an
//! overlay's merged directory) and must be root for ownership and device
//! nodes to be reproduced.
//!
//! Decisions where BuildKit was unclear or where kiln deliberately differs
//! are noted at the rule they concern, and each is pinned by a test (the
//! list is at the top of `tests.rs`).

mod archive;
mod dest;
mod error;
mod glob;
mod ignore;
mod make;
mod meta;
mod mode;
mod owner;
mod reuse;
mod root;
mod select;
mod sources;
mod tree;

#[cfg(test)]
mod tests;

use std::path::Path;

use kiln_dockerignore::Matcher;

pub use error::CopyError;
pub use make::{mkdir, mkfile};
pub use reuse::{Earlier, Reuse};
pub use select::{Selected, select};

use ignore::Ignore;
use mode::Chmod;
use owner::Ids;
use root::Root;

/// The file system a copy reads from.
#[derive(Debug, Clone, Copy)]
pub struct CopySource<'a> {
    /// Host directory that is the source file system's root: the build
    /// context directory, or a mounted view of another stage or image.
    pub root: &'a Path,
    /// The build context's `.dockerignore`: paths it excludes are invisible
    /// (named as a source they are missing, inside a copied directory they
    /// are skipped). `None` for other sources.
    pub ignore: Option<&'a Matcher>,
    /// Who owns copied entries when the action has no `--chown`.
    pub ownership: SourceOwnership,
}

/// Ownership of copied entries without `--chown`.
///
/// BuildKit's copier keeps each entry's owner (fsutil `copyFileInfo` with
/// no chowner). Files from the build context still come out as 0:0 because
/// the client resets their owner when it sends the context (BuildKit
/// session/filesync, `resetUIDAndGID`), while `COPY --from` keeps what the
/// other stage had (moby/moby#38599). kiln reads the context directory
/// directly, so the caller says which case applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceOwnership {
    /// Keep each entry's uid and gid: another stage, an image.
    Preserve,
    /// Give every entry uid 0 and gid 0: the build context.
    Root,
}

/// What a copy did, for progress output and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files written (hard links not included).
    pub files: u64,
    /// Regular files taken from an earlier result of the step instead
    /// ([`Reuse`]).
    pub reused: u64,
    /// Directories created or merged into (the destination's missing
    /// parents not included).
    pub dirs: u64,
    /// Symbolic links created.
    pub symlinks: u64,
    /// Hard links created to a file copied earlier in the same source.
    pub hardlinks: u64,
    /// Device nodes, FIFOs and sockets created.
    pub special: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// Archives extracted by `ADD`.
    pub archives: u64,
    /// Extended attributes that could not be copied and were skipped.
    pub xattrs_skipped: u64,
}

/// Executes `action`, reading from `source` and writing into `dest_root`
/// (the host directory that is the destination's root file system,
/// writable).
///
/// With `reuse`, unchanged files of a single-source action may be linked
/// from an earlier result instead of written; the caller offers it only
/// for the step's last action, since those links bypass the overlay.
///
/// On error the destination may hold part of the copy; the caller discards
/// the layer being built.
pub fn copy(
    source: &CopySource<'_>,
    dest_root: &Path,
    action: &kiln_solver::Copy,
    mut reuse: Option<&mut Reuse<'_>>,
) -> Result<CopyStats, CopyError> {
    let src = Root::open(source.root, "source")?;
    let dest = Root::open(dest_root, "destination")?;
    // Names are resolved before anything is written: a copy that replaces
    // /etc/passwd must not change who `--chown=app` is.
    let chown = action
        .owner
        .as_ref()
        .map(|o| owner::resolve(&dest, o))
        .transpose()?;
    let chmod = Chmod::new(action.mode.as_ref());
    let exclude = exclude_matcher(action)?;
    let ignore = source.ignore.and_then(Ignore::new);
    let entry_owner = chown.or(match source.ownership {
        SourceOwnership::Preserve => None,
        SourceOwnership::Root => {
            let (uid, gid) = owner::root_ids();
            Some(Ids { uid, gid })
        }
    });
    let run = Run {
        src: &src,
        dest: &dest,
        action,
        chown,
        entry_owner,
        context: source.ownership == SourceOwnership::Root,
        chmod: &chmod,
        exclude: exclude.as_ref(),
        ignore: ignore.as_ref(),
    };
    let mut stats = CopyStats::default();
    // With several sources, a later one may write where an earlier one
    // linked: the overlay would not see that file.
    if action.sources.len() > 1 {
        reuse = None;
    }
    for raw in &action.sources {
        run.copy_source(raw, &mut stats, reuse.as_deref_mut())?;
    }
    Ok(stats)
}

/// `--exclude`'s patterns, compiled (none when there are none).
fn exclude_matcher(action: &kiln_solver::Copy) -> Result<Option<Matcher>, CopyError> {
    match action.exclude.is_empty() {
        true => Ok(None),
        false => Matcher::new(&action.exclude)
            .map(Some)
            .map_err(|source| CopyError::Exclude { source }),
    }
}

/// One action being executed.
struct Run<'a> {
    src: &'a Root,
    dest: &'a Root,
    action: &'a kiln_solver::Copy,
    /// `--chown`, resolved: owner of created destination parents too.
    chown: Option<Ids>,
    /// Owner of copied entries (`--chown`, or root for the context).
    entry_owner: Option<Ids>,
    /// The source is the build context (see [`tree::Options::context`]).
    context: bool,
    chmod: &'a Chmod,
    exclude: Option<&'a Matcher>,
    ignore: Option<&'a Ignore<'a>>,
}

impl Run<'_> {
    /// One source string: BuildKit's `docopy` for one `FileActionCopy`.
    fn copy_source(
        &self,
        raw: &str,
        stats: &mut CopyStats,
        reuse: Option<&mut Reuse<'_>>,
    ) -> Result<(), CopyError> {
        let action = self.action;
        if !action.create_dest_path {
            dest::check_parent(self.dest, &action.dest)?;
        }
        // Nothing matched (with empty matches allowed): the action does
        // nothing at all, not even create the destination.
        let sources::Found { found, include } =
            sources::for_action(self.src, self.ignore, action, raw)?;
        if found.is_empty() {
            return Ok(());
        }
        // Several matches of a wildcard may overlap at the destination.
        let mut reuse = reuse.filter(|_| found.len() == 1);
        let options = tree::Options {
            owner: self.entry_owner,
            chmod: self.chmod,
            ignore: self.ignore,
            exclude: self.exclude,
            include: include.as_ref(),
            context: self.context,
        };
        for source in found {
            if action.unpack_archives && source.stat.is_file() && self.unpack(&source, stats)? {
                continue;
            }
            let made = self.made_dir_mode();
            let dst = dest::prepare(self.dest, &action.dest, self.chown, made)?;
            let target = dest::target(
                self.dest,
                &dst,
                &source,
                action.dir_contents_only,
                self.chown,
                made,
            )?;
            let reuse = reuse.as_deref_mut();
            tree::copy(
                self.src, &source, self.dest, &target, &options, stats, reuse,
            )?;
        }
        Ok(())
    }

    /// The mode of directories made only because a copy needs them (the
    /// destination's missing ancestors): an octal `--chmod`'s permission
    /// bits, as current BuildKit makes them (fsutil `Copy` with a mode,
    /// since BuildKit v0.21: testCopyChmod's `/parent` is 0777 after
    /// `COPY --chmod=777 foo /parent/foo`; Go's `os.FileMode` of the value
    /// keeps no special bit), otherwise 0755.
    fn made_dir_mode(&self) -> u32 {
        match self.chmod {
            Chmod::Octal(bits) => bits & 0o777,
            Chmod::Keep | Chmod::Symbolic(_) => 0o755,
        }
    }

    /// Extracts `source` if it is a tar archive; whether it was one.
    fn unpack(&self, source: &sources::Source, stats: &mut CopyStats) -> Result<bool, CopyError> {
        let shown = self.src.show(&source.name);
        let mut file = self
            .src
            .open_file(&source.path)
            .map_err(|e| CopyError::io("open", shown.clone(), e))?;
        if !archive::is_archive(&mut file).map_err(|e| CopyError::io("read", shown.clone(), e))? {
            return Ok(false);
        }
        let into = self
            .dest
            .resolve(&kiln_rootpath::relative(&self.action.dest), true, None)?;
        self.dest
            .mkdir_all(&into, 0o755, self.chown.map(|o| (o.uid, o.gid)))?;
        archive::unpack(&file, self.dest, &into, self.chown, &shown, stats)?;
        Ok(true)
    }
}
