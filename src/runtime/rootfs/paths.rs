//! docker's masked and read-only paths (moby `oci/defaults.go`; OCI runtime
//! spec `linux.maskedPaths` / `linux.readonlyPaths`).
//!
//! Masked paths leak host information or give control over the host kernel
//! (`/proc/kcore` is the host's memory, `/proc/keys` its keyrings,
//! `/proc/timer_list` and `/proc/sched_debug` other tasks' details,
//! `/sys/firmware` its firmware tables): files get `/dev/null` bound over
//! them, directories an empty read-only tmpfs. Read-only paths (`/proc/sys`,
//! `/proc/sysrq-trigger`, `/proc/irq`, `/proc/bus`, `/proc/fs`) stay
//! readable but can no longer be used to change the host kernel.

use super::resolve::{Root, proc_fd_path};
use super::{RootfsError, remount};
use crate::syscall::Syscall;
use nix::mount::MsFlags;
use std::path::Path;

/// Paths made unreadable.
pub const MASKED: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths made read-only.
pub const READONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

fn find(root: &Root, path: &str) -> Result<Option<std::os::fd::OwnedFd>, RootfsError> {
    root.find(path).map_err(|source| RootfsError::Path {
        path: path.to_string(),
        source,
    })
}

/// Masks [`MASKED`]; a path the kernel does not have is skipped.
pub(super) fn mask(sys: &dyn Syscall, root: &Root) -> Result<(), RootfsError> {
    let Some(dev_null) = find(root, "/dev/null")? else {
        return Err(RootfsError::Path {
            path: "/dev/null".into(),
            source: std::io::ErrorKind::NotFound.into(),
        });
    };
    for path in MASKED {
        mask_one(sys, root, &dev_null, path)?;
    }
    // One per CPU: the thermal throttling counters docker masks since
    // moby#49560 (GHSA-6fw5-f8r9-fgfm), which leak host activity.
    for path in per_cpu_thermal(root)? {
        mask_one(sys, root, &dev_null, &path)?;
    }
    Ok(())
}

/// `/sys/devices/system/cpu/cpuN/thermal_throttle` for every CPU the
/// container's sysfs lists.
fn per_cpu_thermal(root: &Root) -> Result<Vec<String>, RootfsError> {
    const CPUS: &str = "/sys/devices/system/cpu";
    let Some(dir) = find(root, CPUS)? else {
        return Ok(Vec::new());
    };
    let entries = std::fs::read_dir(proc_fd_path(&dir)).map_err(|source| RootfsError::Path {
        path: CPUS.into(),
        source,
    })?;
    let mut paths: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix("cpu")
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|n| format!("{CPUS}/{n}/thermal_throttle"))
        .collect();
    paths.sort();
    Ok(paths)
}

fn mask_one(
    sys: &dyn Syscall,
    root: &Root,
    dev_null: &std::os::fd::OwnedFd,
    path: &str,
) -> Result<(), RootfsError> {
    let Some(fd) = find(root, path)? else {
        return Ok(());
    };
    let is_dir = rustix::fs::fstat(&fd)
        .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
        .map_err(|e| RootfsError::Path {
            path: path.to_string(),
            source: e.into(),
        })?;
    let target = proc_fd_path(&fd);
    let result = if is_dir {
        sys.mount(
            Some(Path::new("tmpfs")),
            &target,
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some("size=0"),
        )
    } else {
        sys.mount(
            Some(&proc_fd_path(dev_null)),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
        )
    };
    result.map_err(|source| RootfsError::Mount {
        what: "a mask".into(),
        target: path.to_string(),
        source,
    })
}

/// Makes [`READONLY`] read-only, keeping each mount's other flags.
pub(super) fn make_readonly(sys: &dyn Syscall, root: &Root) -> Result<(), RootfsError> {
    for path in READONLY {
        let Some(fd) = find(root, path)? else {
            continue;
        };
        let target = proc_fd_path(&fd);
        sys.mount(
            Some(&target),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(|source| RootfsError::Mount {
            what: "a read-only bind".into(),
            target: path.to_string(),
            source,
        })?;
        // The old descriptor names the mount underneath; remount the new top.
        let Some(top) = find(root, path)? else {
            continue;
        };
        let top_path = proc_fd_path(&top);
        let flags = sys
            .mount_flags(&top_path)
            .map_err(|source| RootfsError::Mount {
                what: "a read-only bind".into(),
                target: path.to_string(),
                source,
            })?;
        remount(sys, &top_path, path, flags | MsFlags::MS_RDONLY, path)?;
    }
    Ok(())
}
