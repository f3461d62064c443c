//! The container process, which becomes the user's program: the sandbox's
//! first process itself (PID 1, as docker runs it), or the init's child
//! under `--init`.
//!
//! Before execve it takes, in this order (runc's, because each step needs
//! privileges the next one drops): a clean signal mask and its own
//! session (with the pseudo-terminal as controlling terminal under `-t`);
//! the user resolved from the container's own passwd and group files; the
//! working directory, created when missing; the bounding set cut to
//! docker's capabilities; the uid/gid switch (keeping the permitted set
//! across it); the final capability sets; the parent-death signal again
//! (the uid switch cleared it); no_new_privs, so no setuid
//! binary or file capability can raise privileges again; and last the
//! seccomp filter, which must come after every call it would forbid.

use crate::bundle::InitConfig;
use crate::caps;
use crate::init::Prepared;
use crate::spec::{DEFAULT_PATH, env_key};
use crate::status;
use crate::user::{self, ExecUser};
use nix::errno::Errno;
use nix::sys::signal::SigSet;
use nix::unistd::{AccessFlags, Gid, Uid};
use std::convert::Infallible;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A failure before the program runs: the message and docker's exit code.
type Failure = (String, i32);

fn setup_err(what: &str) -> impl FnOnce(Errno) -> Failure + '_ {
    move |e| (format!("cannot {what}: {e}"), 125)
}

/// Becomes the user's program; on failure reports on `status` and exits
/// with docker's code (125 set-up, 126 not executable, 127 not found).
pub(crate) fn exec(config: &InitConfig, prepared: Prepared, mut status: File) -> ! {
    let Err((message, code)) = run(config, prepared, &status);
    status::send_error(&mut status, message, code);
    std::process::exit(code)
}

fn run(config: &InitConfig, prepared: Prepared, status: &File) -> Result<Infallible, Failure> {
    let spec = &config.spec;
    crate::fds::default_signal_actions().map_err(setup_err("reset signal actions"))?;
    SigSet::empty()
        .thread_set_mask()
        .map_err(setup_err("unblock signals"))?;
    // As PID 1 the process leads the session spawn.rs made already.
    if nix::unistd::getsid(None) != Ok(nix::unistd::getpid()) {
        nix::unistd::setsid().map_err(setup_err("start a session"))?;
    }
    if let Some(tty) = &prepared.tty_path {
        crate::tty::become_controlling(tty).map_err(|e| (e, 125))?;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let user = user::resolve(&spec.user, &passwd, &group).map_err(|e| (e.to_string(), 125))?;
    let env = environment(&spec.env, &user, spec.tty);
    enter_workdir(spec.workdir())?;

    if let Some(seccomp) = &prepared.seccomp
        && !spec.no_new_privileges
    {
        // Without no_new_privs the kernel only takes a filter from a
        // thread with CAP_SYS_ADMIN: install it before the capabilities
        // go. Everything after this (prctl, setgroups, setres[ug]id,
        // capset, close_range, execve) is allowed by docker's profile.
        crate::seccomp::apply_privileged(seccomp).map_err(|e| (e.to_string(), 125))?;
    }
    let keep = if spec.privileged {
        caps::all().map_err(|e| (e.to_string(), 125))?
    } else if config.chroot {
        // A container kiln runs in may have fewer than docker's set; no
        // capability can be raised past what the process holds. And no
        // CAP_SYS_CHROOT: with it, a second chroot and `..` lead out of
        // the step's root.
        let held = caps::all().map_err(|e| (e.to_string(), 125))?;
        caps::DOCKER_DEFAULT
            .into_iter()
            .filter(|c| held.contains(c) && *c != ::caps::Capability::CAP_SYS_CHROOT)
            .collect()
    } else {
        caps::DOCKER_DEFAULT.to_vec()
    };
    caps::drop_bounding(&keep).map_err(|e| (e.to_string(), 125))?;
    switch_user(&user, spec.primary_group_supplementary)?;
    caps::set_process(&keep).map_err(|e| (e.to_string(), 125))?;
    rearm_parent_death(status)?;

    let Some(arg0) = spec.args.first() else {
        return Err(("no command specified".into(), 125));
    };
    let program = find_program(arg0, &env)?;
    let args = cstrings(&spec.args)?;
    let env_c = cstrings(&env)?;
    let program_c = CString::new(program.as_os_str().as_encoded_bytes())
        .map_err(|_| (format!("exec: {arg0:?}: path contains a NUL byte"), 126))?;

    if spec.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(setup_err("set no_new_privs"))?;
    }
    close_other_descriptors(status.as_raw_fd())?;
    if let Some(seccomp) = &prepared.seccomp
        && spec.no_new_privileges
    {
        crate::seccomp::apply(seccomp).map_err(|e| (e.to_string(), 125))?;
    }
    let Err(errno) = nix::unistd::execve(&program_c, &args, &env_c);
    Err(exec_failure(arg0, errno))
}

/// docker's environment rules: the spec's entries, plus `PATH` and `HOME`
/// when missing, plus `TERM=xterm` under a tty.
fn environment(env: &[String], user: &ExecUser, tty: bool) -> Vec<String> {
    let mut out = env.to_vec();
    let has = |key: &str| env.iter().any(|e| env_key(e) == key);
    if !has("PATH") {
        out.push(format!("PATH={DEFAULT_PATH}"));
    }
    if !has("HOME") {
        out.push(format!("HOME={}", user.home));
    }
    if tty && !has("TERM") {
        out.push("TERM=xterm".into());
    }
    out
}

/// chdir to the working directory (the init created it when missing,
/// inside the root and before any read-only remount), then check that the
/// kernel can name it: a directory reached through a leaked host
/// descriptor has no path inside the root, and getcwd fails with ENOENT
/// (the CVE-2024-21626 check).
fn enter_workdir(cwd: &str) -> Result<(), Failure> {
    nix::unistd::chdir(cwd).map_err(|e| {
        (
            format!("cannot enter the working directory {cwd}: {e}"),
            125,
        )
    })?;
    match nix::unistd::getcwd() {
        Ok(_) => Ok(()),
        Err(e) => Err((
            format!("the working directory {cwd} is outside the container: {e}"),
            125,
        )),
    }
}

/// setgroups, setresgid, setresuid, with PR_SET_KEEPCAPS so the permitted
/// set survives the uid change (it is cut to docker's set right after).
///
/// The primary gid leads the supplementary list, as docker has done since
/// CVE-2022-36109: otherwise a process could shed its primary group's
/// restrictions (a file mode that denies that group) via setgroups.
fn switch_user(user: &ExecUser, primary_supplementary: bool) -> Result<(), Failure> {
    nix::sys::prctl::set_keepcaps(true).map_err(setup_err("keep capabilities"))?;
    let mut groups = Vec::new();
    if primary_supplementary {
        groups.push(Gid::from_raw(user.gid));
    }
    groups.extend(
        user.groups
            .iter()
            .filter(|g| !primary_supplementary || **g != user.gid)
            .map(|g| Gid::from_raw(*g)),
    );
    nix::unistd::setgroups(&groups).map_err(setup_err("set supplementary groups"))?;
    let gid = Gid::from_raw(user.gid);
    nix::unistd::setresgid(gid, gid, gid).map_err(setup_err("set the group id"))?;
    let uid = Uid::from_raw(user.uid);
    nix::unistd::setresuid(uid, uid, uid).map_err(setup_err("set the user id"))?;
    nix::sys::prctl::set_keepcaps(false).map_err(setup_err("reset keepcaps"))
}

/// Sets the parent-death signal again: a change of user id or group id
/// clears it (commit_creds), and as PID 1 the program has no init whose
/// death would take it along when kiln dies. kiln may have died before
/// the signal was set again: then kiln's end of the status pipe is closed
/// (poll reports POLLERR on this end), and the process leaves.
fn rearm_parent_death(status: &File) -> Result<(), Failure> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd as _;
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(setup_err("set the parent-death signal"))?;
    let mut fds = [PollFd::new(status.as_fd(), PollFlags::POLLOUT)];
    let gone = poll(&mut fds, PollTimeout::ZERO).is_ok()
        && fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP));
    if gone {
        std::process::exit(125);
    }
    Ok(())
}

/// The program to execute: `arg0` itself when it has a slash, else the
/// first executable match in the container's `PATH` (Go's exec.LookPath,
/// which runc uses).
fn find_program(arg0: &str, env: &[String]) -> Result<PathBuf, Failure> {
    if arg0.contains('/') {
        return Ok(PathBuf::from(arg0));
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(arg0);
        let is_file = std::fs::metadata(&candidate).is_ok_and(|m| m.is_file());
        if is_file && nix::unistd::access(&candidate, AccessFlags::X_OK).is_ok() {
            return Ok(candidate);
        }
    }
    Err((
        format!("exec: {arg0:?}: executable file not found in $PATH"),
        127,
    ))
}

fn exec_failure(arg0: &str, errno: Errno) -> Failure {
    match errno {
        Errno::ENOENT => (format!("exec: {arg0:?}: no such file or directory"), 127),
        Errno::EACCES | Errno::EPERM => (format!("exec: {arg0:?}: permission denied"), 126),
        other => (format!("exec: {arg0:?}: {other}"), 126),
    }
}

fn cstrings(items: &[String]) -> Result<Vec<CString>, Failure> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| (format!("{s:?} contains a NUL byte"), 125))
        })
        .collect()
}

/// Only stdio and the (close-on-exec) status pipe may be open at execve.
fn close_other_descriptors(status_fd: i32) -> Result<(), Failure> {
    let status_fd =
        u32::try_from(status_fd).map_err(|_| ("bad status descriptor".to_string(), 125))?;
    let close = |first: u32, last: u32| {
        if first <= last {
            crate::fds::close_range(first, last)
        } else {
            Ok(())
        }
    };
    close(3, status_fd.saturating_sub(1)).map_err(setup_err("close inherited descriptors"))?;
    close(status_fd + 1, u32::MAX).map_err(setup_err("close inherited descriptors"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> ExecUser {
        ExecUser {
            uid: 0,
            gid: 0,
            groups: vec![],
            home: "/root".into(),
        }
    }

    #[test]
    fn path_and_home_are_added_only_when_missing() {
        let env = environment(&["A=1".into()], &root(), false);
        assert_eq!(env, ["A=1", &format!("PATH={DEFAULT_PATH}"), "HOME=/root"]);
        let env = environment(&["PATH=/x".into(), "HOME=/h".into()], &root(), true);
        assert_eq!(env, ["PATH=/x", "HOME=/h", "TERM=xterm"]);
    }

    #[test]
    fn programs_are_found_in_the_containers_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::write(bin.join("data"), "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = [format!("PATH=/nonexistent:{}", bin.display())];
        assert_eq!(find_program("tool", &env).unwrap(), tool);
        assert_eq!(find_program("data", &env).unwrap_err().1, 127);
        assert_eq!(
            find_program("./rel/x", &env).unwrap(),
            PathBuf::from("./rel/x")
        );
        let err = find_program("missing", &env).unwrap_err();
        assert_eq!(
            err.0,
            "exec: \"missing\": executable file not found in $PATH"
        );
    }
}
