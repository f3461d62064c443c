//! The mount sequence, checked without root through the recording seam on
//! a directory laid out like an image.

use super::*;
use crate::syscall::recording::{Call, Recorder};
use std::fs;

struct Image {
    dir: tempfile::TempDir,
    host: tempfile::TempDir,
    devices: Vec<crate::Device>,
    rootless: bool,
}

impl Image {
    fn new() -> Image {
        let dir = tempfile::tempdir().unwrap();
        for d in ["etc", "proc/acpi", "proc/sys", "sys/firmware", "tmp"] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        fs::write(dir.path().join("proc/kcore"), "").unwrap();
        fs::write(dir.path().join("etc/hostname"), "image\n").unwrap();
        let host = tempfile::tempdir().unwrap();
        for f in ["hosts", "resolv.conf", "hostname"] {
            fs::write(host.path().join(f), f).unwrap();
        }
        fs::create_dir(host.path().join("data")).unwrap();
        Image {
            dir,
            host,
            devices: Vec::new(),
            rootless: false,
        }
    }

    fn run(&self, mounts: &[Mount], readonly: bool) -> (Vec<Call>, Vec<String>) {
        self.try_run(mounts, readonly).unwrap()
    }

    fn try_run(
        &self,
        mounts: &[Mount],
        readonly: bool,
    ) -> Result<(Vec<Call>, Vec<String>), RootfsError> {
        let sys = Recorder::new(self.dir.path());
        let etc: Vec<(&'static str, PathBuf)> = vec![
            ("/etc/hosts", self.host.path().join("hosts")),
            ("/etc/resolv.conf", self.host.path().join("resolv.conf")),
            ("/etc/hostname", self.host.path().join("hostname")),
        ];
        let lowers = [PathBuf::from("/layers/2"), PathBuf::from("/layers/1")];
        let stubs = prepare(
            &sys,
            &Setup {
                rootfs: self.dir.path(),
                lowers: &lowers,
                upper: Path::new("/sandbox/upper"),
                work: Path::new("/sandbox/work"),
                etc_files: &etc,
                mounts,
                readonly,
                workdir: "/work/dir",
                privileged: false,
                devices: &self.devices,
                copied: false,
                rootless: self.rootless,
            },
        )?;
        Ok((sys.mounts(), stubs))
    }
}

fn find<'a>(calls: &'a [Call], op: &str, target: &str) -> Vec<&'a Call> {
    calls
        .iter()
        .filter(|c| c.op == op && c.target == target)
        .collect()
}

#[test]
fn overlay_comes_first_with_the_layers_in_order() {
    let image = Image::new();
    let (calls, _) = image.run(&[], false);
    let first = &calls[0];
    assert_eq!(first.fstype.as_deref(), Some("overlay"));
    assert_eq!(
        first.data.as_deref(),
        Some(
            "lowerdir=/layers/2:/layers/1,upperdir=/sandbox/upper,workdir=/sandbox/work,\
             redirect_dir=off,metacopy=off,index=off"
        )
    );
}

#[test]
fn in_a_user_namespace_nodes_are_the_hosts_and_markers_user_xattrs() {
    let mut image = Image::new();
    image.rootless = true;
    let (calls, _) = image.run(&[], false);
    assert!(
        calls[0]
            .data
            .as_deref()
            .unwrap()
            .ends_with(",redirect_dir=nofollow,metacopy=off,index=off,userxattr"),
        "{:?}",
        calls[0]
    );
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        let target = format!("/dev/{node}");
        assert!(find(&calls, "mknod", &target).is_empty(), "{node}");
        let bound = find(&calls, "mount", &target);
        assert_eq!(bound.len(), 1, "{node}: {calls:?}");
        assert_eq!(bound[0].flags, MsFlags::MS_BIND);
        assert_eq!(bound[0].source.as_deref(), Some(target.as_str()));
    }
}

#[test]
fn kernel_filesystems_have_dockers_options() {
    let image = Image::new();
    let (calls, _) = image.run(&[], false);
    let proc = find(&calls, "mount", "/proc");
    assert_eq!(proc[0].fstype.as_deref(), Some("proc"));
    assert_eq!(
        proc[0].flags,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
    );
    let pts = find(&calls, "mount", "/dev/pts");
    assert!(pts[0].data.as_deref().unwrap().contains("newinstance"));
    let sys = find(&calls, "mount", "/sys");
    assert!(sys[0].flags.contains(MsFlags::MS_RDONLY));
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        assert_eq!(
            find(&calls, "mknod", &format!("/dev/{node}")).len(),
            1,
            "{node}"
        );
    }
    assert_eq!(
        fs::read_link(image.dir.path().join("dev/fd")).unwrap(),
        Path::new("/proc/self/fd")
    );
    let order: Vec<&str> = calls
        .iter()
        .filter(|c| c.op == "mount")
        .map(|c| c.target.as_str())
        .collect();
    let pos = |t: &str| order.iter().position(|x| *x == t).unwrap();
    assert!(
        pos("/proc") < pos("/proc/kcore"),
        "masks after /proc: {order:?}"
    );
    assert!(
        pos("/sys") < pos("/sys/firmware"),
        "masks after /sys: {order:?}"
    );
}

#[test]
fn masked_paths_get_dev_null_or_an_empty_readonly_tmpfs() {
    let image = Image::new();
    let (calls, _) = image.run(&[], false);
    let kcore = find(&calls, "mount", "/proc/kcore");
    assert_eq!(kcore.len(), 1);
    assert_eq!(kcore[0].source.as_deref(), Some("/dev/null"));
    assert!(kcore[0].flags.contains(MsFlags::MS_BIND));
    let acpi = find(&calls, "mount", "/proc/acpi");
    assert_eq!(acpi[0].fstype.as_deref(), Some("tmpfs"));
    assert!(acpi[0].flags.contains(MsFlags::MS_RDONLY));
    assert_eq!(find(&calls, "mount", "/sys/firmware").len(), 1);
    // Absent from this "kernel": skipped, not created.
    assert!(find(&calls, "mount", "/proc/keys").is_empty());
    assert!(!image.dir.path().join("proc/keys").exists());
}

#[test]
fn readonly_paths_are_bound_then_remounted_keeping_their_flags() {
    let image = Image::new();
    let (calls, _) = image.run(&[], false);
    let sys = find(&calls, "mount", "/proc/sys");
    assert_eq!(sys.len(), 2);
    assert!(sys[0].flags.contains(MsFlags::MS_BIND));
    assert_eq!(
        sys[1].flags,
        MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
    );
}

#[test]
fn missing_mountpoints_are_reported_as_stubs() {
    let image = Image::new();
    let mounts = [
        Mount::Bind {
            source: image.host.path().join("data"),
            target: "/srv/data".into(),
            readonly: true,
        },
        Mount::Tmpfs {
            target: "/tmp".into(),
            options: "size=1m,exec".into(),
        },
    ];
    let (calls, stubs) = image.run(&mounts, false);
    // /etc/hostname exists in the image; hosts and resolv.conf do not; /srv
    // and /srv/data are new; /dev's children live in the tmpfs (here: the
    // image dir, as nothing is really mounted) and are never stubs.
    assert_eq!(
        stubs,
        ["dev", "etc/hosts", "etc/resolv.conf", "srv", "srv/data"]
    );
    assert_eq!(find(&calls, "mount", "/srv/data").len(), 1, "the bind");
    assert_eq!(
        find(&calls, "readonly_recursive", "/srv/data").len(),
        1,
        "then read-only with every submount"
    );
    let tmp = find(&calls, "mount", "/tmp");
    assert_eq!(tmp[0].data.as_deref(), Some("size=1m"));
    assert_eq!(tmp[0].flags, MsFlags::MS_NOSUID | MsFlags::MS_NODEV);
}

#[test]
fn mounts_are_applied_parents_first() {
    let image = Image::new();
    let data = image.host.path().join("data");
    let mounts = [
        Mount::Bind {
            source: data.clone(),
            target: "/a/b".into(),
            readonly: false,
        },
        Mount::Tmpfs {
            target: "/a".into(),
            options: String::new(),
        },
    ];
    let (calls, _) = image.run(&mounts, false);
    let order: Vec<&str> = calls.iter().map(|c| c.target.as_str()).collect();
    let a = order.iter().position(|t| *t == "/a").unwrap();
    let ab = order.iter().position(|t| *t == "/a/b").unwrap();
    assert!(a < ab, "{order:?}");
}

#[test]
fn the_workdir_is_created_and_is_no_stub() {
    let image = Image::new();
    let (_, stubs) = image.run(&[], false);
    assert!(image.dir.path().join("work/dir").is_dir());
    assert!(!stubs.iter().any(|s| s.starts_with("work")), "{stubs:?}");
}

#[test]
fn readonly_root_is_remounted_last() {
    let image = Image::new();
    let (calls, _) = image.run(&[], true);
    let last = calls.last().unwrap();
    assert_eq!(last.target, "/");
    assert!(
        last.flags
            .contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT | MsFlags::MS_BIND)
    );
}

#[test]
fn pivot_uses_dot_dot_and_detaches_the_old_root() {
    let dir = tempfile::tempdir().unwrap();
    let sys = Recorder::new(dir.path());
    pivot(&sys, dir.path()).unwrap();
    let ops: Vec<(&str, &str)> = sys
        .calls
        .borrow()
        .iter()
        .map(|c| (c.op, if c.target == "/" { "/" } else { "." }))
        .collect();
    assert_eq!(
        ops,
        [
            ("chdir", "/"),
            ("pivot_root", "."),
            ("umount", "."),
            ("chdir", "/")
        ]
    );
}

#[test]
fn tmpfs_flag_words_override_dockers_defaults() {
    let (flags, data) = tmpfs_options("exec,size=64m,mode=1770,ro");
    assert_eq!(
        flags,
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_RDONLY
    );
    assert_eq!(data, "size=64m,mode=1770");
}

fn device(path: &str) -> crate::Device {
    crate::Device {
        path: path.into(),
        block: false,
        major: 10,
        minor: 229,
        mode: 0o640,
        uid: nix::unistd::getuid().as_raw(),
        gid: nix::unistd::getgid().as_raw(),
        host: "/dev/fuse".into(),
    }
}

#[test]
fn host_devices_are_made_in_dev_after_its_mounts() {
    use std::os::unix::fs::PermissionsExt as _;
    let mut image = Image::new();
    image.devices = vec![device("/dev/net/tun0"), device("/dev/null")];
    let (calls, stubs) = image.run(&[], false);
    let made = find(&calls, "mknod", "/dev/net/tun0");
    assert_eq!(made.len(), 1);
    let made_at = calls.iter().position(|c| std::ptr::eq(c, made[0])).unwrap();
    let last_dev_mount = calls
        .iter()
        .rposition(|c| c.op == "mount" && c.target.starts_with("/dev"))
        .unwrap();
    assert!(made_at > last_dev_mount, "no /dev mount may hide the node");
    let node = image.dir.path().join("dev/net/tun0");
    assert_eq!(
        fs::metadata(&node).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    // An existing default node is replaced, not an error.
    assert_eq!(find(&calls, "mknod", "/dev/null").len(), 2);
    assert!(
        !stubs.iter().any(|s| s.starts_with("dev/")),
        "what lives in the /dev tmpfs is no stub: {stubs:?}"
    );
}

#[test]
fn a_device_path_through_a_symlink_in_dev_is_refused() {
    let mut image = Image::new();
    image.devices = vec![device("/dev/fd/9")];
    let err = image.try_run(&[], false).unwrap_err();
    assert!(err.to_string().contains("/dev/fd/9"), "{err}");
}
