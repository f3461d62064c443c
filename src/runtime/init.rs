//! The sandbox's first process: kiln's own binary, executed read-only from
//! the sandbox directory (see [`crate::spawn`]).
//!
//! It builds the root file system, pivots into it and sets the host name.
//! Then, as docker does, it becomes the program itself ([`process::exec`]
//! in this very process): the program is PID 1 of its namespace, and no
//! kiln process is left inside. Under `RunSpec::init` (docker's `--init`)
//! it forks the program instead and stays behind as a minimal init: it
//! reaps every zombie (orphans in the PID namespace are re-parented to
//! it), forwards the signals kiln sends it to the process, and exits with
//! the process's status (its exit code, or 128 + the signal number), which
//! takes every other process of the namespace down with it.
//!
//! The init is not dumpable: container processes, which lack
//! CAP_SYS_PTRACE, cannot open `/proc/1/exe`, `/proc/1/mem` or
//! `/proc/1/environ` (defence in depth for CVE-2019-5736).

#![allow(unsafe_code)]

use crate::bundle::InitConfig;
use crate::network;
use crate::process;
use crate::rootfs::{self, Setup};
use crate::spawn::{CONSOLE_FD, INIT_ARG0, SPEC_FD, STATUS_FD};
use crate::spec::{Network, RunSpec};
use crate::status::{self, StatusLine};
use crate::syscall::Linux;
use nix::mount::MsFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid};
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// Runs the init when this process was started as one (argv[0] is
/// [`INIT_ARG0`]); otherwise returns at once. kiln's `main` calls this
/// before anything else.
pub fn run_if_init() {
    let is_init = std::env::args_os()
        .next()
        .is_some_and(|arg0| arg0 == INIT_ARG0);
    if is_init {
        std::process::exit(init_main());
    }
}

/// Takes ownership of a descriptor the spawn step placed at `fd`.
fn adopt(fd: i32) -> OwnedFd {
    // SAFETY: spawn.rs renumbered exactly these descriptors before execve
    // and closed all others; nothing else in this fresh process owns them.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn init_main() -> i32 {
    let _ = nix::sys::prctl::set_dumpable(false);
    // runc's default: what the sandbox creates (the generated /etc files,
    // files of RUN steps) must not depend on the caller's umask.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    // `ps` shows comm, which execve took from the bind target's file name.
    let _ = nix::sys::prctl::set_name(c"kiln-init");
    let status_fd = adopt(STATUS_FD);
    let _ = rustix::io::fcntl_setfd(&status_fd, rustix::io::FdFlags::CLOEXEC);
    let mut status = File::from(status_fd);
    let mut config = Vec::new();
    // EOF before a whole document means kiln died while sending it.
    if File::from(adopt(SPEC_FD)).read_to_end(&mut config).is_err() {
        return 125;
    }
    let config: InitConfig = match serde_json::from_slice(&config) {
        Ok(c) => c,
        Err(e) => {
            status::send_error(
                &mut status,
                format!("cannot read the sandbox spec: {e}"),
                125,
            );
            return 125;
        }
    };
    let console = config.spec.tty.then(|| adopt(CONSOLE_FD));
    let prepared = match prepare(&config, &mut status, console) {
        Ok(p) => p,
        Err(e) => {
            status::send_error(&mut status, e, 125);
            return 125;
        }
    };
    if !config.spec.init {
        // The program is PID 1: become it.
        process::exec(&config, prepared, status)
    }
    // Every signal is blocked and collected with sigwait below; the child
    // unblocks them before it execs.
    let all = SigSet::all();
    if let Err(e) = all.thread_set_mask() {
        status::send_error(&mut status, format!("cannot block signals: {e}"), 125);
        return 125;
    }
    // SAFETY: this process is single-threaded (freshly executed, no
    // threads started), so the child may run arbitrary code.
    let child = match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => process::exec(&config, prepared, status),
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            status::send_error(&mut status, format!("cannot fork the process: {e}"), 125);
            return 125;
        }
    };
    drop(status);
    supervise(child, &all)
}

/// What the init prepared for the process.
pub(crate) struct Prepared {
    /// The pseudo-terminal's secondary side, when there is one.
    pub tty_path: Option<std::path::PathBuf>,
    /// The seccomp program to install just before execve (none for a
    /// privileged process).
    pub seccomp: Option<seccompiler::BpfProgram>,
}

fn prepare(
    config: &InitConfig,
    status: &mut File,
    console: Option<OwnedFd>,
) -> Result<Prepared, String> {
    let spec = &config.spec;
    if config.chroot {
        if spec.emulator.is_some() {
            return Err(
                "chroot isolation cannot register an emulator (it needs a user \
                        namespace); use handlers registered on the host (Debian: \
                        qemu-user-binfmt) or namespace isolation"
                    .to_string(),
            );
        }
        return enter_chroot(config, status);
    }
    if spec.network == Network::None {
        network::loopback_up()
            .map_err(|e| format!("cannot bring up the loopback interface: {e}"))?;
    }
    write_sysctls(spec)?;
    // Opened while host paths resolve; registered after the pivot.
    let interpreter = match &spec.emulator {
        Some(emulator) => Some(crate::emulate::open_interpreter(emulator)?),
        None => None,
    };
    let etc = write_etc_files(config)?;
    let stubs = rootfs::prepare(
        &Linux,
        &Setup {
            rootfs: &config.rootfs,
            lowers: &config.lowers,
            upper: &config.upper,
            work: &config.work,
            etc_files: &etc,
            mounts: &spec.mounts,
            readonly: spec.readonly_rootfs,
            workdir: spec.workdir(),
            privileged: spec.privileged,
            devices: &spec.devices,
            copied: config.copied,
            rootless: crate::userns::inside(),
        },
    )
    .map_err(|e| e.to_string())?;
    status::send(
        status,
        &StatusLine {
            stubs: Some(stubs),
            ..StatusLine::default()
        },
    );
    rootfs::pivot(&Linux, &config.rootfs).map_err(|e| e.to_string())?;
    if !spec.hostname.is_empty() {
        match nix::unistd::sethostname(&spec.hostname) {
            // A container's seccomp profile (docker's, podman's) refuses
            // sethostname to a container without CAP_SYS_ADMIN, whatever
            // namespace kiln makes inside it: the UTS namespace keeps the
            // container's name (docs/differences.md, "Rootless").
            Err(nix::errno::Errno::EPERM) if crate::userns::inside() => {}
            other => {
                other.map_err(|e| format!("cannot set the host name {:?}: {e}", spec.hostname))?
            }
        }
    }
    // Last of what needs the sandbox's first user namespace (the host
    // name above): the emulator's namespace has no say over the others.
    if let (Some(emulator), Some(interpreter)) = (&spec.emulator, interpreter) {
        crate::emulate::register(emulator, interpreter)?;
    }
    let tty_path = match console {
        Some(socket) => Some(crate::tty::open_in_container(socket, spec.console_size)?),
        None => None,
    };
    let seccomp = if spec.privileged {
        None
    } else {
        let caps = crate::caps::mask(&crate::caps::DOCKER_DEFAULT);
        Some(crate::seccomp::default_program(caps).map_err(|e| e.to_string())?)
    };
    Ok(Prepared { tty_path, seccomp })
}

/// Chroot isolation: nothing to mount or name; the caller prepared the
/// root, refused what needs namespaces, and asked for no_new_privs.
fn enter_chroot(config: &InitConfig, status: &mut File) -> Result<Prepared, String> {
    status::send(
        status,
        &StatusLine {
            stubs: Some(Vec::new()),
            ..StatusLine::default()
        },
    );
    nix::unistd::chroot(&config.rootfs)
        .map_err(|e| format!("cannot chroot into {}: {e}", config.rootfs.display()))?;
    nix::unistd::chdir("/").map_err(|e| format!("cannot enter the root: {e}"))?;
    let caps = crate::caps::mask(&crate::caps::DOCKER_DEFAULT);
    let seccomp = crate::seccomp::default_program(caps).map_err(|e| e.to_string())?;
    Ok(Prepared {
        tty_path: None,
        seccomp: Some(seccomp),
    })
}

/// Writes the spec's network sysctls through `/proc/sys/net`, which shows
/// the writer's network namespace: the sandbox's own (the mount namespace
/// still has the host's procfs, not yet replaced by the sandbox's).
fn write_sysctls(spec: &RunSpec) -> Result<(), String> {
    for (name, value) in &spec.sysctls {
        let path = crate::spec::sysctl_path(name, &spec.network)?;
        std::fs::write(&path, value)
            .map_err(|e| format!("cannot set sysctl {name}={value:?}: {e}"))?;
    }
    Ok(())
}

/// Writes the generated `/etc` files into a tmpfs private to this mount
/// namespace (nothing on disk to create or delete per sandbox; a program
/// that edits `/etc/hosts` edits this copy, which goes with the sandbox).
/// Files the caller mounts itself are skipped.
fn write_etc_files(config: &InitConfig) -> Result<Vec<(&'static str, PathBuf)>, String> {
    nix::mount::mount(
        Some("tmpfs"),
        &config.etc_dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("size=1m,mode=755"),
    )
    .map_err(|e| format!("cannot mount a tmpfs on {}: {e}", config.etc_dir.display()))?;
    let mut files = Vec::new();
    for (target, contents) in &config.etc_files {
        // Only the three known names; map them back to static strings.
        let Some(known) = ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]
            .into_iter()
            .find(|k| k == target)
        else {
            continue;
        };
        if config.spec.mounts.iter().any(|m| m.target() == known) {
            continue;
        }
        let path = config.etc_dir.join(known.trim_start_matches("/etc/"));
        std::fs::write(&path, contents)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        files.push((known, path));
    }
    Ok(files)
}

/// Reaps, forwards, and returns the process's status once it is gone.
fn supervise(child: Pid, all: &SigSet) -> i32 {
    loop {
        let signal = match all.wait() {
            Ok(s) => s,
            // A real-time signal nix has no name for: nothing to forward.
            Err(_) => continue,
        };
        if signal != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(child, signal);
            continue;
        }
        // One SIGCHLD may stand for many exits: reap until none is left.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => return code,
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => return 128 + sig as i32,
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}
