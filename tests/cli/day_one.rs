//! Issue 22: what a docker user meets in the first hour, output shapes
//! first (the closed pipe, usage text), each as docker behaves.

use super::support::{TestContext, text};
use std::process::Stdio;

/// `kiln images | head -1`: the reader goes away, kiln ends quietly (docker
/// dies of SIGPIPE without a word), with the status a shell shows for it.
#[test]
fn a_closed_pipe_ends_kiln_quietly() {
    let f = TestContext::new();
    for args in [&["images"][..], &["images", "--format", "json"], &["df"]] {
        let mut child = f
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The read end closes before kiln writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
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
