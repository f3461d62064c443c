//! Pushes and pulls through the fault proxy: resets in the middle of a
//! blob and 503 answers are retried until the operation succeeds, and what
//! arrives is verified (the image runs); a registry that never accepts an
//! upload makes the push fail without creating the tag.

use super::fault_proxy::{Fault, FaultProxy, Kind, Rule, UPLOADS};
use super::fixture::Registry;
use super::{BUSYBOX, TestContext, assert_no_manifest, failed, ready, registry_digest};

/// Larger than the image config, smaller than the busybox layer (over a
/// megabyte compressed or not): rules with it hit the layer only.
const LAYER_SIZED: u64 = 16 * 1024;

#[test]
fn push_survives_resets_and_503s_and_the_image_arrives_whole() {
    if !ready("registry fault test") {
        return;
    }
    let registry = Registry::plain();
    let proxy = FaultProxy::start(registry.addr());
    // Whatever the upload strategy (monolithic PUT, PATCH chunks, one
    // POST): the layer's data is cut half-way once, the second upload
    // started gets a 503, and so does the first manifest.
    proxy.add(Rule::new(Fault::ResetRequestAfter(LAYER_SIZED / 2), UPLOADS).min_body(LAYER_SIZED));
    proxy.add(Rule::new(Fault::Unavailable, &[Kind::UploadStart]).skip(1));
    proxy.add(Rule::new(Fault::Unavailable, &[Kind::ManifestPut]));
    let client = TestContext::with_busybox(BUSYBOX);
    let digest = client.push(&[BUSYBOX, &format!("{}/test/flaky:1", proxy.addr())]);
    assert_eq!(proxy.injected(), 3, "{}", proxy.summary());

    // Straight from the registry, past the proxy.
    let reference = format!("{}/test/flaky:1", registry.addr());
    assert_eq!(registry_digest(&reference), digest);
    let puller = TestContext::new();
    assert_eq!(puller.pull(&[&reference]), digest);
    puller.assert_runs(&reference);
}

#[test]
fn a_push_that_can_never_upload_fails_and_leaves_no_tag() {
    if !ready("registry fault test") {
        return;
    }
    let registry = Registry::plain();
    let proxy = FaultProxy::start(registry.addr());
    proxy.add(Rule::new(Fault::Unavailable, UPLOADS).always());
    let client = TestContext::with_busybox(BUSYBOX);
    let out = client.kiln(&["push", BUSYBOX, &format!("{}/test/doomed:1", proxy.addr())]);
    let stderr = failed(&out, "push through a 503 wall");
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("503") || lower.contains("unavailable"),
        "does not say why: {stderr}"
    );
    assert!(proxy.injected() >= 1, "{}", proxy.summary());
    assert_eq!(proxy.count(Kind::ManifestPut), 0, "{}", proxy.summary());
    assert_no_manifest(&format!("{}/test/doomed:1", registry.addr()));
}

/// busybox pushed to a fresh registry as `test/NAME:1`, and a fault proxy
/// in front of it; the digest pushed and the reference through the proxy.
fn busybox_behind_proxy(name: &str) -> (Registry, FaultProxy, String, String) {
    let registry = Registry::plain();
    let pusher = TestContext::with_busybox(BUSYBOX);
    let digest = pusher.push(&[BUSYBOX, &format!("{}/test/{name}:1", registry.addr())]);
    let proxy = FaultProxy::start(registry.addr());
    let reference = format!("{}/test/{name}:1", proxy.addr());
    (registry, proxy, digest, reference)
}

#[test]
fn pull_survives_a_503_and_a_reset_in_the_middle_of_a_layer() {
    if !ready("registry fault test") {
        return;
    }
    let (_registry, proxy, digest, reference) = busybox_behind_proxy("flaky");
    proxy.add(Rule::new(Fault::Unavailable, &[Kind::BlobGet]));
    // The config is shorter than this, so only the layer gets cut.
    proxy.add(Rule::new(
        Fault::ResetResponseAfter(LAYER_SIZED),
        &[Kind::BlobGet],
    ));
    let puller = TestContext::new();
    assert_eq!(puller.pull(&[&reference]), digest);
    assert_eq!(proxy.injected(), 2, "{}", proxy.summary());
    puller.assert_runs(&reference);
}

/// A registry that ignores `Range`: the layer cut in the middle comes
/// again whole, and kiln drops what it already had, so the blob and the
/// snapshot unpacked on the way both verify.
#[test]
fn pull_resumes_from_a_registry_that_ignores_ranges() {
    if !ready("registry fault test") {
        return;
    }
    let (_registry, proxy, digest, reference) = busybox_behind_proxy("ranges");
    proxy.ignore_ranges();
    proxy.add(Rule::new(
        Fault::ResetResponseAfter(LAYER_SIZED),
        &[Kind::BlobGet],
    ));
    let puller = TestContext::new();
    assert_eq!(puller.pull(&[&reference]), digest);
    assert_eq!(proxy.injected(), 1, "{}", proxy.summary());
    assert_eq!(proxy.count(Kind::BlobGet), 3, "{}", proxy.summary());
    puller.assert_runs(&reference);
    puller.ok(&["doctor"]);
}

/// A registry that stops sending in the middle of a layer but keeps the
/// connection open: kiln gives up on the silent connection after the stall
/// timeout and resumes the layer from where it stopped.
#[test]
fn pull_resumes_a_layer_whose_transfer_stalls() {
    if !ready("registry fault test") {
        return;
    }
    let (_registry, proxy, digest, reference) = busybox_behind_proxy("stall");
    proxy.add(Rule::new(
        Fault::StallResponseAfter(LAYER_SIZED),
        &[Kind::BlobGet],
    ));
    let mut puller = TestContext::new();
    puller.stall_timeout(2);
    assert_eq!(puller.pull(&[&reference]), digest);
    assert_eq!(proxy.injected(), 1, "{}", proxy.summary());
    // kiln closed the silent connection; the proxy did not time it out.
    assert_eq!(proxy.stalls_abandoned(), 1, "{}", proxy.summary());
    // The layer was fetched twice: the stalled request and its resumption.
    assert_eq!(proxy.count(Kind::BlobGet), 3, "{}", proxy.summary());
    puller.assert_runs(&reference);
}

/// A layer larger than one upload chunk (32 MiB), pushed plain: its
/// monolithic `PUT` is cut, so the upload goes on in chunks; the first
/// chunk is cut too, and the upload asks the session what the registry
/// kept. distribution 2.8 refuses to resume a session whose bytes moved
/// since its state token was issued (`BLOB_UPLOAD_INVALID`), so here a new
/// session starts; either way the push completes and the layer verifies.
#[test]
fn a_large_upload_cut_twice_continues_in_chunks_and_arrives_whole() {
    if !ready("registry fault test") {
        return;
    }
    let registry = Registry::plain();
    let proxy = FaultProxy::start(registry.addr());
    proxy.add(
        Rule::new(Fault::ResetRequestAfter(4 << 20), &[Kind::UploadFinish]).min_body(16 << 20),
    );
    proxy.add(
        Rule::new(Fault::ResetRequestAfter(12 << 20), &[Kind::UploadChunk]).min_body(16 << 20),
    );
    let client = TestContext::with_busybox(BUSYBOX);
    let context = client.dockerfile(
        "FROM busybox\nRUN head -c 41943040 /dev/urandom > /big && md5sum /big > /big.md5\n",
    );
    client.ok(&["build", "-q", "-t", "big", context.to_str().unwrap()]);
    let target = format!("{}/test/big:1", proxy.addr());
    let digest = client.push(&["--compression", "none", "big", &target]);
    assert_eq!(proxy.injected(), 2, "{}", proxy.summary());
    assert!(proxy.count(Kind::UploadChunk) >= 2, "{}", proxy.summary());

    let reference = format!("{}/test/big:1", registry.addr());
    let puller = TestContext::new();
    assert_eq!(puller.pull(&[&reference]), digest);
    assert_eq!(
        puller.ok(&["run", &reference, "md5sum", "-c", "/big.md5"]),
        "/big: OK\n"
    );
}
