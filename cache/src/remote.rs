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
//! The mark is a file of its own, `remote-v1/<hex>.json`: the descriptor
//! and the registry repositories that hold the blob. It is not a memo,
//! which `kiln prune --all` clears with the build cache: an image pulled
//! lazily needs its marks as long as it is tagged. A lost mark only makes
//! the blob unavailable, which every reader treats as a missing blob (a
//! cache miss, an error naming it).

use crate::error::{IoContext as _, StoreError};
use crate::layout::Store;
use kiln_oci::{Descriptor, Digest};
use std::path::Path;

/// Where the marks live, below the store root.
pub const REMOTE_DIR: &str = "remote-v1";

/// A remote blob's mark.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Mark {
    descriptor: Descriptor,
    /// `REGISTRY/REPOSITORY` names that hold it, latest last.
    sources: Vec<String>,
}

fn mark_path(root: &Path, digest: &Digest) -> std::path::PathBuf {
    root.join(REMOTE_DIR)
        .join(format!("{}.json", digest.encoded()))
}

fn read_mark(root: &Path, digest: &Digest) -> Option<Mark> {
    let mark: Mark = serde_json::from_slice(&std::fs::read(mark_path(root, digest)).ok()?).ok()?;
    (&mark.descriptor.digest == digest).then_some(mark)
}

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
    read_mark(root, digest).map(|m| m.descriptor)
}

impl Store {
    /// Files `descriptor` as a blob that `source` (`REGISTRY/REPOSITORY`)
    /// has and this store may fetch from there when it is read.
    pub fn mark_remote(&self, descriptor: &Descriptor, source: &str) -> Result<(), StoreError> {
        let path = mark_path(self.root(), &descriptor.digest);
        let mut sources = read_mark(self.root(), &descriptor.digest)
            .map(|m| m.sources)
            .unwrap_or_default();
        sources.retain(|s| s != source);
        sources.push(source.to_string());
        let mark = Mark {
            descriptor: descriptor.clone(),
            sources,
        };
        let json = serde_json::to_vec(&mark).map_err(|e| StoreError::Format {
            what: "remote blob mark",
            path: path.clone(),
            message: e.to_string(),
        })?;
        let dir = self.root().join(REMOTE_DIR);
        std::fs::create_dir_all(&dir).at("cannot create", &dir)?;
        crate::fsutil::write_atomic(&self.root().join("tmp"), &path, &json)
            .at("cannot write", &path)
    }

    /// Where remote blob `digest` may be fetched from
    /// (`REGISTRY/REPOSITORY`), latest last.
    pub fn remote_sources(&self, digest: &Digest) -> Vec<String> {
        read_mark(self.root(), digest)
            .map(|m| m.sources)
            .unwrap_or_default()
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
