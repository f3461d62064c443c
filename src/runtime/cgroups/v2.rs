//! Creating a sandbox cgroup on cgroup v2 (one tree for all controllers).
//!
//! In v2 a controller is usable in a cgroup only when its parent lists it in
//! `cgroup.subtree_control`, and a parent can only list controllers it has
//! itself (`cgroup.controllers`): controllers are handed down level by level
//! (kernel Documentation/admin-guide/cgroup-v2.rst, "Enabling and Disabling").
//! So kiln enables memory, cpu and pids in the root and in `kiln/`, then
//! creates `kiln/<name>` and writes the limits there.
//!
//! The "no internal process" rule of the same document says a non-root
//! cgroup that hands controllers to its children must not hold processes
//! itself. `kiln/` never holds any, and the sandbox's cgroup hands nothing
//! down, so its processes may live in it.
//!
//! v2 has no devices controller: the device allow-list is an eBPF program
//! attached to the sandbox's cgroup (`devices.rs`, `bpf_prog.rs`). It needs
//! no controller at all, so the hybrid layout's controller-less unified
//! tree gets it too.

use std::collections::BTreeSet;
use std::path::Path;

use super::fs::{self, CgroupFs};
use super::tree::{self, Leaf, LeafKind};
use super::{CgroupError, Resources, devices};

/// The controllers kiln enables for its sandboxes, whether or not a limit is
/// set: `memory.events` (the OOM-kill count) and `pids.current` are useful
/// without limits too.
pub(crate) const CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// Creates `<base>/kiln/<name>` with `resources` applied; `created` gets
/// the new cgroup as soon as it exists, so a failure later can remove it.
pub(crate) fn create(
    fs: &dyn CgroupFs,
    base: &Path,
    name: &str,
    resources: &Resources,
    created: &mut Vec<Leaf>,
) -> Result<(), CgroupError> {
    let controllers_file = base.join("cgroup.controllers");
    let available: BTreeSet<String> = fs::read(fs, &controllers_file)?
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let needed = [
        (
            "memory",
            "the memory limit",
            resources.memory_bytes.is_some(),
        ),
        ("cpu", "the cpu quota", resources.cpu_quota.is_some()),
        ("pids", "the process limit", resources.pids_max.is_some()),
    ];
    for (controller, purpose, needed) in needed {
        if needed && !available.contains(controller) {
            return Err(CgroupError::MissingController {
                controller,
                path: controllers_file,
                purpose,
            });
        }
    }
    let enable: Vec<&'static str> = CONTROLLERS
        .into_iter()
        .filter(|c| available.contains(*c))
        .collect();

    enable_controllers(fs, base, &enable)?;
    let parent = tree::ensure_parent(fs, base)?;
    enable_controllers(fs, &parent, &enable)?;
    let leaf = tree::make_leaf(fs, &parent, name)?;
    created.push(Leaf {
        dir: leaf.clone(),
        kind: LeafKind::V2,
    });
    apply_limits(fs, &leaf, resources)?;
    // Not optional: without it CAP_MKNOD opens host disks (devices.rs).
    // Whatever stops bpf(2) (no CAP_BPF/CAP_SYS_ADMIN, a kernel without
    // CONFIG_CGROUP_BPF, a seccomp filter around kiln) fails the sandbox
    // rather than running it without the allow-list: nothing else on v2
    // stands in for it.
    devices::restrict_v2(fs, &leaf, &resources.devices)
}

/// Creates `<base>/kiln/<name>` with no controllers: the hybrid layout's
/// unified tree, where the sandbox is tracked, and gets the v2 device
/// allow-list on top of the v1 one.
pub(crate) fn create_unified(
    fs: &dyn CgroupFs,
    base: &Path,
    name: &str,
    created: &mut Vec<Leaf>,
) -> Result<(), CgroupError> {
    let parent = tree::ensure_parent(fs, base)?;
    let leaf = tree::make_leaf(fs, &parent, name)?;
    created.push(Leaf {
        dir: leaf.clone(),
        kind: LeafKind::Unified,
    });
    // No device program here: v1.rs has already made this sandbox's rules
    // in the v1 devices controller, which the kernel enforces on its own
    // (security/device_cgroup.c), and loading and attaching a program costs
    // about half a millisecond of every start. (The root tests attach one
    // here to prove the v2 program on this hybrid host.)
    Ok(())
}

/// Writes `+controller` to `cgroup.subtree_control`, one controller per
/// write so a refusal names the controller. Enabling an enabled controller
/// is a no-op for the kernel.
fn enable_controllers(
    fs: &dyn CgroupFs,
    cgroup: &Path,
    controllers: &[&'static str],
) -> Result<(), CgroupError> {
    let path = cgroup.join("cgroup.subtree_control");
    for controller in controllers {
        fs.write(&path, &format!("+{controller}"))
            .map_err(|source| CgroupError::EnableController {
                controller,
                path: path.clone(),
                source,
            })?;
    }
    Ok(())
}

fn apply_limits(fs: &dyn CgroupFs, leaf: &Path, resources: &Resources) -> Result<(), CgroupError> {
    if let Some(bytes) = resources.memory_bytes {
        fs::write(fs, &leaf.join("memory.max"), &bytes.to_string())?;
        // docker: `--memory` without `--memory-swap` allows as much swap
        // again. v2's memory.swap.max counts swap alone (v1's memsw counted
        // memory plus swap), so it gets the memory limit itself. The file
        // is missing when swap accounting is off (CONFIG_MEMCG_SWAP, or
        // `swapaccount=0`); there is no swap limit to set then.
        let swap = leaf.join("memory.swap.max");
        if fs.exists(&swap) {
            fs::write(fs, &swap, &bytes.to_string())?;
        }
    }
    if let Some(quota) = resources.cpu_quota {
        fs::write(fs, &leaf.join("cpu.max"), &quota.cpu_max())?;
    }
    if let Some(pids) = resources.pids_max {
        fs::write(fs, &leaf.join("pids.max"), &pids.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::bpf_prog;
    use super::super::devices::DEFAULT_ALLOW;
    use super::super::fake::{FakeFs, create, hybrid, limits, rel};
    use super::super::mode::{Layout, Mode};
    use super::super::{CgroupError, Resources};
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn v2_create_enables_controllers_and_writes_limits() {
        let fake = FakeFs::v2();
        let cg = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap();
        let subtree: Vec<(String, String)> = fake
            .writes_named("cgroup.subtree_control")
            .into_iter()
            .map(|(d, v)| (d.display().to_string(), v))
            .collect();
        let expect =
            |dir: &str| ["+memory", "+cpu", "+pids"].map(|v| (dir.to_owned(), v.to_owned()));
        assert_eq!(subtree, [expect(""), expect("kiln")].concat());

        let leaf = fake.root().join("kiln/1-a");
        assert_eq!(fake.content(leaf.join("memory.max")).unwrap(), "67108864");
        assert_eq!(
            fake.content(leaf.join("memory.swap.max")).unwrap(),
            "67108864"
        );
        assert_eq!(fake.content(leaf.join("cpu.max")).unwrap(), "150000 100000");
        assert_eq!(fake.content(leaf.join("pids.max")).unwrap(), "16");
        assert_eq!(rel(&fake, cg.procs_files()), ["kiln/1-a/cgroup.procs"]);
        assert_eq!(cg.oom_kills().unwrap(), 0);
        assert!(
            fake.writes()
                .iter()
                .all(|(p, _)| !p.ends_with("cgroup.procs")),
            "creating must not move anyone"
        );
    }

    #[test]
    fn v2_only_available_controllers_are_enabled() {
        let fake = FakeFs::v2();
        fake.file(fake.root().join("cgroup.controllers"), "cpu memory io\n");
        let res = Resources {
            pids_max: None,
            ..limits()
        };
        let _cg = create(&fake, &Layout::v2(), "1-a", &res).unwrap();
        let values: Vec<String> = fake
            .writes_named("cgroup.subtree_control")
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(values, ["+memory", "+cpu", "+memory", "+cpu"]);
    }

    #[test]
    fn v2_missing_controller_for_a_limit_is_an_error_naming_it() {
        let fake = FakeFs::v2();
        fake.file(fake.root().join("cgroup.controllers"), "cpu memory\n");
        let err = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("pids controller"), "{msg}");
        assert!(msg.contains("/fake/cgroup/cgroup.controllers"), "{msg}");
        assert!(!fake.exists(&fake.root().join("kiln/1-a")));
    }

    #[test]
    fn v2_without_swap_accounting_sets_no_swap_limit() {
        let fake = FakeFs::v2();
        fake.without_control_file(fake.root(), "memory.swap.max");
        let _cg = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap();
        assert!(fake.writes_named("memory.swap.max").is_empty());
        assert_eq!(
            fake.content(fake.root().join("kiln/1-a/memory.max"))
                .unwrap(),
            "67108864"
        );
    }

    #[test]
    fn no_limits_writes_no_limit_files() {
        let fake = FakeFs::v2();
        let _cg = create(&fake, &Layout::v2(), "1-a", &Resources::default()).unwrap();
        let leaf = fake.root().join("kiln/1-a");
        assert!(fake.writes().iter().all(|(p, _)| !p.starts_with(&leaf)));
    }

    #[test]
    fn v2_refused_subtree_control_names_the_file_and_explains_ebusy() {
        let fake = FakeFs::v2();
        fake.remove_file(fake.root().join("cgroup.subtree_control"));
        let err = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap_err();
        assert!(
            err.to_string()
                .contains("/fake/cgroup/cgroup.subtree_control"),
            "{err}"
        );
        let busy = CgroupError::EnableController {
            controller: "memory",
            path: PathBuf::from("/c/cgroup.subtree_control"),
            source: std::io::Error::from_raw_os_error(libc::EBUSY),
        };
        assert!(
            busy.to_string().contains("holds processes itself"),
            "{busy}"
        );
    }

    #[test]
    fn v2_remove_kills_then_removes_the_leaf_only() {
        let fake = FakeFs::v2();
        fake.without_control_file(fake.root(), "cgroup.kill"); // a 5.10 kernel
        let cg = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap();
        let leaf = fake.root().join("kiln/1-a");
        fake.process(&leaf, 50);
        fake.busy(&leaf, 2);
        cg.remove().unwrap();
        assert_eq!(fake.killed(), [50]);
        assert!(!fake.exists(&leaf));
        assert!(fake.exists(&fake.root().join("kiln")));
    }

    #[test]
    fn oom_kills_reads_memory_events() {
        let fake = FakeFs::v2();
        let cg = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap();
        fake.file(
            fake.root().join("kiln/1-a/memory.events"),
            "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\noom_group_kill 0\n",
        );
        assert_eq!(cg.oom_kills().unwrap(), 2);
    }

    #[test]
    fn v2_attaches_the_device_program_to_the_leaf() {
        let fake = FakeFs::v2();
        let _cg = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap();
        assert_eq!(
            fake.device_programs(),
            [(
                fake.root().join("kiln/1-a"),
                bpf_prog::compile(DEFAULT_ALLOW)
            )]
        );
    }

    #[test]
    fn v2_without_bpf_is_an_error_naming_the_cgroup() {
        for errno in [libc::EPERM, libc::ENOSYS] {
            let fake = FakeFs::v2();
            fake.refuse_bpf(errno);
            let err = create(&fake, &Layout::v2(), "1-a", &limits()).unwrap_err();
            let msg = err.to_string();
            assert!(
                matches!(err, CgroupError::DeviceProgramLoad { .. }),
                "{msg}"
            );
            assert!(msg.contains("/fake/cgroup/kiln/1-a"), "{msg}");
            assert!(msg.contains("device allow-list"), "{msg}");
            assert!(
                !fake.exists(&fake.root().join("kiln/1-a")),
                "no sandbox without its device allow-list"
            );
        }
    }

    #[test]
    fn hybrid_leaves_devices_to_the_v1_controller() {
        let layout = hybrid();
        assert_eq!(layout.mode, Mode::Hybrid);
        let fake = FakeFs::v1(&layout);
        let cg = create(&fake, &layout, "1-a", &limits()).unwrap();
        assert!(fake.device_programs().is_empty());
        assert_eq!(fake.writes_named("devices.deny").len(), 1);
        assert_eq!(cg.procs_files().len(), 7);
    }

    #[test]
    fn v1_gets_no_device_program() {
        let mut layout = hybrid();
        layout.mode = Mode::V1;
        let fake = FakeFs::v1(&layout);
        let _cg = create(&fake, &layout, "1-a", &limits()).unwrap();
        assert!(fake.device_programs().is_empty());
    }

    #[test]
    fn bpf_errors_explain_themselves() {
        let path = PathBuf::from("/c/kiln/1-a");
        let load = |errno, log: &str| CgroupError::DeviceProgramLoad {
            path: path.clone(),
            source: std::io::Error::from_raw_os_error(errno),
            verifier_log: log.to_owned(),
        };
        let msg = load(libc::EPERM, "").to_string();
        assert!(
            msg.contains("/c/kiln/1-a") && msg.contains("CAP_BPF"),
            "{msg}"
        );
        let msg = load(libc::EACCES, "0: (95) exit | R0 !read_ok").to_string();
        assert!(
            msg.ends_with("; verifier log: 0: (95) exit | R0 !read_ok"),
            "{msg}"
        );
        let attach = CgroupError::DeviceProgramAttach {
            path,
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(attach.to_string().contains("BPF_F_ALLOW_MULTI"), "{attach}");
    }
}
