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

use super::fs::{CgroupFs, HostFs};
use super::mode::CGROUP_ROOT;
use super::*;

const MIB: u64 = 1024 * 1024;

/// True when running as root. Otherwise: a failure under `CI=true` (a skip
/// there would hide a regression), a loud skip elsewhere.
fn root_or_skip(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    let why = "needs root: creates cgroups under /sys/fs/cgroup and moves processes into them";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test} {why}, and CI=true does not allow skipping it");
    }
    // Straight to the stderr handle: libtest captures `eprintln!` of
    // passing tests, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!! SKIPPED {test}: {why} (run the tests as root) !!!\n"
    );
    false
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
    if detect().unwrap() == Mode::V2 {
        // TODO(v2 devices): nothing enforces the list on v2 yet.
        let _ = writeln!(
            std::io::stderr(),
            "!!! v2 host: no device allow-list to test yet !!!"
        );
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
