//! Serving a session on a connection to the builder: dockerd's
//! `/session` endpoint (hijacked into HTTP/2, headers name the session
//! and its methods), or a buildkitd's `Control.Session` stream whose
//! `BytesMessage`s carry the bytes of the same HTTP/2 connection (BuildKit
//! `session/grpchijack`; the headers go as lower-case gRPC metadata). In
//! both the builder is the HTTP/2 client and kiln the server.

use crate::Error;
use crate::address::Address;
use crate::session::Session;
use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt as _;
use tonic::transport::Channel;
use tonic::transport::server::Connected;

/// A connection the session is served on.
struct Conn<T>(T);

impl<T> Connected for Conn<T> {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

impl<T: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Conn<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Conn<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Serves `session` on a new connection to the builder; the task runs
/// until the builder closes it or the task is aborted.
pub(crate) async fn attach(
    address: &Address,
    channel: &Channel,
    session: Session,
    exported: Arc<Mutex<BTreeMap<String, String>>>,
) -> Result<JoinHandle<()>, Error> {
    let services = session.services(exported);
    let headers = session.headers(&services.methods);
    let failed = |reason: String| Error::Connect {
        builder: address.to_string(),
        reason,
    };
    match address {
        Address::Docker { socket } => {
            let stream = crate::dial::upgrade(socket, "/session", &headers)
                .await
                .map_err(|e| failed(format!("cannot open a session: {e}")))?;
            Ok(tokio::spawn(serve(services.router, Conn(stream))))
        }
        Address::Unix { .. } | Address::Tcp { .. } => {
            let (ours, theirs) = tokio::io::duplex(256 * 1024);
            let (mut read_half, mut write_half) = tokio::io::split(theirs);
            let (tx, rx) = tokio::sync::mpsc::channel::<BytesMessage>(16);
            let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
            for (name, value) in &headers {
                let key = tonic::metadata::MetadataKey::from_bytes(name.to_lowercase().as_bytes())
                    .map_err(|e| failed(e.to_string()))?;
                let value = value
                    .parse()
                    .map_err(|_| failed(format!("header {name}")))?;
                request.metadata_mut().append(key, value);
            }
            let mut control = ControlClient::new(channel.clone());
            let mut inbound = control
                .session(request)
                .await
                .map_err(|e| failed(format!("cannot open a session: {}", e.message())))?
                .into_inner();
            let server = tokio::spawn(serve(services.router, Conn(ours)));
            // Our bytes out as messages…
            let outgoing = tokio::spawn(async move {
                let mut buffer = vec![0u8; 32 * 1024];
                loop {
                    match read_half.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let message = BytesMessage {
                                data: buffer[..n].to_vec(),
                            };
                            if tx.send(message).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            // …and theirs in.
            Ok(tokio::spawn(async move {
                while let Some(Ok(message)) = inbound.next().await {
                    if write_half.write_all(&message.data).await.is_err() {
                        break;
                    }
                }
                let _ = write_half.shutdown().await;
                outgoing.abort();
                server.abort();
            }))
        }
    }
}

/// Serves the session's services on one connection.
async fn serve<T>(router: tonic::service::Routes, conn: Conn<T>)
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let incoming = tokio_stream::once(Ok::<_, std::io::Error>(conn));
    // A large connection window: h2 lets a peer's small DATA frames (the
    // builder's file requests, one per file) wait unread up to half of it
    // before it drops the peer, and a loaded machine may read them late.
    if let Err(e) = tonic::transport::Server::builder()
        .initial_connection_window_size(Some(64 << 20))
        .initial_stream_window_size(Some(16 << 20))
        .add_routes(router)
        .serve_with_incoming(incoming)
        .await
    {
        tracing::debug!(error = %e, "the session ended");
    }
}
