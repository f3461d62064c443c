//! The fixtures checked with skopeo alone, no kiln push or pull: every
//! registry variant accepts what it should and refuses what it should, and
//! the fault proxy counts, passes through, and injects faults after which
//! the registry still works. These pass whatever state kiln's registry code is in;
//! when one fails, fix the fixture before reading anything into a kiln
//! test's failure.

use super::super::support::text;
use super::fault_proxy::{Fault, FaultProxy, Kind, Rule, UPLOADS};
use super::fixture::Registry;
use super::{
    TestContext, assert_no_manifest, raw_manifest, ready, registry_digest, skopeo_inspect,
};
use std::process::Command;

const PLAIN: &str = "--dest-tls-verify=false";

/// A skopeo push that must have worked; `context` (the registry's log or
/// the proxy's summary) explains a failure.
fn assert_pushed(out: &std::process::Output, context: &str) {
    assert!(out.status.success(), "{}\n{context}", text(&out.stderr));
}

#[test]
fn fixture_plain_and_basic_auth_registries_serve_skopeo() {
    if !ready("registry fixture test") {
        return;
    }
    let client = TestContext::with_busybox(super::BUSYBOX);
    let plain = Registry::plain();
    let dest = format!("{}/fixture/busybox:1", plain.addr());
    let out = client.skopeo_push_busybox(&dest, &[PLAIN]);
    assert_pushed(&out, &plain.log());
    assert!(registry_digest(&dest).starts_with("sha256:"));

    let basic = Registry::basic("alice", "s3cret pass");
    let dest = format!("{}/fixture/busybox:1", basic.addr());
    let out = client.skopeo_push_busybox(&dest, &[PLAIN, "--dest-no-creds"]);
    assert!(!out.status.success(), "pushed without credentials");
    assert!(
        text(&out.stderr).contains("authentication required"),
        "{}",
        text(&out.stderr)
    );
    let out = client.skopeo_push_busybox(&dest, &[PLAIN, "--dest-creds", "alice:s3cret pass"]);
    assert_pushed(&out, &basic.log());
}

#[test]
fn fixture_tls_registries_serve_skopeo_with_their_certs_d() {
    if !ready("registry fixture test") {
        return;
    }
    let client = TestContext::with_busybox(super::BUSYBOX);
    for registry in [Registry::tls(), Registry::tls_client_auth()] {
        let dest = format!("{}/fixture/busybox:1", registry.addr());
        assert!(!registry.addr().starts_with("127."), "not loopback");
        let out = client.skopeo_push_busybox(&dest, &[]);
        assert!(!out.status.success(), "pushed without the CA");
        assert!(
            text(&out.stderr).contains("certificate"),
            "{}",
            text(&out.stderr)
        );
        let host_dir = registry.certs_d().join(registry.addr());
        let cert_dir = format!("--dest-cert-dir={}", host_dir.display());
        let out = client.skopeo_push_busybox(&dest, &[&cert_dir]);
        assert_pushed(&out, &registry.log());
        let cert_dir = format!("--cert-dir={}", host_dir.display());
        let inspect = skopeo_inspect(&dest, &[&cert_dir]);
        assert!(inspect["Digest"].as_str().unwrap().starts_with("sha256:"));
    }

    // The CA alone does not get past a registry that wants a client
    // certificate.
    let registry = Registry::tls_client_auth();
    let ca_only = client.dir().join("ca-only");
    std::fs::create_dir(&ca_only).unwrap();
    let host_dir = registry.certs_d().join(registry.addr());
    std::fs::copy(host_dir.join("ca.crt"), ca_only.join("ca.crt")).unwrap();
    let dest = format!("{}/fixture/busybox:1", registry.addr());
    let cert_dir = format!("--dest-cert-dir={}", ca_only.display());
    let out = client.skopeo_push_busybox(&dest, &[&cert_dir]);
    assert!(!out.status.success(), "pushed without a client certificate");
}

#[test]
fn fixture_token_server_issues_tokens_the_registry_accepts() {
    if !ready("registry fixture test") {
        return;
    }
    let client = TestContext::with_busybox(super::BUSYBOX);
    let registry = Registry::token("alice", "s3cret");
    let dest = format!("{}/fixture/busybox:1", registry.addr());
    let out = client.skopeo_push_busybox(&dest, &[PLAIN, "--dest-no-creds"]);
    assert!(!out.status.success(), "anonymous tokens are pull-only");
    let out = client.skopeo_push_busybox(&dest, &[PLAIN, "--dest-creds", "alice:wrong"]);
    assert!(!out.status.success(), "a wrong password got a token");
    let out = client.skopeo_push_busybox(&dest, &[PLAIN, "--dest-creds", "alice:s3cret"]);
    assert_pushed(&out, &registry.log());

    let requests = registry.token_requests();
    let alice = Some("alice");
    assert!(
        requests
            .iter()
            .any(|r| !r.granted && r.user.as_deref() == alice),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.granted
            && r.user.as_deref() == alice
            && r.scopes
                .iter()
                .any(|s| s == "repository:fixture/busybox:pull,push")),
        "{requests:?}"
    );
    // Anonymous clients may pull.
    let inspect = skopeo_inspect(&dest, &["--tls-verify=false", "--no-creds"]);
    assert!(inspect["Digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn fixture_fault_proxy_counts_passes_through_and_injects_faults() {
    if !ready("registry fixture test") {
        return;
    }
    let client = TestContext::with_busybox(super::BUSYBOX);
    let registry = Registry::plain();
    let proxy = FaultProxy::start(registry.addr());
    let dest = format!("{}/fixture/busybox:1", proxy.addr());
    let out = client.skopeo_push_busybox(&dest, &[PLAIN]);
    assert_pushed(&out, &proxy.summary());
    assert!(proxy.count(Kind::UploadStart) >= 2, "{}", proxy.summary());
    assert_eq!(proxy.count(Kind::ManifestPut), 1, "{}", proxy.summary());
    let direct = format!("{}/fixture/busybox:1", registry.addr());
    assert_eq!(registry_digest(&dest), registry_digest(&direct));

    // skopeo does not retry these faults, so each fails one attempt; the
    // next attempt goes through, so the registry was left consistent.
    let proxy = FaultProxy::start(registry.addr());
    let dest = format!("{}/fixture/retried:1", proxy.addr());
    let faults = [
        Rule::new(Fault::ResetRequestAfter(8 * 1024), UPLOADS).min_body(16 * 1024),
        Rule::new(Fault::Unavailable, &[Kind::UploadStart]),
        Rule::new(Fault::Unavailable, &[Kind::ManifestPut]),
    ];
    for (injected, rule) in faults.into_iter().enumerate() {
        proxy.add(rule);
        let out = client.skopeo_push_busybox(&dest, &[PLAIN]);
        assert!(!out.status.success(), "pushed through a fault");
        assert_eq!(proxy.injected(), injected + 1, "{}", proxy.summary());
    }
    let out = client.skopeo_push_busybox(&dest, &[PLAIN]);
    assert_pushed(&out, &proxy.summary());

    // A download cut short is a reset, not a clean end of stream.
    let direct = format!("{}/fixture/retried:1", registry.addr());
    let layer = raw_manifest(&direct)["layers"][0]["digest"].clone();
    let url = format!(
        "http://{}/v2/fixture/retried/blobs/{}",
        proxy.addr(),
        layer.as_str().unwrap()
    );
    proxy.add(Rule::new(
        Fault::ResetResponseAfter(8 * 1024),
        &[Kind::BlobGet],
    ));
    let curl = |url: &str| {
        super::no_proxy(Command::new("curl").args(["-sS", "-o", "/dev/null", url]))
            .output()
            .unwrap()
    };
    let out = curl(&url);
    assert_eq!(out.status.code(), Some(56), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("reset"), "{}", text(&out.stderr));
    assert_eq!(proxy.injected(), 4, "{}", proxy.summary());
    assert!(curl(&url).status.success(), "{}", proxy.summary());

    // A 503 for every upload: no client gets a tag in.
    let proxy = FaultProxy::start(registry.addr());
    proxy.add(Rule::new(Fault::Unavailable, UPLOADS).always());
    let dest = format!("{}/fixture/doomed:1", proxy.addr());
    let out = client.skopeo_push_busybox(&dest, &[PLAIN]);
    assert!(!out.status.success(), "pushed through a 503 wall");
    assert!(proxy.injected() >= 1, "{}", proxy.summary());
    assert_eq!(proxy.count(Kind::ManifestPut), 0, "{}", proxy.summary());
    assert_no_manifest(&format!("{}/fixture/doomed:1", registry.addr()));
}
