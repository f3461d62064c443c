//! Host devices given to a sandbox: `docker run --device` and BuildKit's
//! `RUN --device` (Dockerfile 1.27, `device` entitlement).
//!
//! A device is a node the sandbox's `/dev` tmpfs gets (made with mknod(2)
//! with the host node's type, numbers, permission bits and owner, as runc's
//! `createDeviceNode` makes it) plus a rule in the device cgroup allowing
//! it (`rwm`), without which opening it fails whatever the node says
//! (`cgroups/devices.rs`). Only nodes under `/dev` are made: anything else
//! would land in the root file system and so in a RUN step's layer.

use serde::{Deserialize, Serialize};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// One device node of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Where it appears in the container: an absolute, clean path under
    /// `/dev/`.
    pub path: String,
    /// A block device (otherwise a character device).
    pub block: bool,
    /// The device's major number.
    pub major: u32,
    /// The device's minor number.
    pub minor: u32,
    /// The node's permission bits.
    pub mode: u32,
    /// The node's owner.
    pub uid: u32,
    /// The node's group.
    pub gid: u32,
    /// The node on the host (rootless kiln, which may not make device
    /// nodes, binds it).
    pub host: std::path::PathBuf,
}

/// Why a host device cannot be given to a sandbox.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The path does not exist on the host (or cannot be read).
    #[error("device {path}: {source}")]
    Host {
        /// The host path.
        path: String,
        /// What stat(2) said.
        source: std::io::Error,
    },
    /// The host path is not a device node.
    #[error("{path} is not a device node on this host (a {kind})")]
    NotADevice {
        /// The host path.
        path: String,
        /// What it is instead.
        kind: &'static str,
    },
    /// The container path is not a clean path under `/dev/`.
    #[error(
        "device path {path:?} must be an absolute path under /dev/ without `.` or `..` components"
    )]
    Path {
        /// The path as given.
        path: String,
    },
    /// The container path is inside one of `/dev`'s own mounts.
    #[error(
        "device path {path:?} is inside /dev/{mount}, a mount of its own where no device can be made"
    )]
    Mount {
        /// The path as given.
        path: String,
        /// The mount (`pts`, `shm`, `mqueue`).
        mount: &'static str,
    },
}

impl Device {
    /// The node at `host` (symbolic links followed, as docker follows
    /// them), to appear at `path` in the container.
    pub fn from_host(host: &Path, path: &str) -> Result<Device, DeviceError> {
        check_path(path)?;
        let shown = host.display().to_string();
        let meta = std::fs::metadata(host).map_err(|source| DeviceError::Host {
            path: shown.clone(),
            source,
        })?;
        let kind = meta.file_type();
        let block = if kind.is_block_device() {
            true
        } else if kind.is_char_device() {
            false
        } else {
            let kind = if kind.is_dir() {
                "directory"
            } else if kind.is_file() {
                "regular file"
            } else {
                "socket or FIFO"
            };
            return Err(DeviceError::NotADevice { path: shown, kind });
        };
        let rdev = meta.rdev();
        Ok(Device {
            path: path.to_string(),
            block,
            major: nix::sys::stat::major(rdev) as u32,
            minor: nix::sys::stat::minor(rdev) as u32,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            // Resolved now, as stat(2) above resolved it: the init binds
            // exactly this node.
            host: std::fs::canonicalize(host).unwrap_or_else(|_| host.to_path_buf()),
        })
    }

    /// The path below `/dev/` (`net/tun` for `/dev/net/tun`).
    pub(crate) fn in_dev(&self) -> &str {
        self.path.strip_prefix("/dev/").unwrap_or(&self.path)
    }
}

/// Refuses container paths outside `/dev/` or with `.`, `..` or empty
/// components.
pub fn check_path(path: &str) -> Result<(), DeviceError> {
    let bad = || DeviceError::Path {
        path: path.to_string(),
    };
    let rest = path.strip_prefix("/dev/").ok_or_else(bad)?;
    if rest
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad());
    }
    // devpts refuses mknod; shm and mqueue are nodev.
    let first = rest.split('/').next().unwrap_or_default();
    if let Some(mount) = ["pts", "shm", "mqueue"].into_iter().find(|m| *m == first) {
        return Err(DeviceError::Mount {
            path: path.to_string(),
            mount,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_nodes_keep_their_numbers_mode_and_owner() {
        let null = Device::from_host(Path::new("/dev/null"), "/dev/null").unwrap();
        assert_eq!((null.block, null.major, null.minor), (false, 1, 3));
        assert_eq!(null.mode, 0o666);
        assert_eq!((null.uid, null.gid), (0, 0));
    }

    #[test]
    fn other_files_and_missing_paths_are_refused_with_the_path() {
        let err = Device::from_host(Path::new("/"), "/dev/x").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/ is not a device node on this host (a directory)"
        );
        let err = Device::from_host(Path::new("/dev/kiln-no-such-device"), "/dev/x").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("device /dev/kiln-no-such-device: "),
            "{err}"
        );
    }

    #[test]
    fn container_paths_stay_under_dev() {
        for ok in ["/dev/fuse", "/dev/net/tun"] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/dev/",
            "/dev",
            "/etc/x",
            "dev/fuse",
            "/dev/../etc",
            "/dev//x",
            "/dev/a/.",
            "/dev/shm/x",
            "/dev/pts/9",
            "/dev/mqueue",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
    }
}
