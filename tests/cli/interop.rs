//! Interop with real peers, all from Debian: dockerd (`docker.io`),
//! `skopeo`, `umoci`, and a busybox image made from `busybox-static`.
//! docker save → kiln load → kiln save → docker load must give the same
//! image ID and layer diff IDs, and the image must run under docker; skopeo
//! and umoci must read the store as an OCI layout.
//!
//! Needs root and the peers; without them the test says so loudly and
//! skips, except under `CI=true`, where a skip is a failure.

use super::support::{DOCKER, TestContext, docker, text};
use std::io::Write as _;
use std::process::{Command, Output};

/// Whether the peers are here; panics under CI when they are not.
fn peers_available() -> bool {
    super::support::privileged(
        "interop test (apt-get install docker.io skopeo umoci busybox-static)",
        &[
            "/usr/bin/docker",
            "/usr/sbin/dockerd",
            "/usr/bin/skopeo",
            "/usr/bin/umoci",
            "/bin/busybox",
        ],
    )
}

pub(super) fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn inspect(name: &str) -> (String, String) {
    let out = run(Command::new(DOCKER).args([
        "image",
        "inspect",
        name,
        "--format",
        "{{.Id}} {{.RootFS.Layers}}",
    ]));
    let line = text(&out.stdout);
    let (id, layers) = line.trim().split_once(' ').unwrap();
    (id.to_string(), layers.to_string())
}

#[test]
fn docker_kiln_docker_round_trip_and_oci_readers() {
    if !peers_available() {
        return;
    }
    docker();
    let _docker_images = super::support::docker_images_lock();
    let cx = TestContext::new();
    let dir = cx.dir();
    let name = format!("kiln-interop-{}:local", std::process::id());
    let rootfs = super::support::busybox_rootfs(dir);
    let tar = run(Command::new("tar")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
        .arg(&rootfs)
        .args(["-cf", "-", "."]));
    let mut import = Command::new(DOCKER)
        .args(["import", "-", &name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut import.stdin.take().unwrap(), &tar.stdout).unwrap();
    assert!(import.wait().unwrap().success());
    let before = inspect(&name);

    let docker_tar = dir.join("docker-save.tar");
    run(Command::new(DOCKER)
        .args(["save", &name, "-o"])
        .arg(&docker_tar));
    let store = &cx.root;
    let out = run(&mut cx.command(&["load", "-i", docker_tar.to_str().unwrap()]));
    assert_eq!(text(&out.stdout), format!("Loaded image: {name}\n"));
    let kiln_tar = dir.join("kiln-save.tar");
    cx.ok(&["save", "-o", kiln_tar.to_str().unwrap(), &name]);

    // dockerd 20.10 has twice (in full test runs, never alone) started a
    // container of the image just loaded without its files ("stat
    // /bin/echo: no such file or directory"), the layer apparently still
    // being removed by the `rmi` before; the cause is not known. The
    // round trip is tried again from the `rmi`, at most three times, and
    // each try checks everything.
    let mut tries = 0;
    let out = loop {
        tries += 1;
        run(Command::new(DOCKER).args(["rmi", &name]));
        run(Command::new(DOCKER).arg("load").arg("-i").arg(&kiln_tar));
        assert_eq!(
            inspect(&name),
            before,
            "image ID and diff IDs survive the round trip"
        );
        let out = Command::new(DOCKER)
            .args(["run", "--rm", "--network", "none", &name])
            .args(["/bin/echo", "hello from kiln"])
            .output()
            .unwrap();
        if out.status.success() || tries == 3 {
            break out;
        }
        let _ = writeln!(
            std::io::stderr(),
            "docker run failed (try {tries}): {}",
            text(&out.stderr)
        );
    };
    assert!(out.status.success(), "docker run: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello from kiln\n");

    // Issue 22: `kiln history` is `docker history`, column for column
    // (CREATED, a relative time, aside), once the layers are unpacked.
    run(&mut cx.command(&["run", "--rm", &name, "true"]));
    let kiln = history_cells(&cx.ok(&["history", &name]));
    let docker = history_cells(&text(
        &run(Command::new(DOCKER).args(["history", &name])).stdout,
    ));
    assert_eq!(kiln, docker);
    // And `kiln inspect` answers docker's keys as docker does.
    let kiln: serde_json::Value = serde_json::from_str(&cx.ok(&["inspect", &name])).unwrap();
    let docker: serde_json::Value =
        serde_json::from_slice(&run(Command::new(DOCKER).args(["inspect", &name])).stdout).unwrap();
    for key in [
        "Id",
        "RepoTags",
        "Parent",
        "Comment",
        "Created",
        "Author",
        "Architecture",
        "Os",
        "Size",
        "VirtualSize",
        "RootFS",
    ] {
        assert_eq!(kiln[0][key], docker[0][key], "{key}");
    }
    run(Command::new(DOCKER).args(["rmi", &name]));

    // The store is an OCI layout that skopeo and umoci read.
    let full = format!("docker.io/library/{name}");
    let images = super::support::image_rows(&cx.ok(&["images", "--format", "json"]));
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:{full}", store.display())));
    let skopeo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(skopeo["Digest"], images[0]["Digest"]);
    assert_eq!(
        skopeo["Layers"][0].as_str().unwrap(),
        before.1.trim_matches(['[', ']'])
    );
    let bundle = dir.join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:{full}", store.display()))
        .arg(&bundle));
    assert!(bundle.join("rootfs/bin/busybox").is_file());
    assert!(bundle.join("rootfs/bin/sh").is_symlink());
}

/// A `history` table's rows, cut at the header's column starts, without
/// the CREATED column.
fn history_cells(table: &str) -> Vec<Vec<String>> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let starts: Vec<usize> = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
        .iter()
        .map(|h| {
            header
                .find(&format!("{h}  "))
                .or_else(|| header.rfind(h))
                .unwrap()
        })
        .collect();
    std::iter::once(header)
        .chain(lines)
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            (0..starts.len())
                .filter(|&i| i != 1)
                .map(|i| {
                    let end = starts
                        .get(i + 1)
                        .copied()
                        .unwrap_or(chars.len())
                        .min(chars.len());
                    chars[starts[i].min(end)..end]
                        .iter()
                        .collect::<String>()
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .collect()
}
