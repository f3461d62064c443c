//! What can go wrong talking to a registry. Every message names the
//! registry (and the repository, blob or manifest where there is one) and
//! never carries a credential: requests are only ever described by method
//! and URL, and URLs hold no secrets (tokens travel in headers).

use kiln_oci::Digest;

/// A registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry cannot be reached at all.
    #[error("cannot reach registry {host}: {message}")]
    Unreachable {
        /// `host[:port]`.
        host: String,
        /// The transport's reason, with its causes.
        message: String,
    },
    /// The server's certificate did not verify.
    #[error(
        "cannot verify the TLS certificate of registry {host}: {message} (put the registry's CA in {certs_dir}/{host}/ca.crt, or use --tls-verify=false)"
    )]
    Certificate {
        /// `host[:port]`.
        host: String,
        /// Where per-registry CAs are looked up.
        certs_dir: String,
        /// rustls's reason.
        message: String,
    },
    /// A transfer kept failing after every retry.
    #[error("{what} at registry {host} failed after {attempts} attempts: {message}")]
    GaveUp {
        /// What was being done (`uploading blob sha256:…`).
        what: String,
        /// `host[:port]`.
        host: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        message: String,
    },
    /// The registry wants credentials and has none or refused them.
    #[error("authentication required by registry {host}{detail}")]
    Unauthorized {
        /// `host[:port]`.
        host: String,
        /// What was tried (`: the username or password was refused`).
        detail: String,
    },
    /// The credentials were accepted but do not grant this access.
    #[error("registry {host} denied access to {repository}: {message}")]
    Denied {
        /// `host[:port]`.
        host: String,
        /// The repository.
        repository: String,
        /// The registry's message.
        message: String,
    },
    /// A manifest or blob the registry does not have.
    #[error("{what} not found in registry {host}: {message}")]
    NotFound {
        /// What was looked for (`manifest busybox:latest`).
        what: String,
        /// `host[:port]`.
        host: String,
        /// The registry's message.
        message: String,
    },
    /// The registry answered with an unexpected status.
    #[error("{what} at registry {host}: unexpected answer {status}: {message}")]
    Status {
        /// What was being done.
        what: String,
        /// `host[:port]`.
        host: String,
        /// The HTTP status.
        status: u16,
        /// The registry's message (its error JSON, condensed).
        message: String,
    },
    /// Content did not match the digest it was fetched by.
    #[error(
        "{what} from registry {host} does not match its digest: expected {expected}, got {actual}"
    )]
    DigestMismatch {
        /// What was fetched.
        what: String,
        /// `host[:port]`.
        host: String,
        /// The digest asked for.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// A manifest, index or token answer that does not parse or is not
    /// what was asked for.
    #[error("invalid {what} from registry {host}: {message}")]
    Invalid {
        /// What it was (`manifest`, `token response`).
        what: String,
        /// `host[:port]`.
        host: String,
        /// Why.
        message: String,
    },
    /// No manifest in the index is for the requested platform.
    #[error("{reference} has no image for platform {platform} (it has: {available})")]
    NoPlatform {
        /// The image reference.
        reference: String,
        /// The platform asked for.
        platform: String,
        /// The platforms listed.
        available: String,
    },
    /// Credentials could not be read or stored.
    #[error("credentials for {host}: {message}")]
    Credentials {
        /// The registry.
        host: String,
        /// Why.
        message: String,
    },
    /// The per-registry certificate directory is unusable.
    #[error("cannot use certificates in {path}: {message}")]
    Certs {
        /// The file or directory.
        path: String,
        /// Why.
        message: String,
    },
    /// A local file or the store failed.
    #[error(transparent)]
    Store(#[from] kiln_cache::StoreError),
    /// Local I/O (reading a blob to upload, say).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        source: std::io::Error,
    },
}

impl RegistryError {
    /// An I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> RegistryError {
        RegistryError::Io {
            context: context.into(),
            source,
        }
    }
}
