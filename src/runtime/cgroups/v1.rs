//! Creating a sandbox cgroup on cgroup v1 (one tree per hierarchy).
//!
//! A v1 process is in one cgroup of every mounted hierarchy, so the sandbox
//! gets `kiln/<name>` in all of them, not only in those that carry a limit:
//! then `/proc/self/cgroup` inside the sandbox shows `/kiln/<name>` on every
//! line, the freezer and blkio statistics cover exactly the sandbox, and no
//! hierarchy leaves the sandbox's processes in kiln's own cgroup (kernel
//! Documentation/admin-guide/cgroup-v1/cgroups.rst §1.2 and §2).

use std::path::Path;

use super::fs::{self, CgroupFs};
use super::mode::Hierarchy;
use super::tree::{self, Leaf, LeafKind};
use super::{CgroupError, Resources, devices};

/// Creates `<hierarchy>/kiln/<name>` in every hierarchy with `resources`
/// applied; `created` gets each cgroup as soon as it exists.
pub(crate) fn create(
    fs: &dyn CgroupFs,
    hierarchies: &[Hierarchy],
    name: &str,
    resources: &Resources,
    created: &mut Vec<Leaf>,
) -> Result<(), CgroupError> {
    let needed = [
        (
            "memory",
            "the memory limit",
            resources.memory_bytes.is_some(),
        ),
        ("cpu", "the cpu quota", resources.cpu_quota.is_some()),
        ("pids", "the process limit", resources.pids_max.is_some()),
        // Always: without it CAP_MKNOD opens host disks (see devices.rs).
        ("devices", "the device allow-list", true),
    ];
    for (controller, purpose, needed) in needed {
        if needed && !hierarchies.iter().any(|h| h.has(controller)) {
            return Err(CgroupError::MissingController {
                controller,
                path: fs.root().to_path_buf(),
                purpose,
            });
        }
    }

    for hierarchy in hierarchies {
        let base = fs.root().join(&hierarchy.dir);
        let parent = tree::ensure_parent(fs, &base)?;
        if hierarchy.has("cpuset") {
            inherit_cpuset(fs, &base, &parent)?;
        }
        let leaf = tree::make_leaf(fs, &parent, name)?;
        created.push(Leaf {
            dir: leaf.clone(),
            kind: LeafKind::V1(hierarchy.controllers.clone()),
        });
        apply(fs, hierarchy, &parent, &leaf, resources)?;
    }
    Ok(())
}

/// Writes the settings of `hierarchy`'s controllers into the new `leaf`.
fn apply(
    fs: &dyn CgroupFs,
    hierarchy: &Hierarchy,
    parent: &Path,
    leaf: &Path,
    resources: &Resources,
) -> Result<(), CgroupError> {
    if hierarchy.has("cpuset") {
        inherit_cpuset(fs, parent, leaf)?;
    }
    if let (true, Some(bytes)) = (hierarchy.has("memory"), resources.memory_bytes) {
        // The limit first: memsw must never be below it, and a new cgroup's
        // memsw starts unlimited, so this order is always accepted.
        fs::write(fs, &leaf.join("memory.limit_in_bytes"), &bytes.to_string())?;
        // docker's default for `--memory` without `--memory-swap`: memory
        // plus swap may reach twice the memory limit. The file exists only
        // with swap accounting (CONFIG_MEMCG_SWAP and not `swapaccount=0`).
        let memsw = leaf.join("memory.memsw.limit_in_bytes");
        if fs.exists(&memsw) {
            let total = bytes
                .checked_mul(2)
                .map_or("-1".to_owned(), |t| t.to_string());
            fs::write(fs, &memsw, &total)?;
        }
    }
    if let (true, Some(quota)) = (hierarchy.has("cpu"), resources.cpu_quota) {
        // The kernel checks a quota against the current period
        // (sched-bwc.rst); a new cgroup has no quota (-1), so setting the
        // period first is always accepted.
        fs::write(
            fs,
            &leaf.join("cpu.cfs_period_us"),
            &quota.period_us.to_string(),
        )?;
        fs::write(
            fs,
            &leaf.join("cpu.cfs_quota_us"),
            &quota.quota_us.to_string(),
        )?;
    }
    if let (true, Some(pids)) = (hierarchy.has("pids"), resources.pids_max) {
        fs::write(fs, &leaf.join("pids.max"), &pids.to_string())?;
    }
    if hierarchy.has("devices") {
        devices::restrict_v1(fs, leaf, &resources.devices)?;
    }
    Ok(())
}

/// Copies `cpuset.cpus` and `cpuset.mems` from `from` into `to` when `to`
/// has none. A new v1 cpuset cgroup starts with both empty (unless
/// `cgroup.clone_children` is set), and the kernel refuses to move a task
/// into it (`ENOSPC`; cgroup-v1/cpusets.rst §2.1). A value already there
/// (an administrator's, or an earlier kiln's) is kept.
fn inherit_cpuset(fs: &dyn CgroupFs, from: &Path, to: &Path) -> Result<(), CgroupError> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let target = to.join(file);
        if !fs::read(fs, &target)?.trim().is_empty() {
            continue;
        }
        let source = from.join(file);
        let value = fs::read(fs, &source)?;
        let value = value.trim();
        if value.is_empty() {
            return Err(CgroupError::EmptyCpuset { path: source });
        }
        fs::write(fs, &target, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fake::{FakeFs, create, hybrid, limits, rel};
    use super::super::mode::{Layout, Mode};
    use super::super::{CgroupError, devices};
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn hybrid_create_makes_a_cgroup_in_every_used_hierarchy_and_unified() {
        let layout = hybrid();
        let fake = FakeFs::v1(&layout);
        let cg = create(&fake, &layout, "1-a", &limits()).unwrap();
        assert_eq!(
            rel(&fake, cg.procs_files()),
            [
                "cpu", "cpuacct", "memory", "devices", "freezer", "pids", "unified"
            ]
            .map(|h| format!("{h}/kiln/1-a/cgroup.procs"))
        );
        for unused in ["cpuset", "blkio", "systemd"] {
            assert!(
                !fake.exists(&fake.root().join(unused).join("kiln")),
                "{unused}"
            );
        }
    }

    /// cpuset co-mounted with cpu: the only way a sandbox joins a cpuset.
    fn cpuset_with_cpu() -> Layout {
        let h = |dir: &str, controllers: &[&str]| Hierarchy {
            dir: dir.to_string(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
        };
        Layout {
            mode: Mode::V1,
            v1: vec![
                h("cpuset", &["cpuset", "cpu"]),
                h("memory", &["memory"]),
                h("devices", &["devices"]),
            ],
        }
    }

    #[test]
    fn v1_limits_in_their_hierarchies_and_in_kernel_order() {
        let layout = hybrid();
        let fake = FakeFs::v1(&layout);
        let _cg = create(&fake, &layout, "1-a", &limits()).unwrap();
        let root = fake.root().to_path_buf();
        let mem = root.join("memory/kiln/1-a");
        assert_eq!(
            fake.content(mem.join("memory.limit_in_bytes")).unwrap(),
            "67108864"
        );
        assert_eq!(
            fake.content(mem.join("memory.memsw.limit_in_bytes"))
                .unwrap(),
            "134217728"
        );
        let cpu = root.join("cpu/kiln/1-a");
        assert_eq!(
            fake.content(cpu.join("cpu.cfs_quota_us")).unwrap(),
            "150000"
        );
        assert_eq!(
            fake.content(cpu.join("cpu.cfs_period_us")).unwrap(),
            "100000"
        );
        assert_eq!(
            fake.content(root.join("pids/kiln/1-a/pids.max")).unwrap(),
            "16"
        );

        let order: Vec<String> = fake
            .writes()
            .into_iter()
            .filter_map(|(p, _)| p.file_name()?.to_str().map(str::to_owned))
            .filter(|n| n.starts_with("memory.") || n.starts_with("cpu.cfs"))
            .collect();
        assert_eq!(
            order,
            [
                "cpu.cfs_period_us",
                "cpu.cfs_quota_us",
                "memory.limit_in_bytes",
                "memory.memsw.limit_in_bytes"
            ]
        );
    }

    #[test]
    fn v1_devices_deny_all_then_docker_allow_list_on_the_leaf_only() {
        let layout = hybrid();
        let fake = FakeFs::v1(&layout);
        let _cg = create(&fake, &layout, "1-a", &Resources::default()).unwrap();
        let deny = fake.writes_named("devices.deny");
        assert_eq!(deny, [(PathBuf::from("devices/kiln/1-a"), "a".to_owned())]);
        let allow: Vec<String> = fake
            .writes_named("devices.allow")
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        let rules: Vec<String> = devices::DEFAULT_ALLOW
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(allow, rules);
        let first_allow = fake
            .writes()
            .iter()
            .position(|(p, _)| p.ends_with("devices.allow"));
        let the_deny = fake
            .writes()
            .iter()
            .position(|(p, _)| p.ends_with("devices.deny"));
        assert!(the_deny < first_allow);
    }

    #[test]
    fn v1_cpuset_is_copied_into_parent_and_leaf() {
        let layout = cpuset_with_cpu();
        let fake = FakeFs::v1(&layout);
        let _cg = create(&fake, &layout, "1-a", &Resources::default()).unwrap();
        let cpuset = fake.root().join("cpuset");
        for dir in ["kiln", "kiln/1-a"] {
            assert_eq!(
                fake.content(cpuset.join(dir).join("cpuset.cpus")).unwrap(),
                "0-3",
                "{dir}"
            );
            assert_eq!(
                fake.content(cpuset.join(dir).join("cpuset.mems")).unwrap(),
                "0",
                "{dir}"
            );
        }
    }

    #[test]
    fn v1_cpuset_of_the_parent_is_kept_when_set() {
        let layout = cpuset_with_cpu();
        let fake = FakeFs::v1(&layout);
        let kiln = fake.root().join("cpuset/kiln");
        fake.dir(&kiln);
        fake.file(kiln.join("cpuset.cpus"), "1\n");
        fake.file(kiln.join("cpuset.mems"), "0\n");
        let _cg = create(&fake, &layout, "1-a", &Resources::default()).unwrap();
        assert_eq!(fake.content(kiln.join("cpuset.cpus")).unwrap(), "1\n");
        assert_eq!(fake.content(kiln.join("1-a/cpuset.cpus")).unwrap(), "1");
    }

    #[test]
    fn v1_without_memsw_sets_memory_only() {
        let layout = hybrid();
        let fake = FakeFs::v1(&layout);
        fake.without_control_file(&fake.root().join("memory"), "memory.memsw.limit_in_bytes");
        let _cg = create(&fake, &layout, "1-a", &limits()).unwrap();
        assert!(fake.writes_named("memory.memsw.limit_in_bytes").is_empty());
        assert_eq!(fake.writes_named("memory.limit_in_bytes").len(), 1);
    }

    #[test]
    fn v1_missing_hierarchies() {
        let mut layout = hybrid();
        layout.v1.retain(|h| !h.has("devices"));
        let fake = FakeFs::v1(&layout);
        let err = create(&fake, &layout, "1-a", &Resources::default()).unwrap_err();
        assert!(err.to_string().contains("devices controller"), "{err}");

        let mut layout = hybrid();
        layout.v1.retain(|h| !h.has("memory"));
        let fake = FakeFs::v1(&layout);
        let err = create(&fake, &layout, "1-a", &limits()).unwrap_err();
        assert!(err.to_string().contains("memory controller"), "{err}");
        // Not needed without a memory limit; then OOM kills cannot be counted.
        let cg = create(&fake, &layout, "1-b", &Resources::default()).unwrap();
        assert!(matches!(
            cg.oom_kills(),
            Err(CgroupError::MissingController { .. })
        ));
    }

    #[test]
    fn v1_failure_half_way_removes_what_was_created() {
        let layout = hybrid();
        let fake = FakeFs::v1(&layout);
        // A kernel whose pids hierarchy lacks pids.max: the 8th of 9.
        fake.without_control_file(&fake.root().join("pids"), "pids.max");
        let err = create(&fake, &layout, "1-a", &limits()).unwrap_err();
        assert!(
            err.to_string()
                .contains("/fake/cgroup/pids/kiln/1-a/pids.max"),
            "{err}"
        );
        for h in &layout.v1 {
            let leaf = fake.root().join(&h.dir).join("kiln/1-a");
            assert!(!fake.exists(&leaf), "{} left behind", leaf.display());
        }
    }

    #[test]
    fn v1_oom_kills_reads_oom_control() {
        let layout = hybrid();
        let fake = FakeFs::v1(&layout);
        let cg = create(&fake, &layout, "1-a", &limits()).unwrap();
        fake.file(
            fake.root().join("memory/kiln/1-a/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n",
        );
        assert_eq!(cg.oom_kills().unwrap(), 4);
    }

    #[test]
    fn hybrid_kill_all_uses_unified_cgroup_kill_and_sweeps_v1() {
        let layout = hybrid();
        let fake = FakeFs::v1(&layout);
        let cg = create(&fake, &layout, "1-a", &limits()).unwrap();
        // A process that escaped the unified cgroup but not memory's.
        fake.process(fake.root().join("memory/kiln/1-a"), 77);
        cg.kill_all().unwrap();
        assert_eq!(
            fake.content(fake.root().join("unified/kiln/1-a/cgroup.kill"))
                .unwrap(),
            "1"
        );
        assert_eq!(fake.killed(), [77]);
        cg.remove().unwrap();
        for h in layout
            .used_v1()
            .iter()
            .map(|h| h.dir.as_str())
            .chain(["unified"])
        {
            assert!(!fake.exists(&fake.root().join(h).join("kiln/1-a")), "{h}");
            assert!(fake.exists(&fake.root().join(h).join("kiln")), "{h}");
        }
    }
}
