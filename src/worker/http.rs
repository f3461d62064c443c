//! `ADD URL`: the HTTP source. The URL is fetched on every build (its
//! vertex names only the URL; BuildKit also asks the server each time)
//! into a one-file layer, which the ADD then copies like a file from a
//! stage, so `--chown`, `--chmod` and the destination rules are the copy's.
//!
//! As in BuildKit's HTTP source (`source/http`): the file is owned by root
//! with mode 0600, named as the frontend chose (the URL's last path
//! element), never unpacked, and its mtime is the server's
//! `Last-Modified` when it sends one. Redirects are followed; any answer
//! other than a success is an error naming the URL and the status.

use super::layers::{Output, commit};
use super::{Worker, WorkerError};
use kiln_solver::HttpSource;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::Arc;

impl Worker {
    /// Fetches `source` into a new layer holding just its file.
    pub(crate) fn http(&self, source: &HttpSource) -> Result<Output, WorkerError> {
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
        let upper = self.scratch_path()?;
        let fetched = fetch(&source.url, &upper.join(&source.filename)).map_err(fetch_error);
        if let Err(e) = fetched {
            let _ = std::fs::remove_dir_all(&upper);
            return Err(e);
        }
        let layer = commit(&self.store, &upper, &[])?;
        Ok(Output::Layers(Arc::new(vec![layer])))
    }
}

/// GETs `url` into a new file at `path` (mode 0600); the error says what
/// failed, without the URL (the caller adds it).
fn fetch(url: &str, path: &Path) -> Result<(), String> {
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
    response.copy_to(&mut file).map_err(|e| {
        format!(
            "cannot read the answer: {}",
            crate::registry::describe_http_error(&e)
        )
    })?;
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
