//! Issue 24, point 5: kiln where no namespace may be made. With
//! `--isolation chroot` (chosen by kiln itself in a container that allows
//! no namespace, as `kiln run`'s and docker's seccomp profiles do) RUN
//! steps run chrooted in a copy of their root and the layer is found by
//! comparing the tree: the image is the one kiln's sandbox makes. And
//! kiln runs inside containers started with no extra privileges: in
//! `kiln run`'s (no user namespace: chroot isolation) and in rootless
//! `podman run`'s (user namespaces allowed: kiln's sandbox in a user
//! namespace of its own, nested in the container's), building a
//! multi-stage Dockerfile with RUN steps.
//!
//! Images are compared as the rootless tests compare them (entries with
//! owners, modes, kinds and contents; configs), mtimes left out.

use super::rootless::{DOCKERFILE, image_without_times};
use super::support::{OrdinaryUser, TestContext, privileged, text};
use std::path::Path;
use std::process::Command;

/// `kiln ARGS` on the store `root` (not the context's).
fn kiln_at(cx: &TestContext, root: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = cx.environment(env!("CARGO_BIN_EXE_kiln"));
    cmd.arg("--root").arg(root).args(args).output().unwrap()
}

/// `image` of the store `root` as `image_without_times` sees it.
fn saved(cx: &TestContext, root: &Path, image: &str) -> (serde_json::Value, Vec<Vec<String>>) {
    let archive = cx
        .dir()
        .join(format!("saved-{}.tar", image.replace(':', "-")));
    let out = kiln_at(cx, root, &["save", "-o", archive.to_str().unwrap(), image]);
    assert!(out.status.success(), "save: {}", text(&out.stderr));
    let image = image_without_times(&archive);
    std::fs::remove_file(&archive).unwrap();
    image
}

/// Every build's `created` (config and history).
const EPOCH: &str = "1700000000";

/// The reference: `DOCKERFILE` built by root with kiln's sandbox.
fn reference(cx: &TestContext) -> (serde_json::Value, Vec<Vec<String>>) {
    let context = cx.dir().join("context");
    let mut build = cx.command(&["build", "-q", "--network", "none", "-t", "app"]);
    let out = build
        .arg(&context)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    saved(cx, &cx.dir().join("store"), "app")
}

/// A directory `dir` to hand a container: the base image as a docker
/// archive and a context with `DOCKERFILE`.
fn volume(cx: &TestContext, dir: &Path) {
    std::fs::create_dir_all(dir.join("ctx")).unwrap();
    let base = dir.join("base.tar");
    cx.ok(&["save", "-o", base.to_str().unwrap(), "busybox:local"]);
    std::fs::write(dir.join("ctx/Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(dir.join("ctx/app.txt"), "app\n").unwrap();
    std::fs::create_dir_all(dir.join("probe")).unwrap();
    std::fs::write(dir.join("probe/Dockerfile"), PROBE).unwrap();
}

/// What runs in the container: kiln loads the base and builds `app` in a
/// store on the volume, then `PROBE`; its stderr is kept there.
const IN_CONTAINER: &str = "export KILN_ROOT=/w/store SOURCE_DATE_EPOCH=1700000000; kiln load -i /w/base.tar >/dev/null && kiln build -q $NET -t app /w/ctx >/w/id 2>/w/stderr && kiln build -q $NET /w/probe >>/w/id 2>>/w/stderr";

/// A step that looks for a way out through any process it can see (the
/// container's, where its /proc is bound): a root showing the volume, or
/// kiln's environment.
const PROBE: &str = "FROM busybox:local\nRUN for p in /proc/[0-9]*; do if ls $p/root/w/ctx >/dev/null 2>&1 || grep -q KILN_ROOT= $p/environ 2>/dev/null; then echo \"reached $p\"; exit 1; fi; done\n";

/// An image `tag` holding kiln's binary and the libraries it loads, on
/// busybox: kiln in a container.
fn kiln_image(cx: &TestContext, tag: &str) {
    let context = cx.dir().join("kiln-image");
    let bin = context.join("root/usr/local/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_kiln"), bin.join("kiln")).unwrap();
    let ldd = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_kiln"))
        .output()
        .unwrap();
    for library in text(&ldd.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
    {
        let target = context.join("root").join(library.trim_start_matches('/'));
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(library, &target).unwrap();
    }
    std::fs::write(
        context.join("Dockerfile"),
        "FROM busybox:local\nCOPY root/ /\n",
    )
    .unwrap();
    let out = cx.kiln(&["build", "-q", "-t", tag, context.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn assert_same(
    (config, layers): (serde_json::Value, Vec<Vec<String>>),
    (want_config, want_layers): &(serde_json::Value, Vec<Vec<String>>),
) {
    assert_eq!(&config, want_config);
    assert_eq!(layers.len(), want_layers.len());
    for (layer, want) in layers.iter().zip(want_layers) {
        assert_eq!(layer, want, "a layer differs from the sandbox's");
    }
}

#[test]
fn chroot_isolation_builds_the_same_image_as_the_sandbox() {
    let Some(cx) = TestContext::for_build(DOCKERFILE) else {
        return;
    };
    cx.file("app.txt", "app\n");
    let want = reference(&cx);
    // A store of its own: chroot isolation's snapshots mark opaque
    // directories with user xattrs, as a rootless store's.
    let store = cx.dir().join("chroot-store");
    let base = cx.dir().join("base.tar");
    cx.ok(&["save", "-o", base.to_str().unwrap(), "busybox:local"]);
    let out = kiln_at(&cx, &store, &["load", "-i", base.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let context = cx.dir().join("context");
    let chroot = |args: &[&str]| {
        let mut build = cx.environment(env!("CARGO_BIN_EXE_kiln"));
        build.arg("--root").arg(&store);
        build
            .args(["--isolation", "chroot", "build", "-q"])
            .args(args);
        let out = build.arg(&context).env("SOURCE_DATE_EPOCH", EPOCH).output();
        out.unwrap()
    };
    let out = chroot(&["-t", "app"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same(saved(&cx, &store, "app"), &want);

    // What needs namespaces is refused, saying so.
    cx.dockerfile("FROM busybox:local\nRUN --network=none true\n");
    let out = chroot(&[]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("chroot isolation") && stderr.contains("--network none"),
        "{stderr}"
    );
    // A process a step leaves behind ends with it (the step does not
    // wait for it), and the step sees only its own root, which it cannot
    // leave (no CAP_SYS_CHROOT for a second chroot).
    // A marker no other process on the machine runs.
    let marker = format!("{}.{}", std::process::id(), 7727);
    cx.dockerfile(&format!(
        "FROM busybox:local\nRUN (sleep {marker} &) ; test ! -e /rootfs.tar && test ! -e /store && ! chroot / true && echo ok > /ok\n",
    ));
    let started = std::time::Instant::now();
    let out = chroot(&["-t", "bg"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    // `kiln run` too: a volume gets back what the program changed in it,
    // and only that.
    let volume = cx.dir().join("volume");
    std::fs::create_dir(&volume).unwrap();
    std::fs::write(volume.join("keep"), "untouched\n").unwrap();
    std::fs::write(volume.join("gone"), "deleted\n").unwrap();
    let mount = format!("{}:/v", volume.display());
    let run = |script: &str| {
        let args = [
            "--isolation",
            "chroot",
            "run",
            "--rm",
            "--network",
            "host",
            "-v",
        ];
        let mut args = args.to_vec();
        args.extend([mount.as_str(), "busybox:local", "sh", "-c", script]);
        let out = kiln_at(&cx, &store, &args);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    run("echo kept > /v/out && rm /v/gone");
    let read = |name: &str| std::fs::read_to_string(volume.join(name)).ok();
    assert_eq!(read("out").as_deref(), Some("kept\n"));
    assert_eq!(read("keep").as_deref(), Some("untouched\n"));
    assert_eq!(read("gone"), None);
    // A volume replaced by a link out of the root returns nothing (the
    // host's /etc is not copied into it).
    run("rm -rf /v && ln -s /etc /v");
    assert_eq!(read("keep").as_deref(), Some("untouched\n"));
    assert!(!volume.join("passwd").exists());
    // What a step leaves is killed when it ends; a SIGKILL in flight on a
    // loaded machine gets a few seconds to land.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let leftover = loop {
        let sleeping = Command::new("pgrep")
            .args(["-f", &format!("^sleep {marker}$")])
            .output()
            .unwrap();
        let pids = text(&sleeping.stdout);
        if pids.is_empty() || std::time::Instant::now() > deadline {
            break pids;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let status: Vec<String> = leftover
        .lines()
        .map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default())
        .collect();
    assert_eq!(leftover, "", "a step's process outlived it: {status:?}");
}

#[test]
fn kiln_builds_inside_a_kiln_run_container_without_privileges() {
    let Some(cx) = TestContext::for_build(DOCKERFILE) else {
        return;
    };
    cx.file("app.txt", "app\n");
    let want = reference(&cx);
    kiln_image(&cx, "kiln-in:test");
    let vol = cx.dir().join("vol");
    volume(&cx, &vol);
    let mount = format!("{}:/w", vol.display());
    // docker's capabilities and seccomp profile: no namespace, no mount.
    let script = IN_CONTAINER.replace("$NET", "");
    let out = cx.kiln(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-v",
        &mount,
        "kiln-in:test",
        "sh",
        "-c",
        &script,
    ]);
    built_in_container(&cx, &out, &vol, true, &want);
}

/// Checks what `IN_CONTAINER` left in `vol`: the build succeeded (`out`
/// is the container's), kiln said it used chroot isolation exactly when
/// `chroot`, and the image is `want`.
fn built_in_container(
    cx: &TestContext,
    out: &std::process::Output,
    vol: &Path,
    chroot: bool,
    want: &(serde_json::Value, Vec<Vec<String>>),
) {
    let stderr = std::fs::read_to_string(vol.join("stderr")).unwrap_or_default();
    assert!(out.status.success(), "{}{stderr}", text(&out.stderr));
    assert_eq!(
        stderr.contains("chroot isolation"),
        chroot,
        "how kiln isolates: {stderr}"
    );
    assert_same(saved(cx, &vol.join("store"), "app"), want);
}

#[test]
fn kiln_builds_inside_a_rootless_podman_container() {
    if !privileged(
        "kiln in podman test",
        &["/usr/bin/podman", "/usr/sbin/useradd", "/usr/bin/newuidmap"],
    ) {
        return;
    }
    let Some(cx) = TestContext::for_build(DOCKERFILE) else {
        return;
    };
    cx.file("app.txt", "app\n");
    let want = reference(&cx);
    kiln_image(&cx, "kiln-in:test");
    let user = OrdinaryUser::create(true);
    let archive = user.home.join("kiln-in.tar");
    cx.ok(&["save", "-o", archive.to_str().unwrap(), "kiln-in:test"]);
    let vol = user.home.join("vol");
    volume(&cx, &vol);
    chown_tree(&user.home, user.uid);
    // runc, which docker.io brings: crun (podman's choice when it is
    // installed) refuses this machine's hybrid cgroup layout.
    let podman = |args: &[&str]| {
        user.command("podman", &[])
            .args(["--runtime", "runc"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = podman(&["load", "-q", "-i", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mount = format!("{}:/w", vol.display());
    // podman's default security: its capabilities and seccomp profile,
    // which allow user namespaces. --network none: slirp4netns needs
    // /dev/net/tun, closed to users here (and so kiln's own default
    // network inside).
    let script = IN_CONTAINER.replace("$NET", "--network none");
    let out = podman(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &mount,
        "docker.io/library/kiln-in:test",
        "sh",
        "-c",
        &script,
    ]);
    // User namespaces are allowed there: no chroot isolation.
    built_in_container(&cx, &out, &vol, false, &want);
}

/// Gives `dir` and everything under it to `uid`.
fn chown_tree(dir: &Path, uid: u32) {
    let out = Command::new("chown")
        .arg("-R")
        .arg(uid.to_string())
        .arg(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Point 3: the copying snapshotter (what kiln uses where overlayfs does
/// not mount; `KILN_SNAPSHOTTER=copy` asks for it) gives the overlay's
/// image, as root and as an ordinary user; the probe that chooses records
/// its answer in the store.
#[test]
fn the_copying_snapshotter_builds_the_overlays_image() {
    let Some(cx) = TestContext::for_build(DOCKERFILE) else {
        return;
    };
    cx.file("app.txt", "app\n");
    let want = reference(&cx);
    let recorded = std::fs::read_to_string(cx.dir().join("store/snapshotter")).unwrap();
    assert_eq!(recorded, "overlay", "this machine mounts overlays");

    let store = cx.dir().join("copy-store");
    let base = cx.dir().join("base.tar");
    cx.ok(&["save", "-o", base.to_str().unwrap(), "busybox:local"]);
    let out = kiln_at(&cx, &store, &["load", "-i", base.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut build = cx.environment(env!("CARGO_BIN_EXE_kiln"));
    build.arg("--root").arg(&store);
    build.args(["build", "-q", "--network", "none", "-t", "app"]);
    let out = build
        .arg(cx.dir().join("context"))
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("KILN_SNAPSHOTTER", "copy")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same(saved(&cx, &store, "app"), &want);

    if !privileged(
        "copying snapshotter, rootless",
        &["/usr/sbin/useradd", "/usr/bin/newuidmap"],
    ) {
        return;
    }
    let user = OrdinaryUser::create(true);
    let context = user.home.join("context");
    std::fs::create_dir(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(context.join("app.txt"), "app\n").unwrap();
    let shared = user.home.join("base.tar");
    std::fs::copy(&base, &shared).unwrap();
    chown_tree(&user.home, user.uid);
    let out = user.kiln(&["load", "-i", shared.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let env = [("SOURCE_DATE_EPOCH", EPOCH), ("KILN_SNAPSHOTTER", "copy")];
    let args = ["build", "-q", "--network", "none", "-t", "app"];
    let mut args = args.to_vec();
    args.push(context.to_str().unwrap());
    let out = user.kiln_with_env(&env, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let archive = user.home.join("app.tar");
    let out = user.kiln(&["save", "-o", archive.to_str().unwrap(), "app"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_same(image_without_times(&archive), &want);
}
