//! The sandbox's directory on the host and the configuration its init
//! reads from the spec pipe.
//!
//! ```text
//! <parent>/.rootfs    empty; each sandbox mounts its overlay here
//! <parent>/.init      empty file; kiln's binary is bound here read-only
//! <parent>/.etc       empty; each sandbox mounts a small tmpfs here and
//!                     writes its generated hosts, resolv.conf and
//!                     hostname in it, to bind them on /etc/…
//! <dir>/upper         the overlay's upper directory: every change
//! <dir>/work          overlayfs's work directory
//! <dir>/empty         the only lower layer of an image with no layers
//! <dir>/rootfs        with the copying snapshotter (chroot isolation's
//!                     too): the copy of the image the program's root is
//!                     (`crate::chroot`), bound on itself or chrooted into
//! ```
//!
//! The three mountpoints are shared by every sandbox: each mounts on them
//! in its own private mount namespace, so they never see each other's
//! mounts and the host sees three empty entries. Nothing is mounted in the host's
//! namespace, so removing `<dir>` is all the clean-up a dead sandbox needs.
//! (Every file made per sandbox is a file removed per sandbox: sharing the
//! mountpoints takes four file-system operations off each start.)

use crate::spec::{Network, RunSpec};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// What the init is sent: the caller's spec plus the host paths it needs.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InitConfig {
    pub spec: RunSpec,
    pub rootfs: PathBuf,
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the init mounts its tmpfs for the generated `/etc` files.
    pub etc_dir: PathBuf,
    /// The generated `/etc` files: container path and contents.
    pub etc_files: Vec<(String, String)>,
    /// Chroot isolation: `rootfs` is a prepared copy to chroot into, and
    /// nothing is mounted.
    pub chroot: bool,
    /// `rootfs` is a prepared copy (the copying snapshotter, or chroot
    /// isolation), not an overlay mountpoint.
    pub copied: bool,
}

/// The sandbox directory's paths.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    /// Creates the layout under `dir` (which must not exist yet) and the
    /// shared mountpoints beside it.
    pub fn create(dir: &Path, spec: &RunSpec) -> io::Result<Bundle> {
        let parent = dir.parent().unwrap_or(Path::new("/"));
        ensure_shared(parent)?;
        std::fs::create_dir(dir)?;
        let bundle = Bundle {
            dir: dir.to_path_buf(),
        };
        let mut subs = vec!["upper", "work"];
        if spec.rootfs.layers.is_empty() {
            subs.push("empty");
        }
        if crate::isolation::snapshotter() == crate::isolation::Snapshotter::Copy {
            subs.push("rootfs");
        }
        for sub in subs {
            if let Err(e) = std::fs::create_dir(dir.join(sub)) {
                let _ = std::fs::remove_dir_all(dir);
                return Err(e);
            }
        }
        Ok(bundle)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The overlay's upper directory: what the process changed.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    pub(crate) fn exe_target(&self) -> PathBuf {
        self.shared().join(".init")
    }

    fn shared(&self) -> &Path {
        self.dir.parent().unwrap_or(Path::new("/"))
    }

    pub(crate) fn init_config(&self, spec: &RunSpec) -> InitConfig {
        let lowers = if spec.rootfs.layers.is_empty() {
            vec![self.dir.join("empty")]
        } else {
            spec.rootfs.layers.clone()
        };
        let chroot = crate::isolation::current() == crate::Isolation::Chroot;
        let copied = crate::isolation::snapshotter() == crate::isolation::Snapshotter::Copy;
        let etc_files = etc_files(spec);
        let mut spec = with_hostname(spec);
        // No filter may be installed without no_new_privs and
        // CAP_SYS_ADMIN, which a chroot-isolated kiln lacks.
        spec.no_new_privileges |= chroot;
        InitConfig {
            spec,
            rootfs: match copied {
                true => self.dir.join("rootfs"),
                false => self.shared().join(".rootfs"),
            },
            chroot,
            copied,
            lowers,
            upper: self.upper(),
            work: self.dir.join("work"),
            etc_dir: self.shared().join(".etc"),
            etc_files,
        }
    }
}

/// `spec` with [`DEFAULT_HOSTNAME`] when it gives none: a new UTS
/// namespace starts with the host's name, which is never kept.
fn with_hostname(spec: &RunSpec) -> RunSpec {
    let mut spec = spec.clone();
    if spec.hostname.is_empty() {
        spec.hostname = DEFAULT_HOSTNAME.to_string();
    }
    spec
}

/// The generated `/etc` files of a sandbox (container path, contents):
/// what the init binds over the image's, or chroot isolation writes.
pub(crate) fn etc_files(spec: &RunSpec) -> Vec<(String, String)> {
    let spec = &with_hostname(spec);
    vec![
        (
            "/etc/hosts".into(),
            spec.hosts_file.clone().unwrap_or_else(|| hosts_file(spec)),
        ),
        ("/etc/resolv.conf".into(), resolv_conf(&spec.network)),
        ("/etc/hostname".into(), format!("{}\n", spec.hostname)),
    ]
}

/// The host name of a sandbox whose spec gives none.
pub const DEFAULT_HOSTNAME: &str = "kiln";

/// Makes the shared mountpoints when missing; several kilns may race here,
/// and whoever loses finds them made.
fn ensure_shared(parent: &Path) -> io::Result<()> {
    for dir in [".rootfs", ".etc"] {
        match std::fs::create_dir(parent.join(dir)) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(parent.join(".init"))
    {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// docker's `/etc/hosts` for a container: the host's file under
/// `--network host`, otherwise the loopback names plus the container's own
/// host name on 127.0.0.1 (there is no other address to give it).
fn hosts_file(spec: &RunSpec) -> String {
    if spec.network == Network::Host
        && let Ok(host) = std::fs::read_to_string("/etc/hosts")
    {
        return host;
    }
    let mut text = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    if !spec.hostname.is_empty() {
        text.push_str(&format!("127.0.0.1\t{}\n", spec.hostname));
    }
    for line in &spec.extra_hosts {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// The host's resolver configuration, as docker copies it (an empty file
/// when the host has none). In a prepared namespace the host's nameservers
/// may be unreachable (a loopback resolver certainly is): its own replace
/// them, as docker's `--dns` does, and the rest of the file stays.
fn resolv_conf(network: &Network) -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    match network {
        Network::Join { nameservers, .. } => with_nameservers(&host, nameservers),
        Network::None | Network::Host => host,
    }
}

/// `conf` with its `nameserver` lines replaced by `nameservers`.
fn with_nameservers(conf: &str, nameservers: &[std::net::IpAddr]) -> String {
    let mut text: String = nameservers
        .iter()
        .map(|ip| format!("nameserver {ip}\n"))
        .collect();
    for line in conf.lines() {
        if line.split_whitespace().next() != Some("nameserver") {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_namespace_replaces_only_the_nameservers() {
        let host = "# generated\nnameserver 127.0.0.53\nsearch example.test\n nameserver 10.1.1.1\noptions edns0\n";
        let ours = [std::net::IpAddr::from([10, 0, 2, 3])];
        assert_eq!(
            with_nameservers(host, &ours),
            "nameserver 10.0.2.3\n# generated\nsearch example.test\noptions edns0\n"
        );
        assert_eq!(with_nameservers("", &ours), "nameserver 10.0.2.3\n");
    }
}
