//! Taking the sandbox's mountpoint stubs back out of the upper directory.
//!
//! The init creates a mountpoint when the image lacks one (`/proc` in a
//! minimal image, `/etc/hosts`, a volume's target). Those land in the
//! overlay's upper directory, which for a `RUN` step is the new layer; the
//! images docker builds never contain them, so they are removed once the
//! process is gone: each stub while it is still the empty file or directory
//! the init made, then each parent directory that overlayfs copied up only
//! to hold a stub — empty, not opaque, and the same directory (type, mode,
//! owner) as in the layer below. A directory the program wrote into, or
//! replaced, stays: that is a real change.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// Removes `stubs` (relative paths, parents before children) and the
/// copied-up parents that only held them from `upper`; `lowers` are the
/// read-only layers, topmost first.
pub(crate) fn remove(upper: &Path, lowers: &[PathBuf], stubs: &[String]) {
    let mut parents = BTreeSet::new();
    for stub in stubs.iter().rev() {
        let path = upper.join(stub);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir(&path);
            }
            Ok(m) if m.is_file() && m.len() == 0 => {
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
        let mut parent = Path::new(stub).parent();
        while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
            parents.insert(p.to_path_buf());
            parent = p.parent();
        }
    }
    // Deepest first, so a parent sees its emptied children gone.
    let mut parents: Vec<PathBuf> = parents.into_iter().collect();
    parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for rel in parents {
        let path = upper.join(&rel);
        if is_empty_dir(&path) && !is_opaque(&path) && same_as_below(&path, &rel, lowers) {
            let _ = std::fs::remove_dir(&path);
        }
    }
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut d| d.next().is_none())
}

/// overlayfs marks a directory that replaces the one below (rather than
/// merging with it) with `trusted.overlay.opaque=y`.
fn is_opaque(path: &Path) -> bool {
    let mut value = [0u8; 4];
    rustix::fs::lgetxattr(path, "trusted.overlay.opaque", &mut value)
        .is_ok_and(|n| value[..n] == *b"y")
}

/// Whether the topmost layer holding `rel` has the same directory there.
fn same_as_below(path: &Path, rel: &Path, lowers: &[PathBuf]) -> bool {
    let Ok(up) = std::fs::symlink_metadata(path) else {
        return false;
    };
    lowers
        .iter()
        .find_map(|lower| std::fs::symlink_metadata(lower.join(rel)).ok())
        .is_some_and(|low| {
            low.is_dir()
                && low.mode() == up.mode()
                && low.uid() == up.uid()
                && low.gid() == up.gid()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn stubs_and_parents_that_only_held_them_go_real_changes_stay() {
        let dir = tempfile::tempdir().unwrap();
        let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
        for d in ["etc", "var/lib", "srv"] {
            fs::create_dir_all(lower.join(d)).unwrap();
        }
        // As overlayfs leaves it: etc copied up to hold the hosts stub;
        // var/lib copied up and written into; proc made from nothing.
        for d in ["etc", "var/lib", "proc", "srv/data"] {
            fs::create_dir_all(upper.join(d)).unwrap();
        }
        fs::write(upper.join("etc/hosts"), "").unwrap();
        fs::write(upper.join("var/lib/state"), "x").unwrap();
        fs::create_dir(upper.join("var/lib/mnt")).unwrap();
        let stubs = ["etc/hosts", "proc", "var/lib/mnt", "srv/data"].map(String::from);
        remove(&upper, std::slice::from_ref(&lower), &stubs);
        let mut left: Vec<String> = walk(&upper);
        left.sort();
        assert_eq!(left, ["var", "var/lib", "var/lib/state"]);
    }

    #[test]
    fn a_stub_the_program_filled_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let upper = dir.path().join("upper");
        fs::create_dir_all(upper.join("data")).unwrap();
        fs::write(upper.join("data/kept"), "x").unwrap();
        fs::write(upper.join("hosts"), "not empty").unwrap();
        remove(&upper, &[], &["data".into(), "hosts".into()]);
        let mut left = walk(&upper);
        left.sort();
        assert_eq!(left, ["data", "data/kept", "hosts"]);
    }

    fn walk(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                out.push(path.strip_prefix(root).unwrap().display().to_string());
                if path.is_dir() {
                    stack.push(path);
                }
            }
        }
        out
    }
}
