//! Which device nodes a sandbox may open or create: docker's default list.
//!
//! A device node is only a (type, major, minor) triple; whoever holds
//! `CAP_MKNOD` (which docker's default capabilities, and kiln's, include)
//! can make `/dev/sda` inside the container. The devices controller is what
//! keeps such a node useless: the kernel checks every `open(2)` and
//! `mknod(2)` of a device against the cgroup's rules (kernel
//! Documentation/admin-guide/cgroup-v1/devices.rst). Docker therefore denies
//! everything, allows `m` (mknod) for any node so images can still ship
//! device files, and allows read/write on the harmless character devices
//! only.
//!
//! The list is moby's `oci/defaults.go` (`Linux.Resources.Devices`) followed
//! by the rules runc appends to every container
//! (`libcontainer/specconv.AllowedDevices`), which together are what
//! `docker run` applies without `--privileged` or `--device`:
//! - moby also denies `c 10:229 rwm` (`/dev/fuse`); after the leading
//!   "deny all" that rule has nothing left to remove, so it is left out.
//! - `c 10:200 rwm` (`/dev/net/tun`) was dropped in runc 1.2.0 and restored
//!   in 1.2.4 because users depend on it (opencontainers/runc#4555); kiln
//!   follows the restored list.
//!
//! On cgroup v2 there is no devices controller: runc attaches an eBPF
//! program of type `BPF_PROG_TYPE_CGROUP_DEVICE` to the cgroup instead.
//! TODO(v2 devices): kiln does not do that yet, so on a v2 host the
//! sandbox's device access is limited only by the nodes in its `/dev`, its
//! capabilities and its seccomp profile.

use std::path::Path;

use super::CgroupError;
use super::fs::{self, CgroupFs};

/// Empties the allow-list: with "a" the cgroup's default becomes deny.
pub(crate) const DENY_ALL: &str = "a";

/// docker's default allow rules, in the order of runc's `AllowedDevices`
/// (moby's own allow rules are a subset of them).
pub(crate) const DEFAULT_ALLOW: &[&str] = &[
    "c *:* m",      // mknod any character device (opening is another matter)
    "b *:* m",      // mknod any block device
    "c 1:3 rwm",    // /dev/null
    "c 1:8 rwm",    // /dev/random
    "c 1:7 rwm",    // /dev/full
    "c 5:0 rwm",    // /dev/tty
    "c 1:5 rwm",    // /dev/zero
    "c 1:9 rwm",    // /dev/urandom
    "c 5:1 rwm",    // /dev/console
    "c 136:* rwm",  // /dev/pts/*
    "c 5:2 rwm",    // /dev/ptmx
    "c 10:200 rwm", // /dev/net/tun
];

/// Applies deny-all then the default allow-list to a v1 devices cgroup.
///
/// Must run on a cgroup without children: the kernel refuses to change a
/// cgroup's default behaviour ("a") once it has children (`EINVAL`), which is
/// also why only the sandbox's own cgroup is restricted, never the shared
/// `kiln` parent. Each rule is its own write: the kernel parses one rule per
/// write.
pub(crate) fn restrict_v1(fs: &dyn CgroupFs, leaf: &Path) -> Result<(), CgroupError> {
    fs::write(fs, &leaf.join("devices.deny"), DENY_ALL)?;
    let allow = leaf.join("devices.allow");
    for rule in DEFAULT_ALLOW {
        fs::write(fs, &allow, rule)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeFs;
    use super::*;

    #[test]
    fn deny_all_comes_before_every_allow_rule() {
        let fake = FakeFs::new();
        let leaf = fake.root().join("devices/kiln/1-a");
        fake.dir(&leaf);
        fake.file(leaf.join("devices.deny"), "");
        fake.file(leaf.join("devices.allow"), "");
        restrict_v1(&fake, &leaf).unwrap();
        let writes: Vec<String> = fake.writes().into_iter().map(|(_, v)| v).collect();
        assert_eq!(writes[0], "a");
        assert_eq!(&writes[1..], DEFAULT_ALLOW);
    }

    #[test]
    fn no_rule_opens_a_block_device() {
        // The property the list exists for: host disks stay closed.
        for rule in DEFAULT_ALLOW {
            let mut parts = rule.split(' ');
            let kind = parts.next().unwrap();
            let access = parts.nth(1).unwrap();
            assert!(kind == "c" || access == "m", "{rule} opens block devices");
            assert!(!rule.starts_with('a'), "{rule} allows everything");
        }
        assert!(DEFAULT_ALLOW.contains(&"c 10:200 rwm"));
        assert!(DEFAULT_ALLOW.contains(&"c 136:* rwm"));
    }
}
