//! The CNCF distribution registry (Debian's `docker-registry`, 2.8) as a
//! test fixture: one registry process per test, configured by a YAML file
//! in its own temporary directory (storage there too), on a free port,
//! ready once `GET /v2/` answers, killed when dropped.
//!
//! Variants: plain HTTP on 127.0.0.1; htpasswd Basic auth; bearer tokens
//! from [`TokenServer`]; and HTTPS with a CA made here, optionally
//! requiring a client certificate. The HTTPS registry listens on a
//! non-loopback address: kiln, like docker, treats localhost, 127.0.0.0/8
//! and ::1 as insecure registries (no certificate check, plain-HTTP
//! fallback), so only a non-loopback address can show that verification
//! happens. That address is a /32 from 10.231.0.0/16 added to `lo` — it is
//! as local as 127.0.0.1 but not loopback by address; `lo` rather than a
//! dummy interface because not every kernel this runs on has the dummy
//! driver, while every network namespace has `lo`.

use super::super::support::text;
use super::base64;
use super::pki::{Ca, KeyType, Role};
use super::token_server::{Issuer, TokenRequest, TokenServer};
use std::ffi::OsString;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const REGISTRY: &str = "/usr/bin/docker-registry";
const IP: &str = "/sbin/ip";
/// `auth.token.service` and `auth.token.issuer` of token registries.
const SERVICE: &str = "kiln-test-registry";
const ISSUER: &str = "kiln-test-token-issuer";

/// A running registry; killed, and its address removed, when dropped.
pub(super) struct Registry {
    addr: String,
    child: Child,
    dir: tempfile::TempDir,
    certs_d: Option<PathBuf>,
    token: Option<TokenServer>,
    _address: Option<LocalAddress>,
}

/// A registry about to start: where it listens, the YAML beyond storage
/// and `http.addr`, and what `curl` needs to reach it.
struct Setup {
    dir: tempfile::TempDir,
    host: String,
    scheme: &'static str,
    /// Lines under `http:` (the `tls:` block).
    http: String,
    /// The top-level `auth:` block.
    auth: String,
    /// Extra `curl` arguments for the readiness probe (CA, client cert).
    probe: Vec<OsString>,
    token: Option<TokenServer>,
    address: Option<LocalAddress>,
}

impl Registry {
    /// Plain HTTP on 127.0.0.1, no auth.
    pub(super) fn plain() -> Registry {
        Setup::new("127.0.0.1".into()).start()
    }

    /// Plain HTTP on 127.0.0.1 with htpasswd Basic auth for one user.
    pub(super) fn basic(user: &str, password: &str) -> Registry {
        let mut setup = Setup::new("127.0.0.1".into());
        let htpasswd = setup.dir.path().join("htpasswd");
        // The registry only reads bcrypt entries (-B).
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .unwrap();
        assert!(out.status.success(), "htpasswd: {}", text(&out.stderr));
        std::fs::write(&htpasswd, &out.stdout).unwrap();
        setup.auth = format!(
            "auth:\n  htpasswd:\n    realm: kiln-test\n    path: {}\n",
            htpasswd.display()
        );
        setup.start()
    }

    /// Plain HTTP on 127.0.0.1 with bearer tokens from a token server that
    /// knows one user (anonymous clients may pull; see [`TokenServer`]).
    pub(super) fn token(user: &str, password: &str) -> Registry {
        // Long enough for any push here, so a client that fetches a token
        // per request is caught.
        Registry::token_lasting(user, password, 300)
    }

    /// As [`Registry::token`], with tokens that last `lifetime` seconds.
    pub(super) fn token_lasting(user: &str, password: &str, lifetime: u64) -> Registry {
        Registry::token_with(user, password, lifetime, 0)
    }

    /// As [`Registry::token`], where the first `stale` tokens are already
    /// expired when issued though the token server says they last.
    pub(super) fn token_stale(user: &str, password: &str, stale: u64) -> Registry {
        Registry::token_with(user, password, 300, stale)
    }

    fn token_with(user: &str, password: &str, lifetime: u64, stale: u64) -> Registry {
        let mut setup = Setup::new("127.0.0.1".into());
        let pki = setup.subdir("token-pki");
        // The registry checks that the certificate in the token's x5c
        // chains to rootcertbundle: a CA there, a signer issued by it.
        let ca = Ca::new(&pki, "token-ca", KeyType::Rsa2048);
        let signer = ca.issue("token-signer", &Role::Signer, KeyType::Rsa2048);
        let server = TokenServer::start(Issuer {
            user: user.into(),
            password: password.into(),
            service: SERVICE.into(),
            issuer: ISSUER.into(),
            key: signer.key,
            x5c: vec![base64::encode(&super::pki::der(&signer.cert))],
            lifetime,
            stale: stale.into(),
        });
        setup.auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            server.realm(),
            ca.cert.display()
        );
        setup.token = Some(server);
        setup.start()
    }

    /// HTTPS on a non-loopback local address with a certificate from a CA
    /// made here; [`Registry::certs_d`] holds that CA.
    pub(super) fn tls() -> Registry {
        Registry::with_tls(false)
    }

    /// As [`Registry::tls`], and the registry demands a client certificate
    /// signed by the same CA (`http.tls.clientcas`); [`Registry::certs_d`]
    /// holds one as `client.cert` and `client.key`, docker's names.
    pub(super) fn tls_client_auth() -> Registry {
        Registry::with_tls(true)
    }

    fn with_tls(client_auth: bool) -> Registry {
        let address = LocalAddress::add();
        let mut setup = Setup::new(address.ip.clone());
        let pki = setup.subdir("pki");
        let ca = Ca::new(&pki, "ca", KeyType::EcP256);
        let server = ca.issue("server", &Role::Server(address.ip.clone()), KeyType::EcP256);
        setup.scheme = "https";
        setup.http = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            server.cert.display(),
            server.key.display()
        );
        // curl checks the chain too: a registry that comes up ready has a
        // certificate a verifying client accepts.
        setup.probe = vec!["--cacert".into(), ca.cert.clone().into()];
        let client = client_auth.then(|| ca.issue("client", &Role::TestContext, KeyType::EcP256));
        if let Some(client) = &client {
            let clientcas = format!("    clientcas:\n      - {}\n", ca.cert.display());
            setup.http.push_str(&clientcas);
            setup
                .probe
                .extend(["--cert".into(), client.cert.clone().into()]);
            setup
                .probe
                .extend(["--key".into(), client.key.clone().into()]);
        }
        setup.address = Some(address);
        let mut registry = setup.start();
        // docker's layout: certs.d/HOST:PORT/{ca.crt,client.cert,client.key}
        let base = registry.dir.path().join("certs.d");
        let host_dir = base.join(&registry.addr);
        std::fs::create_dir_all(&host_dir).unwrap();
        std::fs::copy(&ca.cert, host_dir.join("ca.crt")).unwrap();
        if let Some(client) = client {
            std::fs::copy(&client.cert, host_dir.join("client.cert")).unwrap();
            std::fs::copy(&client.key, host_dir.join("client.key")).unwrap();
        }
        registry.certs_d = Some(base);
        registry
    }

    /// `HOST:PORT`, as it goes into image references.
    pub(super) fn addr(&self) -> &str {
        &self.addr
    }

    /// Flips one byte in the middle of the stored blob `digest`: the
    /// registry serves it as it is, as a damaged disk or a lying mirror
    /// would.
    pub(super) fn corrupt_blob(&self, digest: &str) {
        let path = self.blob_path(digest);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }

    /// The stored blob `digest`, as the registry holds it.
    pub(super) fn blob(&self, digest: &str) -> Vec<u8> {
        std::fs::read(self.blob_path(digest)).unwrap()
    }

    /// The layer digests of the manifest tag `tag` of `repository` names.
    pub(super) fn layers_of(&self, repository: &str, tag: &str) -> Vec<String> {
        let link = self
            .dir
            .path()
            .join("data/docker/registry/v2/repositories")
            .join(repository)
            .join("_manifests/tags")
            .join(tag)
            .join("current/link");
        let digest = std::fs::read_to_string(link).unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&self.blob(digest.trim())).unwrap();
        manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect()
    }

    fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// A directory laid out as docker's `/etc/docker/certs.d`, trusting
    /// this registry (HTTPS registries only).
    pub(super) fn certs_d(&self) -> PathBuf {
        self.certs_d
            .clone()
            .expect("certs_d is for registries made with tls() or tls_client_auth()")
    }

    /// What the token server answered so far (token registries only).
    pub(super) fn token_requests(&self) -> Vec<TokenRequest> {
        self.token
            .as_ref()
            .expect("token_requests is for registries made with token()")
            .requests()
    }

    /// The registry's log so far, for failure messages.
    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Setup {
    fn new(host: String) -> Setup {
        Setup {
            dir: tempfile::tempdir().unwrap(),
            host,
            scheme: "http",
            http: String::new(),
            auth: String::new(),
            probe: Vec::new(),
            token: None,
            address: None,
        }
    }

    fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        dir
    }

    /// Starts the registry on a free port. The port is found by binding
    /// port 0 and letting go, so another process may take it before the
    /// registry binds; then the registry exits and the next port is tried.
    fn start(self) -> Registry {
        let log_path = self.dir.path().join("registry.log");
        for _ in 0..5 {
            let addr = format!("{}:{}", self.host, free_port(&self.host));
            let config = self.write_config(&addr);
            let log = File::create(&log_path).unwrap();
            let mut child = Command::new(REGISTRY)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {REGISTRY}: {e}"));
            if self.wait_ready(&mut child, &addr) {
                return Registry {
                    addr,
                    child,
                    dir: self.dir,
                    certs_d: None,
                    token: self.token,
                    _address: self.address,
                };
            }
        }
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        panic!("the registry did not start; its log:\n{log}");
    }

    /// The registry's configuration: storage in the temporary directory,
    /// deletes allowed, no upload purging (a background job nobody here
    /// wants), no health checks (none are configured by default).
    fn write_config(&self, addr: &str) -> PathBuf {
        let data = self.dir.path().join("data");
        let lines = [
            "version: 0.1".to_string(),
            "log:".into(),
            "  level: info".into(),
            "storage:".into(),
            "  filesystem:".into(),
            format!("    rootdirectory: {}", data.display()),
            "  delete:".into(),
            "    enabled: true".into(),
            "  maintenance:".into(),
            "    uploadpurging:".into(),
            "      enabled: false".into(),
            "http:".into(),
            format!("  addr: {addr}"),
            "  secret: kiln-test-secret".into(),
        ];
        let config = format!("{}\n{}{}", lines.join("\n"), self.http, self.auth);
        let path = self.dir.path().join("config.yml");
        std::fs::write(&path, config).unwrap();
        path
    }

    /// Waits until `GET /v2/` gets any HTTP answer (401 counts: it is an
    /// answer); false when the registry exited first.
    fn wait_ready(&self, child: &mut Child, addr: &str) -> bool {
        let url = format!("{}://{addr}/v2/", self.scheme);
        for _ in 0..200 {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            let out = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                .args(["--noproxy", "*", "--max-time", "2"])
                .args(&self.probe)
                .arg(&url)
                .output()
                .unwrap();
            if !out.stdout.is_empty() && out.stdout != b"000" {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        let log = std::fs::read_to_string(self.dir.path().join("registry.log"));
        panic!(
            "the registry at {url} did not answer in 10 s; its log:\n{}",
            log.unwrap_or_default()
        );
    }
}

/// A port nothing listens on at `host` right now.
fn free_port(host: &str) -> u16 {
    let listener = TcpListener::bind((host, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// A /32 address from 10.231.0.0/16 on `lo`, labelled `lo:kiln<PID>` so
/// an address left by a killed test run can be told apart and swept.
struct LocalAddress {
    ip: String,
}

impl LocalAddress {
    fn add() -> LocalAddress {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        sweep_stale_addresses();
        let pid = std::process::id();
        let label = format!("lo:kiln{pid}");
        for _ in 0..64 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            // Spread by PID so parallel test binaries rarely collide; a
            // taken address fails to add and the next one is tried.
            let ip = format!("10.231.{}.{}", pid % 250 + 1, n % 250 + 1);
            let out = Command::new(IP)
                .args(["addr", "add", &format!("{ip}/32"), "dev", "lo"])
                .args(["label", &label])
                .output()
                .unwrap();
            if out.status.success() {
                return LocalAddress { ip };
            }
        }
        panic!("cannot add an address from 10.231.0.0/16 to lo");
    }
}

impl Drop for LocalAddress {
    fn drop(&mut self) {
        let _ = Command::new(IP)
            .args(["addr", "del", &format!("{}/32", self.ip), "dev", "lo"])
            .output();
    }
}

/// Removes addresses whose labelling process is gone (a test binary
/// killed before its fixtures dropped).
fn sweep_stale_addresses() {
    let Ok(out) = Command::new(IP)
        .args(["-o", "-4", "addr", "show", "dev", "lo"])
        .output()
    else {
        return;
    };
    for line in text(&out.stdout).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let address = words
            .iter()
            .position(|w| *w == "inet")
            .and_then(|i| words.get(i + 1));
        let pid = words
            .iter()
            .find_map(|w| w.strip_prefix("lo:kiln"))
            .map(|p| p.trim_end_matches('\\'));
        if let (Some(address), Some(pid)) = (address, pid)
            && pid.parse::<u32>().is_ok()
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = Command::new(IP)
                .args(["addr", "del", address, "dev", "lo"])
                .output();
        }
    }
}
