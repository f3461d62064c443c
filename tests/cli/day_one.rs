//! Issue 22: what a docker user meets in the first hour, output shapes
//! first (the closed pipe, usage text), each as docker behaves.

use super::support::{TestContext, text};
use std::process::Stdio;

/// `kiln images | head -1`: the reader goes away, kiln ends quietly (docker
/// dies of SIGPIPE without a word), with the status a shell shows for it.
#[test]
fn a_closed_pipe_ends_kiln_quietly() {
    let f = TestContext::new();
    let layer = super::store::tar_of(&[("hello.txt", b"hello\n")]);
    let out = f.kiln_with_stdin(&["import", "-", "hello:1"], &layer);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for args in [
        &["images"][..],
        &["images", "--format", "json"],
        &["inspect", "hello:1"],
        &["df"],
    ] {
        // The read end is closed before kiln starts.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = f
            .command(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(141),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
}

/// With `KILN_ROOT` set, a usage error does not show `--root` as if it
/// were required (clap counts an environment value as given).
#[test]
fn usage_errors_do_not_show_the_store_from_the_environment() {
    let f = TestContext::new();
    let out = f
        .environment(env!("CARGO_BIN_EXE_kiln"))
        .env("KILN_ROOT", f.dir().join("store"))
        .args(["build"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("Usage: kiln build"), "{stderr}");
    assert!(!stderr.contains("--root"), "{stderr}");
    // The variable still chooses the store.
    let out = f
        .environment(env!("CARGO_BIN_EXE_kiln"))
        .env("KILN_ROOT", f.dir().join("from-env"))
        .args(["images"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(f.dir().join("from-env").is_dir());
}

/// docker's manifest format has no zstd layer type: refused before
/// anything is read or sent, saying what to use instead.
#[test]
fn zstd_layers_in_a_docker_manifest_are_refused() {
    let f = TestContext::new();
    let out = f.kiln(&[
        "push",
        "--format",
        "docker",
        "--compression",
        "zstd",
        "img",
        "127.0.0.1:1/img",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--compression zstd needs OCI media types"),
        "{stderr}"
    );
    assert!(stderr.contains("--format oci"), "{stderr}");
}

/// Without root, `build` and `run` stop at once and say why and what to
/// do, instead of a bare EPERM from deep inside (as uid 65534; `--check`
/// needs no root). `pull` works as an ordinary user (in kiln's own user
/// namespace); for one without subordinate ids (nobody) it first says what
/// that cannot do and how to add a range.
#[test]
fn commands_that_need_root_say_so_first() {
    if !super::support::privileged("the non-root hint test", &["/usr/bin/setpriv"]) {
        return;
    }
    let f = TestContext::new();
    let as_nobody = |args: &[&str]| {
        let mut cmd = f.environment("/usr/bin/setpriv");
        cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_kiln"))
            .arg("--root")
            .arg(f.dir().join("store"))
            .args(args);
        cmd.output().unwrap()
    };
    for (args, command, code) in [
        (&["build", "/nonexistent"][..], "kiln build", 1),
        (&["run", "busybox", "true"], "kiln run", 125),
    ] {
        let out = as_nobody(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{command} needs root")),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("uid 65534"), "{stderr}");
        assert!(stderr.contains("sudo"), "{stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "one line, no repeated cause: {stderr}"
        );
    }
    // A registry nobody listens on: the pull fails there, after the word
    // on subordinate ids.
    let stderr = text(&as_nobody(&["pull", "127.0.0.1:9/busybox"]).stderr);
    assert!(
        stderr.contains("user nobody has no subordinate id range")
            && stderr.contains("usermod --add-subuids"),
        "{stderr}"
    );
}

/// A build exported elsewhere (`-o type=local|oci|docker`) without `-t`
/// leaves no untagged image in the store, as buildx leaves none in
/// docker's; a plain build without `-t` keeps one (docker's dangling
/// image), until `rmi`.
#[test]
fn an_exported_build_leaves_no_image_behind() {
    let Some(f) = TestContext::for_build("FROM busybox:local\nRUN echo made > /made\n") else {
        return;
    };
    let images = || f.ok(&["images", "-q"]).lines().count();
    let before = images();
    for output in [
        "type=local,dest=out",
        "type=oci,dest=out.tar",
        "type=docker,dest=docker.tar",
    ] {
        let dest = f.dir().join("context");
        let out = f
            .command(&["build", "--progress", "plain", "-o", output])
            .arg(&dest)
            .current_dir(&dest)
            .output()
            .unwrap();
        assert!(out.status.success(), "{output}: {}", text(&out.stderr));
        assert_eq!(images(), before, "{output} left an image");
    }
    assert_eq!(
        std::fs::read_to_string(f.dir().join("context/out/made")).unwrap(),
        "made\n"
    );
    f.build_ok(&[]);
    assert_eq!(images(), before + 1, "a plain build keeps its image");
}

/// A privileged test run without root (here: this test binary again, as
/// uid 65534) says SKIPPED, records itself in `KILN_SKIP_LOG` for
/// `tests/run.sh`'s closing list, and fails under `CI=true`.
#[test]
fn a_skip_is_reported_and_fails_under_ci() {
    if !super::support::privileged("the skip report test", &["/usr/bin/setpriv"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let log = dir.path().join("skips");
    let run = |ci: bool| {
        let mut cmd = std::process::Command::new("/usr/bin/setpriv");
        cmd.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(std::env::current_exe().unwrap())
            .args(["run::exit_codes_follow_docker", "--exact", "--nocapture"])
            .env(kiln_testkit::SKIP_LOG, &log)
            .env_remove("CI");
        if ci {
            cmd.env("CI", "true");
        }
        cmd.output().unwrap()
    };
    let out = run(false);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{all}");
    assert!(all.contains("SKIPPED"), "{all}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.starts_with("run::exit_codes_follow_docker: ")
            && logged.contains("needs root (euid 65534)"),
        "{logged}"
    );
    let out = run(true);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("a skip is a failure under CI=true"), "{all}");
}
