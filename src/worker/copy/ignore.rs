//! `.dockerignore` as the copy sees it: paths it excludes are not in the
//! build context at all.
//!
//! BuildKit never reads the context directory itself; the client sends it
//! through fsutil's walker with the ignore patterns applied, and the copy
//! then runs on what arrived. kiln copies straight from the directory, so
//! this module makes excluded entries invisible in the same way:
//!
//! - an excluded file or symlink does not exist (naming it as a source is
//!   "no such file or directory", a symlink pointing at it dangles);
//! - an excluded directory exists only if something below it is re-included
//!   by a `!` exception, and then holds only those entries (fsutil's walker
//!   sends the parents of an included path; moby/patternmatcher's
//!   `MatchesOrParentMatches` decides what is included).
//!
//! Boundary: visibility of context paths. Paths are the real ones, relative
//! to the context root, after symlinks are resolved; the tree walk keeps a
//! [`DirState`] per directory instead of asking for every entry.

use std::path::Path;

use kiln_dockerignore::{DirState, DirVerdict, Matcher};

use super::error::CopyError;
use super::meta::{self, Stat};
use super::root::{Root, read_dir_sorted};

/// The ignore patterns of a build context.
pub(super) struct Ignore<'a> {
    matcher: &'a Matcher,
}

impl<'a> Ignore<'a> {
    /// `None` when there is nothing to hide.
    pub fn new(matcher: &'a Matcher) -> Option<Ignore<'a>> {
        (!matcher.is_empty()).then_some(Ignore { matcher })
    }

    /// Whether the existing entry `rel` (described by `stat`) is hidden.
    pub fn hides(&self, root: &Root, rel: &Path, stat: &Stat) -> Result<bool, CopyError> {
        let path = slash(rel);
        if !self.matcher.matches(&path) {
            return Ok(false);
        }
        if !stat.is_dir() {
            return Ok(true);
        }
        let verdict = self.matcher.enter_dir(&path, &DirState::default());
        if verdict.skip {
            return Ok(true);
        }
        Ok(!self.has_visible_entry(root, rel, &verdict.state)?)
    }

    /// Whether anything below the excluded directory `rel` is re-included.
    fn has_visible_entry(
        &self,
        root: &Root,
        rel: &Path,
        state: &DirState,
    ) -> Result<bool, CopyError> {
        let err = |e| CopyError::io("read directory", root.show(rel), e);
        let dir = root.dir(rel).map_err(err)?;
        for name in read_dir_sorted(std::os::fd::AsFd::as_fd(&dir)).map_err(err)? {
            let child = rel.join(&name);
            let path = slash(&child);
            let Some(st) = meta::stat_at(std::os::fd::AsFd::as_fd(&dir), &name).map_err(err)?
            else {
                continue;
            };
            if st.is_dir() {
                let verdict = self.matcher.enter_dir(&path, state);
                if !verdict.excluded
                    || (!verdict.skip && self.has_visible_entry(root, &child, &verdict.state)?)
                {
                    return Ok(true);
                }
            } else if !self.matcher.is_excluded(&path, state) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The state the children of directory `rel` are checked against.
    pub fn state(&self, rel: &Path) -> DirState {
        self.matcher
            .enter_dir(&slash(rel), &DirState::default())
            .state
    }

    /// The verdict on directory `rel`, given its parent's state.
    pub fn enter_dir(&self, rel: &Path, parent: &DirState) -> DirVerdict {
        self.matcher.enter_dir(&slash(rel), parent)
    }

    /// Whether the non-directory `rel` is excluded, given its parent's state.
    pub fn excludes(&self, rel: &Path, parent: &DirState) -> bool {
        self.matcher.is_excluded(&slash(rel), parent)
    }
}

/// A relative path as the matcher wants it: `/`-separated text. Names
/// that are not UTF-8 are matched in their lossy form.
pub(super) fn slash(rel: &Path) -> String {
    meta::lossy(rel.as_os_str())
}
