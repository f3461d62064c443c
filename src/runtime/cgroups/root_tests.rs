//! Tests on this machine's real cgroup file systems (root only).
//!
//! Each test spawns `/bin/sh`, which writes "0" to every procs file of the
//! sandbox (moving itself in, as the sandbox's first process does), says
//! `joined`, and then runs the test's command. Names carry this test
//! process's pid, so parallel tests and other kiln runs never collide.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::bpf_prog::{self, Insn};
use super::bpf_sys;
use super::devices::{DEFAULT_ALLOW, Rule};
use super::fs::{CgroupFs, HostFs};
use super::mode::{CGROUP_ROOT, UNIFIED_DIR};
use super::*;

const MIB: u64 = 1024 * 1024;

/// Whether a test that needs root may run (kiln-testkit's rule: a loud
/// skip, a failure under `CI=true`).
fn root_or_skip(test: &str) -> bool {
    kiln_testkit::require_root(
        test,
        "creates cgroups under /sys/fs/cgroup and moves processes into them",
        &[],
    )
}

/// A shell that joins every procs file, reports it, then runs `then`.
fn join_and_run(files: &[PathBuf], then: &str) -> (Child, String) {
    let script = format!(r#"for f; do echo 0 > "$f" || exit 1; done; echo joined; {then}"#);
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(files)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "joined\n", "the shell could not join {files:?}");
    let mut rest = String::new();
    if !then.starts_with("exec sleep") {
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    }
    (child, rest)
}

fn read(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

#[test]
fn real_cgroup_limits_join_kill_remove() {
    if !root_or_skip("real_cgroup_limits_join_kill_remove") {
        return;
    }
    let name = format!("{}-cgtest-limits", std::process::id());
    let resources = Resources {
        memory_bytes: Some(64 * MIB),
        cpu_quota: CpuQuota::from_cpus(0.5),
        pids_max: Some(16),
        devices: Vec::new(),
    };
    let mode = detect().unwrap();
    let cg = Cgroup::create(&name, &resources).unwrap();
    let root = Path::new(CGROUP_ROOT);

    if mode == Mode::V2 {
        let dir = root.join("kiln").join(&name);
        assert_eq!(read(dir.join("memory.max")), "67108864");
        assert_eq!(read(dir.join("cpu.max")), "50000 100000");
        assert_eq!(read(dir.join("pids.max")), "16");
    } else {
        let mem = root.join("memory/kiln").join(&name);
        assert_eq!(read(mem.join("memory.limit_in_bytes")), "67108864");
        if mem.join("memory.memsw.limit_in_bytes").exists() {
            assert_eq!(read(mem.join("memory.memsw.limit_in_bytes")), "134217728");
        }
        let cpu = root.join("cpu/kiln").join(&name);
        assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "50000");
        assert_eq!(read(cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(
            read(root.join("pids/kiln").join(&name).join("pids.max")),
            "16"
        );
        let list = read(root.join("devices/kiln").join(&name).join("devices.list"));
        assert!(
            !list.contains("a *:* rwm"),
            "devices still allow all:\n{list}"
        );
        assert!(
            list.contains("c 1:3 rwm") && list.contains("c 136:* rwm"),
            "{list}"
        );
        // Hierarchies with no controller the sandbox uses are not joined.
        assert!(!root.join("cpuset/kiln").join(&name).exists());
    }

    let files = cg.procs_files();
    let (mut child, _) = join_and_run(&files, "exec sleep 600");
    let pid = child.id();
    let cgroups = read(format!("/proc/{pid}/cgroup"));
    let expected = format!("/kiln/{name}");
    let used = ["memory", "pids", "devices", "freezer", "cpu", "cpuacct", ""];
    let mut joined = 0;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let controllers = parts.nth(1).unwrap();
        let path = parts.next().unwrap();
        if controllers.split(',').any(|c| used.contains(&c)) {
            assert_eq!(path, expected, "/proc/{pid}/cgroup:\n{cgroups}");
            joined += 1;
        }
    }
    assert_eq!(joined, files.len(), "/proc/{pid}/cgroup:\n{cgroups}");
    for file in &files {
        assert_eq!(read(file), pid.to_string(), "{}", file.display());
    }
    assert_eq!(cg.oom_kills().unwrap(), 0);

    cg.kill_all().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    cg.remove().unwrap();
    for file in &files {
        let dir = file.parent().unwrap();
        assert!(!dir.exists(), "{} is left", dir.display());
        assert!(
            dir.parent().unwrap().exists(),
            "the shared kiln parent stays"
        );
    }
}

#[test]
fn real_devices_cgroup_keeps_block_devices_closed() {
    if !root_or_skip("real_devices_cgroup_keeps_block_devices_closed") {
        return;
    }
    let disk = std::fs::read_dir("/sys/block")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .map(|n| PathBuf::from("/dev").join(n))
        .find(|p| p.exists());
    let Some(disk) = disk else {
        let _ = writeln!(
            std::io::stderr(),
            "!!! no block device in /dev to test with !!!"
        );
        return;
    };
    // Readable from here (root, no cgroup rule): the test is meaningful.
    std::fs::File::open(&disk).unwrap();

    let name = format!("{}-cgtest-devices", std::process::id());
    let cg = Cgroup::create(&name, &Resources::default()).unwrap();
    let script = format!(
        "if head -c 1 {disk} >/dev/null 2>&1; then echo disk-opened; else echo disk-refused; fi; \
         if echo x > /dev/null; then echo null-ok; fi",
        disk = disk.display()
    );
    let (mut child, out) = join_and_run(&cg.procs_files(), &script);
    child.wait().unwrap();
    assert_eq!(out, "disk-refused\nnull-ok\n");
    cg.remove().unwrap();
}

#[test]
fn real_oom_kill_is_counted() {
    if !root_or_skip("real_oom_kill_is_counted") {
        return;
    }
    let name = format!("{}-cgtest-oom", std::process::id());
    let resources = Resources {
        memory_bytes: Some(32 * MIB),
        ..Resources::default()
    };
    let cg = Cgroup::create(&name, &resources).unwrap();
    // tail keeps its last ten lines; /dev/zero has no newline, so tail
    // keeps everything until the OOM killer steps in.
    let (mut child, _) = join_and_run(
        &cg.procs_files(),
        "head -c 1000000000 /dev/zero | tail >/dev/null",
    );
    child.wait().unwrap();
    assert!(cg.oom_kills().unwrap() >= 1);
    cg.remove().unwrap();
}

#[test]
fn real_stale_cgroup_of_a_dead_kiln_is_removed() {
    if !root_or_skip("real_stale_cgroup_of_a_dead_kiln_is_removed") {
        return;
    }
    // A pid that just exited stands for a SIGKILLed kiln.
    let host = HostFs::new(CGROUP_ROOT);
    let dead = (0..20)
        .map(|_| {
            let mut c = Command::new("/bin/true").spawn().unwrap();
            c.wait().unwrap();
            i32::try_from(c.id()).unwrap()
        })
        .find(|pid| !host.pid_exists(*pid))
        .expect("a pid that stays free");
    let name = format!("{dead}-cgtest-stale-{}", std::process::id());
    let cg = Cgroup::create(&name, &Resources::default()).unwrap();
    let files = cg.procs_files();
    let (mut sandbox, _) = join_and_run(&files, "exec sleep 600");
    // The dying kiln never removed it.
    std::mem::forget(cg);

    let removed = remove_stale().unwrap();
    assert!(removed >= 1, "removed {removed}");
    let status = sandbox.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status}");
    for file in &files {
        let dir = file.parent().unwrap();
        assert!(!dir.exists(), "{} is left", dir.display());
    }
}

/// Makes a block device node in `dir` for a disk of this machine that this
/// process (root, in its own device cgroups) can open, preferring real
/// disks over loop and RAM devices (a host may refuse even root its boot
/// disk). Returns its path and "major:minor".
fn openable_disk_node(dir: &Path) -> Option<(PathBuf, String)> {
    use nix::sys::stat::{Mode as Perm, SFlag, makedev, mknod};
    let mut names: Vec<String> = std::fs::read_dir("/sys/block")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let virtual_first = |n: &String| ["loop", "ram", "zram"].iter().any(|p| n.starts_with(p));
    names.sort_by_key(|n| (virtual_first(n), n.clone()));
    for name in names {
        let Ok(dev) = std::fs::read_to_string(format!("/sys/block/{name}/dev")) else {
            continue;
        };
        let dev = dev.trim().to_owned();
        let Some((major, minor)) = dev.split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u64>(), minor.parse::<u64>()) else {
            continue;
        };
        let node = dir.join(&name);
        mknod(
            &node,
            SFlag::S_IFBLK,
            Perm::from_bits_truncate(0o600),
            makedev(major, minor),
        )
        .unwrap_or_else(|e| panic!("mknod {}: {e}", node.display()));
        if std::fs::File::open(&node).is_ok() {
            return Some((node, dev));
        }
    }
    None
}

#[test]
fn real_device_program_blocks_a_host_disk_on_its_own() {
    if !root_or_skip("real_device_program_blocks_a_host_disk_on_its_own") {
        return;
    }
    let mode = detect().unwrap();
    if mode == Mode::V1 {
        let _ = writeln!(
            std::io::stderr(),
            "!!! v1-only host: no cgroup2 to attach a device program to !!!"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some((disk, dev)) = openable_disk_node(tmp.path()) else {
        let _ = writeln!(
            std::io::stderr(),
            "!!! no block device this test may open: nothing to prove !!!"
        );
        return;
    };

    let name = format!("{}-cgtest-bpfdev", std::process::id());
    let cg = Cgroup::create(&name, &Resources::default()).unwrap();
    // Only the cgroup2 leaf. On a hybrid host the shell then stays in this
    // test's own v1 devices cgroup, which just opened the disk: a refusal
    // can come from the eBPF program only.
    let unified = Path::new(CGROUP_ROOT).join(UNIFIED_DIR);
    let v2_procs: Vec<PathBuf> = cg
        .procs_files()
        .into_iter()
        .filter(|f| mode == Mode::V2 || f.starts_with(&unified))
        .collect();
    assert_eq!(v2_procs.len(), 1, "{v2_procs:?}");
    let leaf = v2_procs[0].parent().unwrap().to_path_buf();
    if mode == Mode::Hybrid {
        // Production leaves hybrid hosts to the v1 devices controller;
        // attach the program here to prove it on its own.
        devices::restrict_v2(&HostFs::new(Path::new(CGROUP_ROOT)), &leaf, &[]).unwrap();
    }

    let dir = std::fs::File::open(&leaf).unwrap();
    let (ids, flags) = bpf_sys::query_device_programs(std::os::fd::AsFd::as_fd(&dir)).unwrap();
    assert_eq!(ids.len(), 1, "programs on {}: {ids:?}", leaf.display());
    assert_eq!(flags, bpf_sys::BPF_F_ALLOW_MULTI);
    drop(dir);

    let (major, minor) = dev.split_once(':').unwrap();
    let script = format!(
        // `true`, not `:`: a failed redirection of a special built-in
        // ends a POSIX shell.
        "if {{ true < {disk}; }} 2>&1; then echo disk-opened; fi; \
         if true <> /dev/null; then echo null-rw-ok; fi; \
         if true < /dev/zero; then echo zero-ok; fi; \
         if mknod {tmp}/inside b {major} {minor}; then echo mknod-ok; fi; \
         if {{ true < {tmp}/inside; }} 2>&1; then echo inside-opened; fi",
        disk = disk.display(),
        tmp = tmp.path().display(),
    );
    let (mut child, out) = join_and_run(&v2_procs, &script);
    child.wait().unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    // "Operation not permitted" is EPERM, what the kernel answers when a
    // device program returns 0 (EACCES would be file permissions).
    assert!(
        lines[0].contains(&format!("{}: Operation not permitted", disk.display())),
        "{dev} was not refused with EPERM:\n{out}"
    );
    assert_eq!(lines[1..4], ["null-rw-ok", "zero-ok", "mknod-ok"], "{out}");
    assert!(
        lines[4].ends_with("inside: Operation not permitted"),
        "{out}"
    );

    cg.remove().unwrap();
    assert!(!leaf.exists());
}

#[test]
fn real_kernel_accepts_the_compiled_programs() {
    if !root_or_skip("real_kernel_accepts_the_compiled_programs") {
        return;
    }
    let everything = Rule {
        major: None,
        minor: None,
        ..DEFAULT_ALLOW[0]
    };
    for rules in [DEFAULT_ALLOW, &[], &[everything]] {
        let prog = bpf_prog::compile(rules);
        if let Err(e) = bpf_sys::load_device_program(&prog) {
            panic!("{rules:?}: {}; verifier log: {}", e.source, e.verifier_log);
        }
    }
}

#[test]
fn real_verifier_refusal_carries_its_log() {
    if !root_or_skip("real_verifier_refusal_carries_its_log") {
        return;
    }
    // Returns r0 without setting it.
    let bad: [Insn; 1] = [bpf_prog::exit()];
    let err = bpf_sys::load_device_program(&bad).unwrap_err();
    assert_eq!(err.source.raw_os_error(), Some(libc::EACCES), "{err:?}");
    assert!(err.verifier_log.contains("R0 !read_ok"), "{err:?}");
    let err = CgroupError::DeviceProgramLoad {
        path: PathBuf::from("/sys/fs/cgroup/kiln/x"),
        source: err.source,
        verifier_log: err.verifier_log,
    };
    let msg = err.to_string();
    assert!(
        msg.contains("verifier log: ") && msg.contains("R0 !read_ok"),
        "{msg}"
    );
}
