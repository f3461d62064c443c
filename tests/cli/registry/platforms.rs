//! Multi-platform images: an OCI index with a linux/amd64 and a
//! linux/arm64 manifest, copied to the registry by skopeo; `kiln pull`
//! takes this machine's platform unless `--platform` says otherwise, and a
//! platform the index lacks is an error that lists the ones it has.

use super::fault_proxy::{FaultProxy, Kind};
use super::fixture::Registry;
use super::{TestContext, failed, ready, skopeo};
use kiln_oci::Digest;
use serde_json::{Value, json};
use std::path::Path;

/// Writes `bytes` as a blob of the layout at `layout`; its descriptor.
fn put_blob(layout: &Path, media_type: &str, bytes: &[u8]) -> Value {
    let digest = Digest::of(bytes);
    std::fs::write(layout.join("blobs/sha256").join(digest.encoded()), bytes).unwrap();
    json!({"mediaType": media_type, "digest": digest.to_string(), "size": bytes.len()})
}

/// An OCI layout at `layout` whose `multi` names an index of busybox for
/// amd64 (the store's own manifest) and for arm64 (the same layers under
/// a config that says arm64).
fn two_platform_layout(store: &Path, layout: &Path) {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    for entry in std::fs::read_dir(store.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(
            entry.path(),
            layout.join("blobs/sha256").join(entry.file_name()),
        )
        .unwrap();
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(store.join("index.json")).unwrap()).unwrap();
    let amd64 = index["manifests"][0].clone();
    let blob = |d: &Value| {
        let digest = d["digest"]
            .as_str()
            .unwrap()
            .strip_prefix("sha256:")
            .unwrap()
            .to_string();
        std::fs::read(store.join("blobs/sha256").join(digest)).unwrap()
    };
    let mut manifest: Value = serde_json::from_slice(&blob(&amd64)).unwrap();
    let mut config: Value = serde_json::from_slice(&blob(&manifest["config"])).unwrap();
    config["architecture"] = json!("arm64");
    config["variant"] = json!("v8");
    manifest["config"] = put_blob(
        layout,
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let arm64 = put_blob(
        layout,
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    let mut entries = vec![amd64.clone(), arm64.clone()];
    entries[0]["platform"] = json!({"os": "linux", "architecture": "amd64"});
    entries[0].as_object_mut().unwrap().remove("annotations");
    entries[1]["platform"] = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
    let multi = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let mut top = put_blob(
        layout,
        "application/vnd.oci.image.index.v1+json",
        multi.to_string().as_bytes(),
    );
    top["annotations"] = json!({"org.opencontainers.image.ref.name": "multi"});
    std::fs::write(
        layout.join("index.json"),
        json!({"schemaVersion": 2, "manifests": [top]}).to_string(),
    )
    .unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
}

/// Copies the two-platform index (busybox as amd64 and arm64) to
/// `reference` with skopeo.
fn push_two_platforms(reference: &str) {
    let source = TestContext::with_busybox(super::BUSYBOX);
    let layout = source.dir().join("layout");
    two_platform_layout(&source.root, &layout);
    let out = skopeo(&[
        "copy",
        "-q",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:multi", layout.display()),
        &format!("docker://{reference}"),
    ]);
    assert!(
        out.status.success(),
        "skopeo copy --all: {}",
        super::text(&out.stderr)
    );
}

#[test]
fn pull_resolves_an_index_by_platform_and_names_the_platforms_it_lacks() {
    if !ready("registry platform test") {
        return;
    }
    if std::env::consts::ARCH != "x86_64" {
        // The fixture's "this machine" manifest is amd64; elsewhere the
        // default-platform half would mean something else.
        return;
    }
    let registry = Registry::plain();
    let reference = format!("{}/test/multi:1", registry.addr());
    push_two_platforms(&reference);

    // skopeo may rewrite manifests on the way (it compresses plain
    // layers), so the digests to expect are the ones the registry serves.
    let served = super::raw_manifest(&reference);
    let served_digest = |arch: &str| {
        served["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (amd64, arm64) = (served_digest("amd64"), served_digest("arm64"));
    assert_ne!(amd64, arm64);
    let here = TestContext::new();
    assert_eq!(here.pull(&[&reference]), amd64, "this machine's platform");
    here.assert_runs(&reference);
    let arm = TestContext::new();
    assert_eq!(arm.pull(&["--platform", "linux/arm64", &reference]), arm64);
    let none = TestContext::new();
    let stderr = failed(
        &none.kiln(&["pull", "--platform", "linux/s390x", &reference]),
        "pull for a platform the index lacks",
    );
    assert!(
        stderr.contains("linux/s390x")
            && stderr.contains("linux/amd64")
            && stderr.contains("linux/arm64"),
        "does not name the platforms: {stderr}"
    );
}

/// `FROM name@INDEX-DIGEST` pulls the platform's image once; the next
/// build with `--pull=missing` finds it in the store through the index
/// kept beside it, without asking the registry.
#[test]
fn a_base_named_by_index_digest_is_pulled_once() {
    if !ready("registry platform test") {
        return;
    }
    let registry = Registry::plain();
    let tagged = format!("{}/test/multi:1", registry.addr());
    push_two_platforms(&tagged);
    let raw = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{tagged}"),
    ]);
    assert!(raw.status.success(), "{}", super::text(&raw.stderr));
    let index = Digest::of(&raw.stdout);

    let proxy = FaultProxy::start(registry.addr());
    let client = TestContext::new();
    let context = client.dockerfile(&format!(
        "FROM {}/test/multi@{index}\nRUN echo built > /built\n",
        proxy.addr()
    ));
    let context = context.to_str().unwrap();
    client.ok(&["build", "-q", "-t", "app", context]);
    assert!(
        proxy.count(Kind::BlobGet) > 0,
        "the first build pulled nothing: {}",
        proxy.summary()
    );
    proxy.reset_counts();
    client.ok(&["build", "-q", "--pull=missing", "-t", "app", context]);
    assert_eq!(
        proxy.total(),
        0,
        "asked the registry again: {}",
        proxy.summary()
    );
    let out = client.ok(&["run", "--rm", "app", "cat", "/built"]);
    assert_eq!(out, "built\n");
}
