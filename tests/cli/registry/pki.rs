//! Certificates for the fixtures, made on the spot with the `openssl` CLI:
//! a CA, and leaf certificates it signs. Kept to what strict verifiers
//! accept (webpki as well as Go's crypto/x509): X.509 v3, `CA:TRUE` only on
//! the CA, a subjectAltName for a server (the CN is ignored), extended key
//! usage matching the role, key usage matching the key type.

use super::super::support::text;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

/// The key a certificate carries.
#[derive(Debug, Clone, Copy)]
pub(super) enum KeyType {
    /// ECDSA P-256: fast to make; for TLS.
    EcP256,
    /// RSA 2048: what RS256 token signatures need.
    Rsa2048,
}

/// What a leaf certificate is for.
#[derive(Debug, Clone)]
pub(super) enum Role {
    /// A TLS server reached at this IP address.
    Server(String),
    /// A TLS client (docker's `client.cert`).
    TestContext,
    /// A token signer (its certificate travels in the JWT's `x5c`).
    Signer,
}

/// A certificate authority whose key lives in `dir`.
pub(super) struct Ca {
    dir: PathBuf,
    /// The CA certificate (PEM): what clients and the registry trust.
    pub cert: PathBuf,
    key: PathBuf,
}

/// A certificate and its private key (PEM files).
pub(super) struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Ca {
    /// A self-signed CA `name` (also the file stem) in `dir`.
    pub(super) fn new(dir: &Path, name: &str, key_type: KeyType) -> Ca {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        openssl(
            Command::new("openssl")
                .args(["req", "-x509", "-new", "-nodes", "-days", "2"])
                .args(new_key(key_type))
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .args(["-subj", &format!("/CN=kiln test {name}")])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
        );
        Ca {
            dir: dir.to_path_buf(),
            cert,
            key,
        }
    }

    /// A leaf certificate `name` signed by this CA.
    pub(super) fn issue(&self, name: &str, role: &Role, key_type: KeyType) -> Leaf {
        let cert = self.dir.join(format!("{name}.crt"));
        let key = self.dir.join(format!("{name}.key"));
        let csr = self.dir.join(format!("{name}.csr"));
        let ext = self.dir.join(format!("{name}.ext"));
        openssl(
            Command::new("openssl")
                .args(["req", "-new", "-nodes"])
                .args(new_key(key_type))
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&csr)
                .args(["-subj", &format!("/CN=kiln test {name}")]),
        );
        std::fs::write(&ext, extensions(role, key_type)).unwrap();
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-in"])
                .arg(&csr)
                .arg("-CA")
                .arg(&self.cert)
                .arg("-CAkey")
                .arg(&self.key)
                // Explicit, so no serial file is written next to the CA and
                // no two certificates of this CA share a serial.
                .args(["-set_serial", &serial().to_string()])
                .arg("-extfile")
                .arg(&ext)
                .arg("-out")
                .arg(&cert),
        );
        Leaf { cert, key }
    }
}

/// A certificate in DER form (what a JWT `x5c` entry carries, base64ed).
pub(super) fn der(cert: &Path) -> Vec<u8> {
    openssl(
        Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(cert),
    )
}

/// `openssl req` arguments making a fresh key of `key_type`.
fn new_key(key_type: KeyType) -> [&'static str; 4] {
    match key_type {
        KeyType::EcP256 => ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        KeyType::Rsa2048 => ["-newkey", "rsa", "-pkeyopt", "rsa_keygen_bits:2048"],
    }
}

/// The v3 extensions of a leaf. `keyEncipherment` is an RSA key-exchange
/// usage; on an EC key strict verifiers may reject it.
fn extensions(role: &Role, key_type: KeyType) -> String {
    let usage = match (role, key_type) {
        (Role::Server(_), KeyType::Rsa2048) => "digitalSignature,keyEncipherment",
        _ => "digitalSignature",
    };
    let mut ext = format!("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,{usage}\n");
    match role {
        Role::Server(ip) => {
            ext.push_str(&format!(
                "subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth\n"
            ));
        }
        Role::TestContext => ext.push_str("extendedKeyUsage=clientAuth\n"),
        Role::Signer => {}
    }
    ext
}

/// A serial number no other certificate made by this process has.
fn serial() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    (u64::from(std::process::id()) << 32) | NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs openssl; its stdout on success, a failed test otherwise.
fn openssl(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        text(&out.stderr)
    );
    out.stdout
}
