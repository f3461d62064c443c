//! Blobs the store knows but does not hold yet: a layer a registry has,
//! filed under its descriptor (a record of an imported `--cache-from`
//! cache whose layers no step had to unpack). Reading such a blob through
//! [`crate::BlobStore::open`] fetches it first through the store's
//! [`Fetch`], which the kiln binary installs (it has the registry
//! client; this crate has none). Until something reads it, nothing is
//! downloaded: an image built from such records can be pushed to the
//! registry that has them without its layers ever leaving it (issue 23,
//! point 4; BuildKit's lazy blobs behave alike).
//!
//! The mark is a memo (`cache-v1/memo/remote-blobs/<hex>`: the
//! descriptor as JSON). A lost mark only makes the blob unavailable,
//! which every reader treats as a missing blob (a cache miss, an error
//! naming it).

use crate::error::StoreError;
use crate::layout::Store;
use kiln_oci::{Descriptor, Digest};
use std::path::Path;

/// The memo kind of a remote blob's descriptor.
pub const REMOTE_MEMO: &str = "remote-blobs";

/// Brings a remote blob into a store.
pub trait Fetch: Send + Sync {
    /// Downloads `descriptor` into the store at `root`, checked against
    /// its digest and size; why it could not.
    fn fetch(&self, root: &Path, descriptor: &Descriptor) -> Result<(), String>;

    /// Downloads layer `descriptor` as [`Fetch::fetch`] does and, while it
    /// arrives, unpacks it as snapshot `chain_id` (its diff ID checked).
    fn fetch_unpacking(
        &self,
        root: &Path,
        descriptor: &Descriptor,
        chain_id: &Digest,
        diff_id: &Digest,
    ) -> Result<(), String>;
}

/// The descriptor blob `digest` was marked remote with in the store at
/// `root`.
pub(crate) fn descriptor(root: &Path, digest: &Digest) -> Option<Descriptor> {
    let path = root
        .join(crate::memo::MEMO_DIR)
        .join(REMOTE_MEMO)
        .join(digest.encoded());
    let descriptor: Descriptor = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    (&descriptor.digest == digest).then_some(descriptor)
}

impl Store {
    /// Files `descriptor` as a blob a registry has and this store may
    /// fetch when it is read.
    pub fn mark_remote(&self, descriptor: &Descriptor) -> Result<(), StoreError> {
        let json = serde_json::to_string(descriptor).map_err(|e| StoreError::Format {
            what: "remote blob descriptor",
            path: self.root().to_path_buf(),
            message: e.to_string(),
        })?;
        self.put_memo(REMOTE_MEMO, &descriptor.digest, &json)
    }

    /// The descriptor of blob `digest` when it is remote (not held, but
    /// fetchable).
    pub fn remote(&self, digest: &Digest) -> Option<Descriptor> {
        match self.blobs().contains(digest) {
            true => None,
            false => descriptor(self.root(), digest),
        }
    }

    /// Whether blob `digest` is held or can be fetched.
    pub fn available(&self, digest: &Digest) -> bool {
        self.blobs().contains(digest) || descriptor(self.root(), digest).is_some()
    }
}
