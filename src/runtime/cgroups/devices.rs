//! Which device nodes a sandbox may open or create: docker's default list.
//!
//! A device node is only a (type, major, minor) triple; whoever holds
//! `CAP_MKNOD` (which docker's default capabilities, and kiln's, include)
//! can make `/dev/sda` inside the container. The device cgroup is what
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
//! The same [`DEFAULT_ALLOW`] list is enforced two ways:
//! - cgroup v1: written as text rules to the devices controller
//!   ([`restrict_v1`]);
//! - cgroup v2, which has no devices controller: compiled into an eBPF
//!   program of type `BPF_PROG_TYPE_CGROUP_DEVICE` (`bpf_prog.rs`) that the
//!   kernel runs on every device access of a task in the cgroup
//!   ([`restrict_v2`]). On hybrid hosts both apply.

use std::fmt;
use std::path::Path;

use super::CgroupError;
use super::bpf_prog;
use super::fs::{self, CgroupFs};

/// Empties the v1 allow-list: with "a" the cgroup's default becomes deny.
pub(crate) const DENY_ALL: &str = "a";

/// The device types of a rule (v1 `a`, `b`, `c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Block and character devices. No default rule uses it, but the rule
    /// language has it and the v2 compiler handles (and tests) it.
    #[cfg_attr(not(test), expect(dead_code, reason = "no default rule is `a`"))]
    All,
    /// Block devices (`b`; disks, partitions, loop devices).
    Block,
    /// Character devices (`c`; terminals, `/dev/null`, ...).
    Char,
}

/// The accesses a rule allows. The bits are the kernel's in both
/// interfaces: `DEVCG_ACC_*` of the v1 controller and `BPF_DEVCG_ACC_*` of
/// include/uapi/linux/bpf.h (mknod 1, read 2, write 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Access(u8);

impl Access {
    /// `m`: mknod(2) of such a node.
    pub(crate) const MKNOD: Access = Access(1);
    /// `r`: open for reading.
    pub(crate) const READ: Access = Access(2);
    /// `w`: open for writing.
    pub(crate) const WRITE: Access = Access(4);
    /// `rwm`: everything.
    pub(crate) const RWM: Access = Access(1 | 2 | 4);

    /// Both sets of accesses.
    #[cfg(test)]
    pub(crate) const fn and(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }

    /// Whether every access of `other` is in `self`.
    pub(crate) const fn contains(self, other: Access) -> bool {
        other.0 & !self.0 == 0
    }

    /// The kernel's bits.
    pub(crate) const fn bits(self) -> u8 {
        self.0
    }
}

/// One allow rule: a device type, a major and minor number (`None` is the
/// `*` wildcard) and the accesses allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) kind: Kind,
    pub(crate) major: Option<u32>,
    pub(crate) minor: Option<u32>,
    pub(crate) access: Access,
}

impl Rule {
    const fn char(major: Option<u32>, minor: Option<u32>, access: Access) -> Rule {
        Rule {
            kind: Kind::Char,
            major,
            minor,
            access,
        }
    }
}

/// The v1 text form, as the kernel parses it from `devices.allow`:
/// `c 1:3 rwm`, `b *:* m`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::All => 'a',
            Kind::Block => 'b',
            Kind::Char => 'c',
        };
        let number = |n: Option<u32>| n.map_or("*".to_owned(), |n| n.to_string());
        let mut access = String::new();
        for (bit, letter) in [
            (Access::READ, 'r'),
            (Access::WRITE, 'w'),
            (Access::MKNOD, 'm'),
        ] {
            if self.access.contains(bit) {
                access.push(letter);
            }
        }
        write!(
            f,
            "{kind} {}:{} {access}",
            number(self.major),
            number(self.minor)
        )
    }
}

const ANY: Option<u32> = None;

/// docker's default allow rules, in the order of runc's `AllowedDevices`
/// (moby's own allow rules are a subset of them).
pub(crate) const DEFAULT_ALLOW: &[Rule] = &[
    // mknod any character device (opening it is another matter)
    Rule::char(ANY, ANY, Access::MKNOD),
    // mknod any block device
    Rule {
        kind: Kind::Block,
        major: ANY,
        minor: ANY,
        access: Access::MKNOD,
    },
    Rule::char(Some(1), Some(3), Access::RWM), // /dev/null
    Rule::char(Some(1), Some(8), Access::RWM), // /dev/random
    Rule::char(Some(1), Some(7), Access::RWM), // /dev/full
    Rule::char(Some(5), Some(0), Access::RWM), // /dev/tty
    Rule::char(Some(1), Some(5), Access::RWM), // /dev/zero
    Rule::char(Some(1), Some(9), Access::RWM), // /dev/urandom
    Rule::char(Some(5), Some(1), Access::RWM), // /dev/console
    Rule::char(Some(136), ANY, Access::RWM),   // /dev/pts/*
    Rule::char(Some(5), Some(2), Access::RWM), // /dev/ptmx
    Rule::char(Some(10), Some(200), Access::RWM), // /dev/net/tun
];

/// Applies deny-all then the default allow-list to a v1 devices cgroup.
///
/// Must run on a cgroup without children: the kernel refuses to change a
/// cgroup's default behaviour ("a") once it has children (`EINVAL`), which is
/// also why only the sandbox's own cgroup is restricted, never the shared
/// `kiln` parent. Each rule is its own write: the kernel parses one rule per
/// write.
pub(crate) fn restrict_v1(
    fs: &dyn CgroupFs,
    leaf: &Path,
    extra: &[crate::Device],
) -> Result<(), CgroupError> {
    fs::write(fs, &leaf.join("devices.deny"), DENY_ALL)?;
    let allow = leaf.join("devices.allow");
    for rule in allowed(extra) {
        fs::write(fs, &allow, &rule.to_string())?;
    }
    Ok(())
}

/// docker's default list, then `rwm` for each of the sandbox's host
/// devices (what `docker run --device` adds).
fn allowed(extra: &[crate::Device]) -> Vec<Rule> {
    let mut rules = DEFAULT_ALLOW.to_vec();
    rules.extend(extra.iter().map(|device| Rule {
        kind: if device.block {
            Kind::Block
        } else {
            Kind::Char
        },
        major: Some(device.major),
        minor: Some(device.minor),
        access: Access::RWM,
    }));
    rules
}

/// Attaches the default allow-list, compiled to eBPF, to a v2 cgroup
/// (the v2 tree of a v2 host, or the unified tree of a hybrid one).
///
/// The program is attached with `BPF_F_ALLOW_MULTI`: programs attached to
/// ancestors keep running too, and an access is allowed only if every one
/// of them allows it (kernel/bpf/cgroup.c), so a program a nested runtime
/// attaches below the sandbox's cgroup can narrow the list but never widen
/// it. Once attached, the cgroup holds its own reference to the program;
/// it is released when the cgroup is removed.
pub(crate) fn restrict_v2(
    fs: &dyn CgroupFs,
    leaf: &Path,
    extra: &[crate::Device],
) -> Result<(), CgroupError> {
    fs.attach_device_filter(leaf, &bpf_prog::compile(&allowed(extra)))
}

#[cfg(test)]
mod tests {
    use super::super::fake::FakeFs;
    use super::*;

    /// The rules as docker's and runc's sources spell them.
    const DOCKER_TEXT: [&str; 12] = [
        "c *:* m",
        "b *:* m",
        "c 1:3 rwm",
        "c 1:8 rwm",
        "c 1:7 rwm",
        "c 5:0 rwm",
        "c 1:5 rwm",
        "c 1:9 rwm",
        "c 5:1 rwm",
        "c 136:* rwm",
        "c 5:2 rwm",
        "c 10:200 rwm",
    ];

    #[test]
    fn the_rules_render_as_docker_writes_them() {
        let text: Vec<String> = DEFAULT_ALLOW.iter().map(Rule::to_string).collect();
        assert_eq!(text, DOCKER_TEXT);
        let odd = Rule {
            kind: Kind::All,
            major: Some(7),
            minor: ANY,
            access: Access::READ.and(Access::WRITE),
        };
        assert_eq!(odd.to_string(), "a 7:* rw");
    }

    #[test]
    fn deny_all_comes_before_every_allow_rule() {
        let fake = FakeFs::new();
        let leaf = fake.root().join("devices/kiln/1-a");
        fake.dir(&leaf);
        fake.file(leaf.join("devices.deny"), "");
        fake.file(leaf.join("devices.allow"), "");
        restrict_v1(&fake, &leaf, &[]).unwrap();
        let writes: Vec<String> = fake.writes().into_iter().map(|(_, v)| v).collect();
        assert_eq!(writes[0], "a");
        assert_eq!(&writes[1..], DOCKER_TEXT);
    }

    #[test]
    fn no_rule_opens_a_block_device() {
        // The property the list exists for: host disks stay closed.
        for rule in DEFAULT_ALLOW {
            assert!(
                rule.kind == Kind::Char || rule.access == Access::MKNOD,
                "{rule} opens block devices"
            );
            assert_ne!(rule.kind, Kind::All, "{rule} covers every device");
        }
    }

    #[test]
    fn v2_attaches_the_compiled_list_to_the_leaf() {
        let fake = FakeFs::new();
        let leaf = fake.root().join("kiln/1-a");
        fake.dir(&leaf);
        restrict_v2(&fake, &leaf, &[]).unwrap();
        assert_eq!(
            fake.device_programs(),
            [(leaf, bpf_prog::compile(DEFAULT_ALLOW))]
        );
    }

    fn fuse() -> crate::Device {
        crate::Device {
            path: "/dev/fuse".into(),
            block: false,
            major: 10,
            minor: 229,
            mode: 0o600,
            uid: 0,
            gid: 0,
            host: "/dev/fuse".into(),
        }
    }

    #[test]
    fn a_host_device_is_allowed_after_the_defaults() {
        let fake = FakeFs::new();
        let leaf = fake.root().join("devices/kiln/1-a");
        fake.dir(&leaf);
        fake.file(leaf.join("devices.deny"), "");
        fake.file(leaf.join("devices.allow"), "");
        let loop0 = crate::Device {
            path: "/dev/loop0".into(),
            block: true,
            major: 7,
            minor: 0,
            ..fuse()
        };
        restrict_v1(&fake, &leaf, &[fuse(), loop0]).unwrap();
        let writes: Vec<String> = fake.writes().into_iter().map(|(_, v)| v).collect();
        assert_eq!(&writes[1..13], DOCKER_TEXT);
        assert_eq!(&writes[13..], ["c 10:229 rwm", "b 7:0 rwm"]);

        let fake = FakeFs::new();
        let leaf = fake.root().join("kiln/1-a");
        fake.dir(&leaf);
        restrict_v2(&fake, &leaf, &[fuse()]).unwrap();
        let mut rules = DEFAULT_ALLOW.to_vec();
        rules.push(Rule::char(Some(10), Some(229), Access::RWM));
        assert_eq!(fake.device_programs(), [(leaf, bpf_prog::compile(&rules))]);
    }
}
