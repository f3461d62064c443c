//! Uploading one blob (distribution-spec "pushing blobs"): a `HEAD` first,
//! so a blob the repository has is never sent; a cross-repository mount
//! when another repository of the same registry is known to have it; then
//! a monolithic upload (`POST` for a session, one streamed `PUT` with the
//! digest). When that fails the upload goes on in chunks (`PATCH` with
//! `Content-Range`), and after each failure asks the session how much the
//! registry kept (`GET` on the upload URL answers `Range: 0-N`) and
//! resumes from there; a session the registry forgot starts over.

use super::client::{Attempt, Registry, scope};
use super::error::RegistryError;
use super::retry;
use kiln_oci::Digest;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// Bytes per `PATCH` in a chunked upload: large enough that the per-request
/// cost vanishes, small enough that a failure loses little.
const CHUNK: u64 = 32 << 20;

/// Where a blob's bytes come from: anything that can be read again from
/// any offset, so a failed transfer can resume.
#[derive(Clone)]
pub(crate) enum BlobSource {
    /// A file (a stored blob).
    File(PathBuf),
    /// Bytes in memory (configs, small documents).
    Bytes(Arc<Vec<u8>>),
    /// A stored plain layer compressed on the fly: kiln's encoders are
    /// deterministic, so compressing again yields the same bytes, and no
    /// compressed copy is ever written to disk.
    Compressed(PathBuf, kiln_layer::Compression),
}

impl BlobSource {
    fn open_at(&self, offset: u64, len: u64) -> std::io::Result<Box<dyn Read + Send>> {
        match self {
            BlobSource::File(path) => {
                let mut file = std::fs::File::open(path)?;
                file.seek(SeekFrom::Start(offset))?;
                Ok(Box::new(
                    std::io::BufReader::with_capacity(1 << 20, file).take(len),
                ))
            }
            BlobSource::Compressed(path, compression) => {
                let mut stream = compressing(path, *compression)?;
                // The bytes before `offset` were sent already: make and
                // drop them.
                std::io::copy(&mut (&mut stream).take(offset), &mut std::io::sink())?;
                Ok(Box::new(stream.take(len)))
            }
            BlobSource::Bytes(bytes) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                let end = usize::try_from(offset + len)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                Ok(Box::new(std::io::Cursor::new(bytes[start..end].to_vec())))
            }
        }
    }
}

/// The compressed form of the plain tar at `path`, as a stream: a thread
/// compresses into a pipe (1 MiB, so the hand-overs are few) that the
/// caller reads. Dropping the reader stops the thread at its next write.
pub(crate) fn compressing(
    path: &std::path::Path,
    compression: kiln_layer::Compression,
) -> std::io::Result<std::io::PipeReader> {
    let input = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let (reader, writer) = std::io::pipe()?;
    // Best effort: the default 64 KiB pipe works, only more slowly.
    let _ = rustix::pipe::fcntl_setpipe_size(&writer, 1 << 20);
    std::thread::spawn(move || kiln_layer::compress(input, compression, writer));
    Ok(reader)
}

/// How a blob got to the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uploaded {
    /// The repository had it already.
    Existed,
    /// Mounted from another repository of the registry.
    Mounted,
    /// Sent.
    Sent,
}

/// One blob being uploaded.
struct Blob<'a> {
    digest: &'a Digest,
    size: u64,
    source: BlobSource,
}

/// Whether `repository` has the blob `digest`.
pub(crate) fn exists(
    registry: &Registry,
    repository: &str,
    digest: &Digest,
) -> Result<bool, RegistryError> {
    let url = registry.url(&format!("{repository}/blobs/{digest}"));
    let scopes = [scope(repository, "pull,push")];
    let answer = registry.send(&format!("checking blob {digest}"), &scopes, &|http| {
        http.head(&url)
    })?;
    match answer.status().as_u16() {
        200 => Ok(true),
        404 => Ok(false),
        _ => Err(registry.failure(&format!("blob {digest}"), repository, answer)),
    }
}

/// Puts the blob `digest` into `repository`: nothing to do when it is
/// there, a mount when `mount_from` (a repository of the same registry)
/// has it, else an upload of what `bytes` produces — called only then, so
/// a layer is compressed only when its bytes must really travel.
pub(crate) fn upload(
    registry: &Registry,
    repository: &str,
    digest: &Digest,
    mount_from: Option<&str>,
    bytes: &dyn Fn() -> Result<(BlobSource, u64), RegistryError>,
) -> Result<Uploaded, RegistryError> {
    if exists(registry, repository, digest)? {
        return Ok(Uploaded::Existed);
    }
    let what = format!("uploading blob {digest}");
    let mut scopes = vec![scope(repository, "pull,push")];
    if let Some(from) = mount_from {
        scopes.push(scope(from, "pull"));
    }
    let location = match start(registry, repository, &scopes, Some(digest), mount_from)? {
        Started::Mounted => return Ok(Uploaded::Mounted),
        Started::Session(location) => location,
    };
    let (source, size) = bytes()?;
    let blob = &Blob {
        digest,
        size,
        source,
    };
    let mut attempt = 0;
    let failure = match monolithic(registry, &scopes, &location, blob)? {
        Step::Done => return Ok(Uploaded::Sent),
        Step::Failed(message) => message,
        Step::Refused(answer) => {
            return Err(registry.failure(&format!("upload of blob {digest}"), repository, answer));
        }
    };
    attempt += 1;
    registry.give_up_after(&what, attempt, &failure)?;
    std::thread::sleep(retry::delay(attempt, None));
    // The registry may have taken the blob and lost only its answer.
    if exists(registry, repository, digest)? {
        return Ok(Uploaded::Sent);
    }
    chunked(registry, repository, &scopes, blob, attempt)?;
    Ok(Uploaded::Sent)
}

/// Whether an answer to an upload is final: 4xx means the registry judged
/// the request, not the transfer — except 408 and 429 (retried before they
/// get here), 413 (too large in one piece: chunks may fit) and 416 (a
/// range out of step, which asking the session fixes).
fn is_refusal(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 408 | 413 | 416 | 429)
}

/// Streams a blob whose digest is not known yet (a layer being
/// compressed): `POST` for a session, then one `PATCH` whose body is
/// whatever `body` yields, sent as it is produced (chunked transfer
/// coding). Returns the session to close with [`finish`] once the digest
/// is known, or the reason it failed — the caller then uploads the blob
/// the ordinary way.
pub(crate) fn stream(
    registry: &Registry,
    repository: &str,
    body: impl Read + Send + 'static,
) -> Result<Result<String, String>, RegistryError> {
    let scopes = [scope(repository, "pull,push")];
    let Started::Session(location) = start(registry, repository, &scopes, None, None)? else {
        return Ok(Err("the registry mounted a blob it was not asked to".into()));
    };
    // One body, sent once: a second build of the request (after a 401)
    // gets an empty body, and the digest check at `finish` catches it.
    let body = std::sync::Mutex::new(Some(body));
    let attempt = registry.send_once(&scopes, &|http| {
        let reader = body.lock().ok().and_then(|mut b| b.take());
        let body = match reader {
            Some(reader) => reqwest::blocking::Body::new(reader),
            None => reqwest::blocking::Body::from(Vec::new()),
        };
        http.patch(&location)
            .header("Content-Type", "application/octet-stream")
            .body(body)
    })?;
    Ok(match attempt {
        Attempt::Answer(answer) if answer.status().as_u16() == 202 => {
            Ok(location_of(registry, &answer)?)
        }
        Attempt::Answer(answer) => Err(super::client::status_text(answer)),
        Attempt::Transient { message, .. } => Err(message),
    })
}

/// Closes a streamed session with the blob's digest; false when the
/// registry did not accept it.
pub(crate) fn finish(
    registry: &Registry,
    repository: &str,
    location: &str,
    digest: &Digest,
) -> Result<bool, RegistryError> {
    let scopes = [scope(repository, "pull,push")];
    let url = with_digest(location, digest);
    Ok(matches!(
        registry.send_once(&scopes, &|http| http.put(&url).header("Content-Length", "0"))?,
        Attempt::Answer(answer) if answer.status().as_u16() == 201
    ))
}

enum Started {
    Mounted,
    Session(String),
}

/// `POST /v2/<name>/blobs/uploads/` for the blob `digest` (None: not
/// known yet), with `mount` and `from` when `mount_from` is given.
fn start(
    registry: &Registry,
    repository: &str,
    scopes: &[String],
    digest: Option<&Digest>,
    mount_from: Option<&str>,
) -> Result<Started, RegistryError> {
    let what = digest.map_or_else(|| "a streamed blob".to_string(), |d| format!("blob {d}"));
    let mut url = registry.url(&format!("{repository}/blobs/uploads/"));
    if let (Some(digest), Some(from)) = (digest, mount_from) {
        url.push_str(&format!("?mount={digest}&from={from}"));
    }
    let answer = registry.send(&format!("starting the upload of {what}"), scopes, &|http| {
        http.post(&url).header("Content-Length", "0")
    })?;
    match answer.status().as_u16() {
        201 if mount_from.is_some() => Ok(Started::Mounted),
        202 => location_of(registry, &answer).map(Started::Session),
        _ => Err(registry.failure(&format!("upload of {what}"), repository, answer)),
    }
}

fn location_of(
    registry: &Registry,
    answer: &reqwest::blocking::Response,
) -> Result<String, RegistryError> {
    answer
        .headers()
        .get("Location")
        .and_then(|v| v.to_str().ok())
        .map(|l| registry.absolute(l))
        .ok_or_else(|| RegistryError::Invalid {
            what: "upload answer".into(),
            host: registry.host().to_string(),
            message: "no Location header".into(),
        })
}

/// The upload URL with `digest=` added to its query.
fn with_digest(location: &str, digest: &Digest) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={digest}")
}

enum Step {
    Done,
    /// A failure worth going on from.
    Failed(String),
    /// The registry refused the blob (a wrong digest, say): final.
    Refused(reqwest::blocking::Response),
}

/// The whole blob in one `PUT`.
fn monolithic(
    registry: &Registry,
    scopes: &[String],
    location: &str,
    blob: &Blob<'_>,
) -> Result<Step, RegistryError> {
    let url = with_digest(location, blob.digest);
    let source = blob.source.clone();
    let size = blob.size;
    let opened = std::cell::RefCell::new(None);
    let attempt = registry.send_once(scopes, &|http| {
        let body = match source.open_at(0, size) {
            Ok(reader) => reqwest::blocking::Body::sized(reader, size),
            Err(e) => {
                *opened.borrow_mut() = Some(e);
                reqwest::blocking::Body::from(Vec::new())
            }
        };
        http.put(&url)
            .header("Content-Type", "application/octet-stream")
            .body(body)
    })?;
    if let Some(e) = opened.into_inner() {
        return Err(RegistryError::io(
            format!("cannot read blob {}", blob.digest),
            e,
        ));
    }
    match attempt {
        Attempt::Answer(answer) if answer.status().as_u16() == 201 => Ok(Step::Done),
        Attempt::Answer(answer) if is_refusal(answer.status().as_u16()) => {
            Ok(Step::Refused(answer))
        }
        Attempt::Answer(answer) => Ok(Step::Failed(super::client::status_text(answer))),
        Attempt::Transient { message, .. } => Ok(Step::Failed(message)),
    }
}

/// The blob in `PATCH`es, resuming after failures from what the registry
/// says it kept.
fn chunked(
    registry: &Registry,
    repository: &str,
    scopes: &[String],
    blob: &Blob<'_>,
    mut attempt: u32,
) -> Result<(), RegistryError> {
    let what = format!("uploading blob {}", blob.digest);
    let mut session: Option<(String, u64)> = None;
    loop {
        let (location, offset) = match session.take() {
            Some(s) => s,
            None => match start(registry, repository, scopes, Some(blob.digest), None)? {
                Started::Session(location) => (location, 0),
                Started::Mounted => return Ok(()),
            },
        };
        let failure = match send_from(registry, scopes, blob, location.clone(), offset)? {
            Step::Done => return Ok(()),
            Step::Failed(message) => message,
            Step::Refused(answer) => {
                return Err(registry.failure(
                    &format!("upload of blob {}", blob.digest),
                    repository,
                    answer,
                ));
            }
        };
        attempt += 1;
        registry.give_up_after(&what, attempt, &failure)?;
        std::thread::sleep(retry::delay(attempt, None));
        if exists(registry, repository, blob.digest)? {
            return Ok(());
        }
        session = status(registry, scopes, &location)?;
    }
}

/// Sends the blob from `offset` to the end, then closes the session. One
/// reader serves every chunk (a recompressed source is made once, not
/// again for each chunk); a failure ends the call, and the caller asks the
/// session where to go on from.
fn send_from(
    registry: &Registry,
    scopes: &[String],
    blob: &Blob<'_>,
    mut location: String,
    mut offset: u64,
) -> Result<Step, RegistryError> {
    let reader = blob
        .source
        .open_at(offset, blob.size - offset)
        .map_err(|e| RegistryError::io(format!("cannot read blob {}", blob.digest), e))?;
    let reader = Arc::new(std::sync::Mutex::new(reader));
    while offset < blob.size {
        let len = CHUNK.min(blob.size - offset);
        let url = location.clone();
        let chunk = Chunk {
            reader: Arc::clone(&reader),
            left: len,
        };
        let chunk = std::sync::Mutex::new(Some(chunk));
        let attempt = registry.send_once(scopes, &|http| {
            // One body per chunk; a rebuilt request (after a 401) sends an
            // empty one, which the range check below turns into a failure.
            let body = match chunk.lock().ok().and_then(|mut c| c.take()) {
                Some(chunk) => reqwest::blocking::Body::sized(chunk, len),
                None => reqwest::blocking::Body::from(Vec::new()),
            };
            http.patch(&url)
                .header("Content-Type", "application/octet-stream")
                .header("Content-Range", format!("{}-{}", offset, offset + len - 1))
                .body(body)
        })?;
        let answer = match attempt {
            Attempt::Answer(answer) if answer.status().as_u16() == 202 => answer,
            Attempt::Answer(answer) if is_refusal(answer.status().as_u16()) => {
                return Ok(Step::Refused(answer));
            }
            Attempt::Answer(answer) => {
                return Ok(Step::Failed(super::client::status_text(answer)));
            }
            Attempt::Transient { message, .. } => return Ok(Step::Failed(message)),
        };
        location = location_of(registry, &answer)?;
        // distribution's `0-0` can mean nothing or one byte: what was just
        // sent decides. A registry whose count does not reach the end of
        // this chunk is out of step with the reader: start over from its
        // count.
        let now = match kept(&answer) {
            Some(0) | None => offset + len,
            Some(n) => n,
        };
        if now != offset + len {
            return Ok(Step::Failed(format!(
                "the registry holds {now} bytes after a chunk ending at {}",
                offset + len
            )));
        }
        offset = now;
    }
    let url = with_digest(&location, blob.digest);
    Ok(
        match registry.send_once(scopes, &|http| http.put(&url).header("Content-Length", "0"))? {
            Attempt::Answer(answer) if answer.status().as_u16() == 201 => Step::Done,
            Attempt::Answer(answer) if is_refusal(answer.status().as_u16()) => {
                Step::Refused(answer)
            }
            Attempt::Answer(answer) => Step::Failed(super::client::status_text(answer)),
            Attempt::Transient { message, .. } => Step::Failed(message),
        },
    )
}

/// The next `left` bytes of a shared reader, as one request body.
struct Chunk {
    reader: Arc<std::sync::Mutex<Box<dyn Read + Send>>>,
    left: u64,
}

impl Read for Chunk {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let mut reader = self
            .reader
            .lock()
            .map_err(|_| std::io::Error::other("blob reader poisoned"))?;
        let n = reader.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// The upload session's state: where to go on and from which offset, or
/// None when the registry no longer knows it.
fn status(
    registry: &Registry,
    scopes: &[String],
    location: &str,
) -> Result<Option<(String, u64)>, RegistryError> {
    match registry.send_once(scopes, &|http| http.get(location))? {
        Attempt::Answer(answer) if answer.status().as_u16() == 204 => {
            let offset = kept(&answer).unwrap_or(0);
            let next = location_of(registry, &answer).unwrap_or_else(|_| location.to_string());
            Ok(Some((next, offset)))
        }
        _ => Ok(None),
    }
}

/// The offset after the bytes a `Range: 0-N` header says the registry has.
fn kept(answer: &reqwest::blocking::Response) -> Option<u64> {
    let range = answer.headers().get("Range")?.to_str().ok()?;
    let end: u64 = range
        .trim()
        .trim_start_matches("bytes=")
        .split_once('-')?
        .1
        .parse()
        .ok()?;
    // distribution answers `0-0` for an empty session as well as for one
    // byte; taking it as empty costs at worst one byte sent again (and
    // `send_from` reads it in the light of what it just sent).
    Some(if end == 0 { 0 } else { end + 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_join_the_upload_query() {
        let d: Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
            .parse()
            .unwrap();
        assert!(
            with_digest("http://r/v2/a/blobs/uploads/u?_state=x", &d)
                .contains("?_state=x&digest=sha256:")
        );
        assert!(with_digest("http://r/v2/a/blobs/uploads/u", &d).ends_with(
            "/u?digest=sha256:0000000000000000000000000000000000000000000000000000000000000000"
        ));
    }

    #[test]
    fn a_recompressed_source_reads_the_same_bytes_from_any_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.tar");
        let plain: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        std::fs::write(&path, &plain).unwrap();
        let compression = kiln_layer::Compression::Gzip { level: 6 };
        let (whole, _, size) = kiln_layer::compress(&plain[..], compression, Vec::new()).unwrap();
        assert_eq!(whole.len() as u64, size);
        let source = BlobSource::Compressed(path, compression);
        for (offset, len) in [(0, size), (1000, 5000), (size - 10, 10)] {
            let mut part = Vec::new();
            source
                .open_at(offset, len)
                .unwrap()
                .read_to_end(&mut part)
                .unwrap();
            assert_eq!(
                part,
                whole[offset as usize..(offset + len) as usize],
                "at {offset}"
            );
        }
    }

    #[test]
    fn refusals_are_final_but_size_and_range_trouble_is_not() {
        for status in [400, 401, 403, 404, 405] {
            assert!(is_refusal(status), "{status}");
        }
        for status in [201, 202, 408, 413, 416, 429, 500, 503] {
            assert!(!is_refusal(status), "{status}");
        }
    }

    #[test]
    fn chunks_share_one_reader_in_order() {
        let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(b"abcdefghij".to_vec()));
        let shared = Arc::new(std::sync::Mutex::new(reader));
        let mut parts = Vec::new();
        for left in [3, 3, 4] {
            let mut part = String::new();
            Chunk {
                reader: Arc::clone(&shared),
                left,
            }
            .read_to_string(&mut part)
            .unwrap();
            parts.push(part);
        }
        assert_eq!(parts, ["abc", "def", "ghij"]);
    }

    #[test]
    fn sources_read_from_any_offset() {
        let source = BlobSource::Bytes(Arc::new(b"0123456789".to_vec()));
        let mut out = String::new();
        source
            .open_at(3, 4)
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "3456");
    }
}
