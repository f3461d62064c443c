//! Entering a user namespace for the whole process: rootless kiln's first
//! step (the binary's `rootless` module decides when, and with which
//! ranges). With subordinate ranges, as podman and rootless BuildKit do: a
//! helper forked beforehand (it must stay in the user's own namespace,
//! where the setuid newuidmap(1) and newgidmap(1) work) writes the maps of
//! the process once it has unshared. Without them, the process maps its
//! own ids itself (user_namespaces(7): a process may map its own uid and,
//! after denying setgroups, its own gid). Either way the process is then
//! root of the namespace with every capability in it.
#![allow(unsafe_code)]

use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};
use std::io::{Read as _, Write as _};

/// A subordinate id range: `count` host ids from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The first host id.
    pub start: u32,
    /// How many.
    pub count: u32,
}

/// Unshares a user namespace mapping root to `uid`/`gid` and, from 1 on,
/// the subordinate ranges; why not. The process must have one thread.
pub fn enter_with_ranges(uid: u32, gid: u32, uids: Range, gids: Range) -> Result<(), String> {
    let fallback = [uid, gid];
    enter(fallback, move |parent| {
        map_with_helpers(parent, [uid, gid], [uids, gids])
    })
}

/// Unshares a user namespace that maps every id of this one to itself:
/// for root in a container (uid 0 without `CAP_SYS_ADMIN`, but with
/// `CAP_SETUID`/`CAP_SETGID`, which let it write any map of its own ids),
/// where kiln then has the capabilities its sandboxes need; and for the
/// init of an emulated step, whose binfmt_misc is its namespace's own
/// (`crate::emulate`). Why not.
pub fn enter_same_ids() -> Result<(), String> {
    let read =
        |file: &str| std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"));
    let (uids, gids) = (
        same_ids(&read("/proc/self/uid_map")?),
        same_ids(&read("/proc/self/gid_map")?),
    );
    enter([0, 0], move |parent| {
        for (file, map) in [("uid_map", &uids), ("gid_map", &gids)] {
            let path = format!("/proc/{parent}/{file}");
            std::fs::write(&path, map).map_err(|e| format!("cannot write {path}: {e}"))?;
        }
        Ok(())
    })
}

/// A map giving each id of `map` (a `/proc/PID/uid_map`) itself.
fn same_ids(map: &str) -> String {
    map.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [inside, _, count] => Some(format!("{inside} {inside} {count}\n")),
                _ => None,
            }
        })
        .collect()
}

/// Forks a helper, unshares, and lets the helper `map` this process's ids
/// from outside the new namespace. When the helper fails after the
/// unshare, the process maps `own` (its own uid and gid) itself, so that it
/// is never left in a namespace without a map, and returns why.
fn enter(
    own: [u32; 2],
    map: impl FnOnce(Pid) -> Result<(), String> + std::panic::UnwindSafe,
) -> Result<(), String> {
    let (go_read, mut go_write) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (mut why_read, why_write) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let parent = Pid::this();
    // SAFETY: the caller runs this while the process has one thread
    // (unshare(CLONE_NEWUSER) requires that too; kiln calls it first
    // thing in `main`), so the child inherits no lock held by another
    // thread; it only reads a pipe, writes files or runs two programs,
    // and exits without unwinding into the parent's frames.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(go_write);
            drop(why_read);
            let code = std::panic::catch_unwind(move || helper(go_read, why_write, parent, map))
                .unwrap_or(1);
            // SAFETY: `_exit` ends the forked child without running the
            // parent's atexit handlers or flushing its stdio buffers twice.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(go_read);
            drop(why_write);
            let unshared = unshare_user();
            if unshared.is_ok() {
                // The helper reads one byte; a closed pipe tells it to
                // give up.
                let _ = go_write.write_all(b"u");
            }
            drop(go_write);
            let mut why = String::new();
            let _ = why_read.read_to_string(&mut why);
            let status = waitpid(child, None).map_err(|e| format!("waitpid: {e}"))?;
            unshared.map_err(|e| format!("cannot make a user namespace: {e}"))?;
            match status {
                WaitStatus::Exited(_, 0) => Ok(()),
                _ => {
                    // Whatever the helper wrote stays (a map is written
                    // once); the rest is the process's own id.
                    let [uid, gid] = own;
                    map_own_ids(uid, gid);
                    Err(format!(
                        "{}; kiln continues in a user namespace mapping its own ids only",
                        why.trim()
                    ))
                }
            }
        }
    }
}

/// The helper: waits until `parent` unshared, then maps its ids; the
/// exit code, and on failure why on `why`.
fn helper(
    mut go: std::io::PipeReader,
    mut why: std::io::PipeWriter,
    parent: Pid,
    map: impl FnOnce(Pid) -> Result<(), String>,
) -> i32 {
    let mut byte = [0u8; 1];
    if go.read_exact(&mut byte).is_err() {
        return 1;
    }
    match map(parent) {
        Ok(()) => 0,
        Err(failure) => {
            let _ = why.write_all(failure.as_bytes());
            1
        }
    }
}

/// newuidmap and newgidmap, both at once (each is a setuid exec of its
/// own, a few ms): root to `uid`/`gid`, 1 on to the ranges.
fn map_with_helpers(
    parent: Pid,
    [uid, gid]: [u32; 2],
    [uids, gids]: [Range; 2],
) -> Result<(), String> {
    let spawned: Vec<_> = [("newuidmap", uid, uids), ("newgidmap", gid, gids)]
        .into_iter()
        .map(|(program, own, range)| {
            let child = std::process::Command::new(program)
                .arg(parent.to_string())
                .args(["0", &own.to_string(), "1"])
                .args(["1", &range.start.to_string(), &range.count.to_string()])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn();
            (program, child)
        })
        .collect();
    for (program, child) in spawned {
        let out = child.and_then(|c| c.wait_with_output());
        match out {
            Ok(out) if out.status.success() => continue,
            Ok(out) => {
                return Err(format!(
                    "{program} failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Err(e) => {
                return Err(format!(
                    "cannot run {program}: {e} (Debian: apt-get install uidmap)"
                ));
            }
        }
    }
    Ok(())
}

/// Maps the process's own ids in the namespace it has just unshared;
/// a map written already stays.
fn map_own_ids(uid: u32, gid: u32) -> Vec<String> {
    let mut failures = Vec::new();
    for (file, text) in [
        ("/proc/self/uid_map", format!("0 {uid} 1")),
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/gid_map", format!("0 {gid} 1")),
    ] {
        if let Err(e) = std::fs::write(file, text) {
            failures.push(format!("cannot write {file}: {e}"));
        }
    }
    failures
}

/// Unshares a user namespace mapping root to `uid`/`gid` alone; why not.
/// The process must have one thread.
pub fn enter_own_ids(uid: u32, gid: u32) -> Result<(), String> {
    unshare_user().map_err(|e| format!("cannot make a user namespace: {e}"))?;
    match map_own_ids(uid, gid).into_iter().next() {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// Set once this process has unshared a user namespace of its own.
static UNSHARED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn unshare_user() -> nix::Result<()> {
    unshare(CloneFlags::CLONE_NEWUSER)?;
    UNSHARED.store(true, std::sync::atomic::Ordering::Release);
    Ok(())
}

/// Whether this process runs in a user namespace that is not the host's
/// (rootless kiln's, a container's, or one kiln made — even where its map
/// is the identity, as in a container that shares the host's ids): its
/// uid map is not the identity over every id, or kiln unshared one. There
/// the sandbox mounts overlays with `userxattr`, binds device nodes
/// instead of making them, and makes no cgroup unless limits ask for one.
pub fn inside() -> bool {
    static INSIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if UNSHARED.load(std::sync::atomic::Ordering::Acquire) {
        return true;
    }
    *INSIDE.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .map(|map| !is_identity(&map))
            .unwrap_or(false)
    })
}

/// A uid map that maps every id to itself (the initial namespace's).
fn is_identity(map: &str) -> bool {
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields == ["0", "0", "4294967295"]
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_containers_ids_map_to_themselves() {
        let map = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(super::same_ids(map), "0 0 1\n1 1 65536\n");
    }

    #[test]
    fn only_the_full_identity_map_is_the_hosts() {
        assert!(super::is_identity("         0          0 4294967295\n"));
        assert!(!super::is_identity("         0       1000          1\n"));
        assert!(!super::is_identity("0 1000 1\n1 100000 65536\n"));
    }
}
