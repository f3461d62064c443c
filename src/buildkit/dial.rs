//! Connections to a builder: a gRPC channel to its control API, and for
//! dockerd the hijacked HTTP connections its `/grpc` and `/session`
//! endpoints turn into HTTP/2 (moby's `api/server/router/grpc` and
//! BuildKit's `session.Manager.HandleHTTPRequest`: `Upgrade: h2c`, a
//! `101 Switching Protocols`, then HTTP/2 on the same socket).

use crate::Error;
use crate::address::{Address, TlsFiles};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::UnixStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

/// The gRPC channel to the builder's control API (`moby.buildkit.v1.Control`
/// and the gateway's `LLBBridge`).
pub(crate) async fn channel(address: &Address) -> Result<Channel, Error> {
    let unreachable = |e: &dyn std::fmt::Display| Error::Connect {
        builder: address.to_string(),
        reason: e.to_string(),
    };
    match address {
        Address::Docker { socket } => {
            let socket = socket.clone();
            // The URI is not dialed: every connection is the connector's.
            Endpoint::from_static("http://dockerd.invalid")
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        let stream = upgrade(&socket, "/grpc", &[]).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                }))
                .await
                .map_err(|e| unreachable(&source_chain(&e)))
        }
        Address::Unix { socket } => {
            let socket: PathBuf = socket.clone();
            Endpoint::from_static("http://buildkitd.invalid")
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?))
                    }
                }))
                .await
                .map_err(|e| unreachable(&source_chain(&e)))
        }
        Address::Tcp { host, port, tls } => {
            let scheme = if tls.is_some() { "https" } else { "http" };
            let authority = match host.contains(':') {
                true => format!("[{host}]:{port}"),
                false => format!("{host}:{port}"),
            };
            let mut endpoint = Endpoint::from_shared(format!("{scheme}://{authority}"))
                .map_err(|e| unreachable(&e))?;
            if let Some(files) = tls {
                endpoint = endpoint
                    .tls_config(tls_config(host, files)?)
                    .map_err(|e| unreachable(&source_chain(&e)))?;
            }
            endpoint
                .connect()
                .await
                .map_err(|e| unreachable(&source_chain(&e)))
        }
    }
}

/// The client side of TLS from `--builder-tls-*` files.
fn tls_config(host: &str, files: &TlsFiles) -> Result<ClientTlsConfig, Error> {
    let read = |flag: &str, path: &Path| {
        std::fs::read(path).map_err(|e| Error::Config(format!("{flag} {}: {e}", path.display())))
    };
    let mut config = ClientTlsConfig::new().domain_name(
        files
            .server_name
            .clone()
            .unwrap_or_else(|| host.to_string()),
    );
    match &files.ca {
        Some(ca) => {
            config = config.ca_certificate(Certificate::from_pem(read("--builder-tls-ca", ca)?));
        }
        None => config = config.with_enabled_roots(),
    }
    match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            config = config.identity(Identity::from_pem(
                read("--builder-tls-cert", cert)?,
                read("--builder-tls-key", key)?,
            ));
        }
        (None, None) => {}
        _ => {
            return Err(Error::Config(
                "--builder-tls-cert and --builder-tls-key go together".into(),
            ));
        }
    }
    Ok(config)
}

/// Opens `path` of dockerd's API on `socket` as an HTTP/2 connection:
/// `POST` with `Upgrade: h2c` and `headers`, a `101` back, and the socket
/// is handed over as it is (nothing past the response's headers read).
pub(crate) async fn upgrade(
    socket: &Path,
    path: &str,
    headers: &[(&str, String)],
) -> std::io::Result<UnixStream> {
    let mut stream = UnixStream::connect(socket).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot connect to {}: {e}", socket.display()),
        )
    })?;
    let mut request =
        format!("POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    // Byte by byte up to the blank line: what follows is the peer's
    // HTTP/2 and belongs to the connection.
    let mut head = Vec::with_capacity(256);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 {
            return Err(std::io::Error::other(format!(
                "dockerd's answer to POST {path} has no end of headers"
            )));
        }
        let byte = stream.read_u8().await?;
        head.push(byte);
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    response
        .parse(&head)
        .map_err(|e| std::io::Error::other(format!("dockerd's answer to POST {path}: {e}")))?;
    match response.code {
        Some(101) => Ok(stream),
        Some(code) => Err(std::io::Error::other(format!(
            "dockerd answered POST {path} with {code} {} (not a daemon with BuildKit's API?)",
            response.reason.unwrap_or("")
        ))),
        None => Err(std::io::Error::other(format!(
            "dockerd's answer to POST {path} has no status"
        ))),
    }
}

/// An error with its causes, as one line.
pub(crate) fn source_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
