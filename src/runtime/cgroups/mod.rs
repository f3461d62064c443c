//! One cgroup per sandbox, on cgroup v2, v1 and hybrid hosts.
//!
//! A control group is a set of processes the kernel accounts and limits
//! together; children of a process stay in its group. Cgroups are
//! directories of a cgroup file system under `/sys/fs/cgroup`: limits are
//! control files in them, and a process joins one by writing a pid to its
//! `cgroup.procs` (kernel Documentation/admin-guide/cgroup-v2.rst and
//! cgroup-v1/). The OCI runtime spec (config-linux.md, "Control groups")
//! describes the same job for runtimes: create the cgroup, apply
//! `linux.resources`, put the container's process in it before it runs user
//! code.
//!
//! Every sandbox gets `kiln/<name>`: on v2 one directory, on v1 one per
//! mounted hierarchy (see `mode.rs`). The first process of the sandbox moves
//! itself into each of them ([`Cgroup::procs_files`]) before it execs, so
//! everything it starts inherits the limits and can be found, counted and
//! killed later. Names start with the creating kiln's pid so that a later
//! kiln can remove what a killed one left behind ([`remove_stale`]).
//!
//! Everything goes through the `CgroupFs` seam (`fs.rs`): the unit tests run
//! the whole logic on an in-memory cgroupfs, and the root tests run it on
//! this machine's real one.

mod bpf_prog;
mod bpf_sys;
mod devices;
mod error;
mod fs;
mod kill;
mod mode;
mod oom;
mod resources;
mod stale;
mod tree;
mod v1;
mod v2;

#[cfg(test)]
mod bpf_interp;
#[cfg(test)]
mod fake;
#[cfg(test)]
mod root_tests;

pub use error::CgroupError;
pub use mode::{Mode, detect};
pub use resources::{CpuQuota, Resources};
pub use stale::remove_stale;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fs::{CgroupFs, HostFs};
use mode::{CGROUP_ROOT, Layout, UNIFIED_DIR};
use tree::{Leaf, RMDIR_BUDGET};

/// A sandbox's cgroup: one directory on v2, one per hierarchy on v1.
///
/// Call [`Cgroup::remove`] when the sandbox is done. A `Cgroup` dropped
/// without it (an early return on an error path) is removed on a best-effort
/// basis, killing what is left in it; only by the process that created it,
/// so a forked child that unwinds does not tear down its own sandbox.
#[derive(Debug)]
pub struct Cgroup {
    fs: Arc<dyn CgroupFs>,
    name: String,
    /// The sandbox's cgroup in every tree, in creation order.
    leaves: Vec<Leaf>,
    /// The pid that created the cgroup; see the type's docs.
    owner: u32,
    removed: bool,
}

impl Cgroup {
    /// Creates the sandbox's cgroup named `kiln/<name>` in every hierarchy
    /// it needs and applies the limits.
    ///
    /// `name` must be a single directory name; start it with this process's
    /// pid and a `-` (`"<pid>-…"`) so [`remove_stale`] can clean up after a
    /// killed kiln. A name in use is an error, never a shared cgroup.
    pub fn create(name: &str, resources: &Resources) -> Result<Cgroup, CgroupError> {
        let layout = Layout::detect()?;
        Cgroup::create_in(Arc::new(HostFs::new(CGROUP_ROOT)), &layout, name, resources)
    }

    /// [`Cgroup::create`] on any cgroupfs with a known layout.
    pub(crate) fn create_in(
        fs: Arc<dyn CgroupFs>,
        layout: &Layout,
        name: &str,
        resources: &Resources,
    ) -> Result<Cgroup, CgroupError> {
        tree::validate_name(name)?;
        let mut cgroup = Cgroup {
            fs,
            name: name.to_owned(),
            leaves: Vec::new(),
            owner: std::process::id(),
            removed: false,
        };
        let fs = Arc::clone(&cgroup.fs);
        let root = fs.root().to_path_buf();
        let made = match layout.mode {
            Mode::V2 => v2::create(&*fs, &root, name, resources, &mut cgroup.leaves),
            Mode::V1 => v1::create(&*fs, &layout.used_v1(), name, resources, &mut cgroup.leaves),
            // The unified tree has no controllers here, but a cgroup in it
            // makes the sandbox's `0::` line in /proc/self/cgroup read
            // /kiln/<name> like the others, and gives kiln `cgroup.kill`
            // (5.14+), which kills the whole sandbox atomically even though
            // the limits live in v1. It gets the v2 device program too.
            Mode::Hybrid => {
                v1::create(&*fs, &layout.used_v1(), name, resources, &mut cgroup.leaves).and_then(
                    |()| {
                        v2::create_unified(&*fs, &root.join(UNIFIED_DIR), name, &mut cgroup.leaves)
                    },
                )
            }
        };
        match made {
            Ok(()) => Ok(cgroup),
            Err(e) => {
                // Nothing has joined yet; remove what exists. The error
                // that matters is the one that stopped the creation.
                let _ = cgroup.teardown(Duration::ZERO);
                cgroup.removed = true;
                Err(e)
            }
        }
    }

    /// The sandbox name (`kiln/<name>` in every tree).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Files to which the sandbox's first process writes "0" to move itself
    /// in (for `cgroup.procs`, pid 0 means the writer), one per hierarchy
    /// (v2: one). Write them all before exec'ing user code, and before
    /// unsharing the cgroup namespace so the sandbox's view is rooted at
    /// its own cgroup.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.leaves
            .iter()
            .map(|leaf| leaf.dir.join("cgroup.procs"))
            .collect()
    }

    /// How many times the kernel's OOM killer killed a process of this
    /// cgroup (v2 `memory.events` `oom_kill`; v1 `memory.oom_control`
    /// `oom_kill`, Linux 4.13+).
    pub fn oom_kills(&self) -> Result<u64, CgroupError> {
        oom::oom_kills(&*self.fs, &self.leaves)
    }

    /// SIGKILLs every process left (v2: `cgroup.kill` when present, else a
    /// `cgroup.procs` loop; v1: the `cgroup.procs` loop). Reap your own
    /// children afterwards: the kernel only empties the cgroup once they
    /// have exited.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        kill::kill_all(&*self.fs, &self.leaves)
    }

    /// Removes the sandbox's directories, killing leftovers first and
    /// retrying `EBUSY` for a short bounded time because killed tasks linger
    /// while they exit. Cgroups already gone are fine; the shared `kiln`
    /// parent stays.
    pub fn remove(mut self) -> Result<(), CgroupError> {
        self.removed = true;
        self.teardown(RMDIR_BUDGET)
    }

    /// Kills and removes every leaf; all are attempted, the first error is
    /// returned.
    fn teardown(&self, budget: Duration) -> Result<(), CgroupError> {
        let killed = self.kill_all();
        let mut first_error = killed.err();
        for leaf in self.leaves.iter().rev() {
            if let Err(e) = tree::remove_tree(&*self.fs, &leaf.dir, budget) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if !self.removed && self.owner == std::process::id() {
            // Best effort: Drop cannot report, and leftovers are what
            // remove_stale is for once this kiln has exited.
            let _ = self.teardown(RMDIR_BUDGET);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{FakeFs, create, limits};
    use super::*;

    #[test]
    fn a_name_in_use_is_refused_and_left_alone() {
        let fake = FakeFs::v2();
        let first = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap();
        let err = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap_err();
        assert!(matches!(err, CgroupError::Exists { .. }), "{err}");
        assert!(
            fake.exists(&fake.root().join("kiln/1-a")),
            "the failed create must not remove it"
        );
        first.remove().unwrap();
        assert!(!fake.exists(&fake.root().join("kiln/1-a")));
    }

    #[test]
    fn invalid_names_never_reach_the_file_system() {
        let fake = FakeFs::v2();
        for name in ["..", "a/../../etc", ""] {
            let err = create(&fake, &Layout::v2(), name, &limits()).unwrap_err();
            assert!(matches!(err, CgroupError::InvalidName { .. }), "{name:?}");
        }
        assert!(fake.writes().is_empty());
    }

    #[test]
    fn dropping_without_remove_cleans_up() {
        let fake = FakeFs::v2();
        drop(create(&fake, &Layout::v2(), "1-a", &limits()).unwrap());
        assert!(!fake.exists(&fake.root().join("kiln/1-a")));
    }
}
