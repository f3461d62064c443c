//! `kiln build --builder`: builds run on dockerd's embedded BuildKit (the
//! dockerd of Debian's docker.io, started by the tests), the image landing
//! in kiln's store. The fidelity comparison with docker's own builds of
//! every case is `.ci/builder-fidelity.sh`; these tests check the rest of
//! issue 26's promises: kiln's step names and output in the progress, a
//! capability the builder lacks refused before anything runs, secrets that
//! reach the step and nothing else, a killed kiln canceling the build on
//! the builder, and clear errors for a builder that cannot be reached.

use super::support::{DOCKER, TestContext, docker, text};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The base image the tests' Dockerfiles name, in dockerd's store.
pub(crate) const BASE: &str = "kiln-builder-busybox:local";

/// dockerd running with [`BASE`] in it; `false` after a loud skip.
pub(crate) fn dockerd_with_base() -> bool {
    if !super::support::privileged(
        "builder test (apt-get install docker.io busybox-static)",
        &["/usr/bin/docker", "/usr/sbin/dockerd", "/bin/busybox"],
    ) {
        return false;
    }
    docker();
    static IMPORTED: OnceLock<()> = OnceLock::new();
    IMPORTED.get_or_init(|| {
        let _lock = super::support::docker_images_lock();
        let dir = tempfile::tempdir().unwrap();
        let rootfs = super::support::busybox_rootfs(dir.path());
        let tar = dir.path().join("rootfs.tar");
        let ok = Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(ok.success());
        let out = Command::new(DOCKER)
            .args(["import"])
            .arg(&tar)
            .arg(BASE)
            .output()
            .unwrap();
        assert!(out.status.success(), "docker import: {}", text(&out.stderr));
    });
    true
}

/// A context whose Dockerfile is `dockerfile` (an empty store: the base
/// is resolved by the builder).
pub(crate) fn context(dockerfile: &str) -> TestContext {
    let cx = TestContext::new();
    cx.dockerfile(dockerfile);
    cx
}

/// Held for reading by every build on dockerd, for writing by a look at
/// dockerd's temporary names: no other test's build is then in flight
/// (their names come and go).
static BUILDS: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// `kiln build --builder docker --network host ARGS CONTEXT`.
pub(crate) fn build(cx: &TestContext, args: &[&str]) -> std::process::Output {
    let _building = BUILDS.read().unwrap_or_else(|e| e.into_inner());
    let mut all = vec!["build", "--builder", "docker", "--network", "host"];
    all.extend_from_slice(args);
    let context = cx.context.to_str().unwrap().to_string();
    all.push(&context);
    cx.kiln(&all)
}

/// The names dockerd holds under the build's temporary repository.
fn temporary_names() -> String {
    let _alone = BUILDS.write().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(DOCKER)
        .args([
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "kiln-build/*",
        ])
        .output()
        .unwrap();
    text(&out.stdout)
}

#[test]
fn a_build_on_dockerd_lands_in_the_store_with_kiln_step_names() {
    if !dockerd_with_base() {
        return;
    }
    let cx = context(&format!(
        "FROM {BASE}\nRUN echo step-output-1 && echo made > /made\nCOPY a.txt /a.txt\nENV K=v\nCMD [\"cat\", \"/a.txt\"]\n"
    ));
    cx.file("a.txt", "from the context\n");
    cx.file("ignored.txt", "never sent\n");
    cx.file(".dockerignore", "ignored.txt\n");
    let oci = cx.dir().join("image.oci.tar");
    let out = build(
        &cx,
        &[
            "--progress",
            "plain",
            "-t",
            "remote:1",
            "-o",
            &format!("type=oci,dest={}", oci.display()),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // kiln's names for the steps, and the step's own output.
    assert!(stderr.contains("[2/3] RUN echo step-output-1"), "{stderr}");
    assert!(stderr.contains("[3/3] COPY a.txt /a.txt"), "{stderr}");
    assert!(stderr.contains("step-output-1\n"), "{stderr}");
    // The archive of the image kiln's store now holds.
    assert!(std::fs::metadata(&oci).unwrap().len() > 1000);
    let config = cx.config("remote:1");
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["cat", "/a.txt"]),
        "{config}"
    );
    assert!(config["Env"].to_string().contains("K=v"), "{config}");
    // Its files, through kiln's own local exporter.
    let dest = cx.dir().join("files");
    let dest_arg = format!("type=local,dest={}", dest.display());
    let out = build(&cx, &["-q", "-o", &dest_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dest.join("a.txt")).unwrap(),
        "from the context\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("made")).unwrap(),
        "made\n"
    );
    assert!(!dest.join("ignored.txt").exists());
    // Nothing left under the temporary name in dockerd.
    assert_eq!(temporary_names(), "");
}

#[test]
fn a_capability_the_builder_lacks_is_refused_before_anything_runs() {
    if !dockerd_with_base() {
        return;
    }
    let cx = context(&format!(
        "FROM {BASE}\nRUN echo must-not-run > /ran\nCOPY --link a.txt /a.txt\n"
    ));
    cx.file("a.txt", "a\n");
    let out = build(&cx, &["--progress", "plain", "-t", "refused:1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // The feature, the release that added it, the capability: docker
    // 20.10's BuildKit is 0.8.
    assert!(
        stderr.contains(
            "cannot run this build: COPY --link needs BuildKit v0.10.0 or later (capability mergeop is missing)"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("RUN echo must-not-run"),
        "a step ran: {stderr}"
    );
    assert!(!text(&cx.kiln(&["images", "-q"]).stdout).contains("sha256"));
}

#[test]
fn a_secret_reaches_its_step_and_nothing_else() {
    if !dockerd_with_base() {
        return;
    }
    let secret = format!(
        "kiln-secret-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let cx = context(&format!(
        "FROM {BASE}\nRUN --mount=type=secret,id=tok,required wc -c < /run/secrets/tok > /length && ls /run > /run-listing\n"
    ));
    let file = cx.dir().join("tok");
    std::fs::write(&file, &secret).unwrap();
    // What dockerd writes from now on is searched for the secret.
    let started = cx.dir().join("started");
    std::fs::write(&started, "").unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let dest = cx.dir().join("files");
    let out = build(
        &cx,
        &[
            "-q",
            "--secret",
            &format!("id=tok,src={}", file.display()),
            "-o",
            &format!("type=local,dest={}", dest.display()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dest.join("length")).unwrap().trim(),
        secret.len().to_string()
    );
    // Not in the image's files…
    let archive = cx.dir().join("image.tar");
    let out = build(
        &cx,
        &[
            "-q",
            "--secret",
            &format!("id=tok,src={}", file.display()),
            "-o",
            &format!("type=docker,dest={}", archive.display()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&archive).unwrap();
    assert!(
        !contains(&bytes, secret.as_bytes()),
        "the secret is in the image"
    );
    // …nor in any file dockerd wrote during the builds (its BuildKit
    // cache and snapshots included).
    let root = Command::new(DOCKER)
        .args(["info", "--format", "{{.DockerRootDir}}"])
        .output()
        .unwrap();
    let root = text(&root.stdout).trim().to_string();
    let find = Command::new("find")
        .arg(&root)
        .args(["-type", "f", "-newer"])
        .arg(&started)
        .output()
        .unwrap();
    let written: Vec<String> = text(&find.stdout).lines().map(str::to_string).collect();
    assert!(!written.is_empty(), "dockerd wrote nothing under {root}?");
    for path in written {
        if let Ok(bytes) = std::fs::read(&path) {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "the secret is in {path}"
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a process whose command line holds `marker` runs.
fn running(marker: &str) -> bool {
    Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A build on dockerd of a step that sleeps for ten minutes under
/// `marker`, started with `args` and kiln's output piped, returned once the
/// step runs there.
fn start_sleeping_build(marker: &str, args: &[&str]) -> (TestContext, std::process::Child) {
    let cx = context(&format!("FROM {BASE}\nRUN sleep 600 && echo {marker}\n"));
    let context_dir = cx.context.to_str().unwrap().to_string();
    let mut all = vec![
        "build",
        "--builder",
        "docker",
        "--network",
        "host",
        "--progress",
        "plain",
    ];
    all.extend_from_slice(args);
    all.push(&context_dir);
    let mut child = cx
        .command(&all)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !running(marker) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the step never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "kiln ended before the step started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (cx, child)
}

/// Waits up to 30 s for the step running under `marker` to end on dockerd.
fn wait_until_stopped(marker: &str, after: &str) {
    let since = Instant::now();
    while running(marker) {
        assert!(
            since.elapsed() < Duration::from_secs(30),
            "the step still runs on dockerd 30 s after {after}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_killed_kiln_cancels_the_build_on_dockerd() {
    if !dockerd_with_base() {
        return;
    }
    let marker = format!("kiln-cancel-{}", std::process::id());
    let (_cx, mut child) = start_sleeping_build(&marker, &[]);
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until_stopped(&marker, "kiln was killed");
}

#[test]
fn a_builder_that_cannot_be_reached_or_named_is_a_clear_error() {
    let cx = context("FROM scratch\n");
    let context_dir = cx.context.to_str().unwrap().to_string();
    let out = cx.kiln(&[
        "build",
        "--builder",
        "unix:///nonexistent/buildkitd.sock",
        &context_dir,
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach builder unix:///nonexistent/buildkitd.sock"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // KILN_BUILDER means the same.
    let mut cmd = cx.command(&["build", &context_dir]);
    cmd.env("KILN_BUILDER", "ftp://host");
    let out = cmd.output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unknown builder \"ftp://host\""),
        "{stderr}"
    );
    let out = cx.kiln(&[
        "build",
        "--builder",
        "tcp://h:1",
        "--builder-tls-cert",
        "/nonexistent.pem",
        &context_dir,
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--builder-tls-cert and --builder-tls-key go together"),
        "{stderr}"
    );
}

#[test]
fn a_context_of_many_small_files_is_sent_whole() {
    if !dockerd_with_base() {
        return;
    }
    // 20,000 files: as many small requests from the builder, which the
    // session reads as they come (an HTTP/2 server drops a peer whose
    // small frames pile up unread).
    let cx = context(&format!(
        "FROM {BASE}\nRUN --mount=type=bind,target=/ctx ls /ctx/many | wc -l > /count && cat /ctx/many/f19999 > /last\n"
    ));
    let many = cx.context.join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..20_000 {
        std::fs::write(many.join(format!("f{i}")), i.to_string()).unwrap();
    }
    let dest = cx.dir().join("files");
    let out = build(
        &cx,
        &["-q", "-o", &format!("type=local,dest={}", dest.display())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dest.join("count")).unwrap().trim(),
        "20000"
    );
    assert_eq!(std::fs::read_to_string(dest.join("last")).unwrap(), "19999");
}

#[test]
fn ctrl_c_cancels_the_build_on_dockerd_and_kiln_exits_cleanly() {
    if !dockerd_with_base() {
        return;
    }
    let marker = format!("kiln-interrupt-{}", std::process::id());
    let (cx, child) = start_sleeping_build(&marker, &["-t", "interrupted:1"]);
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    // An error exit, not death by the signal: the build was canceled.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("canceled"), "{stderr}");
    wait_until_stopped(&marker, "Ctrl-C");
    // Nothing tagged, nothing left in the store's tmp/.
    assert!(!text(&cx.kiln(&["images"]).stdout).contains("interrupted"));
    let tmp: Vec<_> = std::fs::read_dir(cx.root.join("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "left in tmp/: {tmp:?}");
}

#[test]
fn an_ssh_agent_is_served_to_the_builder() {
    if !dockerd_with_base() {
        return;
    }
    let cx = context(&format!(
        "FROM {BASE}\nCOPY client /client\nRUN --mount=type=ssh /client > /out\n"
    ));
    crate::ssh::compile_client(&cx.context);
    let sockets = tempfile::tempdir().unwrap();
    let socket = sockets.path().join("agent.sock");
    crate::ssh::agent(&socket);
    let dest = cx.dir().join("files");
    let out = build(
        &cx,
        &[
            "-q",
            "--ssh",
            &format!("default={}", socket.display()),
            "-o",
            &format!("type=local,dest={}", dest.display()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The step's request went to this machine's agent and back.
    assert_eq!(
        std::fs::read_to_string(dest.join("out")).unwrap(),
        "agent saw ping"
    );
}

/// A Dockerfile for two platforms whose target stages need no emulator
/// (dockerd's BuildKit runs foreign steps only with the host's
/// binfmt_misc, which the tests never touch): the steps that run are the
/// `$BUILDPLATFORM` stage's.
const TWO_PLATFORMS: &str = r#"ARG TARGETARCH
FROM --platform=$BUILDPLATFORM kiln-builder-base-amd64 AS tools
# NONCE: a step dockerd has not cached from an earlier run of the test.
ARG NONCE
RUN echo $NONCE && uname -m > /built-on && cat /proc/sys/kernel/random/uuid > /made
FROM kiln-builder-base-${TARGETARCH}
ARG TARGETPLATFORM BUILDPLATFORM
ENV BUILT_FOR=$TARGETPLATFORM BUILT_ON=$BUILDPLATFORM
COPY a.txt /
COPY --from=tools /built-on /made /
"#;

/// Every file under `dir` with its content (directories and links by
/// name), sorted.
fn tree(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                out.push((format!("{name}/"), Vec::new()));
                walk(root, &path, out);
            } else if meta.is_file() {
                out.push((name, std::fs::read(&path).unwrap()));
            } else {
                out.push((name, Vec::new()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The config of `platform`'s image in the index `name`, read from the
/// store's blobs (its architecture, config and history, but the dates).
fn platform_config(cx: &TestContext, name: &str, platform: &str) -> serde_json::Value {
    let blob = |digest: &str| -> serde_json::Value {
        let path = cx
            .root
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let shown: serde_json::Value = serde_json::from_str(&cx.ok(&["inspect", name])).unwrap();
    let index = blob(shown[0]["Target"]["Digest"].as_str().unwrap());
    let (os, arch) = platform.split_once('/').unwrap();
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["os"] == os && m["platform"]["architecture"] == arch)
        .unwrap_or_else(|| panic!("no {platform} in {index}"));
    let manifest = blob(manifest["digest"].as_str().unwrap());
    let mut config = blob(manifest["config"]["digest"].as_str().unwrap());
    for entry in config["history"].as_array_mut().unwrap() {
        entry.as_object_mut().unwrap().remove("created");
    }
    serde_json::json!({
        "architecture": config["architecture"],
        "os": config["os"],
        "config": config["config"],
        "history": config["history"],
    })
}

#[test]
fn a_build_for_two_platforms_on_dockerd_is_one_index_as_a_local_build_makes() {
    if !dockerd_with_base() {
        return;
    }
    let Some(kit) = super::support::platforms_kit("builder multi-platform test") else {
        return;
    };
    let cx = context(TWO_PLATFORMS);
    cx.file("a.txt", "from the context\n");
    // Each platform's base, in kiln's store (for the local build) and in
    // dockerd's (for the builder), under the same names.
    {
        let _lock = super::support::docker_images_lock();
        let dir = tempfile::tempdir().unwrap();
        let arm64 = kit.join("busybox-arm64/bin/busybox");
        for (busybox, platform, name) in [
            (
                std::path::Path::new("/bin/busybox"),
                "linux/amd64",
                "kiln-builder-base-amd64",
            ),
            (arm64.as_path(), "linux/arm64", "kiln-builder-base-arm64"),
        ] {
            super::support::import_busybox(dir.path(), &cx.root, busybox, Some(platform), name);
            let archive = dir
                .path()
                .join(format!("{}.tar", platform.replace('/', "_")));
            cx.ok(&["save", "-o", archive.to_str().unwrap(), name]);
            let out = Command::new(DOCKER)
                .arg("load")
                .arg("-i")
                .arg(&archive)
                .output()
                .unwrap();
            assert!(out.status.success(), "docker load: {}", text(&out.stderr));
        }
    }
    let remote_files = cx.dir().join("remote");
    let nonce = format!(
        "NONCE={}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let out = build(
        &cx,
        &[
            "--build-arg",
            &nonce,
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            "remote:multi",
            "-o",
            &format!("type=local,dest={}", remote_files.display()),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // One index of both platforms under the tag.
    let listed = cx.ok(&[
        "images",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.Platforms}}",
    ]);
    assert!(
        listed.contains("remote:multi linux/amd64,linux/arm64"),
        "{listed}"
    );
    // The $BUILDPLATFORM stage ran once for both.
    let made = |platform: &str| std::fs::read(remote_files.join(platform).join("made")).unwrap();
    assert_eq!(made("linux_amd64"), made("linux_arm64"));
    // The same images as a local build's: each platform's config (but its
    // dates) and file system.
    let local_files = cx.dir().join("local");
    let context_dir = cx.context.to_str().unwrap().to_string();
    let out = cx.kiln(&[
        "build",
        "--build-arg",
        &nonce,
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        "local:multi",
        "-o",
        &format!("type=local,dest={}", local_files.display()),
        &context_dir,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for platform in ["linux/amd64", "linux/arm64"] {
        let (remote, local) = (
            platform_config(&cx, "remote:multi", platform),
            platform_config(&cx, "local:multi", platform),
        );
        assert_eq!(remote, local, "{platform}");
        let dir = platform.replace('/', "_");
        let (mut remote, mut local) = (
            tree(&remote_files.join(&dir)),
            tree(&local_files.join(&dir)),
        );
        // /made is a new uuid in each build.
        for files in [&mut remote, &mut local] {
            files.retain(|(name, _)| name != "made");
        }
        assert_eq!(remote, local, "{platform}");
    }
    assert!(temporary_names().trim().is_empty(), "{}", temporary_names());

    // A step of one platform that cannot run (no emulator on the host:
    // the tests never register one) fails the build, named with its
    // platform; the other platform's build is canceled or done, nothing
    // is tagged and dockerd keeps no name of it.
    let emulated = std::fs::read_dir("/proc/sys/fs/binfmt_misc")
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().contains("aarch64"))
        })
        .unwrap_or(false);
    if !emulated {
        cx.dockerfile("ARG TARGETARCH\nFROM kiln-builder-base-${TARGETARCH}\nRUN echo ran\n");
        let out = build(
            &cx,
            &[
                "--platform",
                "linux/amd64,linux/arm64",
                "-t",
                "remote:fails",
            ],
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("[linux/arm64 2/2] RUN echo ran"),
            "{stderr}"
        );
        assert!(stderr.contains("exec format error"), "{stderr}");
        assert!(!cx.kiln(&["inspect", "remote:fails"]).status.success());
        assert!(temporary_names().trim().is_empty(), "{}", temporary_names());
    }
}

#[test]
fn a_local_cache_directory_is_refused_on_a_builder_by_name() {
    if !dockerd_with_base() {
        return;
    }
    let cx = context(&format!("FROM {BASE}\nRUN true\n"));
    let dir = cx.dir().join("cache");
    for flag in [
        format!("--cache-to=type=local,dest={}", dir.display()),
        format!("--cache-from=type=local,src={}", dir.display()),
    ] {
        let out = build(&cx, &[&flag]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("local cache directory through the client's content store"),
            "{flag}: {stderr}"
        );
        assert!(!dir.exists(), "{flag}");
    }
}
