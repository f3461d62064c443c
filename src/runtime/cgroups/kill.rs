//! Emptying a sandbox cgroup: `SIGKILL` to every process in it and below.
//!
//! Since Linux 5.14 a v2 cgroup has `cgroup.kill`: writing "1" kills every
//! process in the cgroup and its descendants, and the kernel itself handles
//! processes forking meanwhile (cgroup-v2.rst, "Core Interface Files").
//! Elsewhere (v1 hierarchies, older v2 kernels) kiln reads `cgroup.procs`
//! of the cgroup and of every cgroup below it and signals each pid, again
//! and again until a round finds no pid it has not signalled yet: a child
//! forked just before its parent died shows up in the next round, and a
//! killed process cannot fork any more. A killed but unreaped process
//! (a zombie) can stay listed; it has been signalled already, so it does
//! not keep the loop going.

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;

use super::CgroupError;
use super::fs::{self, CgroupFs};
use super::tree::{self, Leaf, LeafKind};

/// Rounds of the `cgroup.procs` loop before giving up. Each round kills
/// everything visible, so only a process tree that keeps forking faster
/// than it is killed (and `pids.max` bounds that) needs more than a few.
const MAX_ROUNDS: usize = 100;

/// SIGKILLs every process in `leaves` and their descendant cgroups.
pub(crate) fn kill_all(fs: &dyn CgroupFs, leaves: &[Leaf]) -> Result<(), CgroupError> {
    let mut by_procs = Vec::new();
    for leaf in leaves {
        if matches!(leaf.kind, LeafKind::V2 | LeafKind::Unified) {
            let kill_file = leaf.dir.join("cgroup.kill");
            if fs.exists(&kill_file) {
                fs::write(fs, &kill_file, "1")?;
                continue;
            }
        }
        by_procs.push(leaf.dir.clone());
    }
    signal_until_quiet(fs, &by_procs)
}

/// The `cgroup.procs` loop over `roots` and everything below them.
fn signal_until_quiet(fs: &dyn CgroupFs, roots: &[PathBuf]) -> Result<(), CgroupError> {
    let Some(first) = roots.first() else {
        return Ok(());
    };
    // Our own pid in a sandbox cgroup is a bug elsewhere; killing ourselves
    // would hide it. Skipped, it keeps the cgroup busy and `rmdir` reports it.
    let me = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
    let mut signalled = BTreeSet::new();
    for _ in 0..MAX_ROUNDS {
        let mut new_pid = false;
        for root in roots {
            for cgroup in tree::walk(fs, root)? {
                let procs = cgroup.join("cgroup.procs");
                let text = match fs.read(&procs) {
                    Ok(text) => text,
                    // Removed while we walked: nothing left to kill there.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(source) => {
                        return Err(CgroupError::Read {
                            path: procs,
                            source,
                        });
                    }
                };
                for pid in parse_pids(&text, &procs)? {
                    if pid == me || !signalled.insert(pid) {
                        continue;
                    }
                    new_pid = true;
                    match fs.kill(pid) {
                        Ok(()) => {}
                        // Exited between the read and the kill.
                        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                        Err(source) => {
                            return Err(CgroupError::Kill {
                                pid,
                                path: procs,
                                source,
                            });
                        }
                    }
                }
            }
        }
        if !new_pid {
            return Ok(());
        }
    }
    Err(CgroupError::KillIncomplete {
        path: first.clone(),
        rounds: MAX_ROUNDS,
    })
}

/// The pids of a `cgroup.procs` file, one per line; anything else (and a
/// pid of 0 or below, which `kill(2)` would read as a process group or as
/// "everyone") is refused.
fn parse_pids(text: &str, path: &std::path::Path) -> Result<Vec<i32>, CgroupError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match line.trim().parse::<i32>() {
            Ok(pid) if pid > 0 => Ok(pid),
            _ => Err(CgroupError::Parse {
                path: path.to_path_buf(),
                content: line.to_owned(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeFs;
    use super::*;
    use std::path::Path;

    fn v1_leaf(fs: &FakeFs, rel: &str) -> Leaf {
        let dir = fs.root().join(rel);
        fs.dir(&dir);
        fs.file(dir.join("cgroup.procs"), "");
        Leaf {
            dir,
            kind: LeafKind::V1(vec!["memory".into()]),
        }
    }

    #[test]
    fn cgroup_kill_is_used_when_present() {
        let fs = FakeFs::new();
        let dir = fs.root().join("kiln/1-a");
        fs.dir(&dir);
        fs.file(dir.join("cgroup.kill"), "");
        fs.process(&dir, 40);
        let leaf = Leaf {
            dir: dir.clone(),
            kind: LeafKind::V2,
        };
        kill_all(&fs, &[leaf]).unwrap();
        assert_eq!(fs.content(dir.join("cgroup.kill")).unwrap(), "1");
        assert!(
            fs.killed().is_empty(),
            "no per-pid signals after cgroup.kill"
        );
    }

    #[test]
    fn without_cgroup_kill_every_pid_below_is_signalled_once() {
        let fs = FakeFs::new();
        let mem = v1_leaf(&fs, "memory/kiln/1-a");
        let pids = v1_leaf(&fs, "pids/kiln/1-a");
        let nested = mem.dir.join("inner");
        fs.dir(&nested);
        for pid in [10, 11] {
            fs.process(&mem.dir, pid);
            fs.process(&pids.dir, pid);
        }
        fs.process(&nested, 12);
        kill_all(&fs, &[mem.clone(), pids]).unwrap();
        let mut killed = fs.killed();
        killed.sort_unstable();
        assert_eq!(killed, [10, 11, 12]);
        assert_eq!(fs.content(mem.dir.join("cgroup.procs")).unwrap(), "");
    }

    #[test]
    fn v2_without_cgroup_kill_falls_back_to_procs() {
        let fs = FakeFs::new();
        let dir = fs.root().join("kiln/1-a");
        fs.dir(&dir);
        fs.process(&dir, 30);
        kill_all(
            &fs,
            &[Leaf {
                dir,
                kind: LeafKind::V2,
            }],
        )
        .unwrap();
        assert_eq!(fs.killed(), [30]);
    }

    #[test]
    fn zombies_do_not_keep_the_loop_going() {
        let fs = FakeFs::new();
        let leaf = v1_leaf(&fs, "memory/kiln/1-a");
        fs.process(&leaf.dir, 20);
        fs.zombie(20);
        kill_all(&fs, std::slice::from_ref(&leaf)).unwrap();
        assert_eq!(fs.killed(), [20]);
        assert_eq!(fs.content(leaf.dir.join("cgroup.procs")).unwrap(), "20\n");
    }

    #[test]
    fn our_own_pid_is_never_signalled() {
        let fs = FakeFs::new();
        let leaf = v1_leaf(&fs, "memory/kiln/1-a");
        let me = i32::try_from(std::process::id()).unwrap();
        fs.process(&leaf.dir, me);
        kill_all(&fs, &[leaf]).unwrap();
        assert!(fs.killed().is_empty());
    }

    #[test]
    fn garbage_in_cgroup_procs_is_refused_not_signalled() {
        let path = Path::new("/x/cgroup.procs");
        assert_eq!(parse_pids("1\n22\n\n", path).unwrap(), [1, 22]);
        for bad in ["0\n", "-1\n", "abc\n", "12 13\n"] {
            let err = parse_pids(bad, path).unwrap_err();
            assert!(err.to_string().contains("/x/cgroup.procs"), "{err}");
        }
    }
}
