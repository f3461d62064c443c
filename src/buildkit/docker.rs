//! The two calls of dockerd's Engine API a build through dockerd needs
//! besides BuildKit's: `GET /images/{name}/get` (the `docker save` stream
//! of the image the `moby` exporter stored, which kiln loads into its own
//! store) and `DELETE /images/{name}` (the temporary name removed again,
//! the image's layers left to dockerd's own pruning, as buildx leaves a
//! `--load`ed image).

use http_body_util::BodyExt as _;
use std::path::Path;
use tokio::io::AsyncWriteExt as _;

/// One request on a fresh connection to dockerd's socket.
async fn request(
    socket: &Path,
    method: hyper::Method,
    path: &str,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    let stream = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", socket.display()))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("dockerd {}: {e}", socket.display()))?;
    tokio::spawn(connection);
    let request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("Host", "docker")
        .body(http_body_util::Empty::<hyper::body::Bytes>::new())
        .map_err(|e| e.to_string())?;
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("dockerd {path}: {e}"))
}

/// Fails with dockerd's message unless the answer is a success.
async fn check(
    response: hyper::Response<hyper::body::Incoming>,
    what: &str,
) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    Err(format!("dockerd: {what}: {status}: {message}"))
}

/// Writes the `docker save` archive of image `name` to `dest`.
pub async fn save(socket: &Path, name: &str, dest: &Path) -> Result<(), String> {
    let path = format!("/images/{}/get", percent(name));
    let response = check(request(socket, hyper::Method::GET, &path).await?, "save").await?;
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("dockerd: save {name}: {e}"))?;
        if let Some(data) = frame.data_ref() {
            file.write_all(data)
                .await
                .map_err(|e| format!("{}: {e}", dest.display()))?;
        }
    }
    file.flush()
        .await
        .map_err(|e| format!("{}: {e}", dest.display()))
}

/// Removes the name `name` (the image stays while another name or a
/// container holds it).
pub async fn untag(socket: &Path, name: &str) -> Result<(), String> {
    let path = format!("/images/{}?noprune=false", percent(name));
    check(
        request(socket, hyper::Method::DELETE, &path).await?,
        "remove",
    )
    .await?;
    Ok(())
}

/// A name as one path segment.
fn percent(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b'@' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
