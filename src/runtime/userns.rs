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
    let (go_read, mut go_write) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let (mut why_read, why_write) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let parent = Pid::this();
    // SAFETY: the caller runs this while the process has one thread
    // (unshare(CLONE_NEWUSER) requires that too; kiln calls it first
    // thing in `main`), so the
    // child inherits no lock held by another thread; it only reads a
    // pipe, runs two programs and exits.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(go_write);
            drop(why_read);
            let code = helper(go_read, why_write, parent, [uid, gid], [uids, gids]);
            // SAFETY: `_exit` ends the forked child without running the
            // parent's atexit handlers or flushing its stdio buffers twice.
            unsafe { nix::libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(go_read);
            drop(why_write);
            let unshared = unshare(CloneFlags::CLONE_NEWUSER);
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
                _ => Err(why.trim().to_string()),
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
    [uid, gid]: [u32; 2],
    [uids, gids]: [Range; 2],
) -> i32 {
    let mut byte = [0u8; 1];
    if go.read_exact(&mut byte).is_err() {
        return 1;
    }
    // Both at once: each is a setuid exec of its own (a few ms).
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
        let failure = match out {
            Ok(out) if out.status.success() => continue,
            Ok(out) => format!(
                "{program} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => format!("cannot run {program}: {e} (Debian: apt-get install uidmap)"),
        };
        let _ = why.write_all(failure.as_bytes());
        return 1;
    }
    0
}

/// Unshares a user namespace mapping root to `uid`/`gid` alone; why not.
/// The process must have one thread.
pub fn enter_own_ids(uid: u32, gid: u32) -> Result<(), String> {
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("cannot make a user namespace: {e}"))?;
    for (file, text) in [
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/uid_map", format!("0 {uid} 1")),
        ("/proc/self/gid_map", format!("0 {gid} 1")),
    ] {
        std::fs::write(file, text).map_err(|e| format!("cannot write {file}: {e}"))?;
    }
    Ok(())
}

/// Whether this process runs in a user namespace that is not the host's
/// (rootless kiln's, or a container's): its uid map is not the identity
/// over every id. There the sandbox mounts overlays with `userxattr`,
/// binds device nodes instead of making them, and makes no cgroup unless
/// limits ask for one.
pub fn inside() -> bool {
    static INSIDE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
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
    fn only_the_full_identity_map_is_the_hosts() {
        assert!(super::is_identity("         0          0 4294967295\n"));
        assert!(!super::is_identity("         0       1000          1\n"));
        assert!(!super::is_identity("0 1000 1\n1 100000 65536\n"));
    }
}
