//! HTTPS registries on a non-loopback address (so kiln verifies them):
//! trust comes from a docker-style certs.d tree (`KILN_CERTS_D`), a push
//! to an untrusted registry fails naming the certificate problem,
//! `--tls-verify=false` skips verification, and a client certificate in
//! certs.d (`client.cert`, `client.key`) gets past a registry that demands
//! one.

use super::super::support::text;
use super::fixture::Registry;
use super::{BUSYBOX, TestContext, failed, ready, skopeo_inspect};
use std::path::{Path, PathBuf};

/// skopeo's view of `reference`, trusting `certs_d`'s entry for `addr`.
fn skopeo_digest(reference: &str, certs_d: &Path, addr: &str) -> String {
    let cert_dir = format!("--cert-dir={}", certs_d.join(addr).display());
    let inspect = skopeo_inspect(reference, &[&cert_dir]);
    inspect["Digest"].as_str().unwrap().to_string()
}

#[test]
fn push_and_pull_trust_the_ca_in_certs_d() {
    if !ready("registry TLS test") {
        return;
    }
    let registry = Registry::tls();
    let addr = registry.addr();
    let mut client = TestContext::with_busybox(BUSYBOX);
    client.trust(registry.certs_d());
    let reference = format!("{addr}/test/secure:1");
    let digest = client.push(&[BUSYBOX, &reference]);
    assert_eq!(
        skopeo_digest(&reference, &registry.certs_d(), addr),
        digest,
        "{}",
        registry.log()
    );

    let mut puller = TestContext::new();
    puller.trust(registry.certs_d());
    assert_eq!(puller.pull(&[&reference]), digest);
    puller.assert_runs(&reference);
}

#[test]
fn an_untrusted_certificate_fails_unless_verification_is_off() {
    if !ready("registry TLS test") {
        return;
    }
    let registry = Registry::tls();
    let addr = registry.addr();
    // The client's own certs.d is empty: nothing vouches for the registry.
    let client = TestContext::with_busybox(BUSYBOX);
    let reference = format!("{addr}/test/untrusted:1");
    let stderr = failed(
        &client.kiln(&["push", BUSYBOX, &reference]),
        "push to an untrusted registry",
    );
    assert!(
        stderr.to_lowercase().contains("certificate"),
        "does not mention the certificate: {stderr}"
    );
    assert!(stderr.contains(addr), "does not name {addr}: {stderr}");
    let stderr = failed(
        &TestContext::new().kiln(&["pull", &reference]),
        "pull from an untrusted registry",
    );
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");

    let digest = client.push(&["--tls-verify=false", BUSYBOX, &reference]);
    assert_eq!(skopeo_digest(&reference, &registry.certs_d(), addr), digest);
    let puller = TestContext::new();
    assert_eq!(puller.pull(&["--tls-verify=false", &reference]), digest);
    puller.assert_runs(&reference);
}

#[test]
fn a_client_certificate_in_certs_d_gets_past_a_registry_that_demands_one() {
    if !ready("registry TLS client certificate test") {
        return;
    }
    let registry = Registry::tls_client_auth();
    let addr = registry.addr();
    let reference = format!("{addr}/test/mtls:1");

    // The CA alone: the server is trusted, but the client has nothing to
    // show.
    let mut client = TestContext::with_busybox(BUSYBOX);
    client.trust(ca_only(&client, &registry));
    let out = client.kiln(&["push", BUSYBOX, &reference]);
    let stderr = failed(&out, "push without a client certificate");
    assert!(stderr.contains(addr), "does not name {addr}: {stderr}");

    client.trust(registry.certs_d());
    let out = client.kiln(&["push", BUSYBOX, &reference]);
    assert!(
        out.status.success(),
        "push with client.cert: {}\n{}",
        text(&out.stderr),
        registry.log()
    );
    let mut puller = TestContext::new();
    puller.trust(registry.certs_d());
    let digest = puller.pull(&[&reference]);
    assert_eq!(text(&out.stdout), format!("{digest}\n"));
    puller.assert_runs(&reference);
}

/// A certs.d base in `client`'s directory holding only the registry's
/// CA.
fn ca_only(client: &TestContext, registry: &Registry) -> PathBuf {
    let base = client.dir().join("certs.d-ca-only");
    let host_dir = base.join(registry.addr());
    std::fs::create_dir_all(&host_dir).unwrap();
    let ca = registry.certs_d().join(registry.addr()).join("ca.crt");
    std::fs::copy(ca, host_dir.join("ca.crt")).unwrap();
    base
}
