//! Network namespaces prepared for kiln's sandboxes.
//!
//! The runtime never builds a network: it is handed the path of a
//! namespace to join and the nameservers to write into the sandbox's
//! `/etc/resolv.conf` (`kiln_runtime::Network::Join`). What is inside the
//! namespace, and how packets leave it, is decided here.
//!
//! [`PrivateNetwork`] is what a build's RUN steps get by default. docker's
//! builder gives RUN its own network namespace; BuildKit hands out the
//! host's only under the `network.host` entitlement. A RUN step in the
//! host's namespace holds `CAP_NET_RAW` there: an `AF_PACKET` socket reads
//! every packet of the host (a registry's `Authorization` header of a pull
//! running beside the build), and every loopback-only service of the host
//! answers it.
//!
//! The namespace's only way out is `slirp4netns`: a user-mode TCP/IP stack
//! (libslirp) on the host side of a tap device inside the namespace. The
//! sandbox's connections become ordinary sockets of the slirp4netns
//! process on the host. Chosen over a veth pair with NAT because it
//! changes nothing on the host (no route, no firewall rule, no bridge, no
//! `ip_forward`), works for an unprivileged user as well (podman's rootless
//! default before pasta), and leaves no host interface in the sandbox's
//! reach. `--disable-host-loopback` refuses what libslirp would otherwise
//! forward from the gateway address to the host's 127.0.0.1. pasta (passt
//! of Debian 12, 2023-03) was tried first and could not open a namespace
//! when started as root.
//!
//! The addresses are slirp4netns's fixed plan: the sandbox is
//! [`ADDRESS`]/24 on `tap0`, the gateway [`GATEWAY`], and [`NAMESERVER`] a
//! DNS forwarder answering from the host's own resolvers (loopback ones
//! included, which a namespace could not reach directly). MTU 65520, as
//! podman sets it: fewer, larger segments through the user-mode stack.
//!
//! One namespace serves every RUN step of a build, parallel steps
//! included, as a docker bridge does: slirp4netns starts in about 3 ms
//! (measured here), once per build, and a step only joins (`setns`).

use std::fs::File;
use std::io::{self, Read as _, Seek as _};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The program that connects the namespace.
pub const PROGRAM: &str = "slirp4netns";
/// The sandbox's address on `tap0`.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);
/// The default gateway (libslirp; never the host's loopback here).
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The DNS forwarder to the host's resolvers.
pub const NAMESERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// The tap device's MTU.
pub const MTU: u32 = 65520;
/// How long slirp4netns may take to say the namespace is configured.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this much of slirp4netns's output goes into an error.
const LOG_LIMIT: u64 = 4096;

/// Why a network could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// unshare(CLONE_NEWNET) or opening the namespace failed.
    #[error("cannot create a network namespace: {0}")]
    Namespace(#[source] io::Error),
    /// slirp4netns is not on PATH.
    #[error(
        "{PROGRAM} is not installed: RUN steps reach the network through it \
         (Debian: apt-get install {PROGRAM}); or build with --network none, \
         or --network host to share the host's network"
    )]
    NotInstalled,
    /// slirp4netns could not be started.
    #[error("cannot start {PROGRAM}: {0}")]
    Spawn(#[source] io::Error),
    /// slirp4netns exited before the namespace was configured.
    #[error(
        "{PROGRAM} could not connect the network namespace: {log}{}",
        tun_hint(log)
    )]
    Failed {
        /// What it printed.
        log: String,
    },
    /// slirp4netns did not finish configuring in time.
    #[error("{PROGRAM} did not configure the network namespace within {0:?}")]
    Timeout(Duration),
}

/// What to do when slirp4netns could not open the tun device: as an
/// ordinary user (rootless kiln) it needs `/dev/net/tun` open to every
/// user, as Debian's udev rules make it, and some machines keep it root's.
fn tun_hint(log: &str) -> &'static str {
    match log.contains("/dev/net/tun") && log.contains("Permission denied") {
        true => {
            " (/dev/net/tun must be readable and writable by this user: as root, chmod 0666 /dev/net/tun, the mode udev gives it; or build with --network none; `kiln doctor --environment` lists what this machine allows)"
        }
        false => "",
    }
}

/// A network namespace of its own with outbound access through
/// slirp4netns. Dropping it stops slirp4netns; the namespace ends when the
/// last process in it has.
#[derive(Debug)]
pub struct PrivateNetwork {
    /// Keeps the namespace alive while no sandbox is in it.
    namespace: File,
    /// The namespace, as a path any process of this machine's PID
    /// namespace can open.
    path: PathBuf,
    /// slirp4netns. Its stdin is the exit pipe: when kiln dies, even by
    /// SIGKILL, the write end closes and slirp4netns leaves. (Taken only
    /// by `drop`.)
    helper: Option<Child>,
    /// Its stdout (the ready pipe), kept open: a later write must not
    /// kill it with SIGPIPE.
    _ready: ChildStdout,
}

impl PrivateNetwork {
    /// Creates the namespace and connects it; returns once slirp4netns has
    /// configured `tap0`, its address, the default route and loopback.
    pub fn start() -> Result<PrivateNetwork, NetworkError> {
        PrivateNetwork::start_with(Path::new(PROGRAM))
    }

    /// [`PrivateNetwork::start`] with `program` as slirp4netns (a path, or
    /// a name looked up on PATH).
    pub fn start_with(program: &Path) -> Result<PrivateNetwork, NetworkError> {
        let started = Instant::now();
        let namespace = new_namespace().map_err(NetworkError::Namespace)?;
        let path = PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            namespace.as_raw_fd()
        ));
        let log = tempfile::tempfile().map_err(NetworkError::Spawn)?;
        let mut helper = Command::new(program)
            .arg("--configure")
            .arg(format!("--mtu={MTU}"))
            .arg("--disable-host-loopback")
            // Its own mount namespace, capabilities dropped, and a seccomp
            // filter of its own: it parses the sandbox's packets.
            .args(["--enable-sandbox", "--enable-seccomp"])
            .args(["--exit-fd=0", "--ready-fd=1", "--netns-type=path"])
            .arg(&path)
            .arg("tap0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log.try_clone().map_err(NetworkError::Spawn)?)
            .spawn()
            .map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => NetworkError::NotInstalled,
                _ => NetworkError::Spawn(e),
            })?;
        let ready = helper.stdout.take();
        let outcome = match ready {
            Some(mut ready) => wait_ready(&mut ready, READY_TIMEOUT).map(|()| ready),
            None => Err(Waited::Exited(String::new())),
        };
        match outcome {
            Ok(ready) => {
                tracing::debug!(
                    namespace = %path.display(),
                    helper = helper.id(),
                    elapsed = ?started.elapsed(),
                    "private network ready"
                );
                Ok(PrivateNetwork {
                    namespace,
                    path,
                    helper: Some(helper),
                    _ready: ready,
                })
            }
            Err(waited) => {
                let _ = helper.kill();
                let _ = helper.wait();
                Err(match waited {
                    Waited::Timeout => NetworkError::Timeout(READY_TIMEOUT),
                    Waited::Exited(stdout) => NetworkError::Failed {
                        log: log_text(&stdout, log),
                    },
                })
            }
        }
    }

    /// The namespace to join (`setns`), as a path.
    pub fn namespace(&self) -> &Path {
        &self.path
    }

    /// The nameservers a sandbox in the namespace uses.
    pub fn nameservers(&self) -> Vec<IpAddr> {
        vec![IpAddr::V4(NAMESERVER)]
    }
}

impl Drop for PrivateNetwork {
    /// Kills slirp4netns and reaps it on a thread of its own: its exit
    /// closes the tap device, whose unregistration waits for RCU grace
    /// periods — 13 to 30 ms measured here, which a build must not wait
    /// for. The namespace goes when its last descriptor and process do.
    fn drop(&mut self) {
        if let Some(mut helper) = self.helper.take() {
            let _ = helper.kill();
            let reaper = std::thread::Builder::new()
                .name("slirp4netns-reaper".into())
                .spawn(move || helper.wait());
            if let Err(e) = reaper {
                tracing::debug!(error = %e, "no thread to reap slirp4netns; it stays a zombie until kiln exits");
            }
        }
        tracing::debug!(namespace = %self.path.display(), fd = self.namespace.as_raw_fd(), "private network stopped");
    }
}

/// A new network namespace, held by a descriptor. Made on a thread of its
/// own, which ends right after: a network namespace is a per-thread
/// property, so kiln's other threads stay in theirs.
fn new_namespace() -> io::Result<File> {
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        File::open("/proc/thread-self/ns/net")
    })
    .join()
    .map_err(|_| io::Error::other("the namespace thread panicked"))?
}

enum Waited {
    Timeout,
    /// The pipe closed: slirp4netns exited. What it had printed on stdout.
    Exited(String),
}

/// Waits for slirp4netns's ready signal: it writes `1` to the ready
/// descriptor once the namespace is configured. Its stdout may carry a
/// warning line before that (`--enable-seccomp` prints one).
fn wait_ready(ready: &mut ChildStdout, timeout: Duration) -> Result<(), Waited> {
    use rustix::event::{PollFd, PollFlags, poll};
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Waited::Timeout);
        }
        let timespec = rustix::event::Timespec {
            tv_sec: left.as_secs() as i64,
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        let mut fds = [PollFd::new(ready, PollFlags::IN)];
        match poll(&mut fds, Some(&timespec)) {
            Ok(0) => return Err(Waited::Timeout),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return Err(Waited::Exited(String::from_utf8_lossy(&seen).into())),
        }
        let mut buf = [0u8; 512];
        match ready.read(&mut buf) {
            Ok(0) | Err(_) => return Err(Waited::Exited(String::from_utf8_lossy(&seen).into())),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        let last_line = seen.rsplit(|&b| b == b'\n').next().unwrap_or_default();
        if last_line == b"1" {
            return Ok(());
        }
    }
}

/// What slirp4netns printed, for an error: its stdout, then the start of
/// its stderr, on one line.
fn log_text(stdout: &str, mut stderr: File) -> String {
    let mut text = stdout.to_string();
    let mut err = String::new();
    if stderr.rewind().is_ok() {
        let _ = (&mut stderr).take(LOG_LIMIT).read_to_string(&mut err);
    }
    text.push_str(&err);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "it exited without a message".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
