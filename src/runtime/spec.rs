//! What a sandbox is asked to run: the [`RunSpec`] a caller fills in (`kiln
//! run` from an image config, a `RUN` step from its instruction) and the
//! parts of it that cross into the sandbox's init over a pipe.
//!
//! The spec is plain data: no graph types, no store types. Paths in
//! [`Rootfs`] and host-side mount sources are host paths; every other path
//! is inside the container.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;

/// One process to run in a fresh sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSpec {
    /// The read-only layers the root file system is made of.
    pub rootfs: Rootfs,
    /// argv; `args[0]` is looked up in the container's `PATH` when it has
    /// no slash, as docker does.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries. `PATH` and `HOME` are added when missing, as
    /// docker adds them (`HOME` from the user's passwd entry).
    pub env: Vec<String>,
    /// Working directory inside the container; created when missing.
    pub cwd: String,
    /// docker's `--user` syntax: `name|uid[:group|gid]`; empty means root.
    pub user: String,
    /// The container's host name (its own UTS namespace).
    pub hostname: String,
    /// Network namespace choice.
    pub network: Network,
    /// Extra mounts, applied in order after the standard ones.
    pub mounts: Vec<Mount>,
    /// Mount the root file system read-only (`--read-only`).
    pub readonly_rootfs: bool,
    /// cgroup limits.
    pub resources: Resources,
    /// Give the process a pseudo-terminal (`-t`); the caller gets its
    /// master side from [`crate::Sandbox::console`].
    pub tty: bool,
    /// The terminal's initial size (rows, columns), set before the program
    /// starts so it never sees a 0×0 window.
    pub console_size: Option<(u16, u16)>,
    /// Extra `/etc/hosts` lines (`address name...`) after the defaults.
    pub extra_hosts: Vec<String>,
    /// The whole `/etc/hosts`, when the caller writes it (BuildKit's RUN
    /// steps have their own, whatever the network); `None`: `docker run`'s
    /// (the host's file under [`Network::Host`], otherwise the loopback
    /// names, the host name and `extra_hosts`).
    pub hosts_file: Option<String>,
    /// Put the primary group among the supplementary groups too, as
    /// `docker run` has done since CVE-2022-36109 and BuildKit's RUN steps
    /// since v0.12 (`ensureAdditionalGids`, the same CVE).
    pub primary_group_supplementary: bool,
    /// Set `no_new_privs` before exec (then setuid programs cannot gain
    /// privileges). Off, as in docker 20.10's BuildKit RUN steps, the
    /// seccomp filter is installed while the process still holds
    /// `CAP_SYS_ADMIN`, and `sudo` works for a non-root user.
    pub no_new_privileges: bool,
    /// docker's `--privileged` (BuildKit's `RUN --security=insecure`):
    /// every capability, no seccomp filter, no masked or read-only paths
    /// and a writable `/sys`. Device access keeps docker's default list.
    pub privileged: bool,
    /// docker's `--init`: kiln's init stays as PID 1 (it reaps orphans and
    /// forwards signals) and the program is its child. Without it the
    /// program itself is PID 1, as in `docker run` and `docker build`.
    pub init: bool,
    /// Host devices made in the sandbox's `/dev` and allowed by its device
    /// cgroup (`--device`).
    pub devices: Vec<crate::Device>,
    /// Network sysctls of the sandbox's own network namespace (`net.*`
    /// names, docker's `--sysctl`), written before the program starts.
    /// Refused with [`Network::Host`], where they would change the host's.
    pub sysctls: Vec<(String, String)>,
    /// Run the program under this emulator (a step for another CPU), as
    /// [`crate::emulate`] sets it up; `None`: natively, or under a handler
    /// the host registered.
    #[serde(default)]
    pub emulator: Option<crate::emulate::Emulator>,
}

/// The layers of the root file system, mounted as one overlay.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rootfs {
    /// Read-only directories, the topmost layer first (overlayfs order).
    /// May be empty (a `scratch` image).
    pub layers: Vec<PathBuf>,
}

/// Which network namespace the process gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Network {
    /// A new network namespace with only the loopback interface, up.
    #[default]
    None,
    /// The host's network namespace.
    Host,
    /// A namespace the caller prepared (kiln-network's private network),
    /// joined with setns(2) before anything else is set up.
    Join {
        /// The namespace: an nsfs file such as `/proc/PID/fd/N`.
        namespace: PathBuf,
        /// The nameservers of the sandbox's `/etc/resolv.conf`, in place of
        /// the host's (whose `search` and `options` lines are kept).
        nameservers: Vec<IpAddr>,
    },
}

/// A mount the caller asks for, on top of the standard ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Mount {
    /// A host file or directory (`-v HOST:CTR[:ro]`).
    Bind {
        /// Host path.
        source: PathBuf,
        /// Path inside the container.
        target: String,
        /// Mounted read-only.
        readonly: bool,
    },
    /// A fresh tmpfs (`--tmpfs PATH`).
    Tmpfs {
        /// Path inside the container.
        target: String,
        /// Extra tmpfs options (`size=…,mode=…`), comma-separated; may be empty.
        options: String,
    },
}

impl RunSpec {
    /// The working directory, `/` when the spec leaves it empty.
    pub fn workdir(&self) -> &str {
        if self.cwd.is_empty() { "/" } else { &self.cwd }
    }
}

/// The name of a `NAME=VALUE` environment entry (the whole entry when it
/// has no `=`).
pub fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(key, _)| key)
}

impl Mount {
    /// The path inside the container the mount covers.
    pub fn target(&self) -> &str {
        match self {
            Mount::Bind { target, .. } | Mount::Tmpfs { target, .. } => target,
        }
    }
}

/// cgroup limits of the sandbox, in docker's units.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Resources {
    /// `--memory`, in bytes.
    pub memory_bytes: Option<u64>,
    /// `--cpus`, a fraction of CPUs.
    pub cpus: Option<f64>,
    /// `--pids-limit`.
    pub pids_max: Option<u64>,
}

/// `PATH` docker gives a container whose environment has none (moby
/// `oci.DefaultPathEnv` for Linux).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The `/proc/sys` file of network sysctl `name` (`net.ipv4.x` →
/// `/proc/sys/net/ipv4/x`): only `net.*` names, which belong to a network
/// namespace, and never under [`Network::Host`], where the namespace is
/// the host's.
pub fn sysctl_path(name: &str, network: &Network) -> Result<std::path::PathBuf, String> {
    if *network == Network::Host {
        return Err(format!(
            "sysctl {name} cannot be set with the host's network: it would change the host"
        ));
    }
    let parts: Vec<&str> = name.split('.').collect();
    if parts.first() != Some(&"net")
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == ".." || p.contains('/'))
    {
        return Err(format!(
            "sysctl {name:?} is not a network sysctl (net.*), the only kind a sandbox has of its own"
        ));
    }
    Ok(std::path::Path::new("/proc/sys").join(parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_network_sysctls_of_a_private_network() {
        assert_eq!(
            sysctl_path("net.ipv4.ping_group_range", &Network::None).unwrap(),
            std::path::Path::new("/proc/sys/net/ipv4/ping_group_range")
        );
        for bad in [
            "kernel.hostname",
            "net..x",
            "net.ipv4/../../kernel",
            "vm.swappiness",
        ] {
            let err = sysctl_path(bad, &Network::None).unwrap_err();
            assert!(err.contains("not a network sysctl"), "{bad}: {err}");
        }
        let err = sysctl_path("net.ipv4.ping_group_range", &Network::Host).unwrap_err();
        assert!(err.contains("would change the host"), "{err}");
    }
}
