//! What can go wrong while creating, inspecting, emptying or removing a
//! sandbox's cgroup. Every variant names the cgroupfs path involved.

use std::io;
use std::path::PathBuf;
use thiserror::Error;

/// A sandbox cgroup could not be created, inspected, emptied or removed.
#[derive(Debug, Error)]
pub enum CgroupError {
    /// A control file (or `/proc/self/mountinfo`) could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The kernel's answer.
        source: io::Error,
    },
    /// The kernel refused a value written to a control file.
    #[error("cannot write {value:?} to {}: {source}", .path.display())]
    Write {
        /// The control file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The kernel's answer.
        source: io::Error,
    },
    /// A cgroup directory could not be created.
    #[error("cannot create cgroup {}: {source}", .path.display())]
    Mkdir {
        /// The directory.
        path: PathBuf,
        /// The kernel's answer.
        source: io::Error,
    },
    /// The sandbox's cgroup already exists: two sandboxes would share
    /// limits, and removing one would kill the other's processes.
    #[error("cgroup {} already exists: another sandbox is named {name:?}", .path.display())]
    Exists {
        /// The existing directory.
        path: PathBuf,
        /// The sandbox name.
        name: String,
    },
    /// A cgroup directory could not be removed (after the bounded `EBUSY`
    /// retries, if that was the answer).
    #[error("cannot remove cgroup {}: {source}", .path.display())]
    Rmdir {
        /// The directory.
        path: PathBuf,
        /// The kernel's last answer.
        source: io::Error,
    },
    /// A cgroup directory could not be listed.
    #[error("cannot list cgroup {}: {source}", .path.display())]
    List {
        /// The directory.
        path: PathBuf,
        /// The kernel's answer.
        source: io::Error,
    },
    /// A process of the cgroup could not be sent `SIGKILL`.
    #[error("cannot send SIGKILL to pid {pid} listed in {}: {source}", .path.display())]
    Kill {
        /// The process.
        pid: i32,
        /// The `cgroup.procs` file that listed it.
        path: PathBuf,
        /// The kernel's answer.
        source: io::Error,
    },
    /// New processes kept appearing while the cgroup was being emptied.
    #[error("processes kept appearing in cgroup {} after {rounds} rounds of SIGKILL", .path.display())]
    KillIncomplete {
        /// The sandbox's cgroup.
        path: PathBuf,
        /// How many times `cgroup.procs` was read and signalled.
        rounds: usize,
    },
    /// A limit needs a controller the host does not offer.
    #[error("the {controller} controller is not available in {}: it is needed for {purpose}", .path.display())]
    MissingController {
        /// The controller (`memory`, `cpu`, `pids`, `devices`).
        controller: &'static str,
        /// Where it was looked for (v2: `cgroup.controllers`; v1: the
        /// cgroupfs root that has no such hierarchy).
        path: PathBuf,
        /// What needed it.
        purpose: &'static str,
    },
    /// A v2 controller could not be handed down through
    /// `cgroup.subtree_control`.
    #[error(
        "cannot enable the {controller} controller in {}: {source}{}",
        .path.display(),
        internal_process_hint(.source)
    )]
    EnableController {
        /// The controller.
        controller: &'static str,
        /// The `cgroup.subtree_control` file.
        path: PathBuf,
        /// The kernel's answer.
        source: io::Error,
    },
    /// No cgroup file system is mounted where kiln looks for one.
    #[error("no cgroup file system is mounted at {} (according to {})", .root.display(), .mountinfo.display())]
    NotMounted {
        /// The expected mount point (`/sys/fs/cgroup`).
        root: PathBuf,
        /// The mount table that was read.
        mountinfo: PathBuf,
    },
    /// A control file held something other than what the kernel documents.
    #[error("unexpected content in {}: {content:?}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The offending line (or the whole file when short).
        content: String,
    },
    /// The memory controller's event file has no `oom_kill` counter.
    #[error("{} has no oom_kill line (kernels before 4.13 do not count OOM kills per cgroup)", .path.display())]
    NoOomKillCount {
        /// `memory.events` (v2) or `memory.oom_control` (v1).
        path: PathBuf,
    },
    /// A cpuset cgroup's parent has no CPUs or memory nodes to copy.
    #[error("{} is empty: a task cannot join a cpuset cgroup without CPUs and memory nodes", .path.display())]
    EmptyCpuset {
        /// The parent's `cpuset.cpus` or `cpuset.mems`.
        path: PathBuf,
    },
    /// The kernel refused the eBPF program that enforces the device
    /// allow-list on a v2 cgroup (see `devices.rs`).
    #[error(
        "cannot load the device allow-list eBPF program for cgroup {}: {source}{}{}",
        .path.display(),
        load_hint(.source),
        log_suffix(.verifier_log)
    )]
    DeviceProgramLoad {
        /// The cgroup it was meant for.
        path: PathBuf,
        /// The kernel's answer to `BPF_PROG_LOAD`.
        source: io::Error,
        /// The end of the verifier's log when the verifier refused it.
        verifier_log: String,
    },
    /// The device allow-list program could not be attached to a v2 cgroup.
    #[error(
        "cannot attach the device allow-list eBPF program to cgroup {}: {source}{}",
        .path.display(),
        attach_hint(.source)
    )]
    DeviceProgramAttach {
        /// The cgroup.
        path: PathBuf,
        /// The kernel's answer to opening the cgroup or `BPF_PROG_ATTACH`.
        source: io::Error,
    },
    /// The sandbox name cannot be a single cgroup directory name.
    #[error("invalid sandbox cgroup name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// `EBUSY` from `cgroup.subtree_control` almost always means the cgroup
/// holds processes itself: cgroup v2's "no internal process" rule (kernel
/// Documentation/admin-guide/cgroup-v2.rst) forbids handing controllers to
/// children then. Typical cause: kiln inside a container whose cgroup
/// namespace makes the container's own, populated cgroup look like the root.
fn internal_process_hint(source: &io::Error) -> &'static str {
    if source.raw_os_error() == Some(libc::EBUSY) {
        " (cgroup v2 forbids handing controllers to children of a cgroup that holds processes itself; is kiln running inside a container that shares this cgroup?)"
    } else {
        ""
    }
}

/// Why `BPF_PROG_LOAD` of a device program is refused before the verifier
/// runs (kernel/bpf/syscall.c `bpf_prog_load`).
fn load_hint(source: &io::Error) -> &'static str {
    match source.raw_os_error() {
        Some(libc::EPERM) => {
            " (loading a cgroup device program needs CAP_BPF or CAP_SYS_ADMIN in the initial user namespace, and before Linux 5.11 enough RLIMIT_MEMLOCK)"
        }
        Some(libc::ENOSYS) => " (the kernel has no bpf(2): CONFIG_BPF_SYSCALL is off)",
        _ => "",
    }
}

/// Why `BPF_PROG_ATTACH` to a cgroup is refused (kernel/bpf/cgroup.c).
fn attach_hint(source: &io::Error) -> &'static str {
    if source.raw_os_error() == Some(libc::EPERM) {
        " (attaching needs CAP_NET_ADMIN, and fails when an ancestor cgroup has a device program attached without BPF_F_ALLOW_OVERRIDE or BPF_F_ALLOW_MULTI)"
    } else {
        ""
    }
}

/// The verifier's log, if any, after the error.
fn log_suffix(log: &str) -> String {
    if log.is_empty() {
        String::new()
    } else {
        format!("; verifier log: {log}")
    }
}
