//! `ADD URL`: the HTTP source. The URL is fetched on every build (its
//! vertex names only the URL; BuildKit also asks the server each time)
//! into a one-file layer, which the ADD then copies like a file from a
//! stage, so `--chown`, `--chmod` and the destination rules are the copy's.
//!
//! With `ADD --checksum` the content is known in advance: the download must
//! have that digest, and a layer fetched earlier with the same name and
//! checksum is reused without asking the server (BuildKit keys the source
//! by its checksum the same way).
//!
//! As in BuildKit's HTTP source (`source/http`): the file is owned by root
//! with mode 0600, named as the frontend chose (the URL's last path
//! element), never unpacked, and its mtime is the server's
//! `Last-Modified` when it sends one. Redirects are followed; any answer
//! other than a success is an error naming the URL and the status.

use super::error::WorkerError;
use super::layers::{Output, commit};
use super::vertex::Worker;
use kiln_oci::Digest;
use kiln_solver::{HttpSource, Job};
use sha2::Digest as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::Arc;

impl Worker {
    /// Fetches `source` into a new layer holding just its file.
    pub(crate) fn http(
        &self,
        job: &Job<'_, Output>,
        source: &HttpSource,
    ) -> Result<Output, WorkerError> {
        let fetch_error = WorkerError::Fetch;
        if source.filename.is_empty()
            || source.filename.contains('/')
            || source.filename == "."
            || source.filename == ".."
        {
            return Err(fetch_error(format!(
                "cannot name the fetched file {:?}",
                source.filename
            )));
        }
        let checksum = match &source.checksum {
            Some(text) => Some(
                text.parse::<Digest>()
                    .map_err(|e| WorkerError::Fetch(format!("invalid checksum: {e}")))?,
            ),
            None => None,
        };
        let fetch_layer = || {
            let upper = self.scratch_path()?;
            let fetched = fetch(
                &source.url,
                &upper.join(&source.filename),
                checksum.as_ref(),
            )
            .map_err(fetch_error);
            if let Err(e) = fetched {
                let _ = std::fs::remove_dir_all(&upper);
                return Err(e);
            }
            commit(&self.store, &upper, &[])
        };
        match &checksum {
            Some(checksum) => {
                let key = Digest::of(
                    format!("kiln-http-source-v1\0{}\0{checksum}", source.filename).as_bytes(),
                );
                self.cached_source(job, &key, fetch_layer)
            }
            None => Ok(Output::Layers(Arc::new(vec![fetch_layer()?]))),
        }
    }
}

/// Hashes what passes through with the algorithm of an expected digest.
enum Checker {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Checker {
    fn new(expected: &Digest) -> Checker {
        match expected.algorithm() {
            "sha512" => Checker::Sha512(sha2::Sha512::new()),
            _ => Checker::Sha256(sha2::Sha256::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Checker::Sha256(h) => h.update(bytes),
            Checker::Sha512(h) => h.update(bytes),
        }
    }

    /// The digest of everything seen, in the expected digest's form.
    fn finish(self) -> String {
        match self {
            Checker::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            Checker::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        }
    }
}

/// A file that hashes what is written to it.
struct CheckedFile<'a> {
    file: &'a mut std::fs::File,
    checker: Option<Checker>,
}

impl std::io::Write for CheckedFile<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        if let Some(checker) = &mut self.checker {
            checker.update(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// GETs `url` into a new file at `path` (mode 0600), checking the content
/// against `checksum` when there is one; the error says what failed,
/// without the URL (the caller adds it).
fn fetch(url: &str, path: &Path, checksum: Option<&Digest>) -> Result<(), String> {
    crate::registry::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .timeout(None)
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| crate::registry::describe_http_error(&e))?;
    let mut response = client
        .get(url)
        .send()
        .map_err(|e| crate::registry::describe_http_error(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "the server answered {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_string());
    }
    let modified = response
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut checked = CheckedFile {
        file: &mut file,
        checker: checksum.map(Checker::new),
    };
    response.copy_to(&mut checked).map_err(|e| {
        format!(
            "cannot read the answer: {}",
            crate::registry::describe_http_error(&e)
        )
    })?;
    if let (Some(expected), Some(checker)) = (checksum, checked.checker.take()) {
        let actual = checker.finish();
        if actual != expected.as_str() {
            return Err(format!(
                "checksum mismatch: expected {expected}, the content is {actual}"
            ));
        }
    }
    file.flush()
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    // Exactly 0600 whatever the umask.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
    if let Some(modified) = modified {
        let times = std::fs::FileTimes::new()
            .set_accessed(modified)
            .set_modified(modified);
        file.set_times(times)
            .map_err(|e| format!("cannot set the times of {}: {e}", path.display()))?;
    }
    Ok(())
}
