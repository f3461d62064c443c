//! The kernel file systems every container gets, with docker's options:
//! a fresh procfs (this PID namespace's processes only), `/dev` as a small
//! tmpfs holding just the safe device nodes, a private devpts instance
//! (`newinstance`: the container cannot see or open the host's terminals),
//! `/dev/shm`, `/dev/mqueue` for this IPC namespace, and sysfs read-only.
//! Host devices the caller gives (`--device`) are made in the `/dev` tmpfs
//! after its own mounts (`pts`, `shm`, `mqueue`), which `device.rs` keeps
//! them out of.

use super::resolve::{Kind, Root, proc_fd_path};
use super::{RootfsError, ensure};
use crate::syscall::Syscall;
use nix::mount::MsFlags;
use nix::sys::stat::{Mode, SFlag, makedev};
use std::path::Path;

/// One kernel file system mount.
struct Special {
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: &'static str,
}

const NOSUID: MsFlags = MsFlags::MS_NOSUID;
const NODEV: MsFlags = MsFlags::MS_NODEV;
const NOEXEC: MsFlags = MsFlags::MS_NOEXEC;

/// The device nodes docker creates (OCI runtime spec, "Default Devices").
pub(crate) const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The links the OCI runtime spec requires in `/dev` (plus docker's
/// `/dev/core`).
const LINKS: [(&str, &str); 6] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];

/// Mounts `/proc`, `/dev` (and its nodes, links and sub-mounts) and `/sys`.
pub(super) fn mount_kernel_filesystems(
    sys: &dyn Syscall,
    root: &mut Root,
    setup: &super::Setup<'_>,
) -> Result<(), RootfsError> {
    let (privileged, devices) = (setup.privileged, setup.devices);
    // docker mounts sysfs read-only unless the container is privileged.
    let sys_flags = if privileged {
        NOSUID | NODEV | NOEXEC
    } else {
        NOSUID | NODEV | NOEXEC | MsFlags::MS_RDONLY
    };
    mount_special(
        sys,
        root,
        &Special {
            target: "/proc",
            fstype: "proc",
            flags: NOSUID | NODEV | NOEXEC,
            data: "",
        },
    )?;
    mount_special(
        sys,
        root,
        &Special {
            target: "/dev",
            fstype: "tmpfs",
            flags: NOSUID | MsFlags::MS_STRICTATIME,
            data: "mode=755,size=65536k",
        },
    )?;
    populate_dev(sys, root, setup.rootless)?;
    let rest = [
        Special {
            target: "/dev/pts",
            fstype: "devpts",
            flags: NOSUID | NOEXEC,
            // gid 5 is `tty` in every distribution's group file.
            data: "newinstance,ptmxmode=0666,mode=0620,gid=5",
        },
        Special {
            target: "/dev/shm",
            fstype: "tmpfs",
            flags: NOSUID | NODEV | NOEXEC,
            data: "mode=1777,size=65536k",
        },
        Special {
            target: "/dev/mqueue",
            fstype: "mqueue",
            flags: NOSUID | NODEV | NOEXEC,
            data: "",
        },
        Special {
            target: "/sys",
            fstype: "sysfs",
            flags: sys_flags,
            data: "",
        },
    ];
    for special in &rest {
        mount_special(sys, root, special)?;
    }
    for device in devices {
        make_device(sys, root, device, setup.rootless)?;
    }
    Ok(())
}

/// Makes one host device's node in the `/dev` tmpfs, with its parent
/// directories (0755, as runc makes them). The walk stays in the tmpfs:
/// no component may be a symbolic link (`/dev/fd` is one), and an
/// existing node of the same name (`/dev/null`) is replaced.
fn make_device(
    sys: &dyn Syscall,
    root: &mut Root,
    device: &crate::Device,
    rootless: bool,
) -> Result<(), RootfsError> {
    use rustix::fs::{AtFlags, Mode as RMode, OFlags};
    let path_err = |source: std::io::Error| RootfsError::Path {
        path: device.path.clone(),
        source,
    };
    let mut dir = ensure(root, "/dev", Kind::Dir)?;
    let mut names: Vec<&str> = device.in_dev().split('/').collect();
    let leaf = names.pop().unwrap_or_default();
    for name in names {
        match rustix::fs::mkdirat(&dir, name, RMode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(path_err(e.into())),
        }
        dir = rustix::fs::openat(
            &dir,
            name,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::PATH,
            RMode::empty(),
        )
        .map_err(|e| path_err(e.into()))?;
    }
    let node = proc_fd_path(&dir).join(leaf);
    if rootless {
        // A node already bound there (`/dev/null` of the standard set)
        // goes first.
        let _ = sys.umount_detach(&node);
    }
    match rustix::fs::unlinkat(&dir, leaf, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(path_err(e.into())),
    }
    if rootless {
        // A user namespace may not make device nodes: the host's is bound
        // on an empty file (its owner and mode, and the user's own access
        // to it, apply; there is no device cgroup rule).
        let file = rustix::fs::openat(
            &dir,
            leaf,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            RMode::from_raw_mode(0o666),
        )
        .map_err(|e| path_err(e.into()))?;
        return sys
            .mount(
                Some(&device.host),
                &proc_fd_path(&file),
                None,
                MsFlags::MS_BIND,
                None,
            )
            .map_err(|source| RootfsError::Mount {
                what: format!("the host's {}", device.host.display()),
                target: device.path.clone(),
                source,
            });
    }
    let kind = if device.block {
        SFlag::S_IFBLK
    } else {
        SFlag::S_IFCHR
    };
    let dev = makedev(u64::from(device.major), u64::from(device.minor));
    sys.mknod(&node, kind, Mode::from_bits_truncate(device.mode), dev)
        .map_err(|e| path_err(e.into()))?;
    // mknod applies the umask; the node keeps the host's bits and owner.
    std::fs::set_permissions(
        &node,
        std::os::unix::fs::PermissionsExt::from_mode(device.mode),
    )
    .map_err(path_err)?;
    std::os::unix::fs::lchown(&node, Some(device.uid), Some(device.gid)).map_err(path_err)?;
    Ok(())
}

fn mount_special(sys: &dyn Syscall, root: &mut Root, m: &Special) -> Result<(), RootfsError> {
    let fd = ensure(root, m.target, Kind::Dir)?;
    let target = proc_fd_path(&fd);
    let data = (!m.data.is_empty()).then_some(m.data);
    let mounted = sys.mount(
        Some(Path::new(m.fstype)),
        &target,
        Some(m.fstype),
        m.flags,
        data,
    );
    let mounted = match mounted {
        // In a user namespace nested in a container whose /proc or /sys
        // has paths masked by other mounts, the kernel refuses a fresh
        // instance (EPERM: it would reveal what they hide); runc and crun
        // then bind the container's own, as here. Its masks stay, and
        // ours go on top; `ps` there lists the container's processes.
        Err(e)
            if e == nix::errno::Errno::EPERM
                && matches!(m.fstype, "proc" | "sysfs")
                && crate::userns::inside() =>
        {
            // The container's own, read-only where the fresh one would
            // be (/sys unless privileged), as runc's fallback binds it.
            let readonly = m.flags.contains(MsFlags::MS_RDONLY);
            return super::bind(sys, root, Path::new(m.target), m.target, readonly);
        }
        other => other,
    };
    mounted.map_err(|source| RootfsError::Mount {
        what: m.fstype.to_string(),
        target: m.target.to_string(),
        source,
    })
}

/// Binds the host's `/dev/NAME` onto a new empty file `NAME` of the `/dev`
/// tmpfs `dev`.
fn bind_host_device(
    sys: &dyn Syscall,
    dev: &std::os::fd::OwnedFd,
    name: &str,
) -> Result<(), RootfsError> {
    use rustix::fs::{Mode as FileMode, OFlags};
    let node = rustix::fs::openat(
        dev,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        FileMode::from_raw_mode(0o666),
    )
    .map_err(|e| RootfsError::Path {
        path: format!("/dev/{name}"),
        source: e.into(),
    })?;
    sys.mount(
        Some(&Path::new("/dev").join(name)),
        &proc_fd_path(&node),
        None,
        MsFlags::MS_BIND,
        None,
    )
    .map_err(|source| RootfsError::Mount {
        what: format!("the host's /dev/{name}"),
        target: format!("/dev/{name}"),
        source,
    })
}

/// Fills the fresh `/dev` tmpfs. The directory is re-resolved so the nodes
/// land in the tmpfs, not in the image's `/dev` underneath it.
fn populate_dev(sys: &dyn Syscall, root: &mut Root, rootless: bool) -> Result<(), RootfsError> {
    let dev = ensure(root, "/dev", Kind::Dir)?;
    let dev_path = proc_fd_path(&dev);
    let path_err = |name: &str, source: std::io::Error| RootfsError::Path {
        path: format!("/dev/{name}"),
        source,
    };
    for (name, major, minor) in DEVICES {
        if rootless {
            // A user namespace may not make device nodes: the host's are
            // bound onto empty files, as rootless runc does.
            bind_host_device(sys, &dev, name)?;
            continue;
        }
        sys.mknod(
            &dev_path.join(name),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(|source| RootfsError::Call {
            what: "create a device node in /dev",
            source,
        })?;
        // mknod applies the umask; the nodes must be 0666 whatever it is.
        let node = dev_path.join(name);
        std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .map_err(|e| path_err(name, e))?;
    }
    for (name, target) in LINKS {
        rustix::fs::symlinkat(target, &dev, name).map_err(|e| path_err(name, e.into()))?;
    }
    for name in ["pts", "shm", "mqueue"] {
        rustix::fs::mkdirat(&dev, name, rustix::fs::Mode::from_raw_mode(0o755))
            .map_err(|e| path_err(name, e.into()))?;
    }
    Ok(())
}
