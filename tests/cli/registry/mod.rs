//! `kiln push`, `pull`, `login`, `logout` and `build --push` against real
//! registries: the CNCF distribution registry (Debian's `docker-registry`)
//! started per test on loopback — plain, with Basic auth, with bearer
//! tokens, behind HTTPS — a fault-injecting proxy in front of it, and skopeo
//! and dockerd as the peers that read what kiln wrote and write what kiln
//! reads.
//!
//! `fixtures` checks the fixtures with skopeo alone, so that when a kiln
//! test here fails, the fixture is known to work. Every kiln here runs
//! with its own store, `DOCKER_CONFIG` and `KILN_CERTS_D` in a temporary
//! directory (the test kit's `TestContext`): nothing of the host's
//! `~/.docker` or `/etc/docker/certs.d` leaks in, and no proxy variable
//! sends loopback traffic elsewhere.
//!
//! Needs root (`kiln run`, and the address the HTTPS registry listens on)
//! and the peers; without them a test says so loudly and skips, except
//! under `CI=true`, where a skip is a failure.

mod auth;
mod base64;
mod builder_cache;
mod builder_relay;
mod cache;
mod ci_recipe;
mod fault_proxy;
mod faults;
mod fixture;
mod fixtures;
mod interop;
mod multi_platform;
mod pki;
mod platforms;
mod push_pull;
mod rootless;
mod tls;
mod token_server;

use super::support::{TestContext, no_proxy, privileged, text};
use std::process::{Command, Output};

const SKOPEO: &str = "/usr/bin/skopeo";

/// The local name of the busybox image in the stores of these tests.
const BUSYBOX: &str = "busybox";

/// Whether registry tests can run here; see [`privileged`].
fn ready(what: &str) -> bool {
    privileged(
        &format!(
            "{what} (apt-get install docker-registry apache2-utils openssl iproute2 curl skopeo busybox-static)"
        ),
        &[
            "/usr/bin/docker-registry",
            "/usr/bin/htpasswd",
            "/usr/bin/openssl",
            "/usr/bin/curl",
            "/sbin/ip",
            SKOPEO,
            "/bin/busybox",
        ],
    )
}

/// What the registry tests add to the test kit.
impl TestContext {
    /// `kiln --root STORE ARGS` in a real terminal: under script(1), whose
    /// standard input and output are the terminal's keyboard and screen.
    fn command_in_terminal(&self, args: &str) -> Command {
        let line = format!(
            "{} --root {} {args}",
            env!("CARGO_BIN_EXE_kiln"),
            self.root.display()
        );
        let mut cmd = self.environment("/usr/bin/script");
        cmd.args(["-qec", &line, "/dev/null"]);
        cmd
    }

    /// `kiln push ARGS`, which must succeed; the digest it printed.
    fn push(&self, args: &[&str]) -> String {
        let all: Vec<&str> = ["push"].iter().chain(args).copied().collect();
        manifest_digest(&self.ok(&all))
    }

    /// `kiln pull ARGS`, which must succeed; the digest it printed.
    fn pull(&self, args: &[&str]) -> String {
        let all: Vec<&str> = ["pull"].iter().chain(args).copied().collect();
        manifest_digest(&self.ok(&all))
    }

    /// `kiln run IMAGE echo hi` prints `hi`: the image's layers arrived
    /// whole and unpack into a working root file system.
    fn assert_runs(&self, image: &str) {
        assert_eq!(self.ok(&["run", image, "echo", "hi"]), "hi\n");
    }

    /// `$DOCKER_CONFIG/config.json`; `null` when there is none.
    fn config_json(&self) -> serde_json::Value {
        std::fs::read(self.docker_config().join("config.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or(serde_json::Value::Null)
    }

    /// Writes `$DOCKER_CONFIG/config.json`.
    fn write_config_json(&self, config: &serde_json::Value) {
        let path = self.docker_config().join("config.json");
        std::fs::write(path, config.to_string()).unwrap();
    }

    /// The busybox image copied to `dest` by skopeo (not kiln): a
    /// reference point for fixtures and for kiln's pull.
    fn skopeo_push_busybox(&self, dest: &str, args: &[&str]) -> Output {
        let source = format!(
            "oci:{}:docker.io/library/{BUSYBOX}:latest",
            self.root.display()
        );
        let target = format!("docker://{dest}");
        let mut all = vec!["copy", "-q"];
        all.extend_from_slice(args);
        all.extend([source.as_str(), target.as_str()]);
        skopeo(&all)
    }
}

/// The one line push and pull print: a manifest digest, nothing else.
fn manifest_digest(stdout: &str) -> String {
    let digest = stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("stdout is not one line: {stdout:?}"));
    let hex = digest
        .strip_prefix("sha256:")
        .unwrap_or_else(|| panic!("stdout is not a digest: {stdout:?}"));
    assert!(
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "stdout is not a sha256 digest: {stdout:?}"
    );
    digest.to_string()
}

/// A failed kiln: exit code 1, nothing on stdout (no digest for a push
/// that did not happen); its stderr.
fn failed(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what} should fail with exit code 1; stdout {} stderr {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "{what} printed {}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert!(!stderr.trim().is_empty(), "{what} failed without a word");
    stderr
}

fn skopeo(args: &[&str]) -> Output {
    no_proxy(Command::new(SKOPEO).args(args)).output().unwrap()
}

/// `skopeo inspect ARGS docker://REFERENCE`, which must succeed.
fn skopeo_inspect(reference: &str, args: &[&str]) -> serde_json::Value {
    let target = format!("docker://{reference}");
    let mut all = vec!["inspect"];
    all.extend_from_slice(args);
    all.push(&target);
    let out = skopeo(&all);
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The manifest digest skopeo sees at `reference` on a plain-HTTP
/// registry.
fn registry_digest(reference: &str) -> String {
    let inspect = skopeo_inspect(reference, &["--tls-verify=false"]);
    inspect["Digest"].as_str().unwrap().to_string()
}

/// The raw manifest at `reference` on a plain-HTTP registry.
fn raw_manifest(reference: &str) -> serde_json::Value {
    skopeo_inspect(reference, &["--tls-verify=false", "--raw"])
}

/// Asserts that `reference` on a plain-HTTP registry has no manifest.
fn assert_no_manifest(reference: &str) {
    let target = format!("docker://{reference}");
    let out = skopeo(&["inspect", "--tls-verify=false", &target]);
    assert!(!out.status.success(), "{reference} exists");
    assert!(
        text(&out.stderr).contains("manifest unknown"),
        "{reference}: {}",
        text(&out.stderr)
    );
}
