//! Fetching blobs into the store: streamed to a temporary file, hashed on
//! the way, named by digest only once the digest and size check out
//! (`BlobWriter::commit`). A transfer cut short resumes with a `Range`
//! request (RFC 9110 §14) from the bytes already written; from a registry
//! that ignores the range (answers 200) the bytes already written are
//! read again and dropped, so whoever watches the bytes go by (a layer
//! unpacking as it downloads) sees the blob once, in order.

use super::client::{Registry, scope};
use super::error::RegistryError;
use super::retry;
use kiln_cache::Store;
use kiln_oci::Descriptor;
use std::io::{Read, Write};

/// Longest document (manifest, index, config read whole) accepted.
pub(crate) const MAX_DOCUMENT: u64 = 32 << 20;

/// Stores the blob `descriptor` names, from `repository`, unless the store
/// has it already. Calls `watch` with the blob's bytes as they arrive, each
/// once and in order (not yet verified: the digest is checked at the end).
/// Returns whether it downloaded the blob (false: the store had it).
pub(crate) fn fetch_blob(
    registry: &Registry,
    store: &Store,
    repository: &str,
    descriptor: &Descriptor,
    watch: &dyn Fn(&[u8]),
) -> Result<bool, RegistryError> {
    if store.blobs().contains(&descriptor.digest) {
        return Ok(false);
    }
    let what = format!("downloading blob {}", descriptor.digest);
    let scopes = [scope(repository, "pull")];
    let url = registry.url(&format!("{repository}/blobs/{}", descriptor.digest));
    let mut writer = store.blobs().writer()?;
    let mut attempt = 0;
    loop {
        let offset = writer.len();
        let answer = registry.send(&what, &scopes, &|http| {
            let request = http.get(&url);
            if offset > 0 {
                request.header("Range", format!("bytes={offset}-"))
            } else {
                request
            }
        })?;
        let status = answer.status().as_u16();
        // A 200 ignored the range: the body is the whole blob again, and
        // what was written already is skipped.
        let skip = if status == 200 { offset } else { 0 };
        if status != 200 && status != 206 {
            return Err(registry.failure(
                &format!("blob {}", descriptor.digest),
                repository,
                answer,
            ));
        }
        match copy(answer, &mut writer, descriptor.size, skip, watch) {
            Ok(()) => break,
            Err(CopyError::TooLong) => {
                return Err(RegistryError::Invalid {
                    what: format!("blob {}", descriptor.digest),
                    host: registry.host().to_string(),
                    message: format!("longer than its {} bytes", descriptor.size),
                });
            }
            Err(CopyError::Store(e)) => {
                return Err(RegistryError::io(
                    format!("cannot store blob {}", descriptor.digest),
                    e,
                ));
            }
            Err(CopyError::Network(message)) => {
                attempt += 1;
                registry.give_up_after(&what, attempt, &message)?;
                std::thread::sleep(retry::delay(attempt, None));
            }
        }
    }
    writer
        .commit(Some(&descriptor.digest), Some(descriptor.size))
        .map_err(|e| match e {
            kiln_cache::StoreError::DigestMismatch {
                expected, actual, ..
            } => RegistryError::DigestMismatch {
                what: format!("blob {expected}"),
                host: registry.host().to_string(),
                expected,
                actual,
            },
            other => RegistryError::Store(other),
        })?;
    Ok(true)
}

enum CopyError {
    /// The connection failed mid-body: worth resuming.
    Network(String),
    /// More bytes than the descriptor promised.
    TooLong,
    /// Writing the store failed.
    Store(std::io::Error),
}

/// Appends `body` to `writer`, after dropping its first `skip` bytes.
fn copy(
    mut body: reqwest::blocking::Response,
    writer: &mut kiln_cache::BlobWriter,
    size: u64,
    mut skip: u64,
    watch: &dyn Fn(&[u8]),
) -> Result<(), CopyError> {
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = match body.read(&mut buffer) {
            Ok(0) => return writer.flush().map_err(CopyError::Store),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Network(retry::describe(&e))),
        };
        let dropped = n.min(usize::try_from(skip).unwrap_or(usize::MAX));
        skip -= dropped as u64;
        let bytes = &buffer[dropped..n];
        if writer.len() + bytes.len() as u64 > size {
            return Err(CopyError::TooLong);
        }
        writer.write_all(bytes).map_err(CopyError::Store)?;
        watch(bytes);
    }
}

/// A document fetched whole.
pub(crate) struct Document {
    /// Its bytes, exactly as served (their sha256 is its digest).
    pub bytes: Vec<u8>,
    /// The `Content-Type` of the answer, without parameters.
    pub content_type: Option<String>,
}

/// Fetches a small document (manifest, index) whole, up to
/// [`MAX_DOCUMENT`] bytes; an answer cut short is fetched again.
pub(crate) fn fetch_document(
    registry: &Registry,
    what: &str,
    repository: &str,
    url: &str,
    accept: &str,
) -> Result<Document, RegistryError> {
    let scopes = [scope(repository, "pull")];
    let mut attempt = 0;
    loop {
        let answer = registry.send(&format!("fetching {what}"), &scopes, &|http| {
            http.get(url).header("Accept", accept)
        })?;
        if !answer.status().is_success() {
            return Err(registry.failure(what, repository, answer));
        }
        let content_type = answer
            .headers()
            .get("Content-Type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let mut bytes = Vec::new();
        match answer.take(MAX_DOCUMENT + 1).read_to_end(&mut bytes) {
            Ok(_) if bytes.len() as u64 > MAX_DOCUMENT => {
                return Err(RegistryError::Invalid {
                    what: what.to_string(),
                    host: registry.host().to_string(),
                    message: format!("larger than {MAX_DOCUMENT} bytes"),
                });
            }
            Ok(_) => {
                return Ok(Document {
                    bytes,
                    content_type,
                });
            }
            Err(e) => {
                attempt += 1;
                registry.give_up_after(
                    &format!("fetching {what}"),
                    attempt,
                    &retry::describe(&e),
                )?;
                std::thread::sleep(retry::delay(attempt, None));
            }
        }
    }
}
