//! Sources: from the strings of a `COPY`/`ADD` to the paths read.
//!
//! Rules, from the Dockerfile reference (COPY, "Source") and BuildKit's
//! file backend (solver/llbsolver/file/backend.go `docopy`, fsutil
//! copy/copy.go `ResolveWildcards`):
//!
//! - A source is relative to the root of its file system. It is cleaned as
//!   `path.Join("/", src)` cleans it: a leading `/` and `..` elements cannot
//!   climb out ("automatically removes any parent directory navigation"),
//!   and a trailing `/` is disregarded.
//! - With wildcards allowed, the path is split at the first element holding
//!   `*`, `?` or `[` (a `\` escapes): the part before is resolved like any
//!   path and must exist; the rest is a Go `filepath.Match` pattern matched
//!   against every path below it, in lexical order, without following
//!   symlinks, a matching directory not being searched further. A pattern
//!   that matches nothing is an error unless the action allows it;
//!   BuildKit's Dockerfile frontend always allows it, which is why
//!   `COPY requirements*.txt ./` passes when there is none.
//! - Each match (or the plain path) is then resolved: symlinks in its
//!   parents are always followed inside the root; a symlink as the last
//!   element is followed only with `follow_symlinks` (always set by the
//!   Dockerfile frontend), and then its target is copied under the
//!   symlink's own name. A path that does not exist is an error naming it.
//! - With a `.dockerignore`, excluded context paths are simply not there.
//!
//! Boundary: finding source paths. What happens at the destination is
//! [`super::dest`] and [`super::tree`].

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use kiln_dockerignore::Matcher;

use super::error::CopyError;
use super::glob;
use super::ignore::{Ignore, slash};
use super::meta::{self, Stat};
use super::root::{Root, read_dir_sorted};

/// One path to copy.
#[derive(Debug)]
pub(super) struct Source {
    /// The path as named or matched, cleaned, relative to the root; its last
    /// element is the name the copy gets in a destination directory.
    pub name: PathBuf,
    /// The path actually read: `name` with symlinks resolved (the last one
    /// only when following them).
    pub path: PathBuf,
    /// What `path` is.
    pub stat: Stat,
}

/// Finds what the source string `raw` names in `root`.
///
/// An empty result means a wildcard matched nothing; whether that is an
/// error is the caller's decision.
pub(super) fn resolve(
    root: &Root,
    ignore: Option<&Ignore<'_>>,
    raw: &str,
    wildcard: bool,
    follow: bool,
) -> Result<Vec<Source>, CopyError> {
    let clean = kiln_rootpath::relative(raw);
    let names = if wildcard {
        expand(root, ignore, &clean, follow)?
    } else {
        vec![clean]
    };
    names
        .into_iter()
        .map(|name| {
            let path = locate(root, ignore, &name, follow)?;
            match visible_stat(root, ignore, &path)? {
                Some(stat) => Ok(Source { name, path, stat }),
                None => Err(CopyError::SourceNotFound {
                    path: root.show(&name),
                }),
            }
        })
        .collect()
}

/// What one source string of an action names.
pub(super) struct Found {
    /// The paths, in order (empty: a pattern matched nothing, which the
    /// action allows).
    pub found: Vec<Source>,
    /// `--parents`: the part of the source below the pivot, as a pattern
    /// the copied paths must match.
    pub include: Option<Matcher>,
}

/// Resolves source string `raw` of `action`: with `--parents`, from the
/// pivot (or the root), keeping only paths matching the rest with their
/// parents; a pattern that matches nothing is an error unless the action
/// allows it.
pub(super) fn for_action(
    root: &Root,
    ignore: Option<&Ignore<'_>>,
    action: &kiln_solver::Copy,
    raw: &str,
) -> Result<Found, CopyError> {
    let (start, include) = if action.parents {
        let (start, pattern) = split_parents(raw);
        let include = Matcher::new([pattern]).map_err(|source| CopyError::Parents {
            path: raw.to_owned(),
            source,
        })?;
        (start, Some(include))
    } else {
        (raw.to_owned(), None)
    };
    let found = resolve(
        root,
        ignore,
        &start,
        action.allow_wildcard,
        action.follow_symlinks,
    )?;
    if found.is_empty() && !action.allow_empty_wildcard {
        return Err(CopyError::NoMatch {
            pattern: root.show(&kiln_rootpath::relative(&start)),
        });
    }
    Ok(Found { found, include })
}

/// fsutil's `rootPath`: resolves every element, the last one only when
/// following symlinks.
fn locate(
    root: &Root,
    ignore: Option<&Ignore<'_>>,
    name: &Path,
    follow: bool,
) -> Result<PathBuf, CopyError> {
    match (follow, name.parent(), name.file_name()) {
        (false, Some(parent), Some(last)) => Ok(root.resolve(parent, true, ignore)?.join(last)),
        _ => root.resolve(name, true, ignore),
    }
}

/// `lstat` of a resolved path, `None` when missing or hidden.
fn visible_stat(
    root: &Root,
    ignore: Option<&Ignore<'_>>,
    path: &Path,
) -> Result<Option<Stat>, CopyError> {
    let stat = root
        .lstat(path)
        .map_err(|e| CopyError::io("lstat", root.show(path), e))?;
    match (stat, ignore) {
        (Some(st), Some(ignore)) if ignore.hides(root, path, &st)? => Ok(None),
        (stat, _) => Ok(stat),
    }
}

/// The paths a wildcard source matches, relative to the root, in the
/// order Go's `filepath.Walk` visits them.
fn expand(
    root: &Root,
    ignore: Option<&Ignore<'_>>,
    clean: &Path,
    follow: bool,
) -> Result<Vec<PathBuf>, CopyError> {
    let (base, pattern) = split_wildcards(clean);
    if pattern.is_empty() {
        return Ok(vec![base]);
    }
    let start = locate(root, ignore, &base, follow)?;
    // Walking starts with an lstat of the base: a missing base fails the
    // copy even when empty matches are allowed ("lstat .../folder/b: no
    // such file or directory", moby/buildkit#2933).
    let Some(stat) = visible_stat(root, ignore, &start)? else {
        return Err(CopyError::SourceNotFound {
            path: root.show(&base),
        });
    };
    if !stat.is_dir() || !glob::is_valid(&pattern) {
        return Ok(Vec::new());
    }
    // `*` and `?` never match `/`, so a path with more elements than the
    // pattern cannot match and its directory need not be read. A class can
    // match `/` in Go, so with one the walk goes all the way down, as
    // fsutil's does.
    let depth = if pattern.contains('[') {
        usize::MAX
    } else {
        pattern.matches('/').count() + 1
    };
    let mut found = Vec::new();
    walk(
        root,
        ignore,
        &start,
        Path::new(""),
        &pattern,
        depth,
        &mut found,
    )?;
    Ok(found)
}

fn walk(
    root: &Root,
    ignore: Option<&Ignore<'_>>,
    start: &Path,
    rel: &Path,
    pattern: &str,
    depth: usize,
    found: &mut Vec<PathBuf>,
) -> Result<(), CopyError> {
    let here = start.join(rel);
    let err = |e| CopyError::io("read directory", root.show(&here), e);
    let dir = root.dir(&here).map_err(err)?;
    for name in read_dir_sorted(dir.as_fd()).map_err(err)? {
        let Some(stat) = meta::stat_at(dir.as_fd(), &name).map_err(err)? else {
            continue;
        };
        let real = here.join(&name);
        if let Some(ignore) = ignore
            && ignore.hides(root, &real, &stat)?
        {
            continue;
        }
        let child = rel.join(&name);
        if glob::matches(pattern, &slash(&child)) == Ok(true) {
            found.push(real);
        } else if stat.is_dir() && child.components().count() < depth {
            walk(root, ignore, start, &child, pattern, depth, found)?;
        }
    }
    Ok(())
}

/// fsutil's `splitWildcards`: the elements before the first one with a
/// wildcard, and the pattern made of that element and the rest.
fn split_wildcards(clean: &Path) -> (PathBuf, String) {
    let text = slash(clean);
    let mut base = PathBuf::new();
    let mut pattern: Vec<&str> = Vec::new();
    for element in text.split('/').filter(|e| !e.is_empty()) {
        if pattern.is_empty() && !glob::has_wildcard(element) {
            base.push(element);
        } else {
            pattern.push(element);
        }
    }
    (base, pattern.join("/"))
}

/// `COPY --parents`: splits a source at its optional `/./` pivot into the
/// directory the copy starts from and the pattern of paths kept below it,
/// as BuildKit's Dockerfile frontend does (dockerfile2llb `dispatchCopy`):
/// without a pivot the copy starts at the root and keeps the whole path.
pub(super) fn split_parents(raw: &str) -> (String, String) {
    let (start, pattern) = match raw.split_once("/./") {
        Some((start, pattern)) => (start, pattern),
        None => ("/", raw),
    };
    (start.to_owned(), slash(&kiln_rootpath::relative(pattern)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_split_at_the_first_pattern_element() {
        let split = |p: &str| split_wildcards(&kiln_rootpath::relative(p));
        assert_eq!(split("a/b/c"), (PathBuf::from("a/b/c"), String::new()));
        assert_eq!(split("a/*.txt"), (PathBuf::from("a"), "*.txt".to_owned()));
        assert_eq!(split("a/b*/c/d"), (PathBuf::from("a"), "b*/c/d".to_owned()));
        assert_eq!(split("*"), (PathBuf::new(), "*".to_owned()));
        assert_eq!(split("a\\*b/c"), (PathBuf::from("a\\*b/c"), String::new()));
    }

    #[test]
    fn parents_pivot() {
        assert_eq!(
            split_parents("./x/a.txt"),
            ("/".to_owned(), "x/a.txt".to_owned())
        );
        assert_eq!(
            split_parents("./x/./y/*.txt"),
            ("./x".to_owned(), "y/*.txt".to_owned())
        );
        assert_eq!(
            split_parents("/app/./src/**/*.go"),
            ("/app".to_owned(), "src/**/*.go".to_owned())
        );
    }
}
