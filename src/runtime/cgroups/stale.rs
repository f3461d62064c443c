//! Removing the cgroups of a kiln that died without cleaning up.
//!
//! A SIGKILLed (or crashed) kiln leaves `kiln/<name>` cgroups behind, maybe
//! with sandbox processes still running in them. Sandbox names start with
//! the creating kiln's pid (`"<pid>-…"`), so a later kiln can tell whose
//! they are: when no process with that pid exists, the owner is gone and
//! the cgroup is stale. Its leftover processes are killed and the cgroup is
//! removed, in every tree.
//!
//! Two limits of the pid test, both erring on the side of keeping a cgroup:
//! a recycled pid makes a stale cgroup look alive until that process exits,
//! and names that do not start with a pid are never touched. The test
//! assumes every kiln sharing this cgroupfs also shares our PID namespace;
//! a kiln in another PID namespace would look dead.

use std::collections::BTreeSet;
use std::io;
use std::time::Duration;

use super::CgroupError;
use super::fs::{CgroupFs, HostFs};
use super::kill;
use super::mode::{CGROUP_ROOT, Layout};
use super::tree::{self, Leaf, PARENT, RMDIR_BUDGET};

/// Removes `kiln/<pid>-…` cgroups whose creating kiln (`pid`) no longer
/// exists, after killing any process left in them. Returns how many
/// sandboxes were cleaned up (one per name, however many hierarchies it
/// spanned). Every stale cgroup is attempted; the first failure is
/// returned.
pub fn remove_stale() -> Result<usize, CgroupError> {
    let layout = Layout::detect()?;
    remove_stale_in(&HostFs::new(CGROUP_ROOT), &layout, RMDIR_BUDGET)
}

/// [`remove_stale`] on any cgroupfs.
pub(crate) fn remove_stale_in(
    fs: &dyn CgroupFs,
    layout: &Layout,
    budget: Duration,
) -> Result<usize, CgroupError> {
    let mut removed = BTreeSet::new();
    let mut first_error = None;
    for (base, kind) in layout.bases(fs.root()) {
        let parent = base.join(PARENT);
        let names = match fs.subdirs(&parent) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => {
                first_error.get_or_insert(CgroupError::List {
                    path: parent,
                    source,
                });
                continue;
            }
        };
        for name in names {
            if owner_pid(&name).is_none_or(|pid| fs.pid_exists(pid)) {
                continue;
            }
            let leaf = Leaf {
                dir: parent.join(&name),
                kind: kind.clone(),
            };
            match remove_one(fs, &leaf, budget) {
                Ok(()) => {
                    removed.insert(name);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(removed.len()),
    }
}

fn remove_one(fs: &dyn CgroupFs, leaf: &Leaf, budget: Duration) -> Result<(), CgroupError> {
    kill::kill_all(fs, std::slice::from_ref(leaf))?;
    tree::remove_tree(fs, &leaf.dir, budget)
}

/// The pid at the start of a sandbox name (`"4242-build-3"` → 4242), or
/// `None` when the name does not follow the convention.
pub(crate) fn owner_pid(name: &str) -> Option<i32> {
    let (digits, _) = name.split_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i32>().ok().filter(|pid| *pid > 0)
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeFs;
    use super::super::mode::tests::HYBRID;
    use super::*;
    use std::path::Path;

    #[test]
    fn owner_pid_parsing() {
        assert_eq!(owner_pid("4242-build-3"), Some(4242));
        assert_eq!(owner_pid("1-"), Some(1));
        for name in [
            "abc",
            "4242",
            "-12-x",
            "0-x",
            "+5-x",
            "12x-y",
            "99999999999-x",
            "-",
        ] {
            assert_eq!(owner_pid(name), None, "{name:?}");
        }
    }

    #[test]
    fn only_cgroups_of_dead_kilns_are_removed() {
        let layout = Layout::parse(HYBRID, Path::new(CGROUP_ROOT)).unwrap();
        let fs = FakeFs::v1(&layout);
        let root = fs.root().to_path_buf();
        fs.alive(100); // a running kiln
        for hierarchy in ["memory", "pids", "unified"] {
            for name in ["100-live", "200-dead", "not-ours"] {
                fs.dir(root.join(hierarchy).join("kiln").join(name));
            }
        }
        // A sandbox process outlived its kiln, and made a child cgroup.
        fs.process(root.join("memory/kiln/200-dead"), 300);
        fs.dir(root.join("memory/kiln/200-dead/inner"));
        fs.process(root.join("memory/kiln/200-dead/inner"), 301);

        let removed = remove_stale_in(&fs, &layout, Duration::from_secs(1)).unwrap();
        assert_eq!(removed, 1, "one sandbox, however many hierarchies");
        let mut killed = fs.killed();
        killed.sort_unstable();
        assert_eq!(killed, [300, 301]);
        for hierarchy in ["memory", "pids", "unified"] {
            let kiln = root.join(hierarchy).join("kiln");
            assert!(!fs.exists(&kiln.join("200-dead")), "{hierarchy}");
            assert!(fs.exists(&kiln.join("100-live")), "{hierarchy}");
            assert!(fs.exists(&kiln.join("not-ours")), "{hierarchy}");
        }
    }

    #[test]
    fn nothing_to_do_without_kiln_parents() {
        let fs = FakeFs::v2();
        assert_eq!(
            remove_stale_in(&fs, &Layout::v2(), Duration::ZERO).unwrap(),
            0
        );
    }
}
