//! The store's errors: each names the path or digest it is about.

use kiln_oci::Digest;
use std::path::PathBuf;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What kiln was doing (`cannot create`, `cannot read`, ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Content did not hash to the digest it was stored or asked for under.
    #[error("digest mismatch: expected {expected}, got {actual} ({size} bytes)")]
    DigestMismatch {
        /// The digest that was promised.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
        /// How many bytes arrived.
        size: u64,
    },
    /// Content had a different size than promised.
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// The blob.
        digest: Digest,
        /// The promised size.
        expected: u64,
        /// The size that arrived.
        actual: u64,
    },
    /// A layer could not be unpacked into a snapshot.
    #[error("cannot unpack layer {digest}: {message}")]
    Unpack {
        /// The layer blob.
        digest: Digest,
        /// Why.
        message: String,
    },
    /// A tag name that carries a digest.
    #[error("cannot use a digest reference as a tag: {0}")]
    DigestTag(String),
    /// An image index with no manifest for this machine.
    #[error("image index {digest} has no manifest for platform {platform}")]
    NoPlatform {
        /// The index.
        digest: Digest,
        /// The platform looked for.
        platform: String,
    },
    /// No image matches what the user asked for.
    #[error("no such image: {0}")]
    ImageNotFound(String),
    /// An ID prefix matches more than one image.
    #[error("image ID prefix {0} matches more than one image; give more digits")]
    AmbiguousImage(String),
    /// A blob the caller asked for is not in the store.
    #[error("blob {0} not found in the store")]
    BlobNotFound(Digest),
    /// A remote blob (`Store::mark_remote`) could not be fetched.
    #[error("blob {digest} is not in the store and could not be fetched: {message}")]
    BlobFetch {
        /// The blob.
        digest: Digest,
        /// Why.
        message: String,
    },
    /// A document in the store is not what its format requires.
    #[error("corrupt {what} at {path}: {message}")]
    Format {
        /// Which document.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Attaches an action and path to an I/O error.
pub(crate) trait IoContext<T> {
    fn at(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T, StoreError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, action: &'static str, path: impl Into<PathBuf>) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Io {
            action,
            path: path.into(),
            source,
        })
    }
}
