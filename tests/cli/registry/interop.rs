//! kiln and docker through one registry, both ways: docker pulls and runs
//! what kiln pushed, and kiln pulls and runs what docker pushed. The
//! registry is on 127.0.0.1, which dockerd treats as insecure by default,
//! so plain HTTP works for both without configuring the daemon.

use super::super::interop::run;
use super::super::support::{DOCKER, docker};
use super::super::support::{privileged, text};
use super::fixture::Registry;
use super::{BUSYBOX, TestContext, ready, registry_digest};
use std::process::Command;

/// Images given to dockerd, removed when the test ends, passed or not.
struct DockerImages(Vec<String>);

impl Drop for DockerImages {
    fn drop(&mut self) {
        let _ = Command::new(DOCKER)
            .args(["rmi", "-f"])
            .args(&self.0)
            .output();
    }
}

#[test]
fn docker_pulls_what_kiln_pushed_and_kiln_pulls_what_docker_pushed() {
    if !ready("registry interop test")
        || !privileged(
            "registry interop test (apt-get install docker.io)",
            &[DOCKER, "/usr/sbin/dockerd"],
        )
    {
        return;
    }
    docker();
    let _docker_images = super::super::support::docker_images_lock();
    let registry = Registry::plain();
    let addr = registry.addr();
    let from_kiln = format!("{addr}/interop/busybox:1");
    let from_docker = format!("{addr}/interop/from-docker:1");
    let _cleanup = DockerImages(vec![from_kiln.clone(), from_docker.clone()]);

    let digest = TestContext::with_busybox(BUSYBOX).push(&[BUSYBOX, &from_kiln]);
    run(Command::new(DOCKER).args(["pull", &from_kiln]));
    let out = run(Command::new(DOCKER).args([
        "image",
        "inspect",
        "--format",
        "{{json .RepoDigests}}",
        &from_kiln,
    ]));
    let pinned = format!("{addr}/interop/busybox@{digest}");
    assert!(
        text(&out.stdout).contains(&pinned),
        "docker pulled something else: {}",
        text(&out.stdout)
    );
    let out = run(Command::new(DOCKER).args([
        "run",
        "--rm",
        "--network",
        "none",
        &from_kiln,
        "echo",
        "hi",
    ]));
    assert_eq!(text(&out.stdout), "hi\n");

    run(Command::new(DOCKER).args(["tag", &from_kiln, &from_docker]));
    run(Command::new(DOCKER).args(["push", &from_docker]));
    let pushed_by_docker = registry_digest(&from_docker);
    let puller = TestContext::new();
    assert_eq!(puller.pull(&[&from_docker]), pushed_by_docker);
    puller.assert_runs(&from_docker);
}
