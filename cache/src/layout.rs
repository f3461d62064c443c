//! The store root: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/`; image-spec image-layout.md) that skopeo, umoci and oras
//! can read, plus kiln's own directories beside the blobs: `tmp/` for
//! in-flight writes (same file system, so renames are atomic) and, later,
//! `snapshots/` and `cache-v1/`.

use crate::blobs::BlobStore;
use crate::error::{IoContext as _, StoreError};
use crate::fsutil::create_atomic_once;
use std::path::{Path, PathBuf};

/// The `oci-layout` marker file (image-layout.md, "oci-layout file").
const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// An empty image index for a new store (image-layout.md, "index.json").
const EMPTY_INDEX: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;

/// An opened store.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
    blobs: BlobStore,
}

impl Store {
    /// Opens the store at `root`, laying it out first if it is new. Safe to
    /// run from several processes at once: every file it creates appears
    /// atomically, and an existing file is never rewritten.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        for dir in ["blobs/sha256", "tmp"] {
            let path = root.join(dir);
            std::fs::create_dir_all(&path).at("cannot create", &path)?;
        }
        let tmp = root.join("tmp");
        for (name, contents) in [("oci-layout", OCI_LAYOUT), ("index.json", EMPTY_INDEX)] {
            let path = root.join(name);
            create_atomic_once(&tmp, &path, contents).at("cannot create", &path)?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            blobs: BlobStore::new(root),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The blobs.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }
}
