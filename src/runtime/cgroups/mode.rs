//! Which cgroup layout the host has, read from `/proc/self/mountinfo`.
//!
//! Three layouts exist (kernel Documentation/admin-guide/cgroup-v2.rst,
//! "Mounting"; systemd calls them unified, hybrid and legacy):
//!
//! - **v2**: `/sys/fs/cgroup` is one `cgroup2` mount holding every
//!   controller in a single tree.
//! - **v1**: `/sys/fs/cgroup` is a tmpfs with one `cgroup` mount per
//!   *hierarchy*. A hierarchy carries one or more controllers (`memory`,
//!   co-mounted `cpu,cpuacct`) or none at all (`name=systemd`, used only to
//!   group processes). Each hierarchy is a separate tree, so a process is in
//!   one cgroup per hierarchy.
//! - **hybrid**: v1, plus a `cgroup2` at `/sys/fs/cgroup/unified` that
//!   normally holds no controllers (a controller is active in only one of
//!   the two versions at a time) and serves process tracking.
//!
//! Detection is a pure function of the mount table text so it can be tested
//! with the tables of other machines.

use std::path::{Path, PathBuf};

use super::CgroupError;
use super::tree::LeafKind;

/// Where the cgroup file systems are mounted on every mainstream distro.
pub(crate) const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The hybrid layout's `cgroup2` mount, under [`CGROUP_ROOT`].
pub(crate) const UNIFIED_DIR: &str = "unified";
/// The mount table of the calling process's mount namespace.
const MOUNTINFO: &str = "/proc/self/mountinfo";

/// The v1 subsystems the kernel knows (`/proc/cgroups`); mount options
/// that are not one of these (or `name=…`) are plain options like `rw`.
const V1_SUBSYSTEMS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "io",
    "blkio",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "perf_event",
    "net_prio",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

/// The host's cgroup layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only v1 hierarchies under `/sys/fs/cgroup`.
    V1,
    /// v1 hierarchies plus a controller-less `cgroup2` at
    /// `/sys/fs/cgroup/unified`.
    Hybrid,
    /// `/sys/fs/cgroup` is `cgroup2`.
    V2,
}

/// The cgroup layout of this host.
pub fn detect() -> Result<Mode, CgroupError> {
    Ok(Layout::detect()?.mode)
}

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    /// Its mount point's name under the cgroup root (`memory`,
    /// `cpu,cpuacct`, `systemd`).
    pub(crate) dir: String,
    /// The controllers it carries (`name=systemd` for a named hierarchy).
    pub(crate) controllers: Vec<String>,
}

impl Hierarchy {
    /// Whether `controller` is one of this hierarchy's.
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// v1 controllers a sandbox uses: limits (memory, cpu, pids), the device
/// allow-list (devices), usage accounting (cpuacct) and freezing (freezer).
const USED_V1: [&str; 6] = ["memory", "cpu", "cpuacct", "pids", "devices", "freezer"];

/// The mode plus, for v1 and hybrid, the hierarchies in mount order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) mode: Mode,
    pub(crate) v1: Vec<Hierarchy>,
}

impl Layout {
    /// The layout of this host, from `/proc/self/mountinfo`.
    pub(crate) fn detect() -> Result<Layout, CgroupError> {
        let text = std::fs::read_to_string(MOUNTINFO).map_err(|source| CgroupError::Read {
            path: PathBuf::from(MOUNTINFO),
            source,
        })?;
        Layout::parse(&text, Path::new(CGROUP_ROOT)).ok_or_else(|| CgroupError::NotMounted {
            root: PathBuf::from(CGROUP_ROOT),
            mountinfo: PathBuf::from(MOUNTINFO),
        })
    }

    /// The layout under `root` described by a mountinfo text (proc(5)), or
    /// `None` when no cgroup file system is mounted there. Lines that do
    /// not parse are skipped: the kernel writes this file, and one odd line
    /// should not hide the cgroup mounts.
    pub(crate) fn parse(mountinfo: &str, root: &Path) -> Option<Layout> {
        let mut root_is_v2 = false;
        let mut unified = false;
        let mut v1: Vec<Hierarchy> = Vec::new();
        // Later lines are later mounts: a mount stacked on a mount point
        // hides the earlier one, so the last mount at each place wins.
        for mount in mountinfo.lines().filter_map(MountLine::parse) {
            if mount.point == root {
                // Whatever was mounted beneath the old root is hidden now.
                root_is_v2 = mount.fstype == "cgroup2";
                unified = false;
                v1.clear();
                continue;
            }
            if mount.point.parent() != Some(root) {
                continue;
            }
            let Some(dir) = mount.point.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            v1.retain(|h| h.dir != dir);
            if dir == UNIFIED_DIR {
                unified = mount.fstype == "cgroup2";
            }
            if mount.fstype == "cgroup" {
                v1.push(Hierarchy {
                    dir: dir.to_owned(),
                    controllers: v1_controllers(mount.super_options),
                });
            }
        }
        let mode = match (root_is_v2, v1.is_empty(), unified) {
            (true, _, _) => return Some(Layout::v2()),
            (false, true, _) => return None,
            (false, false, true) => Mode::Hybrid,
            (false, false, false) => Mode::V1,
        };
        Some(Layout { mode, v1 })
    }

    /// A pure v2 layout.
    pub(crate) fn v2() -> Layout {
        Layout {
            mode: Mode::V2,
            v1: Vec::new(),
        }
    }

    /// The v1 hierarchies a sandbox joins: those carrying a controller it
    /// uses. Every extra hierarchy costs a mkdir, a join and an rmdir per
    /// sandbox, and inside the sandbox's cgroup namespace the others read
    /// as `/` anyway (cgroup_namespaces(7)), so cpuset, blkio, net_cls or
    /// the named systemd hierarchy would add start time and nothing else.
    pub(crate) fn used_v1(&self) -> Vec<Hierarchy> {
        self.v1
            .iter()
            .filter(|h| USED_V1.iter().any(|c| h.has(c)))
            .cloned()
            .collect()
    }

    /// Every tree a sandbox gets a cgroup in: the directory whose `kiln/`
    /// holds the sandbox cgroups, and what kind of cgroup lives there.
    pub(crate) fn bases(&self, root: &Path) -> Vec<(PathBuf, LeafKind)> {
        let mut bases: Vec<(PathBuf, LeafKind)> = self
            .used_v1()
            .iter()
            .map(|h| (root.join(&h.dir), LeafKind::V1(h.controllers.clone())))
            .collect();
        match self.mode {
            Mode::V2 => bases.push((root.to_path_buf(), LeafKind::V2)),
            Mode::Hybrid => bases.push((root.join(UNIFIED_DIR), LeafKind::Unified)),
            Mode::V1 => {}
        }
        bases
    }
}

/// The v1 controllers in a `cgroup` mount's super options
/// (`rw,cpu,cpuacct` → `cpu`, `cpuacct`; `rw,xattr,name=systemd` →
/// `name=systemd`).
fn v1_controllers(super_options: &str) -> Vec<String> {
    super_options
        .split(',')
        .filter(|o| V1_SUBSYSTEMS.contains(o) || o.starts_with("name="))
        .map(str::to_owned)
        .collect()
}

/// The parts of one mountinfo line this module needs.
struct MountLine<'a> {
    point: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

impl<'a> MountLine<'a> {
    /// proc(5): `id parent major:minor root point options [optional…] -
    /// fstype source super-options`.
    fn parse(line: &'a str) -> Option<MountLine<'a>> {
        let fields: Vec<&str> = line.split(' ').collect();
        let point = fields.get(4)?;
        let dash = fields.iter().skip(6).position(|f| *f == "-")? + 6;
        Some(MountLine {
            point: PathBuf::from(unescape(point)),
            fstype: fields.get(dash + 1)?,
            super_options: fields.get(dash + 3).copied().unwrap_or(""),
        })
    }
}

/// Undoes mountinfo's octal escapes of space, tab, newline and backslash
/// (`\040` …).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)))
            .map(|d| d.iter().fold(0u32, |n, b| n * 8 + u32::from(b - b'0')));
        match octal.and_then(|n| u8::try_from(n).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// This machine's table (Linux 6.18, systemd-less hybrid layout).
    pub(crate) const HYBRID: &str = "\
22 1 253:0 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// Debian 12 / Fedora: pure v2.
    const V2: &str = "\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
35 25 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    /// CentOS 7 style legacy layout: co-mounted controllers, no unified.
    const V1: &str = "\
24 18 0:21 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
25 24 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
28 24 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
29 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,memory
30 24 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,net_cls,net_prio
31 24 0:28 / /sys/fs/cgroup/devices rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,devices
";

    fn root() -> &'static Path {
        Path::new(CGROUP_ROOT)
    }

    #[test]
    fn pure_v2() {
        let layout = Layout::parse(V2, root()).unwrap();
        assert_eq!(layout, Layout::v2());
    }

    #[test]
    fn hybrid_lists_every_v1_hierarchy_in_mount_order() {
        let layout = Layout::parse(HYBRID, root()).unwrap();
        assert_eq!(layout.mode, Mode::Hybrid);
        let dirs: Vec<&str> = layout.v1.iter().map(|h| h.dir.as_str()).collect();
        assert_eq!(
            dirs,
            [
                "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                "systemd"
            ]
        );
        assert_eq!(layout.v1[8].controllers, ["name=systemd"]);
        assert!(layout.v1[3].has("memory"));
    }

    #[test]
    fn legacy_v1_with_comounted_controllers() {
        let layout = Layout::parse(V1, root()).unwrap();
        assert_eq!(layout.mode, Mode::V1);
        let cpu = layout.v1.iter().find(|h| h.dir == "cpu,cpuacct").unwrap();
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        let systemd = layout.v1.iter().find(|h| h.dir == "systemd").unwrap();
        assert_eq!(
            systemd.controllers,
            ["name=systemd"],
            "xattr/release_agent are options"
        );
        assert_eq!(layout.v1.len(), 5);
    }

    #[test]
    fn no_cgroup_mount_is_none() {
        let text = "22 1 253:0 / / rw,relatime - ext4 /dev/vda rw\n";
        assert_eq!(Layout::parse(text, root()), None);
        let tmpfs_only = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n";
        assert_eq!(Layout::parse(tmpfs_only, root()), None);
    }

    #[test]
    fn a_later_mount_on_the_root_hides_the_earlier_tree() {
        let text =
            format!("{HYBRID}50 23 0:40 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(Layout::parse(&text, root()), Some(Layout::v2()));
    }

    #[test]
    fn cgroup_mounts_elsewhere_are_ignored() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw
32 31 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
60 22 0:29 / /run/other/memory rw - cgroup cgroup rw,memory
61 22 0:38 / /run/unified rw - cgroup2 cgroup2 rw
";
        let layout = Layout::parse(text, root()).unwrap();
        assert_eq!(layout.mode, Mode::V1);
        assert_eq!(layout.v1.len(), 1);
    }

    #[test]
    fn optional_fields_before_the_separator() {
        let text = "35 25 0:30 / /sys/fs/cgroup rw shared:9 master:2 - cgroup2 cgroup2 rw\n";
        assert_eq!(Layout::parse(text, root()), Some(Layout::v2()));
    }

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape(r"/mnt/my\040dir\134x"), r"/mnt/my dir\x");
        assert_eq!(unescape(r"/a\09"), r"/a\09", "not three octal digits");
        let text = "35 25 0:30 / /tmp/cg\\040root rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            Layout::parse(text, Path::new("/tmp/cg root")),
            Some(Layout::v2())
        );
    }

    #[test]
    fn bases_per_mode() {
        let r = Path::new("/r");
        let hybrid = Layout::parse(HYBRID, root()).unwrap();
        let bases = hybrid.bases(r);
        // cpu, cpuacct, memory, devices, freezer, pids, then unified.
        assert_eq!(bases.len(), 7);
        assert_eq!(bases[6], (PathBuf::from("/r/unified"), LeafKind::Unified));
        assert_eq!(Layout::v2().bases(r), [(PathBuf::from("/r"), LeafKind::V2)]);
        let v1 = Layout::parse(V1, root()).unwrap();
        assert!(
            v1.bases(r)
                .iter()
                .all(|(_, k)| matches!(k, LeafKind::V1(_)))
        );
    }
}
