//! Per-registry certificates, laid out as docker reads them
//! (`/etc/docker/certs.d/<host[:port]>/`): every `*.crt` is a CA trusted
//! for that registry on top of the system roots; a `NAME.cert` with its
//! `NAME.key` is a client certificate presented to it.

use super::error::RegistryError;
use std::path::Path;

/// What a registry's certificate directory holds.
#[derive(Default)]
pub(crate) struct HostCerts {
    /// Extra trusted CAs.
    pub roots: Vec<reqwest::Certificate>,
    /// The client certificate and key, if there is a pair.
    pub identity: Option<reqwest::Identity>,
}

/// Reads `<certs_d>/<host>/`; a missing directory means no extra
/// certificates. A `.cert` without its `.key` (or the reverse) is an
/// error, as it is for docker: silently connecting without the client
/// certificate would only fail later and less clearly.
pub(crate) fn load(certs_d: &Path, host: &str) -> Result<HostCerts, RegistryError> {
    let dir = certs_d.join(host);
    let mut certs = HostCerts::default();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(certs),
        Err(e) => return Err(certs_error(&dir, e.to_string())),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in &names {
        let path = dir.join(name);
        if name.ends_with(".crt") {
            let pem = read(&path)?;
            let found = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| certs_error(&path, format!("not a PEM certificate: {e}")))?;
            if found.is_empty() {
                return Err(certs_error(&path, "holds no PEM certificate".into()));
            }
            certs.roots.extend(found);
        } else if let Some(stem) = name.strip_suffix(".cert") {
            let key = format!("{stem}.key");
            if !names.contains(&key) {
                return Err(certs_error(
                    &path,
                    format!("client certificate without {key}"),
                ));
            }
            let mut pem = read(&path)?;
            pem.push(b'\n');
            pem.extend(read(&dir.join(&key))?);
            certs.identity =
                Some(reqwest::Identity::from_pem(&pem).map_err(|e| {
                    certs_error(&path, format!("unusable client certificate: {e}"))
                })?);
        } else if let Some(stem) = name.strip_suffix(".key")
            && !names.contains(&format!("{stem}.cert"))
        {
            return Err(certs_error(
                &path,
                format!("client key without {stem}.cert"),
            ));
        }
    }
    Ok(certs)
}

fn read(path: &Path) -> Result<Vec<u8>, RegistryError> {
    std::fs::read(path).map_err(|e| certs_error(path, e.to_string()))
}

fn certs_error(path: &Path, message: String) -> RegistryError {
    RegistryError::Certs {
        path: path.display().to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_means_no_extra_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let certs = load(dir.path(), "reg:5000").unwrap();
        assert!(certs.roots.is_empty() && certs.identity.is_none());
    }

    #[test]
    fn a_client_key_without_its_certificate_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("reg")).unwrap();
        std::fs::write(dir.path().join("reg/client.key"), "x").unwrap();
        let error = load(dir.path(), "reg").err().unwrap().to_string();
        assert!(error.contains("client key without client.cert"), "{error}");
    }

    #[test]
    fn a_garbage_ca_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("reg")).unwrap();
        std::fs::write(dir.path().join("reg/ca.crt"), "not pem").unwrap();
        let error = load(dir.path(), "reg").err().unwrap().to_string();
        assert!(error.contains("ca.crt"), "{error}");
    }
}
