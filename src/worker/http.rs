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
        if source.filename.is_empty()
            || source.filename.contains('/')
            || source.filename == "."
            || source.filename == ".."
        {
            return Err(FetchError::Filename(source.filename.clone()).into());
        }
        let checksum = source.checksum.clone();
        let fetch_layer = || {
            let upper = self.scratch_path()?;
            let fetched = fetch(
                &source.url,
                &upper.join(&source.filename),
                checksum.as_ref(),
            )
            .map_err(WorkerError::from);
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

/// Why `ADD URL` could not fetch (the step is named by the URL).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The URL gives no usable file name.
    #[error("cannot name the fetched file {0:?}")]
    Filename(String),
    /// The request failed.
    #[error("{}", crate::registry::describe_http_error(.0))]
    Request(#[source] reqwest::Error),
    /// The server answered, but not with the file.
    #[error("the server answered {}", status_text(*.0))]
    Status(reqwest::StatusCode),
    /// The answer broke off.
    #[error("cannot read the answer: {}", crate::registry::describe_http_error(.0))]
    Body(#[source] reqwest::Error),
    /// `--checksum` did not match the content.
    #[error("checksum mismatch: expected {expected}, the content is {actual}")]
    Checksum {
        /// What `--checksum` said.
        expected: Digest,
        /// The content's digest, in the same algorithm.
        actual: String,
    },
    /// The fetched file could not be written.
    #[error("cannot {action} {}: {source}", path.display())]
    File {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

fn status_text(status: reqwest::StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

/// GETs `url` into a new file at `path` (mode 0600), checking the content
/// against `checksum` when there is one; the error says what failed,
/// without the URL (the caller adds it).
fn fetch(url: &str, path: &Path, checksum: Option<&Digest>) -> Result<(), FetchError> {
    let file_error = |action| {
        move |source| FetchError::File {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    crate::registry::install_crypto_provider();
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
        .timeout(None)
        .connect_timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(FetchError::Request)?;
    let mut response = client.get(url).send().map_err(FetchError::Request)?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status(status));
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
        .map_err(file_error("create"))?;
    let mut checked = CheckedFile {
        file: &mut file,
        checker: checksum.map(Checker::new),
    };
    response.copy_to(&mut checked).map_err(FetchError::Body)?;
    if let (Some(expected), Some(checker)) = (checksum, checked.checker.take()) {
        let actual = checker.finish();
        if actual != expected.as_str() {
            return Err(FetchError::Checksum {
                expected: expected.clone(),
                actual,
            });
        }
    }
    file.flush().map_err(file_error("write"))?;
    // Exactly 0600 whatever the umask.
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(file_error("set the mode of"))?;
    if let Some(modified) = modified {
        let times = std::fs::FileTimes::new()
            .set_accessed(modified)
            .set_modified(modified);
        file.set_times(times)
            .map_err(file_error("set the times of"))?;
    }
    Ok(())
}
