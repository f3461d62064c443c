//! The `kiln/<name>` directories: naming, creating, walking and removing.
//!
//! Every tree (the v2 root, each v1 hierarchy, the hybrid `unified` mount)
//! gets a shared `kiln` cgroup with one child per sandbox. The parent is
//! never removed: another kiln may be creating a child in it at that very
//! moment, and an empty cgroup costs the kernel next to nothing.

use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use super::CgroupError;
use super::fs::CgroupFs;

/// The shared parent cgroup in every tree.
pub(crate) const PARENT: &str = "kiln";

/// How long `rmdir` keeps retrying `EBUSY`. A SIGKILLed task stays in its
/// cgroup until it has finished exiting (unmapping memory, closing files),
/// which is quick but not instant.
pub(crate) const RMDIR_BUDGET: Duration = Duration::from_secs(2);

/// What kind of tree a sandbox cgroup lives in; decides which control files
/// it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LeafKind {
    /// The single v2 tree, with the controllers kiln enabled.
    V2,
    /// A v1 hierarchy with these controllers.
    V1(Vec<String>),
    /// The hybrid layout's controller-less v2 tree.
    Unified,
}

/// One sandbox cgroup directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leaf {
    pub(crate) dir: PathBuf,
    pub(crate) kind: LeafKind,
}

impl Leaf {
    /// Whether this cgroup has the v1 `controller`.
    pub(crate) fn has_v1(&self, controller: &str) -> bool {
        matches!(&self.kind, LeafKind::V1(c) if c.iter().any(|c| c == controller))
    }
}

/// Refuses names that are not exactly one directory name, so `name` can
/// never reach outside `kiln/` (`..`, `/`) or be cut short by the kernel.
pub(crate) fn validate_name(name: &str) -> Result<(), CgroupError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name == "." || name == ".." {
        "it is a relative directory reference"
    } else if name.contains('/') {
        "it contains '/'"
    } else if name.chars().any(char::is_control) {
        "it contains control characters"
    } else if name.len() > 255 {
        "it is longer than 255 bytes (NAME_MAX)"
    } else {
        return Ok(());
    };
    Err(CgroupError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// Creates `<base>/kiln` unless it exists; returns its path.
pub(crate) fn ensure_parent(fs: &dyn CgroupFs, base: &Path) -> Result<PathBuf, CgroupError> {
    let parent = base.join(PARENT);
    match fs.mkdir(&parent) {
        Ok(()) => Ok(parent),
        // Created earlier, or by a concurrent kiln a moment ago.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(parent),
        Err(source) => Err(CgroupError::Mkdir {
            path: parent,
            source,
        }),
    }
}

/// Creates `<parent>/<name>`, which must not exist yet.
pub(crate) fn make_leaf(
    fs: &dyn CgroupFs,
    parent: &Path,
    name: &str,
) -> Result<PathBuf, CgroupError> {
    let dir = parent.join(name);
    match fs.mkdir(&dir) {
        Ok(()) => Ok(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CgroupError::Exists {
            path: dir,
            name: name.to_owned(),
        }),
        Err(source) => Err(CgroupError::Mkdir { path: dir, source }),
    }
}

/// `dir` and every cgroup below it, parents before children. A sandbox may
/// create child cgroups of its own (systemd or docker inside a `RUN`), and in
/// v1 a cgroup's `cgroup.procs` lists only its own processes. A `dir` that
/// does not exist gives an empty list; so does a child that vanishes while
/// being walked.
pub(crate) fn walk(fs: &dyn CgroupFs, dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        match fs.subdirs(&next) {
            Ok(names) => {
                pending.extend(names.iter().rev().map(|n| next.join(n)));
                found.push(next);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(CgroupError::List { path: next, source }),
        }
    }
    Ok(found)
}

/// Removes `dir` and the cgroups below it, children first. The processes
/// must be gone (see `kill`); `EBUSY` is retried for `budget`.
pub(crate) fn remove_tree(
    fs: &dyn CgroupFs,
    dir: &Path,
    budget: Duration,
) -> Result<(), CgroupError> {
    let deadline = Instant::now() + budget;
    for cgroup in walk(fs, dir)?.iter().rev() {
        rmdir_until(fs, cgroup, deadline)?;
    }
    Ok(())
}

/// rmdir(2) with retries on `EBUSY` until `deadline`; a cgroup that is
/// already gone counts as removed.
fn rmdir_until(fs: &dyn CgroupFs, dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    let mut pause = Duration::from_millis(1);
    loop {
        match fs.rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(source) => {
                return Err(CgroupError::Rmdir {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeFs;
    use super::*;

    #[test]
    fn names_must_be_one_directory_name() {
        for bad in ["", ".", "..", "a/b", "/abs", "new\nline", &"x".repeat(256)] {
            let err = validate_name(bad).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidName { .. }), "{bad:?}");
        }
        validate_name("1234-build-7").unwrap();
    }

    #[test]
    fn parent_may_exist_leaf_may_not() {
        let fs = FakeFs::new();
        let base = fs.root().to_path_buf();
        let parent = ensure_parent(&fs, &base).unwrap();
        assert_eq!(ensure_parent(&fs, &base).unwrap(), parent);
        make_leaf(&fs, &parent, "1-a").unwrap();
        let err = make_leaf(&fs, &parent, "1-a").unwrap_err();
        assert!(err.to_string().contains("/fake/cgroup/kiln/1-a"), "{err}");
        assert!(matches!(err, CgroupError::Exists { .. }));
    }

    #[test]
    fn walk_is_parents_first_and_tolerates_absence() {
        let fs = FakeFs::new();
        let root = fs.root().to_path_buf();
        fs.dir(root.join("kiln/1-a/inner/deeper"));
        fs.dir(root.join("kiln/1-a/other"));
        let dirs = walk(&fs, &root.join("kiln/1-a")).unwrap();
        let rel: Vec<_> = dirs
            .iter()
            .map(|d| d.strip_prefix(&root).unwrap())
            .collect();
        assert_eq!(
            rel,
            [
                Path::new("kiln/1-a"),
                Path::new("kiln/1-a/inner"),
                Path::new("kiln/1-a/inner/deeper"),
                Path::new("kiln/1-a/other"),
            ]
        );
        assert!(walk(&fs, &root.join("kiln/none")).unwrap().is_empty());
    }

    #[test]
    fn remove_tree_removes_children_first_and_retries_busy() {
        let fs = FakeFs::new();
        let root = fs.root().to_path_buf();
        fs.dir(root.join("kiln/1-a/inner"));
        fs.busy(root.join("kiln/1-a"), 3);
        remove_tree(&fs, &root.join("kiln/1-a"), Duration::from_secs(5)).unwrap();
        assert!(!fs.exists(&root.join("kiln/1-a")));
        assert!(fs.exists(&root.join("kiln")), "the shared parent stays");
        // Gone already: fine.
        remove_tree(&fs, &root.join("kiln/1-a"), Duration::ZERO).unwrap();
    }

    #[test]
    fn busy_past_the_budget_is_an_error_naming_the_cgroup() {
        let fs = FakeFs::new();
        let root = fs.root().to_path_buf();
        fs.dir(root.join("kiln/1-a"));
        fs.busy(root.join("kiln/1-a"), u32::MAX);
        let err = remove_tree(&fs, &root.join("kiln/1-a"), Duration::from_millis(20)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/fake/cgroup/kiln/1-a"), "{msg}");
        assert!(
            matches!(err, CgroupError::Rmdir { source, .. } if source.raw_os_error() == Some(libc::EBUSY))
        );
    }
}
