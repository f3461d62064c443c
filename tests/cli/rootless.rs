//! Issue 24: `kiln build` and `kiln run` as an ordinary user (made by the
//! test; `useradd` gives it a subordinate id range). kiln runs in a user
//! namespace of its own, its sandboxes inside it (overlays with
//! `userxattr`, device nodes bound from the host, no cgroup without
//! limits), and the image is the same as root's, owners, whiteouts and
//! opaque directories included. The default RUN network needs
//! `/dev/net/tun` open to the user, which this machine does not grant:
//! these builds use `--network none`.
//!
//! The images are compared layer by layer, entries with their owners,
//! modes, kinds and contents, and config by config, but without the files'
//! mtimes: a RUN step's files are stamped when it runs, so two builds in
//! different seconds differ there, as root's own would (capping them for
//! bit-identical rebuilds is issue 29's).

use super::support::{OrdinaryUser, TestContext, privileged, text};
use std::collections::BTreeMap;
use std::io::Read as _;

/// The image `kiln save` wrote to `archive`: its config without the diff
/// IDs, and each layer's entries (path, kind, owner, mode, size, content
/// digest), mtimes left out.
pub(super) fn image_without_times(
    archive: &std::path::Path,
) -> (serde_json::Value, Vec<Vec<String>>) {
    let mut members = BTreeMap::new();
    let mut outer = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in outer.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        members.insert(name, bytes);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    let config_path = manifest[0]["Config"].as_str().unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&members[config_path]).unwrap();
    config["rootfs"]["diff_ids"] = serde_json::Value::Null;
    let layers = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|path| {
            let mut layer = tar::Archive::new(&members[path.as_str().unwrap()][..]);
            layer
                .entries()
                .unwrap()
                .map(|entry| {
                    let mut entry = entry.unwrap();
                    let header = entry.header().clone();
                    let mut content = Vec::new();
                    entry.read_to_end(&mut content).unwrap();
                    format!(
                        "{} {:?} {}:{} {:o} {} {} {:?}",
                        entry.path().unwrap().display(),
                        header.entry_type(),
                        header.uid().unwrap(),
                        header.gid().unwrap(),
                        header.mode().unwrap(),
                        header.size().unwrap(),
                        kiln_oci::Digest::of(&content),
                        header.link_name().unwrap(),
                    )
                })
                .collect()
        })
        .collect();
    (config, layers)
}

pub(super) const DOCKERFILE: &str = "FROM busybox:local AS base\n\
     RUN mkdir -p /d/sub /data && echo a > /d/sub/a && echo b > /d/b && echo hi > /data/f && chown 1000:1000 /data/f\n\
     RUN rm -rf /d && mkdir /d && echo c > /d/c && rm /bin/ls\n\
     COPY app.txt /app/\n\
     FROM busybox:local AS other\n\
     RUN echo other > /o\n\
     FROM base\n\
     COPY --from=other /o /o\n\
     RUN cat /app/app.txt /o > /seen && stat -c %u:%g /data/f > /owners && find /d > /listing\n";

/// A new user with a subordinate range, `busybox:local` loaded from
/// `root`'s store into its own, and a context holding `dockerfile` in its
/// home; the user and the context.
fn user_with_base(root: &TestContext, dockerfile: &str) -> (OrdinaryUser, std::path::PathBuf) {
    let user = OrdinaryUser::create(true);
    let context = user.home.join("context");
    std::fs::create_dir(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    let base = user.home.join("base.tar");
    root.ok(&["save", "-o", base.to_str().unwrap(), "busybox:local"]);
    std::fs::set_permissions(&base, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = user.kiln(&["load", "-i", base.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (user, context)
}

#[test]
fn an_ordinary_user_builds_the_same_image_as_roots() {
    if !privileged(
        "kiln rootless build test",
        &["/usr/sbin/useradd", "/usr/bin/newuidmap", "/bin/busybox"],
    ) {
        return;
    }
    let Some(root) = TestContext::for_build(DOCKERFILE) else {
        return;
    };
    let (user, context) = user_with_base(&root, DOCKERFILE);
    std::fs::write(context.join("app.txt"), "app\n").unwrap();

    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];
    let args = [
        "build",
        "-q",
        "--network",
        "none",
        "-t",
        "app",
        context.to_str().unwrap(),
    ];
    let mut as_root = root.command(&args);
    as_root.env("SOURCE_DATE_EPOCH", "1700000000");
    let out = as_root.output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = user.kiln_with_env(&epoch, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (root_save, user_save) = (user.home.join("root.tar"), user.home.join("user.tar"));
    root.ok(&["save", "-o", root_save.to_str().unwrap(), "app"]);
    let out = user.kiln(&["save", "-o", user_save.to_str().unwrap(), "app"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (root_config, root_layers) = image_without_times(&root_save);
    let (user_config, user_layers) = image_without_times(&user_save);
    assert_eq!(user_config, root_config);
    assert_eq!(user_layers.len(), root_layers.len());
    for (user_layer, root_layer) in user_layers.iter().zip(&root_layers) {
        assert_eq!(user_layer, root_layer, "a layer differs from root's");
    }
    // The whiteout and the opaque marker are in the user's layer too.
    assert!(
        user_layers
            .iter()
            .flatten()
            .any(|e| e.starts_with("bin/.wh.ls "))
    );
    assert!(
        user_layers
            .iter()
            .flatten()
            .any(|e| e.starts_with("d/.wh..wh..opq "))
    );

    // The image runs as the user, with the image's owners inside.
    let out = user.kiln(&[
        "run",
        "--rm",
        "--network",
        "none",
        "app",
        "cat",
        "/seen",
        "/owners",
        "/listing",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.starts_with("app\nother\n"), "{stdout}");
    assert!(stdout.contains("\n1000:1000\n"), "{stdout}");
    assert!(stdout.ends_with("/d\n/d/c\n"), "opaque /d: {stdout}");
    // Its store is the user's; no file of it is root's on the host.
    let store = user.home.join(".local/share/kiln");
    let owners = std::process::Command::new("find")
        .arg(&store)
        .args(["-uid", "0", "-print", "-quit"])
        .output()
        .unwrap();
    assert_eq!(
        text(&owners.stdout),
        "",
        "root-owned files in the user's store"
    );
}

/// `kiln doctor --environment` as root, as a user with a range and as one
/// without: what it finds matches the machine, and each missing piece
/// comes with its fix.
#[test]
fn doctor_environment_says_what_the_machine_allows_and_how_to_fix_the_rest() {
    if !privileged(
        "kiln doctor --environment test",
        &["/usr/sbin/useradd", "/usr/bin/newuidmap"],
    ) {
        return;
    }
    let root = TestContext::new();
    let out = root.kiln(&["doctor", "--environment"]);
    let report = text(&out.stdout);
    assert!(
        report.contains("info     user namespace: kiln runs as root"),
        "{report}"
    );
    assert!(
        report.contains("ok       overlayfs: an overlay mounts as root"),
        "{report}"
    );

    let user = OrdinaryUser::create(true);
    let out = user.kiln(&["doctor", "--environment"]);
    let report = text(&out.stdout);
    assert!(
        report.contains("ok       user namespace: kiln runs in its own"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "ok       subordinate ids: /etc/subuid: {} has",
            user.name
        )),
        "{report}"
    );
    assert!(
        report.contains("ok       overlayfs: an overlay mounts with userxattr"),
        "{report}"
    );
    // The tun device: as this machine has it.
    let tun_open = std::fs::metadata("/dev/net/tun")
        .is_ok_and(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o006 == 0o006);
    match tun_open {
        true => assert!(report.contains("ok       /dev/net/tun"), "{report}"),
        false => assert!(
            report.contains("missing  /dev/net/tun")
                && report.contains("fix: as root: chmod 0666 /dev/net/tun"),
            "{report}"
        ),
    }
    assert_eq!(
        out.status.success(),
        !report.contains("\nmissing"),
        "{report}"
    );

    let bare = OrdinaryUser::create(false);
    let out = bare.kiln(&["doctor", "--environment"]);
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains(&format!(
            "missing  subordinate ids: /etc/subuid: no range for {}",
            bare.name
        )) && report.contains(&format!(
            "fix: as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {}",
            bare.name
        )),
        "{report}"
    );
}

/// Point 7: a rootless RUN step sees only its own root — not the user's
/// home, not the host's /sys to write — and a process it leaves in the
/// background dies with the step; the kiln binary carries no set-id bit
/// (the subordinate-id mapping, through the system's newuidmap, is the
/// only privilege used).
#[test]
fn a_rootless_step_stays_in_its_root_and_leaves_nothing_running() {
    if !privileged(
        "kiln rootless isolation test",
        &["/usr/sbin/useradd", "/usr/bin/newuidmap", "/bin/busybox"],
    ) {
        return;
    }
    let Some(root) = TestContext::for_build("FROM busybox:local\n") else {
        return;
    };
    let (user, context) = user_with_base(&root, "FROM busybox:local\n");
    let home = user.home.display().to_string();
    let dockerfile = format!(
        "FROM busybox:local\n\
         RUN (sleep 7919 &) ; test -e {home} && echo seen > /home-seen; \
             touch /sys/kiln-probe 2>/dev/null && echo wrote > /sys-written; \
             ls / > /listing\n"
    );
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    user.build_ok("probe", &context);
    let out = user.kiln(&["run", "--rm", "--network", "none", "probe", "ls", "/"]);
    let listing = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !listing.contains("home-seen"),
        "the step saw {home}: {listing}"
    );
    assert!(
        !listing.contains("sys-written"),
        "the step wrote to /sys: {listing}"
    );
    // No `sleep 7919` outlives the build.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("sleep 7919"))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
    let kiln = std::fs::metadata(env!("CARGO_BIN_EXE_kiln")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&kiln.permissions()) & 0o6000,
        0
    );
}

/// Point 4: `--network host` and `--device` in a rootless sandbox. Its
/// user namespace owns no network namespace, so a fresh sysfs is refused
/// and the host's is bound (the host's interfaces show); it may not make
/// device nodes, so the host's node is bound.
#[test]
fn a_rootless_sandbox_gets_the_hosts_network_and_devices() {
    if !privileged(
        "kiln rootless host network and device test",
        &["/usr/sbin/useradd", "/usr/bin/newuidmap", "/bin/busybox"],
    ) {
        return;
    }
    let Some(root) = TestContext::for_build("FROM busybox:local\n") else {
        return;
    };
    let (user, _) = user_with_base(&root, "FROM busybox:local\n");
    let out = user.kiln(&[
        "run",
        "--rm",
        "--network",
        "host",
        "busybox:local",
        "ls",
        "/sys/class/net",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host.sort();
    let mut seen: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
    seen.sort();
    assert_eq!(seen, host, "the host's interfaces");
    let out = user.kiln(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--device",
        "/dev/null:/dev/kiln-null",
        "busybox:local",
        "sh",
        "-c",
        "test -c /dev/kiln-null && echo through > /dev/kiln-null && echo ok",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ok\n");
}
