//! `--builder unix://` and `--builder tcp://` with TLS, against dockerd's
//! embedded BuildKit made to look like a buildkitd by a relay
//! (`testdata/buildkit/relay.py`: each connection is dockerd's `/grpc`
//! endpoint, so the client speaks plain gRPC, as to a buildkitd). There
//! is no buildkitd on the test machine; what these tests reach is the
//! transport (unix socket, TCP with TLS verified against the given CA and
//! ALPN h2), the session over `Control.Session`, the opening of the build,
//! and the builder's own refusal reported as it said it: dockerd has no
//! `docker` exporter, which a buildkitd build uses to stream the image
//! back (see docs/llb.md).

use super::pki::{Ca, KeyType, Role};
use crate::builder::{BASE, context, dockerd_with_base};
use crate::support::text;
use std::process::{Child, Command};

/// The relay, stopped when dropped.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn relay(args: &[&std::ffi::OsStr]) -> Relay {
    let script = crate::support::root().join("testdata/buildkit/relay.py");
    Relay(
        Command::new("python3")
            .arg(script)
            .arg("/var/run/docker.sock")
            .args(args)
            .spawn()
            .unwrap(),
    )
}

fn wait_for(path: &std::path::Path) {
    let start = std::time::Instant::now();
    while !path.exists() {
        assert!(start.elapsed().as_secs() < 20, "the relay did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn unix_and_tls_tcp_builders_are_reached_and_their_refusals_reported() {
    if !dockerd_with_base() {
        return;
    }
    let cx = context(&format!("FROM {BASE}\nRUN true\n"));
    let dir = cx.dir().to_path_buf();
    let context_dir = cx.context.to_str().unwrap().to_string();
    let exporter = "exporter \"docker\" could not be found";

    // unix://
    let socket = dir.join("relay.sock");
    let _unix = relay(&["unix".as_ref(), socket.as_os_str()]);
    wait_for(&socket);
    let builder = format!("unix://{}", socket.display());
    let out = cx.kiln(&["build", "--builder", &builder, &context_dir]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("builder {builder}: {exporter}")),
        "{stderr}"
    );

    // tcp:// with TLS: the server's certificate for 127.0.0.1, signed by a
    // CA the client is given.
    let ca = Ca::new(&dir, "builder-ca", KeyType::EcP256);
    let leaf = ca.issue(
        "builder",
        &Role::Server("127.0.0.1".into()),
        KeyType::EcP256,
    );
    let port_file = dir.join("relay.port");
    let _tcp = relay(&[
        "tcp".as_ref(),
        port_file.as_os_str(),
        leaf.cert.as_os_str(),
        leaf.key.as_os_str(),
    ]);
    wait_for(&port_file);
    let port = std::fs::read_to_string(&port_file).unwrap();
    let builder = format!("tcp://127.0.0.1:{}", port.trim());
    let ca_file = ca.cert.to_str().unwrap();
    let out = cx.kiln(&[
        "build",
        "--builder",
        &builder,
        "--builder-tls-ca",
        ca_file,
        &context_dir,
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("builder {builder}: {exporter}")),
        "{stderr}"
    );

    // Another CA: the builder's certificate is refused.
    let other = Ca::new(&dir, "other-ca", KeyType::EcP256);
    let out = cx.kiln(&[
        "build",
        "--builder",
        &builder,
        "--builder-tls-ca",
        other.cert.to_str().unwrap(),
        &context_dir,
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot reach builder {builder}")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
}
