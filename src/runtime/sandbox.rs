//! The caller's side of a sandbox: create its directory and cgroup, clone
//! the init, send it the spec, learn whether the program started, wait for
//! it, and clean up — the one entry point behind `RUN` and `kiln run`.

use crate::bundle::Bundle;
use crate::cgroups::{self, Cgroup, CpuQuota};
use crate::spawn::{self, PreExec};
use crate::spec::{Network, RunSpec};
use crate::status::StatusLine;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::ffi::CString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use thiserror::Error;

/// A sandbox could not be created or did not start its program.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The sandbox directory could not be made or cleaned.
    #[error("cannot prepare the sandbox directory {dir}: {source}")]
    Bundle {
        /// The directory.
        dir: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The cgroup could not be made.
    #[error(transparent)]
    Cgroup(#[from] cgroups::CgroupError),
    /// What a sandbox in a user namespace (rootless kiln) cannot have.
    #[error("rootless: {0}")]
    Rootless(String),
    /// What chroot isolation cannot give.
    #[error("{0}")]
    Chroot(String),
    /// A system call in kiln failed.
    #[error("cannot {what}: {source}")]
    Sys {
        /// The step.
        what: &'static str,
        /// The kernel's answer.
        source: nix::Error,
    },
    /// The sandbox reported that the program could not be started.
    #[error("{message}")]
    Start {
        /// What the init or the process reported.
        message: String,
        /// docker's exit code for it (125, 126 or 127).
        exit_code: i32,
    },
}

fn sys(what: &'static str) -> impl FnOnce(nix::Error) -> RuntimeError {
    move |source| RuntimeError::Sys { what, source }
}

/// Where the program's standard streams go; `None` shares kiln's own.
#[derive(Debug, Default)]
pub struct Stdio {
    /// Standard input.
    pub stdin: Option<OwnedFd>,
    /// Standard output.
    pub stdout: Option<OwnedFd>,
    /// Standard error.
    pub stderr: Option<OwnedFd>,
}

/// How a sandboxed program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code, or 128 + the signal that killed it.
    pub code: i32,
    /// The kernel's OOM killer killed a process of the sandbox.
    pub oom_killed: bool,
}

/// A running sandbox.
#[derive(Debug)]
pub struct Sandbox {
    init: Pid,
    bundle: Bundle,
    cgroup: Option<Cgroup>,
    console: Option<OwnedFd>,
    stubs: Vec<String>,
    /// The read-only layers, topmost first (for the stub clean-up).
    layers: Vec<PathBuf>,
    status: Option<i32>,
    /// With a copied root (the copying snapshotter, chroot isolation),
    /// what it held before the program ran, and where chroot isolation
    /// placed the mounts in it.
    baseline: Option<(crate::chroot::Baseline, Vec<crate::chroot::Placed>)>,
    /// Chroot isolation.
    chroot: bool,
    /// Under chroot isolation, whether every process the program left
    /// was killed when it ended (else its root is not collected).
    leftovers_killed: bool,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A name unique on this machine: kiln's PID (so a later kiln can tell a
/// dead owner's leftovers, see [`crate::remove_stale`]), a sequence number
/// and the clock's nanoseconds.
fn sandbox_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{}-{nanos:08x}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Which mountpoint stubs [`Sandbox::finish_with`] takes out of the upper
/// directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stubs {
    /// Every stub the init made (images `docker commit` would make).
    RemoveAll,
    /// Every stub but the kernel file systems' mountpoints (`/proc`,
    /// `/dev`, `/sys`), which the OCI runtime under BuildKit makes before
    /// BuildKit's stub cleaner looks, so they stay in RUN layers. The rest
    /// go while empty: the targets of the caller's mounts, `/etc/hosts`,
    /// `/etc/resolv.conf` and the parents made for them, symlinks in the
    /// way resolved inside the root (BuildKit ≥ 0.11,
    /// `executor/stubs.go` `MountStubsCleaner` in recursive mode, which
    /// `client/llb` always asks for; docker 20.10's BuildKit removed only
    /// the empty files).
    KeepKernelMountpoints,
}

/// The mountpoints [`Stubs::KeepKernelMountpoints`] keeps.
const KERNEL_MOUNTPOINTS: &[&str] = &["proc", "dev", "sys"];

impl Sandbox {
    /// Starts `spec` in a new sandbox whose directory is created under
    /// `parent_dir`. Returns once the program is running (its execve
    /// succeeded) or with the reason it could not start.
    ///
    /// The sandbox dies when the *thread* that started it exits (the
    /// parent-death signal is per thread, prctl(2)): a multi-threaded
    /// caller must start sandboxes from a thread that outlives them.
    pub fn start(parent_dir: &Path, spec: &RunSpec, stdio: Stdio) -> Result<Sandbox, RuntimeError> {
        let name = sandbox_name();
        let dir = parent_dir.join(&name);
        let bundle_err = |source| RuntimeError::Bundle {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(parent_dir).map_err(bundle_err)?;
        // 0700: a sandbox's upper directory holds whatever its root made —
        // device nodes, setuid binaries — on a file system without nodev or
        // nosuid; no other host user may reach it (CVE-2021-41091, the same
        // hole in docker's overlay2 directories).
        std::fs::set_permissions(
            parent_dir,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .map_err(bundle_err)?;
        let bundle = Bundle::create(&dir, spec).map_err(bundle_err)?;
        let chroot = crate::isolation::current() == crate::Isolation::Chroot;
        let copied = crate::isolation::snapshotter() == crate::isolation::Snapshotter::Copy;
        let prepared = match (chroot, copied) {
            (true, _) => chroot_root(&bundle, spec).map(Some),
            (false, true) => copied_root(&bundle, spec).map(Some),
            (false, false) => Ok(None),
        };
        let baseline = match prepared {
            Ok(baseline) => baseline,
            Err(e) => {
                let _ = bundle.remove();
                return Err(e);
            }
        };
        tracing::debug!(
            sandbox = %name,
            layers = spec.rootfs.layers.len(),
            network = ?spec.network,
            privileged = spec.privileged,
            "starting a sandbox"
        );
        for mount in &spec.mounts {
            tracing::debug!(sandbox = %name, ?mount, "mount");
        }
        let cgroup = match sandbox_cgroup(&name, spec) {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let mut sandbox = Sandbox {
            init: Pid::from_raw(0),
            bundle,
            cgroup,
            console: None,
            stubs: Vec::new(),
            layers: spec.rootfs.layers.clone(),
            status: None,
            baseline,
            chroot,
            leftovers_killed: true,
        };
        if let Err(e) = sandbox.launch(spec, stdio) {
            // Nothing of a sandbox that never started is worth keeping.
            let dir = sandbox.bundle.clone();
            drop(sandbox);
            let _ = dir.remove();
            return Err(e);
        }
        Ok(sandbox)
    }

    fn launch(&mut self, spec: &RunSpec, stdio: Stdio) -> Result<(), RuntimeError> {
        use nix::fcntl::OFlag;
        let (spec_r, spec_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("create a pipe"))?;
        let (status_r, status_w) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(sys("create a pipe"))?;
        let console = if spec.tty {
            use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
            Some(
                socketpair(
                    AddressFamily::Unix,
                    SockType::Stream,
                    None,
                    SockFlag::SOCK_CLOEXEC,
                )
                .map_err(sys("create the console socket"))?,
            )
        } else {
            None
        };
        let raw =
            |fd: &Option<OwnedFd>, default: RawFd| fd.as_ref().map_or(default, |f| f.as_raw_fd());
        let mut fds = vec![
            (raw(&stdio.stdin, 0), 0),
            (raw(&stdio.stdout, 1), 1),
            (raw(&stdio.stderr, 2), 2),
            (spec_r.as_raw_fd(), spawn::SPEC_FD),
            (status_w.as_raw_fd(), spawn::STATUS_FD),
        ];
        if let Some((_, child_end)) = &console {
            fds.push((child_end.as_raw_fd(), spawn::CONSOLE_FD));
        }
        let cstring = |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).ok();
        let exe_target =
            cstring(&self.bundle.exe_target()).ok_or_else(|| RuntimeError::Bundle {
                dir: self.bundle.dir().to_path_buf(),
                source: std::io::ErrorKind::InvalidInput.into(),
            })?;
        let procs = self
            .cgroup
            .as_ref()
            .map(|c| c.procs_files().iter().filter_map(|p| cstring(p)).collect())
            .unwrap_or_default();
        let exe = std::env::current_exe().map_err(|source| RuntimeError::Bundle {
            dir: PathBuf::from("/proc/self/exe"),
            source,
        })?;
        let exe_source = cstring(&exe).ok_or_else(|| RuntimeError::Bundle {
            dir: exe.clone(),
            source: std::io::ErrorKind::InvalidInput.into(),
        })?;
        // Opened here, where allocation and errors are allowed; the child
        // only calls setns(2) on it (its copy closes with the rest).
        let netns = match &spec.network {
            Network::Join { namespace, .. } => Some(std::fs::File::open(namespace).map_err(
                |source| RuntimeError::Bundle {
                    dir: namespace.clone(),
                    source,
                },
            )?),
            Network::None | Network::Host => None,
        };
        let mut pre = PreExec::new(exe_source, exe_target, procs, fds, status_w.as_raw_fd());
        pre.netns = netns.as_ref().map_or(-1, |f| f.as_raw_fd());
        pre.chroot = self.chroot;
        self.init =
            spawn::clone_init(&pre, clone_flags(spec)).map_err(sys("clone the sandbox's init"))?;
        // The child has its copies; ours must go so EOF can be seen.
        drop((spec_r, status_w, stdio, netns));
        let console_parent = console.map(|(parent, child)| {
            drop(child);
            parent
        });
        let config = self.bundle.init_config(spec);
        if let Ok(bytes) = serde_json::to_vec(&config) {
            let mut pipe = std::fs::File::from(spec_w);
            // A write error means the init died; the status pipe says why.
            let _ = pipe.write_all(&bytes);
        }
        if let Some(socket) = &console_parent {
            self.console = crate::tty::receive(socket.as_raw_fd()).unwrap_or(None);
        }
        let mut failure = None;
        for line in BufReader::new(std::fs::File::from(status_r)).lines() {
            let Ok(line) = line else { break };
            let Ok(status) = serde_json::from_str::<StatusLine>(&line) else {
                continue;
            };
            if let Some(stubs) = status.stubs {
                self.stubs = stubs;
            }
            if let Some(message) = status.error {
                failure = Some(RuntimeError::Start {
                    message,
                    exit_code: status.exit_code.unwrap_or(125),
                });
            }
        }
        match failure {
            Some(e) => {
                let _ = self.wait();
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// The init's PID in kiln's namespace.
    pub fn pid(&self) -> Pid {
        self.init
    }

    /// The pseudo-terminal's primary side (with `tty`).
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    /// The sandbox's directory (its `upper/` holds the changes).
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Sends `signal` to the init, which forwards it to the program.
    pub fn signal(&self, signal: Signal) -> Result<(), RuntimeError> {
        nix::sys::signal::kill(self.init, signal).map_err(sys("signal the sandbox"))
    }

    /// The exit status if the init has exited, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<i32>, RuntimeError> {
        self.reap(Some(WaitPidFlag::WNOHANG))
    }

    /// Blocks until the init exits; returns the program's status.
    pub fn wait(&mut self) -> Result<i32, RuntimeError> {
        loop {
            if let Some(code) = self.reap(None)? {
                return Ok(code);
            }
        }
    }

    fn reap(&mut self, flags: Option<WaitPidFlag>) -> Result<Option<i32>, RuntimeError> {
        if let Some(code) = self.status {
            return Ok(Some(code));
        }
        let code = match waitpid(self.init, flags) {
            Ok(WaitStatus::Exited(_, code)) => code,
            Ok(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
            Ok(_) | Err(nix::Error::EINTR) => return Ok(None),
            Err(e) => return Err(sys("wait for the sandbox")(e)),
        };
        self.status = Some(code);
        // At once: a leftover holding the output pipe would keep the
        // caller reading.
        self.leftovers_killed = self.kill_leftovers();
        Ok(Some(code))
    }

    /// Waits for the end, removes the cgroup and the mountpoint stubs from
    /// the upper directory, and returns how the program ended. The
    /// directory stays for the caller (a `RUN` step commits its upper
    /// directory); [`Bundle::remove`] deletes it.
    pub fn finish(self) -> Result<(Exit, Bundle), RuntimeError> {
        self.finish_with(Stubs::RemoveAll)
    }

    /// [`Sandbox::finish`], choosing which stubs go.
    pub fn finish_with(mut self, stubs: Stubs) -> Result<(Exit, Bundle), RuntimeError> {
        let exit = self.end();
        if let Some((baseline, placed)) = &self.baseline {
            // A copied root: its changes become the upper directory, as
            // an overlay's would be (chroot isolation's mounts were
            // copies: writable ones go back first).
            let root = self.bundle.dir().join("rootfs");
            if !self.leftovers_killed {
                return Err(RuntimeError::Chroot(format!(
                    "a process the program left in {} could not be killed; its changes are not collected",
                    root.display()
                )));
            }
            let returned = match self.chroot {
                true => self.return_mounts(&root, placed),
                false => Ok(()),
            };
            returned
                .and_then(|()| {
                    let user_xattrs = crate::isolation::unprivileged_store();
                    crate::chroot::collect(&root, baseline, &self.bundle.upper(), user_xattrs)
                })
                .map_err(|e| {
                    RuntimeError::Chroot(format!(
                        "cannot collect the changes in {}: {e}",
                        root.display()
                    ))
                })?;
            // Chroot isolation made no stubs; the namespaced sandbox's go
            // as over an overlay.
            if self.chroot {
                return Ok((exit?, self.bundle.clone()));
            }
        }
        let keep: &[&str] = match stubs {
            Stubs::RemoveAll => &[],
            Stubs::KeepKernelMountpoints => KERNEL_MOUNTPOINTS,
        };
        crate::stubs::remove(&self.bundle.upper(), &self.layers, &self.stubs, keep);
        Ok((exit?, self.bundle.clone()))
    }

    /// Waits for the end and removes everything the sandbox used, its
    /// changes included (`kiln run`).
    pub fn discard(mut self) -> Result<Exit, RuntimeError> {
        let exit = self.end();
        if let Some((_, placed)) = self.baseline.as_ref().filter(|_| self.chroot) {
            let root = self.bundle.dir().join("rootfs");
            // A volume keeps what the program wrote in it.
            let returned = match self.leftovers_killed {
                true => self.return_mounts(&root, placed),
                false => Err(std::io::Error::other(
                    "a process it left could not be killed",
                )),
            };
            if let Err(e) = returned {
                let _ = self.bundle.clone().remove();
                return Err(RuntimeError::Chroot(format!(
                    "cannot write back the volumes of {}: {e}",
                    root.display()
                )));
            }
        }
        let removed = self.bundle.clone().remove();
        let exit = exit?;
        removed?;
        Ok(exit)
    }

    /// Waits and removes the cgroup; the caller cleans the directory
    /// whatever this returns.
    fn end(&mut self) -> Result<Exit, RuntimeError> {
        let code = self.wait();
        let oom_killed = self
            .cgroup
            .as_ref()
            .is_some_and(|c| c.oom_kills().is_ok_and(|n| n > 0));
        let removed = match self.cgroup.take() {
            Some(cgroup) => cgroup.remove(),
            None => Ok(()),
        };
        let code = code?;
        removed?;
        Ok(Exit { code, oom_killed })
    }
}

impl Drop for Sandbox {
    /// A sandbox dropped without [`Sandbox::finish`] (an error path) is
    /// killed and its cgroup removed; its directory is left for the caller
    /// or the next start's stale sweep.
    fn drop(&mut self) {
        // Once reaped, the leftovers went with it (`reap`); the session id
        // may belong to another sandbox by now.
        if self.status.is_none() && self.init.as_raw() > 0 {
            let _ = nix::sys::signal::kill(self.init, Signal::SIGKILL);
            let _ = self.wait();
        }
        if let Some(cgroup) = self.cgroup.take() {
            let _ = cgroup.remove();
        }
    }
}

impl Sandbox {
    /// Under chroot isolation, the writable mounts' changes back to their
    /// sources, through a scratch directory of the bundle.
    fn return_mounts(&self, root: &Path, placed: &[crate::chroot::Placed]) -> std::io::Result<()> {
        let scratch = self.bundle.dir().join("returned");
        std::fs::create_dir_all(&scratch)?;
        crate::chroot::return_mounts(root, placed, &scratch)
    }

    /// Under chroot isolation, kills what the program left running (a
    /// PID namespace's end does this for the namespaced sandbox);
    /// whether nothing is left.
    fn kill_leftovers(&self) -> bool {
        if !self.chroot || self.init.as_raw() <= 0 {
            return true;
        }
        crate::chroot::kill_leftovers(&self.bundle.dir().join("rootfs"), self.init.as_raw())
    }
}

/// Prepares a chroot-isolated sandbox's root: refuses what needs
/// namespaces, copies the layers, writes the `/etc` files and records the
/// baseline the layer is found against.
fn chroot_root(
    bundle: &Bundle,
    spec: &RunSpec,
) -> Result<(crate::chroot::Baseline, Vec<crate::chroot::Placed>), RuntimeError> {
    let limited = spec.resources.memory_bytes.is_some()
        || spec.resources.cpus.is_some()
        || spec.resources.pids_max.is_some();
    let refused = [
        (
            spec.network != Network::Host,
            "a network other than the host's (--network none)",
        ),
        (!spec.devices.is_empty(), "devices (--device)"),
        (spec.tty, "a terminal (-t)"),
        (limited, "resource limits (--memory, --cpus, --pids-limit)"),
        (spec.readonly_rootfs, "a read-only root (--read-only)"),
        (!spec.sysctls.is_empty(), "sysctls"),
        (spec.privileged, "--privileged and RUN --security=insecure"),
    ];
    if let Some((_, what)) = refused.iter().find(|(refused, _)| *refused) {
        return Err(RuntimeError::Chroot(format!(
            "chroot isolation (a sandbox without namespaces) cannot give {what}; `kiln doctor --environment` says what this machine allows"
        )));
    }
    let root = bundle.dir().join("rootfs");
    let io = |source| RuntimeError::Bundle {
        dir: root.clone(),
        source,
    };
    crate::chroot::merge(&spec.rootfs.layers, &root).map_err(io)?;
    // The files the namespaced sandbox binds over the image's (its
    // /etc/hostname names a host name a shared UTS namespace lacks).
    let mut etc = crate::bundle::etc_files(spec);
    etc.retain(|(path, _)| path == "/etc/hosts" || path == "/etc/resolv.conf");
    // Bound files in the namespaced sandbox: a step's edits to them never
    // reach a layer.
    let mut skip = crate::chroot::write_etc_files(&root, &etc).map_err(io)?;
    let placed = crate::chroot::place_mounts(&root, &spec.mounts).map_err(io)?;
    skip.extend(placed.iter().map(|p| p.rel.clone()));
    let baseline = crate::chroot::Baseline::record(&root, true, skip).map_err(io)?;
    crate::chroot::kernel_dirs(&root).map_err(io)?;
    crate::chroot::make_workdir(&root, spec.workdir()).map_err(io)?;
    Ok((baseline, placed))
}

/// Prepares a copied root for the namespaced sandbox (the copying
/// snapshotter): the layers copied, and the baseline the changes are found
/// against. Its mounts, `/etc` files and kernel file systems are the
/// init's, as over an overlay.
fn copied_root(
    bundle: &Bundle,
    spec: &RunSpec,
) -> Result<(crate::chroot::Baseline, Vec<crate::chroot::Placed>), RuntimeError> {
    let root = bundle.dir().join("rootfs");
    let io = |source| RuntimeError::Bundle {
        dir: root.clone(),
        source,
    };
    crate::chroot::merge(&spec.rootfs.layers, &root).map_err(io)?;
    let baseline = crate::chroot::Baseline::record(&root, true, Vec::new()).map_err(io)?;
    Ok((baseline, Vec::new()))
}

/// The namespaces the init is cloned into. The cgroup namespace is not
/// among them: it must be created after the init has joined its cgroup
/// (see [`crate::spawn`]), so that its root is the sandbox's cgroup. A
/// prepared network namespace is joined there too.
fn clone_flags(spec: &RunSpec) -> CloneFlags {
    if crate::isolation::current() == crate::Isolation::Chroot {
        return CloneFlags::empty();
    }
    let mut flags = CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if spec.network == Network::None {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    flags
}

/// The sandbox's cgroup. In a user namespace (rootless kiln) the cgroup
/// tree is the host's and not the user's to write, so a sandbox without
/// limits gets none (its PID namespace still ends every process with its
/// init); one with limits needs a cgroup the user may create, and says so
/// when there is none.
fn sandbox_cgroup(name: &str, spec: &RunSpec) -> Result<Option<Cgroup>, RuntimeError> {
    let limits = limits(spec);
    let limited =
        limits.memory_bytes.is_some() || limits.cpu_quota.is_some() || limits.pids_max.is_some();
    if (crate::userns::inside() || crate::isolation::current() == crate::Isolation::Chroot)
        && !limited
    {
        return Ok(None);
    }
    match Cgroup::create(name, &limits) {
        Ok(cgroup) => Ok(Some(cgroup)),
        Err(e) if crate::userns::inside() => Err(RuntimeError::Rootless(format!(
            "--memory, --cpus and --pids-limit need a cgroup v2 subtree delegated to this user (systemd: run kiln in a user session with Delegate=yes, e.g. systemd-run --user --scope -p Delegate=yes kiln ...; `kiln doctor --environment` lists what this machine allows): {e}"
        ))),
        Err(e) => Err(e.into()),
    }
}

fn limits(spec: &RunSpec) -> cgroups::Resources {
    cgroups::Resources {
        memory_bytes: spec.resources.memory_bytes,
        cpu_quota: spec.resources.cpus.and_then(CpuQuota::from_cpus),
        pids_max: spec.resources.pids_max,
        devices: spec.devices.clone(),
    }
}

/// Removes sandbox directories under `parent_dir` and kiln cgroups left by
/// kiln processes that no longer exist (killed with SIGKILL, or a crash).
/// Their mounts died with their mount namespaces; only files remain.
///
/// A kiln that dies with a sandbox running leaves its directory behind
/// (it is made before the cgroup and removed after it), so the cgroup trees
/// are only swept when a dead kiln's directory is found: the common start,
/// with nothing stale, reads one directory.
pub fn remove_stale(parent_dir: &Path) -> Result<usize, RuntimeError> {
    let entries = match std::fs::read_dir(parent_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => {
            return Err(RuntimeError::Bundle {
                dir: parent_dir.to_path_buf(),
                source,
            });
        }
    };
    let dead: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<i32>().ok());
            // Only ESRCH means gone; EPERM is a live process of another user.
            pid.is_some_and(|pid| {
                nix::sys::signal::kill(Pid::from_raw(pid), None) == Err(nix::Error::ESRCH)
            })
        })
        .map(|entry| entry.path())
        .collect();
    if dead.is_empty() {
        return Ok(0);
    }
    // Directories go even when a cgroup cannot (a task stuck in D state):
    // one stuck leftover must not keep later sandboxes from starting.
    let cgroups = cgroups::remove_stale();
    let mut removed = 0;
    for dir in dead {
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed += 1;
        }
    }
    Ok(removed + cgroups?)
}

impl Bundle {
    /// Deletes the sandbox directory.
    pub fn remove(self) -> Result<(), RuntimeError> {
        std::fs::remove_dir_all(self.dir()).map_err(|source| RuntimeError::Bundle {
            dir: self.dir().to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Resources, Rootfs};

    fn spec(network: Network) -> RunSpec {
        RunSpec {
            rootfs: Rootfs { layers: vec![] },
            args: vec!["true".into()],
            env: vec![],
            cwd: "/".into(),
            user: String::new(),
            hostname: "h".into(),
            network,
            mounts: vec![],
            readonly_rootfs: false,
            resources: Resources {
                memory_bytes: Some(64 << 20),
                cpus: Some(1.5),
                pids_max: Some(10),
            },
            tty: false,
            console_size: None,
            extra_hosts: vec![],
            hosts_file: None,
            primary_group_supplementary: true,
            no_new_privileges: true,
            privileged: false,
            init: false,
            devices: Vec::new(),
            sysctls: Vec::new(),
            emulator: None,
        }
    }

    #[test]
    fn namespaces_follow_the_network_choice_and_never_share_the_rest() {
        let private = CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWPID
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWIPC;
        assert_eq!(
            clone_flags(&spec(Network::None)),
            private | CloneFlags::CLONE_NEWNET
        );
        assert_eq!(clone_flags(&spec(Network::Host)), private);
        // Joined with setns in the child instead (see spawn.rs).
        let join = Network::Join {
            namespace: "/proc/self/fd/9".into(),
            nameservers: vec![],
        };
        assert_eq!(clone_flags(&spec(join)), private);
        // Created later, after joining the cgroup (see spawn.rs).
        assert!(!clone_flags(&spec(Network::None)).contains(CloneFlags::CLONE_NEWCGROUP));
    }

    #[test]
    fn docker_units_become_cgroup_limits() {
        let l = limits(&spec(Network::None));
        assert_eq!(l.memory_bytes, Some(64 << 20));
        assert_eq!(l.pids_max, Some(10));
        let q = l.cpu_quota.unwrap();
        assert_eq!((q.quota_us, q.period_us), (150_000, 100_000));
    }

    #[test]
    fn sandbox_names_are_unique_and_start_with_kilns_pid() {
        let (a, b) = (sandbox_name(), sandbox_name());
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("{}-", std::process::id())));
    }
}
