//! The runtime through its library API, as root: what a `RUN` step relies
//! on that `kiln run` cannot show, because `kiln run` throws the upper
//! directory away — that the upper directory holds exactly the program's
//! changes, never the mountpoints the sandbox made (`/proc`, `/dev`, `/sys`
//! in a minimal image, `/etc/hosts`, `/etc/resolv.conf`, volume targets).
//!
//! A plain `main` (harness = false): the sandbox execs this very binary as
//! its init, so `main` must hand over to the init before anything else.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // a test binary

use kiln_runtime::{Mount, Network, Resources, Rootfs, RunSpec, Sandbox, Stdio};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

fn main() {
    kiln_runtime::init::run_if_init();
    if !kiln_testkit::require_root(
        "runtime sandbox test",
        "starts sandboxes (apt-get install busybox-static)",
        &["/bin/busybox"],
    ) {
        return;
    }
    let tests: [(&str, fn()); 4] = [
        (
            "upper_holds_only_the_programs_changes",
            upper_holds_only_the_programs_changes,
        ),
        (
            "a_directory_written_into_stays",
            a_directory_written_into_stays,
        ),
        ("start_failures_leave_nothing", start_failures_leave_nothing),
        (
            "a_prepared_network_namespace_is_joined",
            a_prepared_network_namespace_is_joined,
        ),
    ];
    for (name, test) in tests {
        eprint!("test {name} ... ");
        test();
        eprintln!("ok");
    }
}

/// A minimal image: busybox, /etc/passwd, and nothing else — no /proc,
/// /dev, /sys, /etc/hosts.
fn image(dir: &Path) -> PathBuf {
    let root = dir.join("image");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in ["sh", "echo", "mkdir", "cat", "touch", "readlink"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    root
}

fn spec(image: &Path, script: &str, mounts: Vec<Mount>) -> RunSpec {
    RunSpec {
        rootfs: Rootfs {
            layers: vec![image.to_path_buf()],
        },
        args: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: vec![],
        cwd: "/".into(),
        user: String::new(),
        hostname: "sandbox".into(),
        network: Network::None,
        mounts,
        readonly_rootfs: false,
        resources: Resources::default(),
        tty: false,
        console_size: None,
        extra_hosts: vec![],
        hosts_file: None,
        primary_group_supplementary: true,
        no_new_privileges: true,
        privileged: false,
        init: false,
        devices: Vec::new(),
        sysctls: Vec::new(),
        emulator: None,
    }
}

/// Runs `spec`; returns the exit code and the upper directory's entries.
fn run(dir: &Path, spec: &RunSpec) -> (i32, Vec<String>) {
    let sandbox = Sandbox::start(&dir.join("sandboxes"), spec, Stdio::default()).unwrap();
    let (exit, bundle) = sandbox.finish().unwrap();
    let upper = bundle.upper();
    let mut entries = Vec::new();
    let mut stack = vec![upper.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            entries.push(path.strip_prefix(&upper).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    entries.sort();
    bundle.remove().unwrap();
    (exit.code, entries)
}

fn upper_holds_only_the_programs_changes() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path());
    let volume = dir.path().join("volume");
    std::fs::create_dir(&volume).unwrap();
    let mounts = vec![
        Mount::Bind {
            source: volume.clone(),
            target: "/mnt/data".into(),
            readonly: false,
        },
        Mount::Tmpfs {
            target: "/scratch".into(),
            options: String::new(),
        },
    ];
    let script = "cat /etc/hosts /etc/resolv.conf >/dev/null && echo hi >/new && echo v >/mnt/data/v && echo t >/scratch/t";
    let (code, upper) = run(dir.path(), &spec(&image, script, mounts));
    assert_eq!(code, 0);
    assert_eq!(upper, ["new"], "the upper directory holds only the change");
    assert_eq!(std::fs::read_to_string(volume.join("v")).unwrap(), "v\n");
}

/// `Network::Join`: the process lives in the namespace it was given (not
/// a new one, not the host's), and its resolv.conf names the given
/// nameservers.
fn a_prepared_network_namespace_is_joined() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path());
    let namespace = std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        std::fs::File::open("/proc/thread-self/ns/net").unwrap()
    })
    .join()
    .unwrap();
    let inode = namespace.metadata().unwrap().ino();
    let volume = dir.path().join("volume");
    std::fs::create_dir(&volume).unwrap();
    let mounts = vec![Mount::Bind {
        source: volume.clone(),
        target: "/mnt/data".into(),
        readonly: false,
    }];
    let mut spec = spec(
        &image,
        "readlink /proc/self/ns/net > /mnt/data/ns && cat /etc/resolv.conf > /mnt/data/resolv",
        mounts,
    );
    spec.network = Network::Join {
        namespace: PathBuf::from(format!("/proc/self/fd/{}", namespace.as_raw_fd())),
        nameservers: vec![std::net::IpAddr::from([10, 9, 9, 9])],
    };
    let (code, _) = run(dir.path(), &spec);
    assert_eq!(code, 0);
    let ns = std::fs::read_to_string(volume.join("ns")).unwrap();
    assert_eq!(ns, format!("net:[{inode}]\n"));
    let resolv = std::fs::read_to_string(volume.join("resolv")).unwrap();
    assert!(resolv.starts_with("nameserver 10.9.9.9\n"), "{resolv}");
    assert!(
        !resolv.lines().skip(1).any(|l| l.starts_with("nameserver")),
        "{resolv}"
    );
}

fn a_directory_written_into_stays() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path());
    let (code, upper) = run(
        dir.path(),
        &spec(
            &image,
            "mkdir /etc/app && touch /etc/app/conf && exit 4",
            vec![],
        ),
    );
    assert_eq!(code, 4);
    assert_eq!(upper, ["etc", "etc/app", "etc/app/conf"]);
}

fn start_failures_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path());
    let mut bad = spec(&image, "", vec![]);
    bad.args = vec!["/no/such/program".into()];
    let err = Sandbox::start(&dir.path().join("sandboxes"), &bad, Stdio::default()).unwrap_err();
    match err {
        kiln_runtime::RuntimeError::Start { exit_code, message } => {
            assert_eq!(exit_code, 127, "{message}");
        }
        other => panic!("unexpected error: {other}"),
    }
    let left: Vec<_> = std::fs::read_dir(dir.path().join("sandboxes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| !n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
