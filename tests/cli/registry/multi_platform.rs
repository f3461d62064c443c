//! Multi-platform builds (`kiln build --platform a,b,c`): one graph for
//! every platform, foreign RUN steps under QEMU registered in the
//! sandbox's own binfmt_misc, one image index in the store, pushed to a
//! registry that skopeo reads back, and pulled by platform. Base images
//! are Debian's busybox-static of each architecture; the emulators are
//! qemu-user-static's, unpacked beside them (`testdata/platforms/
//! fetch.sh`), so nothing is registered on the host — which each test
//! checks by reading the host's binfmt_misc before and after.

use super::fixture::Registry;
use super::{ready, skopeo};
use crate::support::{
    OrdinaryUser, TestContext, busybox_tarball, import_busybox, platforms_kit, text,
};
use std::path::{Path, PathBuf};

/// The host's binfmt_misc as it reads (each entry's name and text; empty
/// when it is not mounted): never written by kiln.
fn host_binfmt() -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = std::fs::read_dir("/proc/sys/fs/binfmt_misc")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.file_name() != "register")
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(e.path()).unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    entries
}

/// What every test here needs: the registry tests' peers, root, and the
/// kit of foreign busybox builds and emulators; `None` after a loud skip.
/// With the host's binfmt_misc as it reads before the test.
fn kit(what: &str) -> Option<(PathBuf, Vec<(String, String)>)> {
    if !ready(what) {
        return None;
    }
    let kit = platforms_kit(what)?;
    Some((kit, host_binfmt()))
}

/// The three bases a Dockerfile picks with `base-${TARGETARCH}`, each an
/// import of busybox for its platform.
fn import_bases(ctx: &TestContext, kit: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let bases = [
        (PathBuf::from("/bin/busybox"), "linux/amd64", "base-amd64"),
        (
            kit.join("busybox-arm64/bin/busybox"),
            "linux/arm64",
            "base-arm64",
        ),
        (
            kit.join("busybox-armhf/bin/busybox"),
            "linux/arm/v7",
            "base-arm",
        ),
    ];
    for (busybox, platform, name) in bases {
        import_busybox(dir.path(), &ctx.root, &busybox, Some(platform), name);
    }
}

const DOCKERFILE: &str = r#"ARG TARGETARCH
FROM --platform=$BUILDPLATFORM base-amd64 AS tools
# Made once for all targets: a new uuid each time it runs.
RUN uname -m > /built-on && cat /proc/sys/kernel/random/uuid > /made
FROM base-${TARGETARCH}
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT
RUN uname -m > /arch \
 && echo "$TARGETPLATFORM|$TARGETOS|$TARGETARCH|$TARGETVARIANT|$BUILDPLATFORM|$BUILDOS|$BUILDARCH|$BUILDVARIANT" > /args \
 && mkdir -m 1777 /scratch
USER 1000
RUN id -u > /scratch/uid && ls -ln /scratch/uid | awk '{print $3}' > /scratch/owner
COPY --from=tools /built-on /made /
"#;

#[test]
fn a_build_for_three_platforms_emulates_foreign_steps_and_pushes_one_index() {
    let Some((kit, binfmt_before)) = kit("kiln multi-platform build test") else {
        return;
    };
    let mut ctx = TestContext::new();
    ctx.set_env("KILN_QEMU_DIR", kit.join("qemu/usr/bin"));
    import_bases(&ctx, &kit);
    ctx.dockerfile(DOCKERFILE);
    let out = ctx.build(&[
        "--platform",
        "linux/amd64,linux/arm64,linux/arm/v7",
        "-t",
        "multi",
    ]);
    let progress = text(&out.stderr);
    assert!(out.status.success(), "{progress}");
    // Steps are named with their platform, as BuildKit names them.
    for name in [
        "[linux/arm64 stage-1 2/4] RUN uname -m",
        "[linux/arm/v7 stage-1 2/4] RUN uname -m",
        "[linux/amd64 tools 2/2] RUN uname -m",
    ] {
        assert!(progress.contains(name), "{name} missing from {progress}");
    }

    let expected = [
        (
            "linux/amd64",
            "x86_64",
            "linux/amd64|linux|amd64||linux/amd64|linux|amd64|",
        ),
        (
            "linux/arm64",
            "aarch64",
            "linux/arm64|linux|arm64||linux/amd64|linux|amd64|",
        ),
        (
            "linux/arm/v7",
            "armv7l",
            "linux/arm/v7|linux|arm|v7|linux/amd64|linux|amd64|",
        ),
    ];
    let mut made = Vec::new();
    for (platform, machine, args) in expected {
        let shown = ctx.ok(&[
            "run",
            "--platform",
            platform,
            "multi",
            "cat",
            "/arch",
            "/args",
            "/scratch/uid",
            "/scratch/owner",
            "/built-on",
            "/made",
        ]);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[..5],
            [machine, args, "1000", "1000", "x86_64"],
            "{platform}: {shown}"
        );
        made.push(lines[5].to_string());
    }
    assert!(
        made.iter().all(|m| m == &made[0]),
        "the $BUILDPLATFORM stage ran more than once: {made:?}"
    );
    let listed = ctx.ok(&["images", "--format", "{{.Repository}} {{.Platforms}}"]);
    assert!(
        listed.contains("multi linux/amd64,linux/arm64,linux/arm/v7"),
        "{listed}"
    );

    // The index in the registry, read by skopeo; pulled by platform.
    let registry = Registry::plain();
    let reference = format!("{}/test/multi:1", registry.addr());
    ctx.ok(&["push", "multi", &reference]);
    let index = super::raw_manifest(&reference);
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{index}"
    );
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let variant = p["variant"].as_str().map(|v| format!("/{v}"));
            format!(
                "{}/{}{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap(),
                variant.unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    let arm = super::skopeo_inspect(
        &reference,
        &["--tls-verify=false", "--override-arch", "arm64"],
    );
    assert_eq!(arm["Architecture"], "arm64", "{arm}");

    let mut puller = TestContext::new();
    puller.set_env("KILN_QEMU_DIR", kit.join("qemu/usr/bin"));
    puller.ok(&["pull", "--platform", "linux/arm64", &reference]);
    assert_eq!(puller.ok(&["run", &reference, "uname", "-m"]), "aarch64\n");
    let refused = puller.kiln(&["run", "--platform", "linux/arm/v7", &reference, "true"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("is for linux/arm64, not linux/arm/v7"),
        "{}",
        text(&refused.stderr)
    );

    // A multi-platform build on the pushed index pulls each platform's
    // base; a rebuild that may not pull finds both in the store.
    let mut builder = TestContext::new();
    builder.set_env("KILN_QEMU_DIR", kit.join("qemu/usr/bin"));
    builder.dockerfile(&format!(
        "FROM {reference}\nUSER root\nRUN uname -m > /again\n"
    ));
    for pull in ["--pull=missing", "--pull=never"] {
        builder.build_ok(&[
            pull,
            "--no-cache",
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            "again",
        ]);
        for (platform, machine) in [("linux/amd64", "x86_64"), ("linux/arm64", "aarch64")] {
            let shown = builder.ok(&[
                "run",
                "--platform",
                platform,
                "again",
                "cat",
                "/arch",
                "/again",
            ]);
            assert_eq!(
                shown,
                format!("{machine}\n{machine}\n"),
                "{pull} {platform}"
            );
        }
    }
    // The base's tag still names this machine's image.
    assert_eq!(builder.ok(&["run", &reference, "uname", "-m"]), "x86_64\n");
    // `build --push --format docker`: a docker manifest list of docker
    // manifests.
    let pushed = format!("{}/test/again:docker", registry.addr());
    builder.build_ok(&[
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        &pushed,
        "--push",
        "--format",
        "docker",
    ]);
    let list = super::raw_manifest(&pushed);
    assert_eq!(
        list["mediaType"], "application/vnd.docker.distribution.manifest.list.v2+json",
        "{list}"
    );
    for entry in list["manifests"].as_array().unwrap() {
        assert_eq!(
            entry["mediaType"], "application/vnd.docker.distribution.manifest.v2+json",
            "{list}"
        );
    }

    // `kiln save` writes the whole index.
    let archive = ctx.root.parent().unwrap().join("multi.tar");
    ctx.ok(&["save", "-o", archive.to_str().unwrap(), "multi"]);
    let out = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci-archive:{}:latest", archive.display()),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let saved: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(saved["manifests"].as_array().unwrap().len(), 3, "{saved}");

    assert_eq!(
        host_binfmt(),
        binfmt_before,
        "the host's binfmt_misc changed"
    );
}

#[test]
fn an_ordinary_user_builds_and_runs_a_foreign_platform() {
    let Some((kit, binfmt_before)) = kit("rootless multi-platform test") else {
        return;
    };
    let user = OrdinaryUser::create(true);
    let context = user.home.join("ctx");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM base-arm64\nRUN uname -m > /arch && chown 1000:1000 /arch\n",
    )
    .unwrap();
    let tarball = busybox_tarball(&user.home, &kit.join("busybox-arm64/bin/busybox"));
    let chown = std::process::Command::new("chown")
        .args(["-R", &user.uid.to_string()])
        .arg(&user.home)
        .status()
        .unwrap();
    assert!(chown.success());
    let qemu = kit.join("qemu/usr/bin");
    let env = [("KILN_QEMU_DIR", qemu.to_str().unwrap())];
    let store = user.home.join("store");
    let root = store.to_str().unwrap();
    let out = user.kiln_with_env(
        &env,
        &[
            "--root",
            root,
            "import",
            "--platform",
            "linux/arm64",
            tarball.to_str().unwrap(),
            "base-arm64",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = user.kiln_with_env(
        &env,
        &[
            "--root",
            root,
            "build",
            "-q",
            "--network",
            "none",
            "--platform",
            "linux/arm64",
            "-t",
            "foreign",
            context.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = user.kiln_with_env(
        &env,
        &[
            "--root",
            root,
            "run",
            "foreign",
            "sh",
            "-c",
            "cat /arch; ls -ln /arch",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.starts_with("aarch64\n"), "{shown}");
    // The owner inside is the in-namespace id, not a shifted host one.
    assert!(shown.contains(" 1000 "), "{shown}");
    assert_eq!(
        host_binfmt(),
        binfmt_before,
        "the host's binfmt_misc changed"
    );
}

#[test]
fn without_an_emulator_a_foreign_step_fails_naming_the_platform_and_the_fixes() {
    let Some((kit, binfmt_before)) = kit("kiln multi-platform error test") else {
        return;
    };
    let empty = tempfile::tempdir().unwrap();
    let mut ctx = TestContext::new();
    ctx.set_env("KILN_QEMU_DIR", empty.path());
    import_bases(&ctx, &kit);
    ctx.dockerfile("FROM base-arm64\nRUN uname -m\n");
    let out = ctx.build(&["--platform", "linux/arm64", "-t", "nope"]);
    let host_handler = host_binfmt()
        .iter()
        .any(|(name, entry)| name == "qemu-aarch64" && entry.starts_with("enabled"));
    if host_handler {
        // A handler the host registered runs the step (kernels before 6.7
        // rely on those): the build works without kiln's emulator.
        assert!(out.status.success(), "{}", text(&out.stderr));
        return;
    }
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    for needle in [
        "Dockerfile:2",
        "cannot run linux/arm64 steps on this",
        "qemu-user-static",
        "KILN_QEMU_DIR",
        "qemu-user-binfmt",
    ] {
        assert!(stderr.contains(needle), "{needle} missing: {stderr}");
    }
    // Nothing was tagged.
    assert!(!ctx.kiln(&["inspect", "nope"]).status.success());
    assert_eq!(
        host_binfmt(),
        binfmt_before,
        "the host's binfmt_misc changed"
    );
}
