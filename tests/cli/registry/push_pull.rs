//! `kiln push`, `kiln pull` and `kiln build --push` on a plain-HTTP
//! registry on loopback: the digest printed is the one the registry
//! serves, pulled images run, an unchanged image is not uploaded twice,
//! both manifest formats, and builds whose base comes from the registry.

use super::super::support::text;
use super::fault_proxy::{FaultProxy, Kind};
use super::fixture::Registry;
use super::{BUSYBOX, TestContext, failed, raw_manifest, ready, registry_digest};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

#[test]
fn push_prints_the_digest_the_registry_serves_and_pull_gets_a_runnable_image() {
    if !ready("kiln push/pull test") {
        return;
    }
    let registry = Registry::plain();
    let pusher = TestContext::with_busybox(BUSYBOX);
    let reference = format!("{}/test/busybox:1", registry.addr());
    let digest = pusher.push(&[BUSYBOX, &reference]);
    assert_eq!(registry_digest(&reference), digest, "{}", registry.log());

    let puller = TestContext::new();
    assert_eq!(puller.pull(&[&reference]), digest);
    // The layer was unpacked as it downloaded: its snapshot (named by
    // chain ID, the diff ID for a single layer) is there before any run.
    let inspect: serde_json::Value =
        serde_json::from_str(&puller.ok(&["inspect", &reference])).unwrap();
    let diff_id = inspect[0]["RootFS"]["Layers"][0].as_str().unwrap();
    let snapshots: Vec<String> = std::fs::read_dir(puller.root.join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        snapshots,
        [diff_id.trim_start_matches("sha256:")],
        "snapshots after the pull"
    );
    puller.assert_runs(&reference);
    // Issue 22: SIZE is the unpacked size, the same for the image pushed
    // (imported uncompressed here) and the one pulled (compressed).
    pusher.assert_runs(BUSYBOX);
    let size = |cx: &TestContext| {
        let rows = super::super::support::image_rows(&cx.ok(&["images", "--format", "json"]));
        assert_eq!(rows.len(), 1, "{rows:?}");
        rows[0]["Size"].clone()
    };
    assert_eq!(size(&pusher), size(&puller));

    let images = super::super::support::image_rows(&puller.ok(&["images", "--format", "json"]));
    let repository = format!("{}/test/busybox", registry.addr());
    let listed = images.iter().any(|i| {
        i["Repository"] == repository.as_str() && i["Tag"] == "1" && i["Digest"] == digest.as_str()
    });
    assert!(listed, "{reference} not in {images:#?}");
    let id = inspect[0]["Id"].as_str().unwrap();
    assert_eq!(
        puller.ok(&["images", "-q"]),
        format!("{}\n", &id.trim_start_matches("sha256:")[..12])
    );
    assert_eq!(inspect[0]["Digest"], digest.as_str());
    assert_eq!(inspect[0]["RepoTags"][0], reference.as_str());

    // Pulling what is already there changes nothing and says the same.
    assert_eq!(puller.pull(&[&reference]), digest);
}

/// A registry serving a damaged layer: the pull fails naming the layer's
/// digest, and leaves no image, no snapshot and no half-unpacked
/// directory behind.
#[test]
fn a_layer_that_does_not_match_its_digest_fails_the_pull_and_leaves_nothing() {
    if !ready("kiln pull test") {
        return;
    }
    let registry = Registry::plain();
    let pusher = TestContext::with_busybox(BUSYBOX);
    let reference = format!("{}/test/damaged:1", registry.addr());
    pusher.push(&[BUSYBOX, &reference]);
    let layer = raw_manifest(&reference)["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    registry.corrupt_blob(&layer);

    let puller = TestContext::new();
    let stderr = failed(
        &puller.kiln(&["pull", &reference]),
        "pull of a damaged layer",
    );
    assert!(stderr.contains(&layer), "does not name the layer: {stderr}");
    assert_eq!(puller.ok(&["images", "-q"]), "");
    let left: Vec<_> = std::fs::read_dir(puller.root.join("snapshots"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name())
                // The locks, and the record of the overlay kind.
                .filter(|name| !name.to_string_lossy().ends_with(".lock") && name != ".kind")
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in snapshots/: {left:?}");
}

#[test]
fn push_without_a_destination_pushes_to_the_images_own_name() {
    if !ready("kiln push test") {
        return;
    }
    let registry = Registry::plain();
    let client = TestContext::with_busybox(BUSYBOX);
    let reference = format!("{}/test/own:2", registry.addr());
    client.ok(&["tag", BUSYBOX, &reference]);
    let digest = client.push(&[&reference]);
    assert_eq!(registry_digest(&reference), digest);
}

#[test]
fn pushing_an_unchanged_image_again_uploads_no_blob() {
    if !ready("kiln push test") {
        return;
    }
    let registry = Registry::plain();
    let proxy = FaultProxy::start(registry.addr());
    let client = TestContext::with_busybox(BUSYBOX);
    let reference = format!("{}/test/again:1", proxy.addr());
    let first = client.push(&[BUSYBOX, &reference]);
    // Config and layer, at least one request each.
    assert!(proxy.uploads() >= 2, "first push: {}", proxy.summary());

    proxy.reset_counts();
    assert_eq!(client.push(&[BUSYBOX, &reference]), first);
    assert_eq!(proxy.uploads(), 0, "second push: {}", proxy.summary());
    assert!(proxy.count(Kind::ManifestPut) <= 1, "{}", proxy.summary());

    // Another tag in the same repository needs no blob either.
    proxy.reset_counts();
    let other = format!("{}/test/again:2", proxy.addr());
    assert_eq!(client.push(&[BUSYBOX, &other]), first);
    assert_eq!(proxy.uploads(), 0, "new tag: {}", proxy.summary());
    assert_eq!(proxy.count(Kind::ManifestPut), 1, "{}", proxy.summary());
}

#[test]
fn push_format_docker_gives_a_v2s2_manifest_and_oci_is_the_default() {
    if !ready("kiln push --format test") {
        return;
    }
    let registry = Registry::plain();
    let client = TestContext::with_busybox(BUSYBOX);

    let oci = format!("{}/test/format:oci", registry.addr());
    let digest = client.push(&[BUSYBOX, &oci]);
    assert_eq!(registry_digest(&oci), digest);
    let manifest = raw_manifest(&oci);
    assert_eq!(manifest["mediaType"], OCI_MANIFEST);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );

    let docker = format!("{}/test/format:docker", registry.addr());
    let digest = client.push(&["--format", "docker", BUSYBOX, &docker]);
    assert_eq!(registry_digest(&docker), digest);
    let manifest = raw_manifest(&docker);
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], DOCKER_MANIFEST);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.docker.container.image.v1+json"
    );
    for layer in manifest["layers"].as_array().unwrap() {
        // docker's format has no uncompressed or zstd layer type.
        assert_eq!(
            layer["mediaType"], "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "{manifest:#}"
        );
    }

    // What docker's format carries pulls and runs like the OCI one.
    let puller = TestContext::new();
    assert_eq!(puller.pull(&[&docker]), digest);
    puller.assert_runs(&docker);
    let inspect: serde_json::Value =
        serde_json::from_str(&puller.ok(&["inspect", &docker])).unwrap();
    assert_eq!(inspect[0]["MediaType"], DOCKER_MANIFEST);
}

#[test]
fn pull_of_a_missing_image_fails_naming_it() {
    if !ready("kiln pull test") {
        return;
    }
    let registry = Registry::plain();
    let client = TestContext::new();
    let reference = format!("{}/test/nosuch:1", registry.addr());
    let stderr = failed(
        &client.kiln(&["pull", &reference]),
        "pull of a missing image",
    );
    assert!(stderr.contains("test/nosuch"), "{stderr}");
    let images = client.ok(&["images", "--format", "json"]);
    assert_eq!(images, "", "no image, no line");
}

#[test]
fn build_push_pushes_the_built_image() {
    if !ready("kiln build --push test") {
        return;
    }
    let registry = Registry::plain();
    let client = TestContext::with_busybox(BUSYBOX);
    let context = client.dockerfile("FROM busybox\nRUN echo built > /built\n");
    let reference = format!("{}/app:1", registry.addr());
    let out = client.kiln(&[
        "build",
        "--progress",
        "plain",
        "--push",
        "-t",
        &reference,
        context.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "build --push: {}\n{}",
        text(&out.stderr),
        registry.log()
    );

    let puller = TestContext::new();
    let digest = puller.pull(&[&reference]);
    assert_eq!(registry_digest(&reference), digest);
    assert_eq!(puller.ok(&["run", &reference, "cat", "/built"]), "built\n");
}

#[test]
fn build_pulls_a_missing_base_image_unless_told_never_to() {
    if !ready("kiln build --pull test") {
        return;
    }
    let registry = Registry::plain();
    let base = format!("{}/base/busybox:1", registry.addr());
    TestContext::with_busybox(BUSYBOX).push(&[BUSYBOX, &base]);

    let client = TestContext::new();
    let context = client.dockerfile(&format!("FROM {base}\nRUN echo on-pulled-base > /note\n"));
    let build = |pull: &str, tag: &str| {
        client.kiln(&[
            "build",
            "--progress",
            "plain",
            pull,
            "-t",
            tag,
            context.to_str().unwrap(),
        ])
    };

    failed(
        &build("--pull=never", "never:1"),
        "build --pull=never without the base",
    );
    let out = build("--pull=missing", "app:1");
    assert!(out.status.success(), "build: {}", text(&out.stderr));
    assert_eq!(
        client.ok(&["run", "app:1", "cat", "/note"]),
        "on-pulled-base\n"
    );
    // The base is in the store now; `never` is satisfied.
    let out = build("--pull=never", "app:2");
    assert!(out.status.success(), "build: {}", text(&out.stderr));
}
